"""``--workers N``: the reference server on N processes, one dispatcher in front (this module).

Why a dispatcher and not SO_REUSEPORT alone: with SO_REUSEPORT the kernel picks a UDP socket by a hash
of the datagram's 4-tuple, so everything one peer sends from one port -- a carrier's SBC, one SIPp --
lands on one worker and the others idle (measured: README, Performance). The dispatcher reads each
shared UDP listen address and hands every datagram to the worker that owns its call: worker
``crc32(Call-ID) mod N``, and worker 0 for REGISTER (the registrar's changes are made in one process;
:mod:`reference_server.shared_state`). It parses nothing else, but for the new INVITEs of a worker that said
it is saturated: it answers those 503 itself (:mod:`reference_server.front_door`). Workers send their responses from the shared
socket themselves, and name their own port in Via and Contact, so the rest of a call bypasses the
dispatcher (:mod:`reference_server.worker`). TCP listeners are worker 0's.

Each worker gets its slice of the RTP relay range and the one secret key all nonces are made with.
SIGINT/SIGTERM stop the workers (SIGTERM, then SIGKILL after ``STOP_GRACE`` seconds) and the exit status
is 0. A worker that exits on its own is logged with its status and started again on the same channel
slot (its calls in progress are lost; other workers' calls go on; the registrar's bindings are replayed
to it); more than ``MAX_RESTARTS`` restarts within ``RESTART_WINDOW`` seconds stop the server, status 1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import re
import signal
import socket
import sys
import time
import zlib
from collections.abc import Sequence

from .config import ListenAddress, ServerConfig
from .front_door import HOLD, OVERLOAD, FrontDoor, Refusal, read_overload_update
from .server import ListenError
from .shared_state import BINDINGS
from .worker import CHANNEL_BUFFER, HELLO, READ_BATCH, ChannelReader, pack_datagram

log = logging.getLogger("reference_server")

__all__ = ["Dispatcher", "owner_of", "relay_slices", "run_workers"]

STOP_GRACE = 5.0
START_TIMEOUT = 30.0
MAX_RESTARTS, RESTART_WINDOW = 5, 60.0
_CALL_ID = re.compile(rb"\n(?:call-id|i)[ \t]*:[ \t]*([^\r\n]*)", re.I)


def owner_of(data: bytes, peer: tuple[str, int], count: int) -> int:
    """The worker for a datagram: 0 for REGISTER, else by its Call-ID (by source IP without one)."""
    if data[:9] == b"REGISTER ":
        return 0
    found = _CALL_ID.search(data)
    key = found.group(1).strip() if found else peer[0].encode()
    return zlib.crc32(key) % count


def relay_slices(port_min: int, port_max: int, count: int) -> list[tuple[int, int]]:
    """The relay range cut in ``count`` slices of whole RTP/RTCP pairs (an even RTP port and the next)."""
    pairs = (port_max - port_min + 1) // 2
    if pairs < 2 * count:
        raise ValueError(f"relay ports {port_min}-{port_max} hold {pairs} RTP/RTCP pairs: too few for {count} "
                         "workers (2 a worker at least)")
    first = port_min + (port_min % 2)
    size = pairs // count
    return [(first + 2 * size * i, first + 2 * size * (i + 1) - 1) for i in range(count)]


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: asyncio.subprocess.Process | None = None
        self.channel: socket.socket | None = None
        self.ready: asyncio.Future[list[str]] | None = None
        self.dropped = 0
        self.refusal: Refusal | None = None  # while the worker is delayed: the dispatcher refuses its new calls
        self.refused_until = 0.0  # ... until then, unless the worker says so again (front_door.HOLD)


class Dispatcher:
    """The parent process: see the module docstring. ``argv`` is the command line the workers run with."""

    def __init__(self, config: ServerConfig, argv: Sequence[str], count: int, *, port_base: int = 0) -> None:
        if count < 2:
            raise ValueError("a dispatcher needs 2 workers or more")
        self.config, self.argv, self.count, self.port_base = config, list(argv), count, port_base
        self.secret = os.urandom(32).hex()
        self.sockets: list[socket.socket] = []
        self.stream: list[ListenAddress] = []
        self.workers = [_Worker(i) for i in range(count)]
        self._reader = ChannelReader()  # the workers' channels, read one at a time
        self.relays = relay_slices(config.media.port_min, config.media.port_max, count)
        self.bindings: dict[str, bytes] = {}  # the latest update per AOR, for a worker started again
        self.stopping = False
        self.failed = asyncio.Event()
        self._restarts: list[float] = []
        self.front_door = FrontDoor(config.user_agent)

    # -- start --------------------------------------------------------------------------------------
    def bind(self) -> None:
        """Bind the UDP listen addresses (ListenError if one cannot be)."""
        udp_ports: dict[str, int] = {}
        for listen in self.config.listen:
            if listen.transport != "udp":
                continue
            family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CHANNEL_BUFFER)
                sock.bind(listen.addr)
            except OSError as exc:
                sock.close()
                self.close()
                raise ListenError(f"cannot listen on {listen}: {exc.strerror or exc}") from exc
            sock.setblocking(False)
            self.sockets.append(sock)
            udp_ports.setdefault(listen.host, sock.getsockname()[1])
        # TCP on port 0 takes the UDP port of its host, as a single server does
        self.stream = [ListenAddress(a.transport, a.host, udp_ports.get(a.host, 0) if a.port == 0 else a.port)
                       for a in self.config.listen if a.transport != "udp"]

    @property
    def addresses(self) -> list[str]:
        return [str(ListenAddress("udp", *s.getsockname()[:2])) for s in self.sockets] + [str(a) for a in self.stream]

    async def start(self) -> None:
        """Start every worker and dispatch; RuntimeError (workers stopped) if one does not come up."""
        await asyncio.gather(*(self._spawn(w) for w in self.workers))
        try:
            for worker in self.workers:
                assert worker.ready is not None
                own = await asyncio.wait_for(asyncio.shield(worker.ready), START_TIMEOUT)
                log.info("worker %d (pid %d): %s, relay ports %d-%d", worker.index, worker.proc.pid if worker.proc
                         else 0, " ".join(own), *self.relays[worker.index])
        except (TimeoutError, RuntimeError) as exc:
            await self.stop()
            why = str(exc) or f"no answer in {START_TIMEOUT:g} s"
            raise RuntimeError(f"a worker did not start: {why}") from None
        # only now: a peer that got an answer from one worker finds the others (and worker 0's TCP) up too
        loop = asyncio.get_running_loop()
        for index, sock in enumerate(self.sockets):
            loop.add_reader(sock.fileno(), self._read_public, index)

    def _hello(self, index: int) -> bytes:
        public = [{"fd": s.fileno(), "host": s.getsockname()[0], "port": s.getsockname()[1]} for s in self.sockets]
        hosts = list(dict.fromkeys(p["host"] for p in public))
        port = self.port_base + index if self.port_base else 0
        own = [{"transport": "udp", "host": h, "port": port} for h in hosts]
        if index == 0:
            own += [{"transport": a.transport, "host": a.host, "port": a.port} for a in self.stream]
        return json.dumps({"index": index, "count": self.count, "secret": self.secret, "public": public,
                           "own": own, "relay": self.relays[index]}).encode()

    async def _spawn(self, worker: _Worker) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for sock in (parent, child):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHANNEL_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CHANNEL_BUFFER)
        command = [sys.executable, "-m", "reference_server", *self.argv, "--worker-channel", str(child.fileno())]
        try:
            worker.proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                pass_fds=(child.fileno(), *(s.fileno() for s in self.sockets)))
        finally:
            child.close()
        parent.setblocking(False)
        worker.refusal = None
        parent.send(self._hello(worker.index))
        for update in self.bindings.values():  # a worker started again learns the registrations
            parent.send(BINDINGS + update)
        loop = asyncio.get_running_loop()
        worker.channel, worker.ready = parent, loop.create_future()
        loop.add_reader(parent.fileno(), self._read_worker, worker)
        loop.create_task(self._watch(worker, worker.proc))

    # -- running ------------------------------------------------------------------------------------
    def _read_public(self, index: int) -> None:
        for worker in self.workers:  # updates first: a REGISTER's binding before a call placed after its 200
            self._read_worker(worker)
        sock = self.sockets[index]
        count, workers = self.count, self.workers
        for _ in range(READ_BATCH):
            try:
                data, peer = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.info("UDP %s: %s", self.addresses[index], exc)
                continue
            worker = workers[owner_of(data, peer, count)]
            if worker.refusal is not None and time.monotonic() < worker.refused_until \
                    and self.front_door.refuse(data, peer, sock, worker.refusal):
                continue
            channel = worker.channel
            if channel is None or worker.ready is None or not worker.ready.done():
                worker.dropped += 1
                continue
            try:
                channel.send(pack_datagram(time.monotonic(), index, (peer[0], peer[1]), data))
            except OSError:  # the worker's channel is full (it is saturated) or it is gone: UDP loses it
                worker.dropped += 1
                if worker.dropped % 1000 == 1:
                    log.warning("worker %d is not keeping up: %d datagrams dropped", worker.index, worker.dropped)

    def _read_worker(self, worker: _Worker) -> None:
        channel = worker.channel
        for _ in range(READ_BATCH):
            if channel is None:
                return
            try:
                message = self._reader.recv(channel)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                message = b""
            if not message:  # the worker is gone; _watch says why
                asyncio.get_running_loop().remove_reader(channel.fileno())
                channel.close()
                worker.channel = channel = None
                return
            kind = message[:1]
            if kind == HELLO:
                if worker.ready is not None and not worker.ready.done():
                    worker.ready.set_result(json.loads(message[1:])["listening"])
                continue
            if kind == OVERLOAD:  # for the dispatcher alone
                worker.refusal = read_overload_update(message[1:])
                worker.refused_until = time.monotonic() + HOLD
                continue
            if kind == BINDINGS:
                aor = pickle.loads(message[1:])[0]  # noqa: S301 -- from our own worker
                self.bindings[aor] = message[1:]
            for other in self.workers:
                if other is not worker and other.channel is not None:
                    try:
                        other.channel.send(message)
                    except OSError:
                        log.warning("worker %d: an update from worker %d was lost", other.index, worker.index)

    async def _watch(self, worker: _Worker, proc: asyncio.subprocess.Process) -> None:
        status = await proc.wait()
        if worker.ready is not None and not worker.ready.done():
            worker.ready.set_exception(RuntimeError(f"worker {worker.index} exited with status {status}"))
        if self.stopping or worker.proc is not proc:
            return
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if t > now - RESTART_WINDOW] + [now]
        if len(self._restarts) > MAX_RESTARTS:
            log.error("worker %d (pid %d) exited with status %s; %d restarts in %g s: stopping the server",
                      worker.index, proc.pid, status, MAX_RESTARTS, RESTART_WINDOW)
            self.failed.set()
            return
        log.error("worker %d (pid %d) exited with status %s; starting it again (its calls in progress are lost)",
                  worker.index, proc.pid, status)
        if worker.channel is not None:
            asyncio.get_running_loop().remove_reader(worker.channel.fileno())
            worker.channel.close()
            worker.channel = None
        try:
            await self._spawn(worker)
            assert worker.ready is not None
            await asyncio.wait_for(asyncio.shield(worker.ready), START_TIMEOUT)
        except (OSError, TimeoutError, RuntimeError) as exc:
            log.error("worker %d could not be started again (%s): stopping the server", worker.index, exc)
            self.failed.set()

    # -- stop ---------------------------------------------------------------------------------------
    async def stop(self) -> None:
        """SIGTERM every worker, SIGKILL one still there after STOP_GRACE seconds; close the sockets."""
        self.stopping = True
        procs = [w.proc for w in self.workers if w.proc is not None and w.proc.returncode is None]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE)
            except TimeoutError:
                log.error("worker pid %d did not stop in %g s: killed", proc.pid, STOP_GRACE)
                proc.kill()
                await asyncio.wait_for(proc.wait(), STOP_GRACE)
        self.close()

    def close(self) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for sock in self.sockets:
            if loop is not None:
                loop.remove_reader(sock.fileno())
            sock.close()
        self.sockets.clear()
        for worker in self.workers:
            if worker.channel is not None:
                if loop is not None:
                    loop.remove_reader(worker.channel.fileno())
                worker.channel.close()
                worker.channel = None


async def run_workers(config: ServerConfig, argv: Sequence[str], count: int, *, port_base: int = 0) -> int:
    """Run the dispatcher and its workers until SIGINT/SIGTERM (0), a worker failing for good (1), or
    a listen address that cannot be bound / a worker that does not start (2)."""
    dispatcher = Dispatcher(config, argv, count, port_base=port_base)
    try:
        dispatcher.bind()
    except ListenError as exc:
        print(f"reference_server: {exc}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await dispatcher.start()
        except RuntimeError as exc:
            print(f"reference_server: {exc}", file=sys.stderr)
            return 2
        print("listening on " + " ".join(dispatcher.addresses), flush=True)
        log.info("%d workers behind %s", count, ", ".join(dispatcher.addresses))
        stopped, failed = asyncio.ensure_future(stop.wait()), asyncio.ensure_future(dispatcher.failed.wait())
        await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopped, failed):
            task.cancel()
        await dispatcher.stop()
        log.info("stopped")
        return 1 if dispatcher.failed.is_set() else 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
