"""Highest call rate the reference server holds with zero failed calls, driven by SIPp.

Each call is the authenticated trunk ladder, without media: INVITE, 407, ACK, INVITE with
Proxy-Authorization, (100/180), 200, ACK, BYE, 200 -- from a SIPp caller (``uac_auth.xml``) through the
server (``python -m reference_server``, a fresh process per step, logging at WARNING, RTP relay ports
20000-39999) to a SIPp destination (``uas.xml``). The B2BUA still allocates relay ports for every call, so
calls must give them back quickly.

A step runs one rate for ``--step-seconds`` (``-m rate*seconds -r rate``). It is clean when both SIPp sides
completed every call, neither counts a failed call or an unexpected message, and the caller kept the pace
(finished within 15 % + 3 s of the nominal duration). The rate goes up (50, 100, 200, 300, 400, 500, 700,
1000, ...) until a step is not clean, then bisects between the last clean and the first unclean rate
(stopping at a 10 % / 5 cps resolution, or when the wall-time budget ends). A step that fails at the
first rate bisects down towards 0.

Per step it prints rate, calls, successful/failed on both sides, retransmissions, the server's CPU use
(% of one core over the step) and peak memory (VmHWM); the LAST line is ``max_clean_cps: N``.
``--quick`` is a smoke mode (5 s steps, at most 40 cps, about 30 s) used by tests/interop/test_load_smoke.py.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.adapters.server_process import ReferenceServerProcess, trunk_config  # noqa: E402
from harness.adapters.sipp import SIPP_MISSING, SippResult, SippRun, find_sipp, port_bound  # noqa: E402

TRUNK = "example.trunk.voipbin.net"
RAMP = (50, 100, 200, 300, 400, 500, 700, 1000, 1500, 2000, 3000)
QUICK_RAMP = (10, 20, 40)
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@dataclass
class Step:
    rate: int
    calls: int
    caller: SippResult
    callee: SippResult
    wall: float
    cpu_percent: float
    peak_rss_kb: int
    clean: bool
    why: str

    def line(self) -> str:
        c, d = self.caller, self.callee
        return (f"rate={self.rate:>5} cps  calls={self.calls:>6}  "
                f"caller ok={c.successful} failed={c.failed} retrans={c.retransmissions} unexpected={c.unexpected}  "
                f"destination ok={d.successful} failed={d.failed} retrans={d.retransmissions} "
                f"unexpected={d.unexpected}  wall={self.wall:.1f}s  server cpu={self.cpu_percent:.0f}% "
                f"peak_rss={self.peak_rss_kb / 1024:.1f}MiB  -> {'clean' if self.clean else 'NOT clean: ' + self.why}")


def run_step(rate: int, seconds: float, addresses: tuple[str, str, str], hold_ms: int) -> Step:
    server_ip, caller_ip, dest_ip = addresses
    server, caller, destination = (server_ip, 5060), (caller_ip, 5070), (dest_ip, 5080)
    calls = max(1, round(rate * seconds))
    bound = seconds * 2 + 30
    config = trunk_config(server, destination, port_min=20000, port_max=39999)
    uas = SippRun.uas(destination, calls=calls, timeout=bound, max_recv_loops=10_000)
    uac = SippRun.uac_auth(caller, server, user="alice", password="secret", domain=TRUNK, calls=calls, rate=rate,
                           concurrency=max(100, rate * 10), hold_ms=hold_ms, recv_timeout_ms=10_000,
                           timeout=bound, max_recv_loops=10_000)
    with ReferenceServerProcess(config, log_level="WARNING") as srv, uas.start() as dest:
        dest.wait_ready()
        before, started = srv.usage(), time.monotonic()
        caller_result = uac.run()
        wall = time.monotonic() - started
        after = srv.usage()
        callee_result = dest.wait(timeout=15) if caller_result.successful == calls else dest.stop(grace=6)
        alive = srv.running()
    cpu = 100.0 * (after.cpu_seconds - before.cpu_seconds) / max(wall, 1e-6)
    problems = []
    for side, result in (("caller", caller_result), ("destination", callee_result)):
        if result.successful != calls or result.failed:
            problems.append(f"{side} {result.successful}/{calls} ok, {result.failed} failed")
        if result.unexpected:
            problems.append(f"{side} {result.unexpected} unexpected messages")
        if result.timed_out:
            problems.append(f"{side} killed at its time bound")
    if wall > seconds * 1.15 + 3 + hold_ms / 1000:
        problems.append(f"took {wall:.1f}s for {seconds:g}s of calls (rate not held)")
    if not alive:
        problems.append("the server died")
    return Step(rate, calls, caller_result, callee_result, wall, cpu, after.peak_rss_kb, not problems,
                "; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: 5 s steps, at most 40 cps")
    parser.add_argument("--step-seconds", type=float, help="seconds per step (default 20; quick: 5)")
    parser.add_argument("--max-rate", type=int, help="never try above this rate (default 3000; quick: 40)")
    parser.add_argument("--budget", type=float, help="wall-time budget in seconds (default 360; quick: 60)")
    parser.add_argument("--hold-ms", type=int, default=0, help="time between the ACK and the BYE (default 0)")
    parser.add_argument("--addresses", metavar="SERVER,CALLER,DESTINATION",
                        help="three loopback IPs (default 127.0.2.10,.11,.12; quick: 127.0.2.20,.21,.22)")
    parser.add_argument("--verbose", action="store_true", help="print SIPp's account of unclean steps")
    parser.add_argument("--keep-files", action="store_true", help="keep SIPp's files (CSV, error log) of unclean steps")
    args = parser.parse_args(argv)
    seconds = args.step_seconds or (5.0 if args.quick else 20.0)
    max_rate = args.max_rate or (40 if args.quick else 3000)
    budget = args.budget or (60.0 if args.quick else 360.0)
    ramp = [r for r in (QUICK_RAMP if args.quick else RAMP) if r <= max_rate] or [max_rate]
    if args.addresses:
        addresses = tuple(a.strip() for a in args.addresses.split(","))
        if len(addresses) != 3 or not all(ipaddress.ip_address(a) in LOOPBACK for a in addresses):
            parser.error(f"--addresses {args.addresses}: expected three IPs in 127.0.0.0/8")
    else:
        addresses = ("127.0.2.20", "127.0.2.21", "127.0.2.22") if args.quick else ("127.0.2.10", "127.0.2.11", "127.0.2.12")
    busy = [f"{ip}:{port}" for ip, port in zip(addresses, (5060, 5070, 5080), strict=True) if port_bound(ip, port)]
    if busy:
        print(f"sipp_load: {', '.join(busy)} already in use (another run?); choose --addresses", file=sys.stderr)
        return 2

    if find_sipp() is None:
        print(SIPP_MISSING, file=sys.stderr)
        print("max_clean_cps: 0")
        return 2
    deadline = time.monotonic() + budget
    step_cost = seconds * 1.3 + 8  # a step's wall time, with start-up and the destination's drain

    def affordable() -> bool:
        return time.monotonic() + step_cost <= deadline

    def step(rate: int) -> bool:
        result = run_step(rate, seconds, addresses, args.hold_ms)
        print(result.line(), flush=True)
        if not result.clean and args.verbose:
            print("  caller: " + result.caller.describe()[:1500].replace("\n", "\n  "))
            print("  destination: " + result.callee.describe()[:1500].replace("\n", "\n  "), flush=True)
        for side in (result.caller, result.callee):  # SIPp's files of an unclean step: kept only on request
            if side.workdir is not None and not args.keep_files:
                shutil.rmtree(side.workdir, ignore_errors=True)
        return result.clean

    print(f"sipp_load: {seconds:g} s per step, rates up to {max_rate} cps, budget {budget:g} s; "
          f"server {addresses[0]}:5060, caller {addresses[1]}, destination {addresses[2]}", flush=True)
    good, bad = 0, None
    for rate in ramp:
        if not affordable():
            break
        if step(rate):
            good = rate
        else:
            bad = rate
            break
    while bad is not None and affordable():
        gap = bad - good
        if gap <= max(5, math.ceil(good * 0.1)):
            break
        rate = (good + bad) // 2
        if step(rate):
            good = rate
        else:
            bad = rate
    print(f"max_clean_cps: {good}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
