"""How long the conformance suite takes with ``trunkcheck run --jobs N`` against the embedded reference trunk.

    unshare -n bash -c 'ip link set lo up; .venv/bin/python benchmarks/suite_jobs.py [--jobs 1 4] [--repeat 3]'

For each N of ``--jobs`` it times (wall clock, the whole command: start-up, every scenario, the reports)
``trunkcheck run --jobs N`` ``--repeat`` times, over two sets: the whole suite (``all``) and the feature files
the suite had when it had 35 scenarios (``issue16``: domains, early media, hangup cause, IP auth, outgoing
call, registration, UA equipment; those files hold a few more scenarios since). Prints one line per run
(``suite_seconds set=all jobs=4 scenarios=48 wall=3.71 load=1.20``: the 1-minute load average before it) and
the best and median per set and N. Runs in a network namespace of its own on a shared machine (``unshare
-n``: the roles' loopback blocks are then this benchmark's alone); the load average is the machine's.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETS = {
    "all": [],
    "issue16": ["domains", "early_media", "hangup_cause", "ip_auth", "outgoing_call_basic_auth", "registration",
                "ua_equipment"],
}
SUMMARY = re.compile(r"trunkcheck: (\d+) scenarios, (\d+) passed, (\d+) failed")


def run_once(out: Path, run_id: str, jobs: int, features: list[str]) -> tuple[float, int, bool]:
    args = [a for f in features for a in ("--features", str(REPO / "features" / f"{f}.feature"))]
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--output", str(out), "--run-id", run_id,
                           "--jobs", str(jobs), *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    found = SUMMARY.search(proc.stdout)
    if proc.returncode != 0:  # say what failed: a figure of a failing run means little
        failing = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR", "HOOK_ERROR"))]
        print("\n".join(f"  {line}" for line in failing[:10]), file=sys.stderr)
    if found is None:
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
        return wall, 0, False
    return wall, int(found[1]), proc.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 4], help="worker counts to time (default 1 4)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per set and worker count (default 3)")
    parser.add_argument("--set", choices=sorted(SETS), nargs="+", default=sorted(SETS), dest="sets")
    args = parser.parse_args()
    print(f"cpus={os.cpu_count()}")
    ok = True
    with tempfile.TemporaryDirectory(prefix="trunkcheck-bench-jobs-") as tmp:
        for name in args.sets:
            for jobs in args.jobs:
                walls = []
                for k in range(args.repeat):
                    load = os.getloadavg()[0]
                    wall, count, passed = run_once(Path(tmp), f"{name}-{jobs}-{k}", jobs, SETS[name])
                    ok = ok and passed
                    walls.append(wall)
                    print(f"suite_seconds set={name} jobs={jobs} scenarios={count} wall={wall:.2f} load={load:.2f}"
                          + ("" if passed else " (NOT ALL PASSED)"), flush=True)
                print(f"suite_seconds_best set={name} jobs={jobs} best={min(walls):.2f} "
                      f"median={statistics.median(walls):.2f}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
