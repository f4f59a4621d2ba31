"""Server CPU per call at one fixed SIPp rate, optionally with the server under cProfile.

    .venv/bin/python benchmarks/server_cpu.py --rate 150 --seconds 20
    .venv/bin/python benchmarks/server_cpu.py --rate 150 --seconds 20 --profile /tmp/server.prof

Runs the same authenticated ladder as ``sipp_load.py`` (one rate, its ``run_rate``: one caller SIPp process
for ``--warmup`` seconds, default none, then the measured step) and prints the step line plus
``server_cpu_ms_per_call: X`` -- the server's CPU seconds over the measured step divided by the calls placed in it. The step line's verdict is the load
benchmark's; below a 60 s step after a 35 s warm-up it reads "quick, not per definition".
On a shared, noisy machine this is steadier than ``max_clean_cps`` for comparing two versions of the server.
With ``--profile`` the server runs as ``python -m cProfile -o FILE -m reference_server`` (profiling slows
it down, so compare profiles with profiles and plain runs with plain runs) and the top functions by
internal time are printed after the step.
"""

from __future__ import annotations

import argparse
import os
import pstats
import stat
import sys
import tempfile
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sipp_load  # noqa: E402

from harness.adapters import server_process  # noqa: E402


def _profiling_python(directory: Path, output: Path) -> str:
    """An executable standing in for ``python`` that runs its ``-m module`` under cProfile."""
    wrapper = directory / "python-cprofile"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cProfile -o "{output}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=150, help="calls per second (default 150)")
    parser.add_argument("--seconds", type=float, default=20.0, help="step length (default 20)")
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds at the rate before the step (default 0)")
    parser.add_argument("--hold-ms", type=int, default=0)
    parser.add_argument("--addresses", default="127.0.2.30,127.0.2.31,127.0.2.32",
                        help="SERVER,CALLER,DESTINATION loopback IPs")
    parser.add_argument("--profile", type=Path, help="write the server's cProfile stats here")
    parser.add_argument("--top", type=int, default=35, help="functions to print from the profile")
    args = parser.parse_args(argv)
    addresses = tuple(a.strip() for a in args.addresses.split(","))
    with tempfile.TemporaryDirectory(prefix="server-cpu-") as tmp:
        if args.profile:
            python = _profiling_python(Path(tmp), args.profile.resolve())
            original = server_process.ReferenceServerProcess.__init__

            def init(self: server_process.ReferenceServerProcess, *a: object, **kw: object) -> None:
                kw["python"] = python
                original(self, *a, **kw)  # type: ignore[arg-type]

            patch = mock.patch.object(server_process.ReferenceServerProcess, "__init__", init)
        else:
            patch = mock.patch.dict(os.environ, {})
        with patch:
            step = sipp_load.run_rate(args.rate, step_s=args.seconds, warmup_s=args.warmup,
                                      addresses=addresses, hold_ms=args.hold_ms,  # type: ignore[arg-type]
                                      workdir=Path(tmp) / "sipp")
    print(step.line())
    print(f"server_cpu_ms_per_call: {step.cpu_ms_per_call:.3f}")
    if args.profile and args.profile.exists():
        stats = pstats.Stats(str(args.profile))
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
