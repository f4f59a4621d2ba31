"""Capture a scenario's traffic to a pcap with a packet socket (opened with scapy), each datagram exactly once.

    with Capture(run_dir / "basic.pcap", addresses=["127.0.0.10", "127.0.0.11"]):
        ...drive the scenario...

- On a loopback interface Linux hands a packet socket every datagram twice: once outgoing
  (PACKET_OUTGOING), once incoming. We capture with scapy's `L2Socket`, which drops the outgoing copy, so
  the pcap holds each datagram once (tests/harness/test_capture.py checks this). On other interfaces
  outgoing packets are kept (the other end may be another namespace).
- The packet socket is opened in `start()` on the caller's thread: from then on every matching packet is
  queued by the kernel, and a missing CAP_NET_RAW raises `CaptureNotPermitted` at once, never a hang.
- On loopback `start()` then sends a marker datagram and returns only when the sniffer thread has read it
  (bounded by `start_timeout`); `stop()` sends another and waits for it (bounded by `stop_timeout`), so
  every packet queued before `stop()` is in the pcap: the socket queue is FIFO. Markers are not written.
- The kernel's drop counter (PACKET_STATISTICS) is read at stop: `Capture.dropped` > 0 means the receive
  buffer overflowed and the pcap is incomplete.
- The capture thread writes each frame as it was received, with the kernel's timestamp
  (harness.capture.pcap_writer): nothing is dissected on the way, which is tshark's job.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.capture.pcap_writer import PcapWriter

log = logging.getLogger(__name__)

SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_RCVBUFFORCE = 33
ARPHRD_LOOPBACK = 772
RECEIVE_BUFFER = 8 * 1024 * 1024
_MARKER = b"trunkcheck-capture-marker:"
ETH_P_ALL = 3
_DLT_EN10MB = 1
_FRAME_MAX = 65536 + 64  # loopback's MTU and a link header

_NOT_PERMITTED_HELP = (
    "capturing packets needs root or the CAP_NET_RAW capability: run as root, or grant the interpreter the "
    "capability once with `sudo setcap cap_net_raw+ep $(readlink -f {python})`"
)


class CaptureError(RuntimeError):
    """The capture could not start, or could not prove it caught everything."""


class CaptureNotPermitted(CaptureError):
    """No permission to open a packet socket (not root, no CAP_NET_RAW)."""


def _is_loopback(iface: str) -> bool:
    try:
        return Path(f"/sys/class/net/{iface}/type").read_text().strip() == str(ARPHRD_LOOPBACK)
    except OSError:
        return iface == "lo"


def address_filter(addresses: Iterable[str]) -> str:
    """BPF `host a or host b ...`; each address is validated so nothing else reaches the filter."""
    hosts = [str(ipaddress.ip_address(a)) for a in addresses]
    return " or ".join(f"host {h}" for h in hosts)


class Capture:
    """Context manager (or start()/stop()) writing `path` as a pcap of the traffic on `iface`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        iface: str = "lo",
        bpf_filter: str = "udp or tcp",
        addresses: Iterable[str] | None = None,
        *,
        start_timeout: float = 5.0,
        stop_timeout: float = 5.0,
        close_later: bool = True,
    ) -> None:
        self.path = Path(path)
        self.iface = iface
        self.addresses = list(addresses or [])
        user = f"({bpf_filter})" if bpf_filter else ""
        if self.addresses:
            hosts = f"({address_filter(self.addresses)})"
            user = f"{user} and {hosts}" if user else hosts
        self.user_filter = user
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.close_later = close_later  # the packet socket is closed on a thread of its own (see _teardown)
        self.loopback = _is_loopback(iface)
        self.packet_count = 0  # packets written
        self.dropped = 0  # packets the kernel dropped for this capture
        self.bpf = ""  # the filter in use (user filter plus the marker clause)
        self._sniffer: threading.Thread | None = None
        self._error: BaseException | None = None  # what ended the capture thread
        self._wake: tuple[int, int] | None = None  # a pipe: a byte on it ends the capture thread
        self._sock: Any = None
        self._writer: PcapWriter | None = None
        self._marker_sock: socket.socket | None = None
        self._seen: set[bytes] = set()
        self._seen_cond = threading.Condition()
        self._started = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> Capture:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop(raise_errors=exc is None)

    def start(self) -> Capture:
        if self._sniffer is not None:
            raise CaptureError(f"capture to {self.path} already started")
        if self.loopback:
            self._marker_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._marker_sock.bind(("127.0.0.1", 0))
            port = self._marker_sock.getsockname()[1]
            marker = f"(udp and src host 127.0.0.1 and src port {port} and dst port {port})"
            self.bpf = f"({self.user_filter}) or {marker}" if self.user_filter else ""
        else:
            self.bpf = self.user_filter
        try:
            self._sock = self._open_socket()
            from scapy.config import conf

            linktype = conf.l2types.layer2num.get(self._sock.LL, _DLT_EN10MB)
            self._writer = PcapWriter(self.path, linktype=linktype)
            self._wake = os.pipe()
            self._sniffer = threading.Thread(target=self._run, args=(self._sock, self._wake[0]),
                                             name=f"capture {self.path.name}", daemon=True)
            self._sniffer.start()
            deadline = time.monotonic() + self.start_timeout
            while not self._started.wait(0.01):
                self._raise_if_sniffer_failed()
                if time.monotonic() > deadline:
                    raise CaptureError(f"sniffer on {self.iface} did not start within {self.start_timeout} s")
            if self.loopback and not self._sync(deadline):
                raise CaptureError(
                    f"sniffer on {self.iface} did not see its start marker within {self.start_timeout} s "
                    f"(filter {self.bpf!r})"
                )
        except BaseException:
            self._teardown()
            raise
        return self

    def stop(self, *, raise_errors: bool = True) -> int:
        """Flush (bounded), stop and close; returns the number of packets written."""
        if self._sniffer is None:
            return self.packet_count
        flushed = True
        if self.loopback:
            flushed = self._sync(time.monotonic() + self.stop_timeout)
        else:
            time.sleep(0.05)  # no marker off loopback: give the sniffer thread a moment to drain
        self._read_drop_counter()
        self._teardown()
        if not flushed and raise_errors:
            raise CaptureError(
                f"stop marker not seen within {self.stop_timeout} s: {self.path} may miss packets"
            )
        if self.dropped:
            log.warning(
                "capture %s: the kernel dropped %d packets (receive buffer full)", self.path, self.dropped
            )
        return self.packet_count

    # -- internals -------------------------------------------------------------------------------------
    def _open_socket(self) -> Any:
        import scapy.layers.inet  # noqa: F401  (registers Ether/IP/UDP for dissection)
        import scapy.layers.l2  # noqa: F401
        from scapy.arch.linux import L2ListenSocket, L2Socket
        from scapy.error import Scapy_Exception

        cls = L2Socket if self.loopback else L2ListenSocket  # L2Socket drops PACKET_OUTGOING copies
        try:
            # Opened for no protocol (so it receives nothing yet), its filter attached, bound to the interface;
            # then bound again for every protocol: it starts receiving, filtered. Binding a socket that
            # receives already (scapy's way) waits for an RCU grace period, 10-20 ms a capture.
            sock = cls(iface=self.iface, type=0, filter=self.bpf or None, promisc=False)
            sock.ins.bind((sock.iface, ETH_P_ALL))
        except PermissionError as err:
            raise CaptureNotPermitted(_NOT_PERMITTED_HELP.format(python=_python())) from err
        except OSError as err:
            if err.errno == 1:  # EPERM from socket(AF_PACKET)
                raise CaptureNotPermitted(_NOT_PERMITTED_HELP.format(python=_python())) from err
            raise CaptureError(f"cannot capture on interface {self.iface!r}: {err}") from err
        except ValueError as err:  # scapy: "Interface 'x' not found !"
            raise CaptureError(f"cannot capture on interface {self.iface!r}: {err}") from err
        except Scapy_Exception as err:
            raise CaptureError(f"cannot capture with filter {self.bpf!r} on {self.iface}: {err}") from err
        for opt in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
            with contextlib.suppress(OSError):
                sock.ins.setsockopt(socket.SOL_SOCKET, opt, RECEIVE_BUFFER)
                break
        self._read_drop_counter(sock)  # reading the statistics resets them
        self.dropped = 0
        return sock

    def _run(self, sock: Any, wake: int) -> None:
        """The capture thread: every frame the socket queues, as it comes, until a byte arrives on ``wake``."""
        try:
            sock.ins.setblocking(False)
            poller = select.poll()  # not select(): file descriptors past 1023 are fine
            poller.register(sock.ins.fileno(), select.POLLIN)
            poller.register(wake, select.POLLIN)
            self._started.set()
            while True:
                if any(fd == wake for fd, _ in poller.poll()):
                    return
                while True:  # drain the queue: one select for many frames
                    try:
                        _, frame, at = sock.recv_raw(_FRAME_MAX)
                    except BlockingIOError:
                        break
                    if frame is not None:  # None: loopback's outgoing copy
                        self._on_frame(frame, at if at is not None else time.time())
        except BaseException as err:  # noqa: BLE001 - the caller's next check raises it (CaptureError)
            self._error = err

    def _on_frame(self, frame: bytes, at: float) -> None:
        idx = frame.find(_MARKER)
        if idx >= 0:
            with self._seen_cond:
                self._seen.add(frame[idx:])
                self._seen_cond.notify_all()
            return
        assert self._writer is not None
        self._writer.frame(frame, at)
        self.packet_count += 1

    def _sync(self, deadline: float) -> bool:
        """Send a marker to ourselves until the sniffer thread has read it (or the deadline passes)."""
        assert self._marker_sock is not None
        token = _MARKER + os.urandom(8).hex().encode()
        addr = self._marker_sock.getsockname()
        while time.monotonic() < deadline:
            self._raise_if_sniffer_failed()
            self._marker_sock.sendto(token, addr)
            with self._seen_cond:
                if self._seen_cond.wait_for(lambda: token in self._seen, timeout=0.05):
                    return True
        return False

    def _raise_if_sniffer_failed(self) -> None:
        err = self._error
        if err is not None:
            if isinstance(err, PermissionError):
                raise CaptureNotPermitted(_NOT_PERMITTED_HELP.format(python=_python())) from err
            raise CaptureError(f"sniffer on {self.iface} failed: {err!r}") from err
        sniffer = self._sniffer
        if sniffer is not None and self._started.is_set() and not sniffer.is_alive():
            raise CaptureError(f"sniffer thread on {self.iface} ended unexpectedly")

    def _read_drop_counter(self, sock: Any = None) -> None:
        sock = sock or self._sock
        if sock is None:
            return
        with contextlib.suppress(OSError):
            _packets, drops = struct.unpack("II", sock.ins.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
            self.dropped += drops

    def _teardown(self) -> None:
        sniffer, self._sniffer = self._sniffer, None
        wake, self._wake = self._wake, None
        if wake is not None:
            with contextlib.suppress(OSError):
                os.write(wake[1], b"x")
        if sniffer is not None and sniffer.is_alive():
            sniffer.join(self.stop_timeout)
            if sniffer.is_alive():
                log.warning(
                    "capture %s: sniffer thread still running after %s s", self.path, self.stop_timeout
                )
        if wake is not None and (sniffer is None or not sniffer.is_alive()):
            for fd in wake:
                os.close(fd)
        if self._sock is not None and self.close_later:  # closing a packet socket waits for an RCU grace
            # period (~10 ms): not on the caller's time
            threading.Thread(target=_close_quietly, args=(self._sock,), name="capture close", daemon=True).start()
        elif self._sock is not None:
            _close_quietly(self._sock)
        if self._marker_sock is not None:
            _close_quietly(self._marker_sock)
        self._sock = self._marker_sock = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._started.clear()


def _close_quietly(sock: Any) -> None:
    with contextlib.suppress(Exception):
        sock.close()


def _python() -> str:
    import sys

    return sys.executable
