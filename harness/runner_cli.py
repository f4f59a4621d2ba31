"""`trunkcheck run`: the conformance suite against the embedded reference server.

    trunkcheck run                               every feature; output in captures/<timestamp>/
    trunkcheck run --tags '@wip'                 behave tag expression
    trunkcheck run --features features/early_media.feature --run-id ci-42 -v

Exit status: 0 when every selected scenario passed, 1 when one failed (or none was selected), 2 when the
run could not start (no permission to capture, bad arguments).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from harness.runner import FEATURES, RunSettings, run_suite
from harness.session import DECODE_MODES

__all__ = ["build_parser", "main"]

FAULTS = ("no-early-media", "no-reason-relay")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trunkcheck run",
        description="Run the conformance suite (behave features taken from the spec's ladders) against the "
        "embedded reference trunk; capture every scenario and assert it from tshark's decode.",
    )
    parser.add_argument("--features", type=Path, action="append", metavar="PATH",
                        help=f"feature file or folder (repeatable; default {FEATURES})")
    parser.add_argument("--tags", action="append", metavar="EXPR", default=[],
                        help="behave tag expression selecting scenarios, e.g. 'not @wip' (repeatable: AND)")
    parser.add_argument("--run-id", metavar="ID", help="name of the output folder (default: a timestamp)")
    parser.add_argument("--output", type=Path, default=None, metavar="DIR",
                        help="where run folders go (default: captures/ in the repository)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print every scenario's notes (reason phrases differing from the spec ...)")
    parser.add_argument("--decode", choices=DECODE_MODES, default="stream",
                        help="stream: one long-lived tshark for the run (default); file: a tshark per scenario")
    parser.add_argument("--fault", action="append", choices=FAULTS, default=[],
                        help="TEST ONLY: run against a deliberately broken reference server, to see the "
                        "suite fail (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    settings = RunSettings(
        features=tuple(p.resolve() for p in (args.features or [FEATURES])),
        tags=tuple(args.tags),
        verbose=args.verbose,
        faults=frozenset(args.fault),
        decode=args.decode,
    )
    if args.run_id:
        settings = replace(settings, run_id=args.run_id)
    if args.output:
        settings = replace(settings, output=args.output.resolve())
    for path in settings.features:
        if not path.exists():
            print(f"trunkcheck run: {path}: no such feature file or folder", file=sys.stderr)
            return 2
    return run_suite(settings).exit_code
