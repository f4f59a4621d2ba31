"""``python -m reference_server`` / ``trunkcheck serve``: run the reference trunk server until SIGINT/SIGTERM.

With no arguments it runs the embedded default configuration (UDP and TCP on 127.0.0.1:5060, trunk
``example`` alice/secret -> sip:127.0.0.1:5080, registrar example.registrar.voipbin.net with extensions
1001 and 1002). Exit status: 0 after a signal, 2 for a configuration mistake or an address that cannot be
bound (the message on stderr, no traceback).

Once listening it prints one line to stdout, ``listening on udp:127.0.0.1:5060 tcp:127.0.0.1:5060``, for a
harness that starts it as a subprocess and waits until it is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import resource
import signal
import sys
from pathlib import Path

from sipcore.aio.clock import LoopClock

from .config import ConfigError, Overrides, ServerConfig, load_config
from .event_loop import DEFAULT_LOOP, LOOP_CHOICES, LoopUnavailable, loop_factory
from .faults import Fault, InjectedFaults
from .gc_pacing import GcPacer
from .loop_stats import LoopStats
from .mem_trace import MemTrace
from .server import ListenError, ReferenceServer

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reference_server",
        description="Reference SIP trunk server for the VoIPBin trunk spec (B2BUA with digest auth, "
                    "registrar, early media and hangup-cause relay).")
    parser.add_argument("--config", metavar="FILE", type=Path,
                        help="TOML configuration (default: the embedded defaults.toml)")
    parser.add_argument("--listen", metavar="ADDR", action="append",
                        help='listen address, repeatable (replaces the config\'s): "udp:127.0.0.1:5060", '
                             '"tcp:[::1]:5060", or "127.0.0.1:5070", which is UDP')
    parser.add_argument("--destination", metavar="URI",
                        help='where every trunk sends its calls, e.g. "sip:127.0.0.1:5080", "127.0.0.1:5080" or '
                             '"sip:carrier.example.net" (located through DNS, RFC 3263)')
    parser.add_argument("--dns", metavar="IP[:PORT]",
                        help="the DNS server for destinations given by host name (default: the system's resolver)")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default INFO")
    parser.add_argument("--loop", default=DEFAULT_LOOP, choices=LOOP_CHOICES,
                        help=f"event loop: uvloop (pip install 'trunkcheck[fast]'), asyncio's own, or auto: uvloop "
                             f"where installed (default {DEFAULT_LOOP})")
    # test only (reference_server.faults): the server broken on purpose, to see the suite catch it
    parser.add_argument("--fault", action="append", default=[], choices=[f.value for f in Fault],
                        help=argparse.SUPPRESS)
    return parser


async def _serve(config: ServerConfig, faults: InjectedFaults) -> int:
    # the loop's own clock, bound: every clock reading spares asyncio.get_running_loop() (a getpid() call)
    server = ReferenceServer(config, media_policy=faults.media_policy, hangup_policy=faults.hangup_policy,
                             clock=LoopClock(asyncio.get_running_loop()))
    try:
        await server.start()
    except ListenError as exc:
        print(f"reference_server: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print("listening on " + " ".join(str(a) for a in server.local_addresses), flush=True)
    # A finished call's objects die by reference counting (no cycles are left when a call ends), so the
    # cyclic collector only costs pauses. Collections are paced by time (reference_server.gc_pacing), not
    # by CPython's allocations-minus-deallocations counter, which transactions ending 32 s after their call
    # (Timers J/L/M) hold near zero at steady load while the young generation grows to 200k+ objects
    # (0.2-0.6 s pauses). Start-up objects are frozen.
    gc.freeze()
    pacer = GcPacer()
    pacer.start()
    stats = LoopStats.from_env()
    if stats is not None:
        stats.start()
    trace = MemTrace.from_env(server)
    if trace is not None:
        trace.start()
    try:
        await stop.wait()
    finally:
        pacer.stop()
        if stats is not None:
            stats.stop()
        if trace is not None:
            trace.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.stop()
    logging.getLogger("reference_server").info("stopped")
    return 0


def _raise_descriptor_limit() -> None:
    """Lift the soft limit on open files to the hard one, as Go programs do at start-up: every call holds
    four relay sockets while it lasts and for a moment after, so a 1024 soft limit (a common default) caps
    the server at a few hundred calls at once and leaves no room to pool relays."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            logging.getLogger("reference_server").info("open-file limit stays %d: %s", soft, exc)


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error (argparse printed it)
        return int(exc.code or 0)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config, overrides=Overrides(args.listen, args.destination, args.dns))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        loop_name, new_loop = loop_factory(args.loop)
    except LoopUnavailable as exc:
        print(f"reference_server: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("reference_server").info("event loop: %s", loop_name)
    faults = InjectedFaults.parse(args.fault)
    if faults:
        logging.getLogger("reference_server").warning("TEST ONLY, broken on purpose: %s", faults.describe())
    _raise_descriptor_limit()
    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(_serve(config, faults))
