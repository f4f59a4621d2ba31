"""Highest call rate the reference server holds clean, driven by SIPp; the last line is ``max_clean_cps: N``.

    .venv/bin/python benchmarks/sipp_load.py                      # rates 100,150,...,500 until one is not clean: ~2 min each
    .venv/bin/python benchmarks/sipp_load.py --workers 2 --rates 800,1000,1200 --against kamailio --then-overload
    .venv/bin/python benchmarks/sipp_load.py --workers 2 --rates 500,600 --against kamailio --then-overload --then-soak
    .venv/bin/python benchmarks/sipp_load.py --rates 300,400 --step 120
    .venv/bin/python benchmarks/sipp_load.py --quick              # smoke run: 5 s steps, NOT the definition
    .venv/bin/python benchmarks/sipp_load.py --overload --rates 1000 --step 60   # past capacity: admission figures

``--workers N`` passes the server's ``--workers`` (default: its own, the machine's cores); the server's CPU and
memory figures add up the dispatcher and its workers.

``--against kamailio`` runs, after the reference server's ramp, the same ramp (``--kamailio-rates``, default
1000..3500) against Kamailio with ``examples/kamailio/kamailio.cfg`` (started and stopped by the benchmark,
:mod:`kamailio_load`), with the same SIPp caller, destination and definition of clean; the run ends with
``kamailio_max_clean_cps: K``, ``ratio: R (max_clean_cps / kamailio_max_clean_cps = N / K)`` and
``max_clean_cps: N``. A figure equal to the highest rate tried says "a lower bound": try higher rates.
``--then-overload`` adds, after the ramps, the ``--overload`` run at twice the capacity just measured, and
``--then-soak`` then the soak (:mod:`soak`: 10 minutes at 200 cps by default, with the ramp's ``--workers`` and
addresses; ``--soak-arg`` passes one of soak.py's own options), so one run prints the capacity, Kamailio's, the
overload and the soak figures (the summary lines stay last).

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
the end of the run; peak within the window, VmHWM reset at the window's start or sampled every 0.25 s)
and its PSS at the end: summed over a server's processes, RSS counts the memory they share (Kamailio's
``-m`` shared memory) once per process, PSS once.

Rates run in increasing order and stop at the first one that is not clean (``--keep-going`` tries them
all); ``max_clean_cps`` is the highest rate clean with all lower rates clean. A step shorter than 60 s or a
warm-up shorter than 35 s is refused unless ``--quick`` is given; then each verdict reads "clean (quick,
not per definition)" and the last line is ``quick_clean_cps: N (...)``, never ``max_clean_cps``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kamailio_load import KAMAILIO_RATES, kamailio_server, ratio_line  # noqa: E402
from load_step import (  # noqa: E402  (read_side, placing_seconds: re-exported for the tests)
    StartServer,
    loopback_addresses,
    placing_seconds,
    read_side,
    reference_server,
    run_rate,
)
from load_verdict import MIN_STEP_S, MIN_WARMUP_S, Verdict, highest_clean, max_clean_cps  # noqa: E402
from overload_figures import run_overload  # noqa: E402
from soak import main as soak_main  # noqa: E402
from soak import parse_args as soak_parse  # noqa: E402

from harness.adapters.kamailio import KAMAILIO_MISSING, EquipmentStartError, find_kamailio  # noqa: E402
from harness.adapters.server_process import ServerStartError  # noqa: E402
from harness.adapters.sipp import SIPP_MISSING, SippError, find_sipp, port_bound  # noqa: E402

__all__ = ["main", "placing_seconds", "read_side", "run_rate"]

RATES = (100, 150, 200, 250, 300, 400, 500)
QUICK_RATES = (10, 20, 40)
QUICK_STEP_S, QUICK_WARMUP_S = 5.0, 3.0
DEFAULT_WARMUP_S = 40.0


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
    parser.add_argument("--then-overload", action="store_true",
                        help="after the ramp(s): the --overload run at twice the max_clean_cps just measured, for "
                             "--step seconds (one run then prints the capacity, Kamailio's and the overload figures)")
    parser.add_argument("--then-soak", action="store_true",
                        help="last, benchmarks/soak.py against the reference server (10 min at 200 cps unless "
                             "--soak-arg says otherwise), with this run's --workers and --addresses")
    parser.add_argument("--soak-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for soak.py with --then-soak, repeatable (e.g. --soak-arg=--rate=300)")
    parser.add_argument("--against", choices=("kamailio",),
                        help="kamailio: after the reference server's ramp, the same ramp against Kamailio "
                             "(examples/kamailio/kamailio.cfg, started by the benchmark); prints "
                             "kamailio_max_clean_cps and the ratio")
    parser.add_argument("--kamailio-rates", type=_rates, default=list(KAMAILIO_RATES),
                        help=f"Kamailio's rates with --against kamailio (default {','.join(map(str, KAMAILIO_RATES))})")
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
    addresses = loopback_addresses(args.addresses) if args.addresses else default
    if addresses is None:
        parser.error(f"--addresses {args.addresses}: expected three IPs in 127.0.0.0/8")
    args.addresses = addresses
    return args


def _overload(args: argparse.Namespace, rates: Sequence[int]) -> int:
    for rate in rates:
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


def _soak_argv(args: argparse.Namespace) -> list[str]:
    workers = args.workers or os.cpu_count() or 1  # the server's own default, as the ramps ran it
    return ["--addresses", ",".join(args.addresses), "--workers", str(workers), *args.soak_arg]


def _soak(args: argparse.Namespace) -> int:
    """The soak after the ramps (its lines, its verdict last); a failed soak is a figure like an unclean rate,
    a soak that could not run (2) or was interrupted stops the run with that status."""
    argv = _soak_argv(args)
    print(f"-- soak: benchmarks/soak.py {' '.join(argv)}", flush=True)
    code = soak_main(argv)
    return code if code not in (0, 1) else 0


def server_args(args: argparse.Namespace) -> list[str]:
    return ([] if args.workers is None else ["--workers", str(args.workers)]) + list(args.server_arg)


class _RampStopped(Exception):
    """A rate could not run, or the run was interrupted: exit with ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def ramp(args: argparse.Namespace, rates: Sequence[int], start_server: StartServer,
         name: str) -> list[tuple[int, Verdict]]:
    """Each rate in turn against the server ``start_server`` starts, printing its lines; stops at the first
    rate that is not clean unless ``--keep-going``. Raises :class:`_RampStopped` when a rate cannot run."""
    results: list[tuple[int, Verdict]] = []
    for rate in rates:
        base = os.environ.get("TRUNKCHECK_SIPP_TMPDIR") or None  # as harness.adapters.sipp does
        workdir, result = Path(tempfile.mkdtemp(prefix=f"sipp-load-{rate}-", dir=base)), None
        try:
            result = run_rate(rate, step_s=args.step, warmup_s=args.warmup, addresses=args.addresses,
                              hold_ms=args.hold_ms, workdir=workdir, server_args=server_args(args),
                              start_server=start_server)
        except (ServerStartError, EquipmentStartError, SippError, OSError) as exc:
            print(f"sipp_load: {name} at {rate} cps could not run: {exc}", file=sys.stderr)
            raise _RampStopped(1) from None
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
            for side, sipp in zip(("caller", "destination"), result.sipp, strict=False):
                sipp.workdir = sipp.workdir if args.keep_files else None  # removed above
                print(f"  {side}: " + sipp.describe()[:1500].replace("\n", "\n  "), flush=True)
        if not result.verdict.clean and args.keep_files:
            print(f"  SIPp's files: {workdir}", flush=True)
        if not result.verdict.clean and not args.keep_going:
            break
    return results


def summary(results: Sequence[tuple[int, Verdict]], args: argparse.Namespace, *,
            prefix: str = "") -> tuple[int | None, str]:
    """``max_clean_cps: N`` by the definition (noting when even the highest rate tried was clean: then N
    is a lower bound), or ``quick_clean_cps: N (...)`` for a quick run; ``prefix`` names another server."""
    best = max_clean_cps(results)
    if best is None:
        return None, (f"{prefix}quick_clean_cps: {highest_clean(results)} (quick, not per definition: {args.step:g} s "
                      f"steps after {args.warmup:g} s warm-ups)")
    bound = " (the highest rate tried: a lower bound)" if results and best == max(r for r, _ in results) else ""
    return best, f"{prefix}max_clean_cps: {best}{bound}"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    busy = [f"{ip}:{port}" for ip, port in zip(args.addresses, (5060, 5070, 5080), strict=True) if port_bound(ip, port)]
    if busy:
        print(f"sipp_load: {', '.join(busy)} already in use (another run?); choose --addresses", file=sys.stderr)
        return 2
    if find_sipp() is None:
        print(SIPP_MISSING, file=sys.stderr)
        return 2
    if args.against == "kamailio" and find_kamailio() is None:
        print(f"sipp_load: --against kamailio: {KAMAILIO_MISSING}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupted)  # stop SIPp and the server on `kill` too, as on Ctrl-C
    if args.overload:
        return _overload(args, args.rates)
    ramps: list[tuple[str, Sequence[int], StartServer]] = [("reference server", args.rates, reference_server)]
    if args.against == "kamailio":
        ramps.append(("Kamailio (examples/kamailio)", args.kamailio_rates, kamailio_server))
    total = sum(len(rates) for _, rates, _ in ramps) * (args.warmup + args.step + 10)  # + start-up, drain
    then = ""
    if args.then_overload:
        total += args.step + 20
        then += "; then the overload run at twice the clean capacity"
    if args.then_soak:
        soak = soak_parse(_soak_argv(args), prog="sipp_load.py --soak-arg")  # fails now, not after the ramps
        total += soak.minutes * 60 + soak.idle + 10
        then += f"; then the soak, {soak.rate} cps for {soak.minutes:g} min"
    duration = f"{total / 60:.0f} min" if total >= 120 else f"{total:.0f} s"
    plan = "; ".join(f"{name}: rates {','.join(map(str, rates))} cps" for name, rates, _ in ramps)
    print(f"sipp_load: {plan}{then}; "
          f"per rate one caller runs a {args.warmup:g} s warm-up, "
          f"then the {args.step:g} s measured window at the same rate (clean: no failed call, no unexpected message, no retransmission on "
          f"either SIPp side, the window's calls placed within {args.step:g} s + 2 s); about {duration} if all are clean; "
          f"server {args.addresses[0]}:5060, caller {args.addresses[1]}, "
          f"destination {args.addresses[2]}", flush=True)
    outcomes: list[list[tuple[int, Verdict]]] = []
    try:
        for name, rates, start_server in ramps:
            if len(ramps) > 1:
                print(f"-- {name}", flush=True)
            outcomes.append(ramp(args, rates, start_server, name))
    except _RampStopped as stop:
        return stop.code
    except KeyboardInterrupt as exc:
        print("sipp_load: interrupted; SIPp and the server were stopped; no max_clean_cps", file=sys.stderr)
        signum = exc.args[0] if exc.args and isinstance(exc.args[0], int) else signal.SIGINT
        return 128 + signum
    best, line = summary(outcomes[0], args)
    if args.then_overload:
        capacity = best if best is not None else highest_clean(outcomes[0])
        if capacity:
            print(f"-- overload: twice the clean capacity, 2 x {capacity} = {2 * capacity} cps", flush=True)
            code = _overload(args, [2 * capacity])
            if code:
                return code
        else:
            print("-- overload: not run (no rate was clean: no capacity to double)", flush=True)
    if args.then_soak:
        code = _soak(args)
        if code:
            return code
    if args.against == "kamailio":
        kamailio, kamailio_line = summary(outcomes[1], args, prefix="kamailio_")
        print(kamailio_line, flush=True)
        print(ratio_line(best, kamailio), flush=True)
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
