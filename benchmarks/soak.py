"""Soak: the reference server under a steady authenticated SIPp load for minutes; is memory and CPU flat?

    .venv/bin/python benchmarks/soak.py                  # THE soak: 10 min at 200 cps (120,000 calls), ~11 min
    .venv/bin/python benchmarks/soak.py --quick          # 2 min at 200 cps: a smoke check, NOT the soak figure
    .venv/bin/python benchmarks/soak.py --minutes 10 --rate 200 --mem-trace /tmp/mem.txt

One server (``python -m reference_server``, logging at WARNING, relay ports 20000-39999), one SIPp
destination and ONE SIPp caller placing ``minutes x 60 x rate`` authenticated calls (the ladder of
``sipp_load.py``: INVITE, 407, ACK, INVITE with Proxy-Authorization, 100/180/200, ACK, BYE, 200) at the
rate, back to back. At each checkpoint (by default minutes 1, 5 and 10; 1.25 and 2 with ``--quick``) it prints
the calls placed, succeeded and failed so far, the server's RSS, and its CPU ms per call over the minute
(30 s with ``--quick``) before the checkpoint (CPU seconds from /proc over the calls the caller placed in
it; the dispatcher's and the workers' with ``--workers N``, default 1), with the
load average, since CPU figures move with whatever else runs. After the caller is done it waits
``--idle`` seconds (default 40: the 32 s transaction linger drains) and prints the RSS again.

Verdict (printed, and the exit status: 0 pass, 1 fail, 2 could not run): every call succeeded and none
failed; RSS flat: it grew less than 5 % from the middle checkpoint (minute 5) to the last (minute 10);
CPU per call flat: the last checkpoint's is within 10 % of the middle one's. Every call's transactions
linger 32 s (Timers J/L/M) and each nonce's replay record 300 s (the default ``nonce_lifetime``), so the
server reaches its steady state after about 5 minutes; a 2-minute ``--quick`` run compares minute 1.25
with minute 2 and says it is not the soak figure. The server runs with its default admission control: a
call it turns away with 503 (loop lag over 30 ms, on a machine too busy for the rate) counts as failed. ``--mem-trace FILE`` sets ``TRUNKCHECK_MEM_TRACE`` for the
server (:mod:`reference_server.mem_trace`: its tables and objects by type every 30 s); its census of the
GC's objects stalls the server for a moment each time, and the admission control answers the INVITEs
arriving meanwhile 503: a run with it finds what grows, it is not the soak figure.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load_step import TRUNK, loopback_addresses  # noqa: E402

from harness.adapters.server_process import (  # noqa: E402
    ReferenceServerProcess,
    ServerStartError,
    trunk_config,
)
from harness.adapters.sipp import SIPP_MISSING, SippError, SippRun, find_sipp, port_bound  # noqa: E402
from harness.adapters.sipp_rows import read_rows, row_at_or_before, row_int  # noqa: E402

RSS_FLAT_PERCENT = 5.0
CPU_FLAT_PERCENT = 10.0
CPU_WINDOW_S = 60.0
QUICK_CPU_WINDOW_S = 30.0


@dataclass
class Checkpoint:
    minute: float
    placed: int
    ok: int
    failed: int
    retransmissions: int
    rss_kb: int
    cpu_ms_per_call: float  # over the CPU window before the checkpoint
    load: str
    window_s: float = CPU_WINDOW_S

    def line(self) -> str:
        return (f"minute {self.minute:>4g}: placed={self.placed} ok={self.ok} failed={self.failed} "
                f"retrans={self.retransmissions}  rss={self.rss_kb / 1024:.1f} MiB  "
                f"cpu={self.cpu_ms_per_call:.3f} ms/call (last {self.window_s:g} s)  load average {self.load}")


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def checkpoints_for(minutes: float, quick: bool) -> list[float]:
    """Minutes 1, the middle and the end (1, 5, 10 for 10 minutes); a quick run's two checkpoints are 45 s
    apart, at its end and 45 s before (1.25 and 2 for 2 minutes), so that both CPU windows
    (:func:`cpu_window`) come after the first 32 s, while the linger fills up."""
    if quick:
        return sorted({max(minutes - 0.75, minutes / 2), minutes})
    return sorted({m for m in (1.0, minutes / 2, minutes) if 0 < m <= minutes})


def cpu_window(quick: bool) -> float:
    """Seconds of CPU before a checkpoint that its CPU per call is taken over."""
    return QUICK_CPU_WINDOW_S if quick else CPU_WINDOW_S


def percent_change(before: float, after: float) -> float:
    return 100.0 * (after - before) / before if before else 0.0


def flat_verdict(middle: Checkpoint, last: Checkpoint) -> tuple[bool, bool, str]:
    """(RSS flat, CPU per call flat, the two lines that say so) between two checkpoints."""
    rss = percent_change(middle.rss_kb, last.rss_kb)
    cpu = percent_change(middle.cpu_ms_per_call, last.cpu_ms_per_call)
    rss_flat, cpu_flat = rss < RSS_FLAT_PERCENT, abs(cpu) <= CPU_FLAT_PERCENT
    span = f"minute {middle.minute:g} -> {last.minute:g}"
    text = (f"rss_flat: {'yes' if rss_flat else 'NO'} ({span}: {rss:+.1f} %, limit +{RSS_FLAT_PERCENT:g} %)\n"
            f"cpu_per_call_flat: {'yes' if cpu_flat else 'NO'} ({span}: {cpu:+.1f} %, limit "
            f"+-{CPU_FLAT_PERCENT:g} %)")
    return rss_flat, cpu_flat, text


def parse_args(argv: list[str] | None, prog: str | None = None) -> argparse.Namespace:
    """soak.py's options; ``prog`` names the command in errors (sipp_load.py --then-soak passes its own)."""
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, help="how long the caller places calls (default 10; quick: 2)")
    parser.add_argument("--rate", type=int, default=200, help="calls per second (default 200)")
    parser.add_argument("--quick", action="store_true", help="2 minutes, checkpoints at 1.25 and 2 (CPU over the last 30 s): not the soak")
    parser.add_argument("--idle", type=float, help="seconds to wait after the last call before the last RSS "
                        "reading (default 40; quick: 35)")
    parser.add_argument("--hold-ms", type=int, default=0, help="time between the ACK and the BYE (default 0)")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], help="the server's --loop (default: its own)")
    parser.add_argument("--workers", type=int, default=1, help="the server's --workers (default 1: one process; "
                        "with more, RSS and CPU are summed over the dispatcher and its workers)")
    parser.add_argument("--addresses", default="127.0.2.50,127.0.2.51,127.0.2.52",
                        help="SERVER,CALLER,DESTINATION loopback IPs")
    parser.add_argument("--mem-trace", type=Path, help="the server writes reference_server.mem_trace blocks here")
    parser.add_argument("--mem-trace-interval", type=float, default=30.0, help="seconds between blocks (default 30)")
    args = parser.parse_args(argv)
    args.minutes = args.minutes if args.minutes is not None else (2.0 if args.quick else 10.0)
    args.idle = args.idle if args.idle is not None else (35.0 if args.quick else 40.0)
    if args.minutes <= 0 or args.rate <= 0 or args.idle < 0:
        parser.error("--minutes and --rate must be positive, --idle at least 0")
    if not args.quick and args.minutes < 2:
        parser.error(f"--minutes {args.minutes:g}: the soak compares its middle and last minute; "
                     "use at least 2, or --quick")
    addresses = loopback_addresses(args.addresses)
    if addresses is None:
        parser.error(f"--addresses {args.addresses}: expected three IPs in 127.0.0.0/8")
    args.addresses = addresses
    return args


def _caller_counts(workdir: Path, at: float | None = None) -> tuple[int, int, int, int]:
    """(placed, ok, failed, retransmissions) from the caller's stat.csv, at a Unix time or at its end."""
    rows = read_rows(workdir / "stat.csv")
    row = row_at_or_before(rows, at) if at is not None else (rows[-1] if rows else None)
    return (row_int(row, "OutgoingCall(C)"), row_int(row, "SuccessfulCall(C)"), row_int(row, "FailedCall(C)"),
            row_int(row, "Retransmissions(C)"))


def run(args: argparse.Namespace, workdir: Path) -> int:
    server_ip, caller_ip, dest_ip = args.addresses
    total = round(args.rate * args.minutes * 60)
    seconds = args.minutes * 60
    marks = checkpoints_for(args.minutes, args.quick)
    config = trunk_config((server_ip, 5060), (dest_ip, 5080), port_min=20000, port_max=39999)
    if args.mem_trace:
        os.environ["TRUNKCHECK_MEM_TRACE"] = str(args.mem_trace.resolve())
        os.environ["TRUNKCHECK_MEM_TRACE_INTERVAL"] = str(args.mem_trace_interval)
    extra = ["--workers", str(args.workers), *(["--loop", args.loop] if args.loop else [])]
    uas = SippRun.uas((dest_ip, 5080), calls=total, timeout=seconds * 2 + 120, max_recv_loops=10_000,
                      workdir=workdir / "destination")
    caller = SippRun.uac_auth((caller_ip, 5070), (server_ip, 5060), user="alice", password="secret", domain=TRUNK,
                              calls=total, rate=args.rate, concurrency=max(100, args.rate * 10),
                              hold_ms=args.hold_ms, recv_timeout_ms=10_000, timeout=seconds * 1.5 + 60,
                              max_recv_loops=10_000, workdir=workdir / "caller")
    results: list[Checkpoint] = []
    samples: list[tuple[float, float, float]] = []  # (monotonic, Unix time, server CPU seconds)
    with ReferenceServerProcess(config, log_level="WARNING", args=extra) as server, uas.start() as dest:
        dest.wait_ready()
        print(f"server: {server.listening}; load average {load_average()}", flush=True)
        started = time.monotonic()
        with caller.start() as proc:
            bound = started + proc.run.wall_bound
            pending = list(marks)
            while proc.running() and server.running() and time.monotonic() < bound:
                time.sleep(1.0 - (time.monotonic() - started) % 1.0)
                try:
                    usage = server.usage()  # the dispatcher's and its workers' (--workers)
                except OSError:
                    break
                now = time.monotonic()
                samples.append((now, time.time(), usage.cpu_seconds))
                if pending and now - started >= pending[0] * 60:
                    results.append(_checkpoint(pending.pop(0), samples, usage.rss_kb, workdir / "caller",
                                               cpu_window(args.quick)))
                    print(results[-1].line(), flush=True)
            if not server.running():
                proc.abort()
                print(f"soak: the server exited during the run: {server.log_tail(600)}", file=sys.stderr)
                return 1
            caller_result = proc.wait()
        time.sleep(args.idle)
        idle_rss = server.usage().rss_kb
        dest.stop(grace=6)
    placed, ok, failed, retrans = _caller_counts(workdir / "caller")
    print(f"after {args.idle:g} s idle: rss={idle_rss / 1024:.1f} MiB")
    print(f"calls={placed} of {total} ok={ok} failed={failed} retrans={retrans} caller timed out: "
          f"{'yes' if caller_result.timed_out else 'no'}; load average {load_average()}")
    all_ok = ok == total and failed == 0 and not caller_result.timed_out
    if len(results) < len(marks):
        print(f"soak: reached {len(results)} of {len(marks)} checkpoints (the caller ended early)")
        return 1
    middle = results[-2] if len(results) >= 2 else results[0]
    rss_flat, cpu_flat, text = flat_verdict(middle, results[-1])
    print(text)
    passed = all_ok and rss_flat and cpu_flat
    label = "quick check, not the soak figure" if args.quick else f"{args.minutes:g} min at {args.rate} cps"
    print(f"soak: {'PASS' if passed else 'FAIL'} ({label})")
    return 0 if passed else 1


def _checkpoint(minute: float, samples: list[tuple[float, float, float]], rss_kb: int, caller_dir: Path,
                window: float) -> Checkpoint:
    now, epoch, cpu = samples[-1]
    first = next(s for s in samples if s[0] >= now - window - 0.5)
    placed_then = _caller_counts(caller_dir, first[1])[0]
    placed, ok, failed, retrans = _caller_counts(caller_dir, epoch)
    calls = placed - placed_then
    per_call = 1000.0 * (cpu - first[2]) / calls if calls > 0 else float("nan")
    return Checkpoint(minute, placed, ok, failed, retrans, rss_kb, per_call, load_average(), window)


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupted)  # stop SIPp and the server on `kill` too, as on Ctrl-C
    signal.signal(signal.SIGINT, _interrupted)  # also when started in the background (SIGINT ignored there)
    busy = [f"{ip}:{port}" for ip, port in zip(args.addresses, (5060, 5070, 5080), strict=True) if port_bound(ip, port)]
    if busy:
        print(f"soak: {', '.join(busy)} already in use (another run?); choose --addresses", file=sys.stderr)
        return 2
    if find_sipp() is None:
        print(SIPP_MISSING, file=sys.stderr)
        return 2
    total = round(args.rate * args.minutes * 60)
    print(f"soak: {args.rate} cps for {args.minutes:g} min ({total} calls), checkpoints at minutes "
          f"{', '.join(f'{m:g}' for m in checkpoints_for(args.minutes, args.quick))}"
          + ("; QUICK: not the soak figure" if args.quick else ""), flush=True)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        try:
            return run(args, Path(tmp))
        except (ServerStartError, SippError, OSError) as exc:
            print(f"soak: could not run: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("soak: interrupted; SIPp and the server were stopped", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
