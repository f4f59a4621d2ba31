"""What the fuzz tests share: the seed, a watch on the server's log, the server itself, and OPTIONS probes.

The server runs in the test's event loop with its real UDP and TCP sockets on loopback, so every datagram
goes through the same transport, transaction layer and handlers as in ``python -m reference_server``.
Its loggers (``reference_server``, ``sipcore``, and the root logger for ``asyncio``'s "Exception in
callback") feed a :class:`LogWatch`: any record with an exception, at ERROR or above, or whose text
names a traceback or a failed event handler, is a problem.

The fuzz source address is in the ``iponly`` trunk's allowed_ips, so the messages the corpus retargets to
``iponly.trunk.voipbin.net`` pass IP authentication and become calls: the B2BUA sends them to a
:class:`Destination` that answers each INVITE in one of several ways (ring then answer, busy, ring until
Timer C, silence), some of its responses mutated, so call set-up, failure, CANCEL, the un-ACKed 2xx
and hang-up run on fuzzed input from both sides.

``TRUNKCHECK_FUZZ_SEED`` replays another seed; ``TRUNKCHECK_FUZZ_DATAGRAMS`` and
``TRUNKCHECK_FUZZ_STREAMS`` change how much is sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import socket
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from reference_server.server import ReferenceServer
from sipcore.aio.endpoint import SipEndpoint
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Request, Response, make_response
from sipcore.parser import StreamFramer, parse_message
from sipcore.sdp import SessionDescription
from sipcore.sdp_offer import make_answer, make_offer
from sipcore.timers import TimerConfig
from sipcore.transaction import Event, RequestReceived

from .fuzz_corpus import MUTATORS
from .support import TEST_CONFIG, make_config

Addr = tuple[str, int]
SEED = int(os.environ.get("TRUNKCHECK_FUZZ_SEED", "4475"))
PROBE_WAIT = 2.0  # seconds an OPTIONS probe may take
#: Short timers, so that transactions from earlier datagrams end (and stop matching later ones as
#: retransmissions) within a second: Timers F, H, J = 0.64 s.
FUZZ_TIMERS = TimerConfig(t1=0.01, t2=0.04, t4=0.05)
#: The test configuration with example.com, the domain most RFC 4475 messages use, as registrar domain:
#: REGISTERs and INVITEs then reach the registrar and the authentication code, not just routing's 404.
FUZZ_CONFIG = TEST_CONFIG.replace('domain = "example.registrar.voipbin.net"', 'domain = "example.com"')
_WATCHED = ("reference_server", "sipcore")


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


class LogWatch(logging.Handler):
    """Every record of the watched loggers; ``problems`` are the ones that show a bug."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.problems: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        self.lines.append(text)
        if (record.exc_info or record.levelno >= logging.ERROR or "Traceback" in text
                or "event handler failed" in text):
            self.problems.append(record)

    @staticmethod
    def describe(record: logging.LogRecord) -> str:
        text = f"{record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return text

    def first_line(self, record: logging.LogRecord) -> str:
        """What kind of problem: the exception's type and message, or the log text."""
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            return f"{type(exc).__name__}: {exc}"
        return record.getMessage()[:200]


@contextmanager
def watch_logs() -> Iterator[LogWatch]:
    """Attach a LogWatch at INFO to the server's loggers (not propagated meanwhile: pytest need not keep
    tens of thousands of records) and at WARNING to the root logger (asyncio, anything else)."""
    watch = LogWatch()
    root = logging.getLogger()
    saved = []
    for name in _WATCHED:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.addHandler(watch)
    root_handler = _Forward(watch)
    root.addHandler(root_handler)
    try:
        yield watch
    finally:
        root.removeHandler(root_handler)
        for logger, level, propagate in saved:
            logger.removeHandler(watch)
            logger.setLevel(level)
            logger.propagate = propagate


class _Forward(logging.Handler):
    def __init__(self, watch: LogWatch) -> None:
        super().__init__(logging.WARNING)
        self._watch = watch

    def emit(self, record: logging.LogRecord) -> None:
        self._watch.emit(record)


class Destination:
    """The trunk's destination: answers every INVITE the way a seeded choice says, and every other request
    200. A share ``mangle`` of its responses is sent mutated instead (the fuzz corpus's mutations, or the
    SDP body's bytes flipped), the server's input from the trunk side. Its own mistakes raise (and fail
    the test through the log watch); the server's are what counts."""

    WAYS = ("answer", "answer", "busy", "ring", "silent")

    def __init__(self, seed: int, mangle: float = 0.2) -> None:
        self.rng = random.Random(seed)
        self.mangle = mangle
        self.endpoint: SipEndpoint | None = None
        self.invites = 0
        self.mangled = 0

    async def open(self) -> Addr:
        self.endpoint = await SipEndpoint.open("UDP", "127.0.0.1", 0, self._on_event, timers=FUZZ_TIMERS,
                                               auto_100_delay=None)
        return self.endpoint.local_addr

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()

    def _respond(self, event: RequestReceived, status: int, body: bytes = b"") -> None:
        assert self.endpoint is not None and event.transaction is not None
        response = make_response(event.request, status, to_tag="dest", headers=[
            ("Contact", f"<sip:dest@{self.endpoint.local_addr[0]}:{self.endpoint.local_addr[1]}>")])
        response.set_body(body, "application/sdp" if body else None)
        if self.rng.random() < self.mangle:  # sent outside the transaction, which stays in Proceeding
            assert self.endpoint.transport is not None
            self.endpoint.transport.send(self._mangled(response), event.transaction.addr)
            self.mangled += 1
            return
        self.endpoint.send_response(response, event.transaction)

    def _mangled(self, response: Response) -> bytes:
        rng = self.rng
        if response.body and rng.random() < 0.5:  # the SDP: a byte, a number or a line changed
            body = MUTATORS[rng.choice(("flip", "number", "lines", "truncate"))](rng, response.body)
            head = response.to_bytes()[:-len(response.body)]
            if rng.random() < 0.8:  # mostly with a Content-Length to match
                head = head.replace(b"Content-Length: %d\r\n" % len(response.body),
                                    b"Content-Length: %d\r\n" % len(body))
            return head + body
        return MUTATORS[rng.choice(("flip", "truncate", "repeat", "oversize", "number", "scheme",
                                    "lines"))](rng, response.to_bytes())

    def _on_event(self, event: Event, endpoint: SipEndpoint) -> None:
        if not isinstance(event, RequestReceived) or event.transaction is None:
            return  # ACKs, ends of transactions
        method = event.request.method
        if method == "CANCEL":
            self._respond(event, 200)
            if event.invite_transaction is not None:
                cancelled = RequestReceived(event.invite_transaction.request, event.addr, event.invite_transaction)
                try:
                    self._respond(cancelled, 487)
                except ProtocolError:  # answered already: the CANCEL came too late
                    pass
        elif method == "INVITE":
            self.invites += 1
            way = self.rng.choice(self.WAYS)
            if way in ("answer", "ring"):
                self._respond(event, 180)
            if way == "answer":
                self._respond(event, 200, self._answer(event.request))
            elif way == "busy":
                self._respond(event, 486)
        else:
            self._respond(event, 200)

    @staticmethod
    def _answer(request: Request) -> bytes:
        try:
            return make_answer(SessionDescription.parse(request.body), "127.0.0.1", 49170, 1).to_bytes()
        except (SIPParseError, ValueError):
            return make_offer("127.0.0.1", 49170, 1).to_bytes()


def fuzz_config(allowed_ip: str) -> str:
    """FUZZ_CONFIG with ``allowed_ip`` the only address of the iponly trunk's allowed_ips."""
    text, count = re.subn(r'allowed_ips = \["[^"]*"\]', f'allowed_ips = ["{allowed_ip}"]', FUZZ_CONFIG, count=1)
    if count != 1:
        raise AssertionError("the test configuration has no iponly trunk with allowed_ips to retarget")
    return text


async def start_server(destination: Addr = ("127.0.0.1", 9), config_text: str = FUZZ_CONFIG) -> ReferenceServer:
    """The reference server on UDP and TCP, one free port number on 127.0.0.1; trunk calls go to
    ``destination`` and ring for at most a second (Timer C)."""
    config = make_config(destination, config_text, listen=("udp:127.0.0.1:0", "tcp:127.0.0.1:0"))
    server = ReferenceServer(config, timers=FUZZ_TIMERS, timer_c=1.0, rng=random.Random(SEED))
    await server.start()
    return server


def server_addr(server: ReferenceServer, transport: str) -> Addr:
    local = next(a for a in server.local_addresses if a.transport == transport)
    return (local.host, local.port)


def bind_source(rng: random.Random) -> socket.socket:
    """A UDP socket on port 5060 of some 127.x.y.z: the torture messages' Via headers name no port (or
    5060), so the server answers there (RFC 3261 §18.2.2, ``received``); this socket takes those answers.
    Where something holds port 5060 on every loopback address (a SIP server on 0.0.0.0), any port."""
    for port in (5060, 0):
        for _ in range(20):
            host = f"127.{rng.randrange(40, 250)}.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}"
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((host, port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            return sock
    raise RuntimeError("cannot bind a UDP socket on 127.0.0.0/8")


def drain(sock: socket.socket) -> list[bytes]:
    """Read what is waiting on ``sock``: the datagrams that do not parse as a SIP message (headers not
    validated: answers to fuzzed requests copy fuzzed header fields)."""
    unparsable = []
    while True:
        try:
            data = sock.recv(65535)
        except (BlockingIOError, InterruptedError):
            return unparsable
        except OSError:  # an ICMP error for something this socket sent
            continue
        try:
            parse_message(data, validate_headers=False)
        except SIPParseError:
            unparsable.append(data)


def options_bytes(server: Addr, local: Addr, transport: str, n: int) -> bytes:
    host, port = server
    return (f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} {local[0]}:{local[1]};branch=z9hG4bK-fuzz-probe-{n};rport\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:probe@{local[0]}>;tag=probe{n}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: fuzz-probe-{n}@{local[0]}\r\n"
            f"CSeq: {n + 1} OPTIONS\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


async def udp_probe(server: Addr, n: int) -> int:
    """Send an OPTIONS over UDP; the status of its answer (0: none within PROBE_WAIT)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    call_id = f"fuzz-probe-{n}@".encode()
    try:
        sock.sendto(options_bytes(server, sock.getsockname(), "UDP", n), server)
        deadline = loop.time() + PROBE_WAIT
        while (left := deadline - loop.time()) > 0:
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, 65535), left)
            except TimeoutError:
                break
            response = parse_message(data)
            if call_id in data and getattr(response, "status", 0) >= 200:
                return int(getattr(response, "status", 0))
        return 0
    finally:
        sock.close()


async def read_responses(reader: asyncio.StreamReader, framer: StreamFramer, call_id: bytes,
                         timeout: float = PROBE_WAIT) -> int:
    """Read a TCP stream until a final response naming ``call_id``: its status (0: none, or the server
    closed the connection first)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := deadline - loop.time()) > 0:
        try:
            chunk = await asyncio.wait_for(reader.read(65535), left)
        except (TimeoutError, ConnectionError):
            return 0
        if not chunk:
            return 0
        for message in framer.feed(chunk):
            status = int(getattr(message, "status", 0))
            if status >= 200 and (message.headers.get("Call-ID") or "").encode("utf-8", "surrogateescape").startswith(call_id):
                return status
    return 0
