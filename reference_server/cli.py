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
import json
import logging
import os
import resource
import signal
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from sipcore.aio.clock import LoopClock

from .admission import AdmissionConfig
from .config import ConfigError, Overrides, ServerConfig, load_config
from .event_loop import DEFAULT_LOOP, LOOP_CHOICES, LoopFactory, LoopUnavailable, loop_factory
from .faults import Fault, InjectedFaults
from .gc_pacing import GcPacer
from .loop_stats import LoopStats
from .mem_trace import MemTrace
from .server import ListenError, ReferenceServer
from .worker import WorkerServer
from .workers import run_workers

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
                             '"tcp:[::1]:5060", "tls:127.0.0.1:5061" (with --tls-cert/--tls-key), or '
                             '"127.0.0.1:5070", which is UDP')
    parser.add_argument("--destination", metavar="URI",
                        help='where every trunk sends its calls, e.g. "sip:127.0.0.1:5080", "127.0.0.1:5080" or '
                             '"sip:carrier.example.net" (located through DNS, RFC 3263)')
    parser.add_argument("--dns", metavar="IP[:PORT]",
                        help="the DNS server for destinations given by host name (default: the system's resolver)")
    parser.add_argument("--tls-cert", metavar="FILE", type=Path,
                        help="certificate chain (PEM) presented on tls: listen addresses (replaces [tls] cert)")
    parser.add_argument("--tls-key", metavar="FILE", type=Path, help="its private key (PEM; replaces [tls] key)")
    parser.add_argument("--tls-ca", metavar="FILE", type=Path,
                        help="CAs (PEM) that TLS destinations' certificates must chain to (replaces [tls] ca_file)")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default INFO")
    parser.add_argument("--loop", default=DEFAULT_LOOP, choices=LOOP_CHOICES,
                        help=f"event loop: uvloop (pip install 'trunkcheck[fast]'), asyncio's own, or auto: uvloop "
                             f"where installed (default {DEFAULT_LOOP})")
    parser.add_argument("--workers", type=_positive, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes behind a dispatcher on the UDP listen addresses (default: the "
                             "machine's cores; 1 runs one process, no dispatcher)")
    parser.add_argument("--worker-port-base", type=int, default=0, metavar="PORT",
                        help="worker i also listens on UDP PORT+i (its Via and Contact name it; default: a port the "
                             "kernel picks)")
    parser.add_argument("--max-loop-lag-ms", type=float, default=30.0, metavar="MS",
                        help="overload: event-loop lag (or a datagram's wait for its worker) past which new INVITEs "
                             "get 503 + Retry-After, when every message of a 50 ms interval waited that long (default 30)")
    parser.add_argument("--max-pending", type=_positive, default=2000, metavar="N",
                        help="overload: INVITEs being set up at once (per worker); beyond that new ones get 503 (default 2000)")
    parser.add_argument("--retry-after", type=int, default=5, metavar="S", help="Retry-After of a 503 (default 5)")
    parser.add_argument("--no-admission", action="store_true", help="take every call, even when saturated")
    parser.add_argument("--worker-channel", type=int, help=argparse.SUPPRESS)  # set by the dispatcher
    # test only (reference_server.faults): the server broken on purpose, to see the suite catch it
    parser.add_argument("--fault", action="append", default=[], choices=[f.value for f in Fault],
                        help=argparse.SUPPRESS)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1")
    return value


async def _serve(server: ReferenceServer, stop: asyncio.Event | None = None) -> int:
    """Run ``server`` until SIGINT/SIGTERM or ``stop``; a worker (``stop`` given) prints no ready line."""
    announce = stop is None
    try:
        await server.start()
    except ListenError as exc:
        print(f"reference_server: {exc}", file=sys.stderr)
        return 2
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if announce:
        print("listening on " + " ".join(str(a) for a in server.local_addresses), flush=True)
    # A finished call's objects die by reference counting (no cycles are left when a call ends), so the
    # cyclic collector only costs pauses. Collections are paced by time (reference_server.gc_pacing), not
    # by CPython's allocations-minus-deallocations counter, which transactions ending 32 s after their call
    # (Timers J/L/M) hold near zero at steady load while the young generation grows to 200k+ objects
    # (0.2-0.6 s pauses). Start-up objects are frozen.
    gc.freeze()
    pacer = GcPacer()
    if server.admission is not None:  # a scheduled full collection is not overload
        pacer.on_full = server.admission.excuse
    pacer.start(server.admission)  # its ticks ride on the admission probe's wake-ups when there is one
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
        config = load_config(args.config, overrides=Overrides(args.listen, args.destination, args.dns,
                                                                 args.tls_cert, args.tls_key, args.tls_ca))
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
    admission = None if args.no_admission else AdmissionConfig(
        max_loop_lag=args.max_loop_lag_ms / 1000, max_pending=args.max_pending, retry_after=max(0, args.retry_after))
    policies: dict[str, Any] = {"media_policy": faults.media_policy, "hangup_policy": faults.hangup_policy, "admission": admission}
    if args.worker_channel is not None:
        return _run_worker(config, args.worker_channel, policies, new_loop)
    if args.workers > 1:
        try:
            return asyncio.run(run_workers(config, sys.argv[1:] if argv is None else argv, args.workers,
                                           port_base=args.worker_port_base))
        except ValueError as exc:  # e.g. a relay range too small to share
            print(f"reference_server: {exc}", file=sys.stderr)
            return 2

    async def serve() -> int:
        # on the loop's own clock, bound: a reading spares asyncio.get_running_loop() (a getpid() call)
        server = ReferenceServer(config, clock=LoopClock(asyncio.get_running_loop()), **policies)
        return await _serve(server)

    return _run(new_loop, serve())


def _run(new_loop: LoopFactory, coro: Coroutine[Any, Any, int]) -> int:
    """Run a server (or a worker) on the event loop ``--loop`` chose."""
    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(coro)


def _run_worker(config: ServerConfig, fd: int, policies: dict[str, Any], new_loop: LoopFactory) -> int:
    """A worker of ``--workers N`` (reference_server.worker): its orders are the channel's first message."""
    channel = socket.socket(fileno=fd)
    channel.settimeout(10.0)
    try:
        hello = json.loads(channel.recv(65536))
    except (OSError, ValueError) as exc:
        print(f"reference_server worker: no orders from the dispatcher: {exc}", file=sys.stderr)
        return 2
    channel.setblocking(False)
    logging.getLogger().handlers[0].setFormatter(logging.Formatter(
        f"%(asctime)s %(levelname)s %(name)s[worker {hello['index']}]: %(message)s"))

    async def serve() -> int:
        server = WorkerServer(config, hello, channel, clock=LoopClock(asyncio.get_running_loop()), **policies)
        return await _serve(server, server.stopped)

    return _run(new_loop, serve())
