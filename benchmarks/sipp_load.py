"""Highest call rate the reference server holds clean, driven by SIPp; the last line is ``max_clean_cps: N``.

    .venv/bin/python benchmarks/sipp_load.py                      # rates 400,450,500,550,600: ~2 min each
    .venv/bin/python benchmarks/sipp_load.py --rates 300,400 --step 120
    .venv/bin/python benchmarks/sipp_load.py --quick              # smoke run: 5 s steps, NOT the definition

Each call is the authenticated trunk ladder, without media: INVITE, 407, ACK, INVITE with
Proxy-Authorization, (100/180), 200, ACK, BYE, 200 -- from a SIPp caller (``uac_auth.xml``) through the
server (``python -m reference_server``, logging at WARNING, RTP relay ports 20000-39999) to a SIPp
destination (``uas.xml``). The B2BUA allocates relay ports for every call, so calls must give them back.

Per rate, one fresh server and one destination SIPp serve two caller runs back to back at that rate: a
warm-up (``--warmup``, default 40 s: the transactions every call leaves behind linger 32 s, so the server
only reaches its steady state after that) and the measured step (``--step``, default 60 s). The step is
judged by :mod:`load_verdict`: clean means no failed call, no unexpected message and no retransmission
(sent or received) on either SIPp side, every call done, and the step's calls placed within its duration
+ 2 s. The destination serves both runs: its counters over the step are those after the last per-second
CSV row written before the step began, so they may hold the last second of the warm-up, and as it counts a
call only when its 4 s timewait ends, its "ok" over the step includes warm-up calls that ended then. The
warm-up's own counters are printed, not judged.
Over the step the server's /proc gives its CPU use (% of one core, ms per call) and its RSS (at the end
of the step; peak within the step, VmHWM reset at the step's start or sampled every 0.25 s).

Rates run in increasing order and stop at the first one that is not clean (``--keep-going`` tries them
all); ``max_clean_cps`` is the highest rate clean with all lower rates clean. A step shorter than 60 s or a
warm-up shorter than 35 s is refused unless ``--quick`` is given; then each verdict reads "clean (quick,
not per definition)" and the last line is ``quick_clean_cps: N (...)``, never ``max_clean_cps``.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
import signal
import sys
import tempfile
import time
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

from harness.adapters.server_process import (  # noqa: E402
    ReferenceServerProcess,
    ServerStartError,
    process_usage,
    trunk_config,
)
from harness.adapters.sipp import SIPP_MISSING, SippError, SippResult, SippRun, find_sipp, port_bound  # noqa: E402
from harness.adapters.sipp_rows import counters_between, counts_file, read_rows  # noqa: E402

TRUNK = "example.trunk.voipbin.net"
RATES = (400, 450, 500, 550, 600)
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
    calls: int
    elapsed: float
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

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_seconds / max(self.elapsed, 1e-6)

    @property
    def cpu_ms_per_call(self) -> float:
        return 1000.0 * self.cpu_seconds / max(self.calls, 1)

    def warmup_line(self) -> str:
        return (f"  warm-up {self.rate} cps: {self.warm_calls} calls in {self.warm_elapsed:.1f} s; "
                f"caller {self.warm_caller.summary()}; destination {self.warm_destination.summary()} (not judged)")

    def line(self) -> str:
        return (f"rate={self.rate:>5} cps  step={self.step_s:g}s calls={self.calls} in {self.elapsed:.1f}s  "
                f"caller {self.caller.summary()}  destination {self.destination.summary()}  "
                f"server cpu={self.cpu_percent:.0f}% of a core ({self.cpu_ms_per_call:.2f} ms/call) "
                f"rss end={self.rss_end_kb / 1024:.1f}MiB peak={self.rss_peak_kb / 1024:.1f}MiB"
                f"  -> {self.verdict.label}")


def _side(workdir: Path, result: SippResult | None, since: float | None = None,
          until: float | None = None) -> SideCounts:
    """One SIPp side's counters, from the CSV files it left in ``workdir``, between two Unix times."""
    if result is None:
        return SideCounts.missing()
    stats = counters_between(read_rows(workdir / "stat.csv"), since, until)
    counts = counters_between(read_rows(counts_file(workdir)), since, until)
    return SideCounts.from_counters(stats, counts, finished=not result.timed_out)


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
             workdir: Path) -> RateResult:
    """One server, one destination; a warm-up caller run, then the measured one. SIPp's files go under
    ``workdir`` (caller-warmup/, caller/, destination/)."""
    warm_calls, calls = round(rate * warmup_s), max(1, round(rate * step_s))
    config = trunk_config((addresses[0], 5060), (addresses[2], 5080), port_min=20000, port_max=39999)
    uas = SippRun.uas((addresses[2], 5080), calls=warm_calls + calls, timeout=(warmup_s + step_s) * 2 + 60,
                      max_recv_loops=10_000, workdir=workdir / "destination", extra_args=("-trace_counts",))
    warm_result = caller_result = None
    warm_elapsed = elapsed = cpu = 0.0
    rss_end = rss_peak = 0
    since = time.time()
    with ReferenceServerProcess(config, log_level="WARNING") as server, uas.start() as dest:
        dest.wait_ready()
        if warm_calls:
            started = time.monotonic()
            warm_result = _caller(rate, warm_calls, warmup_s, addresses, hold_ms, workdir / "caller-warmup").run()
            warm_elapsed = time.monotonic() - started
        if server.running():
            exact_peak = _reset_peak_rss(server.pid)
            since, before, started = time.time(), server.usage(), time.monotonic()
            sampled_peak = before.rss_kb
            with _caller(rate, calls, step_s, addresses, hold_ms, workdir / "caller").start() as proc:
                bound = started + proc.run.wall_bound
                while proc.running() and time.monotonic() < bound and server.running():
                    try:
                        sampled_peak = max(sampled_peak, process_usage(server.pid).rss_kb)
                    except OSError:  # the server exited between the check and the read
                        break
                    time.sleep(0.25)
                caller_result = proc.wait()
            elapsed = time.monotonic() - started
            if server.running():
                after = server.usage()
                cpu, rss_end = after.cpu_seconds - before.cpu_seconds, after.rss_kb
                rss_peak = max(sampled_peak, after.peak_rss_kb if exact_peak else 0, rss_end)
        all_done = (warm_result is None or warm_result.successful == warm_calls) and \
            caller_result is not None and caller_result.successful == calls
        dest_result = dest.wait(timeout=DESTINATION_DRAIN_S) if all_done else dest.stop(grace=6)
        alive = server.running()
    caller = _side(workdir / "caller", caller_result)
    destination = _side(workdir / "destination", dest_result if caller_result is not None else None, since)
    verdict = judge(calls=calls, step_s=step_s, warmup_s=warmup_s, elapsed_s=elapsed, caller=caller,
                    destination=destination, server_alive=alive)
    warm_caller = _side(workdir / "caller-warmup", warm_result)
    warm_destination = _side(workdir / "destination", dest_result, until=since)
    return RateResult(rate, step_s, warmup_s, calls, elapsed, caller, destination, warm_calls, warm_elapsed,
                      warm_caller, warm_destination, cpu, rss_end, rss_peak, verdict,
                      tuple(r for r in (caller_result, dest_result) if r is not None))


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
    parser.add_argument("--verbose", action="store_true", help="print SIPp's account of unclean steps")
    parser.add_argument("--keep-files", action="store_true", help="keep SIPp's files (CSV, error log) of unclean steps")
    args = parser.parse_args(argv)
    args.step = args.step if args.step is not None else (QUICK_STEP_S if args.quick else MIN_STEP_S)
    args.warmup = args.warmup if args.warmup is not None else (QUICK_WARMUP_S if args.quick else DEFAULT_WARMUP_S)
    args.rates = args.rates or list(QUICK_RATES if args.quick else RATES)
    if args.step <= 0 or args.warmup < 0:
        parser.error(f"--step {args.step:g} / --warmup {args.warmup:g}: expected a positive step and a warm-up >= 0")
    if not args.quick and args.step < MIN_STEP_S:
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
    total = len(args.rates) * (args.warmup + args.step + 10)  # + start-up and the destination's drain
    duration = f"{total / 60:.0f} min" if total >= 120 else f"{total:.0f} s"
    print(f"sipp_load: rates {','.join(map(str, args.rates))} cps; per rate a {args.warmup:g} s warm-up, then a "
          f"{args.step:g} s measured step (clean: no failed call, no unexpected message, no retransmission on "
          f"either SIPp side, the step's calls within {args.step:g} s + 2 s); about {duration} if all are clean; "
          f"server {args.addresses[0]}:5060, caller {args.addresses[1]}, "
          f"destination {args.addresses[2]}", flush=True)
    results: list[tuple[int, Verdict]] = []
    try:
        for rate in args.rates:
            base = os.environ.get("TRUNKCHECK_SIPP_TMPDIR") or None  # as harness.adapters.sipp does
            workdir, result = Path(tempfile.mkdtemp(prefix=f"sipp-load-{rate}-", dir=base)), None
            try:
                result = run_rate(rate, step_s=args.step, warmup_s=args.warmup, addresses=args.addresses,
                                  hold_ms=args.hold_ms, workdir=workdir)
            except (ServerStartError, SippError, OSError) as exc:
                print(f"sipp_load: rate {rate} cps could not run: {exc}", file=sys.stderr)
                return 1
            finally:  # SIPp's files are kept only for an unclean (or interrupted) step, and only if asked
                if not (args.keep_files and (result is None or not result.verdict.clean)):
                    shutil.rmtree(workdir, ignore_errors=True)
            results.append((rate, result.verdict))
            if result.warm_calls:
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
