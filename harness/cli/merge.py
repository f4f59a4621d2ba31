"""`trunkcheck merge`: join the run folders of a suite's shards into one (harness.reports.merge_runs).

    trunkcheck run --shard 1/2 --run-id shard-1      # CI job 1
    trunkcheck run --shard 2/2 --run-id shard-2      # CI job 2
    trunkcheck merge captures/shard-1 captures/shard-2 -o captures/merged

Exit status: 0 when every scenario of the merged run that applies passed, 1 when one failed, 2 when the
folders cannot be merged (not run folders, different suites, versions or options, a shard given twice or
missing, an output folder that is not empty): the message says which and why, and nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.equipment import EquipmentError, load_equipment
from harness.reports.merge_runs import MergeError, merge_runs
from harness.settings import display_path

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trunkcheck merge",
        description="Join the run folders of the shards of one run (trunkcheck run --shard I/N) into one run folder "
        "with the reports of a whole run: JUnit XML, report.html, run.json and the validation report.")
    parser.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="a shard's run folder")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                        help="the merged run folder (new, or an empty folder)")
    parser.add_argument("--equipment", type=Path, metavar="FILE",
                        help="the equipment file the shards validated, for the merged validation report (default: "
                        "the file the shards name, when it is there)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from harness.reports.record import RunData

    equipment = None
    first = RunData.load(args.folders[0]) if args.folders[0].is_dir() else None
    file = args.equipment or (Path(first.equipment_file) if first and first.equipment_file else None)
    if file is not None and (args.equipment is not None or file.is_file()):
        try:
            equipment = load_equipment(file)
        except EquipmentError as exc:
            print(f"trunkcheck merge: {exc}", file=sys.stderr)
            return 2
    try:
        data = merge_runs(args.folders, args.output, equipment)
    except MergeError as exc:
        print(f"trunkcheck merge: {exc}", file=sys.stderr)
        return 2
    s = data.summary
    na = f", {s.not_applicable} not applicable" if s.not_applicable else ""
    report = "validation-report.html" if equipment is not None else "report.html"
    print(f"trunkcheck merge: {len(args.folders)} run folders, {s.total} scenarios, {s.passed} passed, {s.failed} "
          f"failed{na} — {display_path(args.output / report)}")
    return 0 if s.ok else 1
