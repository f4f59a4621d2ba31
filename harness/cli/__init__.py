"""The ``trunkcheck`` command: run the conformance suite, serve the reference trunk, simulate a UA or a
destination, render the ladder of a pcap.

This package only reads command lines and dispatches: ``trunkcheck run`` is :mod:`harness.cli.run`,
``trunkcheck ladder`` :mod:`harness.cli.ladder`, ``trunkcheck merge`` :mod:`harness.cli.merge`, ``trunkcheck serve`` is the same program as
``python -m reference_server`` and ``trunkcheck simulate`` as ``python -m simulator``. The docker
topology's harness container starts with :mod:`harness.cli.container`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import metadata

__all__ = ["COMMANDS", "USAGE", "main", "version"]

USAGE = """usage: trunkcheck COMMAND [options]
       trunkcheck --version

commands:
  run        run the conformance suite (default: against the embedded reference server)
  serve      run the reference trunk server (python -m reference_server)
  simulate   play the calling UA or the destination: trunkcheck simulate ua|destination --help
  ladder     render the SIP dialogs of a pcap as an ASCII ladder
  merge      join the run folders of a suite's shards (run --shard I/N) into one

'trunkcheck COMMAND --help' describes each command's options.
"""


def _run(argv: list[str]) -> int:
    from harness.cli.run import main

    return main(argv)


def _serve(argv: list[str]) -> int:
    from reference_server.cli import main

    return main(argv)


def _simulate(argv: list[str]) -> int:
    from simulator.cli import main

    return main(argv)


def _ladder(argv: list[str]) -> int:
    from harness.cli.ladder import main

    return main(argv)


def _merge(argv: list[str]) -> int:
    from harness.cli.merge import main

    return main(argv)


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "run": _run,
    "serve": _serve,
    "simulate": _simulate,
    "ladder": _ladder,
    "merge": _merge,
}


def version() -> str:
    """trunkcheck's installed version (the wheel's, or the editable install's), and where the suite is."""
    from harness.suite_root import suite_root

    try:
        number = metadata.version("trunkcheck")
    except metadata.PackageNotFoundError:
        number = "(not installed)"
    return f"trunkcheck {number} (suite: {suite_root()})"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-V", "--version"):
        print(version())
        return 0
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if args else 2
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"trunkcheck: unknown command {args[0]!r}\n\n{USAGE}", end="", file=sys.stderr)
        return 2
    try:
        return command(args[1:])
    except KeyboardInterrupt:
        return 130

