"""Highest call rate the reference server holds clean, driven by SIPp; the last line is ``max_clean_cps: N``.

    .venv/bin/python benchmarks/sipp_load.py                      # rates 100,150,...,500 until one is not clean: ~2 min each
    .venv/bin/python benchmarks/sipp_load.py --rates 300,400 --step 120
    .venv/bin/python benchmarks/sipp_load.py --quick              # smoke run: 5 s steps, NOT the definition
    .venv/bin/python benchmarks/sipp_load.py --overload --rates 1000 --step 60   # past capacity: admission figures

``--workers N`` passes the server's ``--workers`` (default: its own, the machine's cores); the server's CPU and
memory figures add up the dispatcher and its workers.

Each call is the authenticated trunk ladder, without media: INVITE, 407, ACK, INVITE with
Proxy-Authorization, (100/180), 200, ACK, BYE, 200 -- from a SIPp caller (``uac_auth.xml``) through the
server (``python -m reference_server``, logging at WARNING, RTP relay ports 20000-39999) to a SIPp
destination (``uas.xml``). The B2BUA allocates relay ports for every call, so calls must give them back.

Per rate, one fresh server, one destination SIPp and ONE caller SIPp process placing ``(warm-up + step) x
rate`` calls at that rate: the first ``--warmup`` seconds (default 40 s: the transactions every call leaves
behind linger 32 s, so the server only reaches its steady state after that) are the warm-up, the next
``--step`` seconds (default 60 s) the measured window. (Starting a new caller for the step, as this
benchmark once did, made the step collapse at rates one process held clean throughout.) Both SIPp
processes write a row of cumulative counters every second (``-trace_stat -fd 1``, ``-trace_counts``); the
window's counters on each side are its last row's minus those of the last row written at or before the
window began, and the window is judged by :mod:`load_verdict`: clean means no failed call, no unexpected
message and no retransmission (sent or received) on either SIPp side, the caller placed the step's calls
and every call due in the window (placed in it, or in progress at its start: ``CurrentCall``) succeeded,
and the caller placed its last call (``OutgoingCall`` reached its total) within the window's duration + 2 s.
The destination counts a call only when its 4 s timewait ends, so its "ok" over the window includes
warm-up calls that ended then. The warm-up's own counters are printed, not judged.
Over the window the server's /proc gives its CPU use (% of one core, ms per call placed) and its RSS (at
the end of the run; peak within the window, VmHWM reset at the window's start or sampled every 0.25 s).

Rates run in increasing order and stop at the first one that is not clean (``--keep-going`` tries them
all); ``max_clean_cps`` is the highest rate clean with all lower rates clean. A step shorter than 60 s or a
warm-up shorter than 35 s is refused unless ``--quick`` is given; then each verdict reads "clean (quick,
not per definition)" and the last line is ``quick_clean_cps: N (...)``, never ``max_clean_cps``.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load_verdict import (  # noqa: E402
    MIN_STEP_S,
    MIN_WARMUP_S,
    SideCounts,
    Verdict,
    highest_clean,
    judge,
    max_clean_cps,
)
from overload_figures import run_overload  # noqa: E402

from harness.adapters.server_process import (  # noqa: E402
    ReferenceServerProcess,
    ServerStartError,
    tree_usage,
    trunk_config,
)
from harness.adapters.sipp import SIPP_MISSING, SippError, SippResult, SippRun, find_sipp, port_bound  # noqa: E402
from harness.adapters.sipp_rows import (  # noqa: E402
    Row,
    counters_between,
    counts_file,
    read_rows,
    row_at_or_before,
    row_epoch,
    row_int,
)

TRUNK = "example.trunk.voipbin.net"
RATES = (100, 150, 200, 250, 300, 400, 500)
QUICK_RATES = (10, 20, 40)
QUICK_STEP_S, QUICK_WARMUP_S = 5.0, 3.0
DEFAULT_WARMUP_S = 40.0
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
DESTINATION_DRAIN_S = 15.0  # the destination's last calls end 4 s (its timewait) after the caller's


@dataclass
class RateResult:
    rate: int
    step_s: float
    warmup_s: float
    calls: int  # the step's calls: step x rate
    elapsed: float  # from the window's start until the caller had placed its last call
    caller: SideCounts
    destination: SideCounts
    warm_calls: int
    warm_elapsed: float
    warm_caller: SideCounts
    warm_destination: SideCounts
    cpu_seconds: float
    rss_end_kb: int
    rss_peak_kb: int
    verdict: Verdict
    sipp: tuple[SippResult, ...] = ()  # caller and destination, for --verbose
    window_s: float = 0.0  # wall time over which cpu_seconds was measured: window start to the caller's exit

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_seconds / max(self.window_s, 1e-6)

    @property
    def cpu_ms_per_call(self) -> float:
        return 1000.0 * self.cpu_seconds / max(self.caller.placed, 1)

    def warmup_line(self) -> str:
        return (f"  warm-up {self.rate} cps: {self.warm_calls} calls placed in {self.warm_elapsed:.1f} s; "
                f"caller {self.warm_caller.summary()}; destination {self.warm_destination.summary()} (not judged)")

    def line(self) -> str:
        return (f"rate={self.rate:>5} cps  step={self.step_s:g}s calls={self.caller.placed} placed in "
                f"{self.elapsed:.1f}s  caller {self.caller.summary()}  destination {self.destination.summary()}  "
                f"server cpu={self.cpu_percent:.0f}% of a core ({self.cpu_ms_per_call:.2f} ms/call) "
                f"rss end={self.rss_end_kb / 1024:.1f}MiB peak={self.rss_peak_kb / 1024:.1f}MiB"
                f"  -> {self.verdict.label}")


def read_side(workdir: Path, *, finished: bool, since: float | None = None, until: float | None = None,
              ) -> SideCounts:
    """One SIPp side's counters over a window of its run (Unix times; None: its start, its end), from the
    per-second CSV rows it left in ``workdir``."""
    rows = read_rows(workdir / "stat.csv")
    stats = counters_between(rows, since, until)
    counts = counters_between(read_rows(counts_file(workdir)), since, until)
    first = row_at_or_before(rows, since) if since is not None else None
    last = row_at_or_before(rows, until) if until is not None else (rows[-1] if rows else None)
    return SideCounts.from_counters(stats, counts, finished=finished, open_at_start=row_int(first, "CurrentCall"),
                                    open_at_end=row_int(last, "CurrentCall"))


def placing_seconds(rows: list[Row], since: float) -> float:
    """Seconds from ``since`` until the first row at which the caller's ``OutgoingCall(C)`` had reached its
    final count (as fine as its rows: one a second); 0 without rows."""
    if not rows:
        return 0.0
    total = row_int(rows[-1], "OutgoingCall(C)")
    for row in rows:
        epoch = row_epoch(row)
        if epoch is not None and row_int(row, "OutgoingCall(C)") >= total:
            return max(0.0, epoch - since)
    return 0.0


def _reset_peak_rss(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux >= 4.0, /proc/PID/clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _caller(rate: int, calls: int, seconds: float, addresses: tuple[str, str, str], hold_ms: int,
            workdir: Path) -> SippRun:
    return SippRun.uac_auth((addresses[1], 5070), (addresses[0], 5060), user="alice", password="secret",
                            domain=TRUNK, calls=calls, rate=rate, concurrency=max(100, rate * 10),
                            hold_ms=hold_ms, recv_timeout_ms=10_000, timeout=seconds * 2 + 30,
                            max_recv_loops=10_000, workdir=workdir, extra_args=("-trace_counts",))


def run_rate(rate: int, *, step_s: float, warmup_s: float, addresses: tuple[str, str, str], hold_ms: int,
             workdir: Path, server_args: Sequence[str] = ()) -> RateResult:
    """One server, one destination, one caller placing the warm-up's and the step's calls back to back; the
    step is the run's window from ``warmup_s`` on. SIPp's files go under ``workdir`` (caller/, destination/)."""
    warm_calls, calls = round(rate * warmup_s), max(1, round(rate * step_s))
    config = trunk_config((addresses[0], 5060), (addresses[2], 5080), port_min=20000, port_max=39999)
    uas = SippRun.uas((addresses[2], 5080), calls=warm_calls + calls, timeout=(warmup_s + step_s) * 2 + 60,
                      max_recv_loops=10_000, workdir=workdir / "destination", extra_args=("-trace_counts",))
    caller_run = _caller(rate, warm_calls + calls, warmup_s + step_s, addresses, hold_ms, workdir / "caller")
    caller_result = dest_result = None
    window_s = cpu = 0.0
    rss_end = rss_peak = 0
    started_at = since = time.time()
    with ReferenceServerProcess(config, log_level="WARNING", args=server_args) as server, uas.start() as dest:
        dest.wait_ready()
        before, exact_peak, sampled_peak, window_started = None, False, 0, 0.0
        if server.running():
            started_at, started = time.time(), time.monotonic()
            with caller_run.start() as proc:
                window_at, bound = started + warmup_s, started + proc.run.wall_bound
                while proc.running() and time.monotonic() < bound and server.running():
                    try:
                        if before is None and time.monotonic() >= window_at:  # the measured window begins
                            exact_peak = _reset_peak_rss(server.pid)
                            since, before, window_started = time.time(), server.usage(), time.monotonic()
                            sampled_peak = before.rss_kb
                        elif before is not None:
                            sampled_peak = max(sampled_peak, tree_usage(server.pid).rss_kb)
                    except OSError:  # the server exited between the check and the read
                        break
                    wait = 0.25 if before is not None else min(0.25, max(0.0, window_at - time.monotonic()))
                    time.sleep(wait)
                caller_result = proc.wait()
            if before is None:  # the caller ended (or the server died) before the window: nothing measured
                since = time.time()
            elif server.running():
                after = server.usage()
                window_s = time.monotonic() - window_started
                cpu, rss_end = after.cpu_seconds - before.cpu_seconds, after.rss_kb
                rss_peak = max(sampled_peak, after.peak_rss_kb if exact_peak else 0, rss_end)
        all_done = caller_result is not None and caller_result.successful == warm_calls + calls
        dest_result = dest.wait(timeout=DESTINATION_DRAIN_S) if all_done else dest.stop(grace=6)
        alive = server.running()
        with contextlib.suppress(OSError):  # kept with SIPp's files for --keep-files
            shutil.copyfile(server.stderr_path, workdir / "server.stderr")
    caller_ran = caller_result is not None
    caller_done = caller_result is not None and not caller_result.timed_out
    dest_done = caller_ran and dest_result is not None and not dest_result.timed_out
    caller = read_side(workdir / "caller", finished=caller_done, since=since) if caller_ran else SideCounts.missing()
    destination = (read_side(workdir / "destination", finished=dest_done, since=since) if caller_ran
                   else SideCounts.missing())
    elapsed = placing_seconds(read_rows(workdir / "caller" / "stat.csv"), since)
    verdict = judge(calls=calls, step_s=step_s, warmup_s=warmup_s, elapsed_s=elapsed, caller=caller,
                    destination=destination, server_alive=alive)
    warm_caller = read_side(workdir / "caller", finished=caller_done, until=since) if caller_ran else SideCounts.missing()
    warm_destination = read_side(workdir / "destination", finished=dest_done, until=since)
    warm_end = row_at_or_before(read_rows(workdir / "caller" / "stat.csv"), since)  # the warm-up's last row
    warm_elapsed = (row_epoch(warm_end) or started_at) - started_at if warm_end else 0.0
    return RateResult(rate, step_s, warmup_s, calls, elapsed, caller, destination, warm_caller.placed,
                      max(0.0, warm_elapsed), warm_caller, warm_destination, cpu, rss_end, rss_peak, verdict,
                      tuple(r for r in (caller_result, dest_result) if r is not None), window_s)


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signum)


def _rates(text: str) -> list[int]:
    try:
        rates = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected rates in calls per second, like 400,450,500") from None
    if not rates or rates[0] <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive rates in calls per second")
    return rates


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rates", type=_rates, help="calls per second to try, comma-separated "
                        f"(default {','.join(map(str, RATES))}; quick: {','.join(map(str, QUICK_RATES))})")
    parser.add_argument("--step", "--step-seconds", dest="step", type=float,
                        help=f"seconds of the measured step per rate (default and minimum {MIN_STEP_S:g}; quick: "
                             f"{QUICK_STEP_S:g})")
    parser.add_argument("--warmup", type=float, help=f"seconds of warm-up at each rate before its step (default "
                        f"{DEFAULT_WARMUP_S:g}, minimum {MIN_WARMUP_S:g}; quick: {QUICK_WARMUP_S:g})")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: short steps allowed, low rates; its verdicts are not the definition of "
                             "clean and it prints quick_clean_cps instead of max_clean_cps")
    parser.add_argument("--keep-going", action="store_true", help="try every rate, even after one is not clean")
    parser.add_argument("--hold-ms", type=int, default=0, help="time between the ACK and the BYE (default 0)")
    parser.add_argument("--addresses", metavar="SERVER,CALLER,DESTINATION",
                        help="three loopback IPs (default 127.0.2.10,.11,.12; quick: 127.0.2.20,.21,.22)")
    parser.add_argument("--workers", type=int, help="the server's --workers (default: its own, the machine's cores)")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for the server, repeatable (e.g. --server-arg=--no-admission)")
    parser.add_argument("--overload", action="store_true",
                        help="instead of a ramp: each rate (give twice the clean capacity) for --step seconds with "
                             "uac_auth_overload.xml; prints completed %% of admitted calls, max setup time vs Timer B "
                             "and the refused calls' 503 latency (benchmarks/overload_figures.py)")
    parser.add_argument("--verbose", action="store_true", help="print SIPp's account of unclean steps")
    parser.add_argument("--keep-files", action="store_true",
                        help="keep SIPp's files (CSV, error log) and the server's stderr of unclean steps")
    args = parser.parse_args(argv)
    args.step = args.step if args.step is not None else (QUICK_STEP_S if args.quick else MIN_STEP_S)
    args.warmup = args.warmup if args.warmup is not None else (QUICK_WARMUP_S if args.quick else DEFAULT_WARMUP_S)
    args.rates = args.rates or list(QUICK_RATES if args.quick else RATES)
    if args.step <= 0 or args.warmup < 0:
        parser.error(f"--step {args.step:g} / --warmup {args.warmup:g}: expected a positive step and a warm-up >= 0")
    if not args.quick and args.step < MIN_STEP_S and not args.overload:
        parser.error(f"--step {args.step:g}: a clean rate is judged over at least {MIN_STEP_S:g} s; "
                     "add --quick for a shorter run that does not meet the definition")
    if not args.quick and args.warmup < MIN_WARMUP_S:
        parser.error(f"--warmup {args.warmup:g}: at least {MIN_WARMUP_S:g} s are needed for the 32 s transaction "
                     "linger to reach its steady state; add --quick for a run that does not meet the definition")
    default = ("127.0.2.20", "127.0.2.21", "127.0.2.22") if args.quick else ("127.0.2.10", "127.0.2.11", "127.0.2.12")
    args.addresses = tuple(a.strip() for a in args.addresses.split(",")) if args.addresses else default
    try:
        ok = len(args.addresses) == 3 and all(ipaddress.ip_address(a) in LOOPBACK for a in args.addresses)
    except ValueError:
        ok = False
    if not ok:
        parser.error(f"--addresses {','.join(args.addresses)}: expected three IPs in 127.0.0.0/8")
    return args


def _overload(args: argparse.Namespace) -> int:
    for rate in args.rates:
        workdir = Path(tempfile.mkdtemp(prefix=f"sipp-overload-{rate}-"))
        try:
            result = run_overload(rate, seconds=args.step, addresses=args.addresses, server_args=server_args(args),
                                  workdir=workdir)
        except (ServerStartError, SippError, OSError) as exc:
            print(f"sipp_load: overload at {rate} cps could not run: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("sipp_load: interrupted; SIPp and the server were stopped", file=sys.stderr)
            return 130
        finally:
            if not args.keep_files:
                shutil.rmtree(workdir, ignore_errors=True)
        print(result.line(), flush=True)
        if args.keep_files:
            print(f"  SIPp's files: {workdir}", flush=True)
    return 0


def server_args(args: argparse.Namespace) -> list[str]:
    return ([] if args.workers is None else ["--workers", str(args.workers)]) + list(args.server_arg)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    busy = [f"{ip}:{port}" for ip, port in zip(args.addresses, (5060, 5070, 5080), strict=True) if port_bound(ip, port)]
    if busy:
        print(f"sipp_load: {', '.join(busy)} already in use (another run?); choose --addresses", file=sys.stderr)
        return 2
    if find_sipp() is None:
        print(SIPP_MISSING, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupted)  # stop SIPp and the server on `kill` too, as on Ctrl-C
    if args.overload:
        return _overload(args)
    total = len(args.rates) * (args.warmup + args.step + 10)  # + start-up and the destination's drain
    duration = f"{total / 60:.0f} min" if total >= 120 else f"{total:.0f} s"
    print(f"sipp_load: rates {','.join(map(str, args.rates))} cps; per rate one caller runs a {args.warmup:g} s warm-up, "
          f"then the {args.step:g} s measured window at the same rate (clean: no failed call, no unexpected message, no retransmission on "
          f"either SIPp side, the window's calls placed within {args.step:g} s + 2 s); about {duration} if all are clean; "
          f"server {args.addresses[0]}:5060, caller {args.addresses[1]}, "
          f"destination {args.addresses[2]}", flush=True)
    results: list[tuple[int, Verdict]] = []
    try:
        for rate in args.rates:
            base = os.environ.get("TRUNKCHECK_SIPP_TMPDIR") or None  # as harness.adapters.sipp does
            workdir, result = Path(tempfile.mkdtemp(prefix=f"sipp-load-{rate}-", dir=base)), None
            try:
                result = run_rate(rate, step_s=args.step, warmup_s=args.warmup, addresses=args.addresses,
                                  hold_ms=args.hold_ms, workdir=workdir, server_args=server_args(args))
            except (ServerStartError, SippError, OSError) as exc:
                print(f"sipp_load: rate {rate} cps could not run: {exc}", file=sys.stderr)
                return 1
            finally:  # SIPp's files are kept only for an unclean (or interrupted) step, and only if asked
                if not (args.keep_files and (result is None or not result.verdict.clean)):
                    shutil.rmtree(workdir, ignore_errors=True)
            results.append((rate, result.verdict))
            if args.warmup > 0:
                print(result.warmup_line(), flush=True)
            print(result.line(), flush=True)
            trips = (result.caller.watchdog_trips, result.destination.watchdog_trips)
            if any(trips):
                print(f"  note: SIPp's own watchdog tripped (caller {trips[0]}, destination {trips[1]} times): the "
                      "load generator itself was starved of CPU; this machine is too busy for a capacity figure",
                      flush=True)
            if not result.verdict.clean and args.verbose:
                for name, sipp in zip(("caller", "destination"), result.sipp, strict=False):
                    sipp.workdir = sipp.workdir if args.keep_files else None  # removed above
                    print(f"  {name}: " + sipp.describe()[:1500].replace("\n", "\n  "), flush=True)
            if not result.verdict.clean and args.keep_files:
                print(f"  SIPp's files: {workdir}", flush=True)
            if not result.verdict.clean and not args.keep_going:
                break
    except KeyboardInterrupt as exc:
        print("sipp_load: interrupted; SIPp and the server were stopped; no max_clean_cps", file=sys.stderr)
        signum = exc.args[0] if exc.args and isinstance(exc.args[0], int) else signal.SIGINT
        return 128 + signum
    best = max_clean_cps(results)
    if best is None:
        print(f"quick_clean_cps: {highest_clean(results)} (quick, not per definition: {args.step:g} s steps after "
              f"{args.warmup:g} s warm-ups)", flush=True)
    else:
        print(f"max_clean_cps: {best}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
