"""Decode scenario captures one after another with one long-lived tshark, so a scenario's assertion waits
for its own packets only, not for tshark's start-up.

    decoder = StreamDecoder(sip_ports=["16000-19999"])
    future = decoder.submit("captures/run/basic/call.pcap")   # right after the capture stopped
    ...
    items = future.result(timeout=10)                          # list[Decoded], as decode_file gives

How: tshark reads one pcap *stream* on its stdin (`tshark -l -r -`), with the options `decode.py` uses
(JSON, `-J` protocols, SIP decode-as, heuristic RTP, display filter `sip or rtp`). Each submitted file's
records are appended to the stream, followed by one marker datagram (UDP to 127.0.0.1 port 9, in the
display filter) that tells the reader thread the file is complete: tshark writes packets as it reads them
(`-l`), so the marker's arrival proves every earlier packet has been decoded. Frame numbers count up over
the whole stream; each file's results are renumbered from 1 and carry the file's own timestamps.

Measured on this machine (2 cores, tshark 4.0.17): tshark start-up ~0.2 s once, then ~20 ms for a
capture of 26 SIP/RTP packets, against ~0.4 s per file with a tshark per file.

Dissector state crosses files in the stream (as in `decode_many`'s merged file): nothing read from the
decode depends on it (retransmissions are recomputed per file) as long as SIP ports are never reused as
RTP ports, which `harness.topology` guarantees (disjoint port ranges). Files in another link-layer type
than the stream's, or not classic pcap, are decoded by `decode.decode_file` instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.capture.decode import DecodeError, decode_file
from harness.capture.decoded import Decoded, convert_packet

log = logging.getLogger(__name__)

__all__ = ["StreamDecoder"]

_PROTOCOLS = "frame ip ipv6 udp tcp sip rtp rtpevent"
_MARKER_PORT = 9  # discard: never SIP or RTP in a scenario
_MARKER_PAYLOAD = b"trunkcheck-decode-marker"
_DLT_EN10MB, _DLT_RAW, _LINKTYPE_RAW = 1, 12, 101
_SNAPLEN = 262144
_PACKET_END = b"\n  }"
_PACKET_START = b"  {"


@dataclass
class _Job:
    path: Path
    first_frame: int  # stream frame number of the file's first record
    marker_frame: int
    future: Future[list[Decoded]]
    items: list[Decoded] = field(default_factory=list)


def _read_pcap(path: Path) -> tuple[int, list[tuple[int, int, bytes, int]]] | None:
    """(linktype, [(sec, usec, data, orig_len)]) of a classic pcap; None for any other format."""
    data = path.read_bytes()
    if len(data) < 24:
        return None
    magic = data[:4]
    formats = {
        b"\xd4\xc3\xb2\xa1": ("<", 1000),
        b"\xa1\xb2\xc3\xd4": (">", 1000),
        b"\x4d\x3c\xb2\xa1": ("<", 1),
        b"\xa1\xb2\x3c\x4d": (">", 1),
    }
    if magic not in formats:
        return None
    endian, ns_divisor = formats[magic]
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    records = []
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(endian + "IIII", data[pos : pos + 16])
        body = data[pos + 16 : pos + 16 + incl]
        if len(body) < incl:
            break  # truncated last record (tshark would say so too)
        usec = frac if ns_divisor == 1000 else frac // 1000
        records.append((sec, usec, body, orig))
        pos += 16 + incl
    return linktype, records


def _marker_packet(linktype: int) -> bytes | None:
    payload = _MARKER_PAYLOAD
    udp = struct.pack("!HHHH", _MARKER_PORT, _MARKER_PORT, 8 + len(payload), 0) + payload
    total = 20 + len(udp)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 17, 0, bytes([127, 0, 0, 1]),
                         bytes([127, 0, 0, 1]))
    checksum = _ip_checksum(header)
    ip = header[:10] + struct.pack("!H", checksum) + header[12:] + udp
    if linktype == _DLT_EN10MB:
        return b"\x00" * 12 + b"\x08\x00" + ip
    if linktype in (_DLT_RAW, _LINKTYPE_RAW):
        return ip
    return None


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


class StreamDecoder:
    """One tshark for many captures; thread-safe `submit`. Close it (or use `with`) to end tshark."""

    def __init__(
        self,
        *,
        sip_ports: Iterable[int | str] = (5060,),
        linktype: int = _DLT_EN10MB,
        tshark: str = "tshark",
        file_timeout: float = 30.0,
    ) -> None:
        self.sip_ports = [str(p) for p in sip_ports]
        self.linktype = linktype
        self.tshark = tshark
        self.file_timeout = file_timeout
        self._lock = threading.Lock()  # jobs, frame count, process handle
        self._write_lock = threading.Lock()  # one writer on tshark's stdin at a time
        self._jobs: list[_Job] = []
        self._frames = 0  # records written to the stream so far
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._stderr: list[bytes] = []
        self._failed: BaseException | None = None
        self.files_decoded = 0
        self.fallbacks = 0

    # -- lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> StreamDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def command(self) -> list[str]:
        cmd = [self.tshark, "-l", "-n", "-T", "json", "--no-duplicate-keys", "-J", _PROTOCOLS]
        cmd += ["-Y", f"sip or rtp or udp.dstport == {_MARKER_PORT}", "-o", "rtp.heuristic_rtp:TRUE"]
        for port in self.sip_ports:
            if port != "5060":
                cmd += ["-d", f"udp.port=={port},sip", "-d", f"tcp.port=={port},sip"]
        return [*cmd, "-r", "-"]

    def _spawn(self) -> subprocess.Popen[bytes]:
        if self._proc is not None:
            return self._proc
        if shutil.which(self.tshark) is None:
            raise DecodeError("tshark is not installed (Debian: apt-get install tshark)")
        proc = subprocess.Popen(
            self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdin is not None
        proc.stdin.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, _SNAPLEN, self.linktype))
        proc.stdin.flush()
        self._proc = proc
        return proc

    def _start(self) -> subprocess.Popen[bytes]:
        proc = self._spawn()
        if self._reader is None:
            self._reader = threading.Thread(target=self._read_loop, args=(proc,), name="tshark stream",
                                            daemon=True)
            self._reader.start()
            threading.Thread(target=self._read_stderr, args=(proc,), name="tshark stderr", daemon=True).start()
        return proc

    def spawn(self) -> None:
        """Start tshark now but not yet the threads that read it (``warm_up`` or the first ``submit`` does):
        a process about to fork workers stays single-threaded while tshark starts up."""
        with self._lock:
            try:
                self._spawn()
            except (OSError, DecodeError) as err:
                log.warning("tshark stream decoder not started: %s", err)

    def warm_up(self) -> None:
        """Start tshark now, so its start-up overlaps the first scenario's traffic."""
        with self._lock:
            try:
                self._start()
            except (OSError, DecodeError) as err:
                log.warning("tshark stream decoder not started: %s", err)

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout)
        self._fail_pending(DecodeError("the decoder was closed"))

    # -- submitting ------------------------------------------------------------------------------------
    def submit(self, path: str | os.PathLike[str]) -> Future[list[Decoded]]:
        """Queue a capture for decoding; the future holds what `decode.decode_file` would return."""
        file = Path(path)
        future: Future[list[Decoded]] = Future()
        parsed = _read_pcap(file)
        marker = _marker_packet(self.linktype)
        if parsed is None or parsed[0] != self.linktype or marker is None or self._failed is not None:
            self.fallbacks += 1
            threading.Thread(target=self._decode_alone, args=(file, future), daemon=True).start()
            return future
        _, records = parsed
        if not records:
            future.set_result([])
            return future
        chunks = []
        for sec, usec, body, orig in records:
            chunks.append(struct.pack("<IIII", sec, usec, len(body), orig) + body)
        last_sec, last_usec = records[-1][0], records[-1][1]
        chunks.append(struct.pack("<IIII", last_sec, last_usec, len(marker), len(marker)) + marker)
        # Writes are ordered by _write_lock only: the reader thread needs _lock to hand out results, and
        # it must keep draining tshark's output while a large write waits for room in the pipe.
        with self._write_lock:
            with self._lock:
                try:
                    proc = self._start()
                except (OSError, DecodeError) as err:
                    future.set_exception(DecodeError(f"cannot start tshark: {err}"))
                    return future
                job = _Job(file, self._frames + 1, self._frames + len(records) + 1, future)
                self._jobs.append(job)
                self._frames += len(records) + 1
            try:
                assert proc.stdin is not None
                proc.stdin.write(b"".join(chunks))
                proc.stdin.flush()
            except (OSError, ValueError) as err:
                with self._lock:
                    if job in self._jobs:
                        self._jobs.remove(job)
                if not future.done():
                    future.set_exception(DecodeError(f"tshark stopped reading the capture stream: {err}"))
        return future

    def decode(self, path: str | os.PathLike[str], timeout: float | None = None) -> list[Decoded]:
        return self.submit(path).result(timeout or self.file_timeout)

    def _decode_alone(self, path: Path, future: Future[list[Decoded]]) -> None:
        try:
            future.set_result(decode_file(path, sip_ports=self.sip_ports))
        except BaseException as err:  # noqa: BLE001 - handed to the waiting caller
            future.set_exception(err)

    # -- reading ---------------------------------------------------------------------------------------
    def _read_loop(self, proc: subprocess.Popen[bytes]) -> None:
        from pyshark.tshark.output_parser.tshark_json import packet_from_json_packet

        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        buf = b""
        try:
            while chunk := os.read(fd, 1 << 16):
                buf += chunk
                while True:
                    start = buf.find(_PACKET_START)
                    end = buf.find(_PACKET_END, start + 1) if start >= 0 else -1
                    if end < 0:
                        break
                    raw, buf = buf[start : end + len(_PACKET_END)], buf[end + len(_PACKET_END) :]
                    self._on_packet(packet_from_json_packet(raw, deduplicate_fields=True))
        except Exception as err:  # noqa: BLE001 - reported to every waiting caller
            log.exception("tshark stream reader failed")
            self._failed = err
        finally:
            err_text = b"".join(self._stderr).decode("utf-8", "replace").strip()
            self._fail_pending(DecodeError(f"tshark ended while decoding: {err_text[-500:] or 'no message'}"))

    def _read_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if b"Running as user" not in line:
                self._stderr.append(line)

    def _on_packet(self, pkt: Any) -> None:
        frame = int(pkt.number)
        with self._lock:
            job = next((j for j in self._jobs if j.first_frame <= frame <= j.marker_frame), None)
            if job is not None and frame == job.marker_frame:
                self._jobs.remove(job)
        if job is None:
            return
        if frame == job.marker_frame:
            self.files_decoded += 1
            job.future.set_result(job.items)
            return
        job.items.extend(convert_packet(pkt, frame_offset=job.first_frame - 1))

    def _fail_pending(self, err: BaseException) -> None:
        with self._lock:
            jobs, self._jobs = self._jobs, []
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(err)
