"""Decode scenario pcaps with Wireshark's dissectors (pyshark/tshark) into SIP messages and RTP packets,
and turn them into the observed flow that `harness.ladder.compare` checks.

tshark options used for every file:
- `-d udp.port==P,sip` and `-d tcp.port==P,sip` for each SIP port in use (5080, 15060 ... are not SIP
  to Wireshark by default; its SIP heuristics usually find them, the decode-as rules make it certain);
- `-o rtp.heuristic_rtp:TRUE` (the rtp_udp heuristic): RTP is found without the SDP that set it up, so RTP
  on any port, including media an endpoint sends before the SDP answer, is decoded;
- display filter `sip or rtp`.

Speed: pyshark starts one tshark per file. `decode_many` merges a run's captures with `mergecap -a`
(concatenation keeps each file's packets contiguous and in order), decodes the merged file with one
tshark, and splits the packets back by each file's frame range. pyshark runs in JSON mode, restricted to
the protocols we read (`-J`): its PDML mode spent 2.7 ms per packet parsing XML, JSON 0.6 ms.
Measured with tests/harness/bench_decode.py (20 captures of 18 SIP messages + 150 RTP packets each,
Debian 12, 2 cores shared with other work, tshark 4.0.17, pyshark 0.6; three runs):
    one by one (a tshark per file):            7.5-9.9 s   0.37-0.50 s per file
    thread pool, 2 workers (a tshark per file): 4.3-7.8 s   0.22-0.39 s per file
    merged, one tshark (used):                  0.9-1.5 s   0.047-0.074 s per file
Dissector state that could cross files in the merged decode (SIP retransmission flags, RTP set-up
frames) is not used: retransmissions are recomputed per file in `to_observed`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.capture.decoded import (
    Address,
    Decoded,
    DecodedMessage,
    DecodedRtp,
    DecodeFormatError,
    convert_packet,
    parse_headers,
)
from harness.capture.roles import RoleMap
from harness.ladder.labels import ObservedStep

__all__ = [
    "DEFAULT_SIP_PORTS",
    "Address",
    "DecodeError",
    "DecodeFormatError",
    "Decoded",
    "DecodedMessage",
    "DecodedRtp",
    "TlsDecode",
    "decode_file",
    "decode_many",
    "parse_headers",
    "pcap_packet_count",
    "to_observed",
    "tshark_options",
]

DEFAULT_SIP_PORTS = (5060,)
TSHARK_TIMEOUT = 120.0
_PROTOCOLS = (
    "frame ip ipv6 udp tcp sip rtp rtpevent"  # tshark -J: only these protocols (and what they carry, e.g. SDP)
)


class DecodeError(RuntimeError):
    pass


def tshark_options(
    sip_ports: Iterable[int | str] = DEFAULT_SIP_PORTS, tls: TlsDecode | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """(decode_as, override_prefs) for pyshark: SIP on the given ports (a port, or a range "16000-19999"),
    heuristic RTP on. With ``tls``: TCP on its ports is TLS (not SIP) and SIP inside it, decrypted with
    the session secrets of its key log file (``tls.keylog_file``)."""
    decode_as: dict[str, str] = {}
    prefs = {"rtp.heuristic_rtp": "TRUE"}
    ports = {str(p).strip() for p in sip_ports}
    for port in sorted(ports, key=lambda p: [int(x) for x in p.split("-")]):
        if port != "5060":
            decode_as[f"udp.port=={port}"] = "sip"
            if tls is None:
                decode_as[f"tcp.port=={port}"] = "sip"
    if tls is not None:
        for tls_port in sorted(set(tls.ports)):
            decode_as[f"tcp.port=={tls_port}"] = "tls"
            decode_as[f"tls.port=={tls_port}"] = "sip"
        prefs["tls.keylog_file"] = str(tls.keylog)
    return decode_as, prefs


@dataclass(frozen=True)
class TlsDecode:
    """A capture of SIP over TLS: the TCP ports that carry it and the key log file that decrypts it."""

    ports: tuple[int, ...]
    keylog: Path


def _require_tshark() -> None:
    if shutil.which("tshark") is None:
        raise DecodeError("tshark is not installed (Debian: apt-get install tshark)")


def _pyshark_packets(path: Path, sip_ports: Iterable[int | str], tls: TlsDecode | None = None) -> list[Any]:
    """Run pyshark on its own thread and event loop: safe to call from async code (no nested loop), from
    several threads at once, and never installs pyshark's SafeChildWatcher (whose SIGCHLD handling logs
    "Unknown child process pid ..." when captures follow each other)."""
    import pyshark

    decode_as, prefs = tshark_options(sip_ports, tls)
    packets: list[Any] = []
    errors: list[BaseException] = []

    def work() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            cap = pyshark.FileCapture(
                str(path),
                display_filter="sip or rtp",
                decode_as=decode_as,
                override_prefs=prefs,
                keep_packets=False,
                eventloop=loop,
                use_json=True,
                custom_parameters=["-J", _PROTOCOLS],
            )
            try:
                cap.apply_on_packets(packets.append, timeout=TSHARK_TIMEOUT)
            finally:
                cap.close()
        except BaseException as err:  # noqa: BLE001 - re-raised on the caller's thread
            errors.append(err)
        finally:
            loop.close()

    global _active_decodes, _last_decode_end
    _use_threaded_child_watcher()
    worker = threading.Thread(target=work, name=f"tshark {path.name}", daemon=True)
    with _watcher_lock:
        _active_decodes += 1
    try:
        worker.start()
        worker.join(TSHARK_TIMEOUT + 10)
    finally:
        with _watcher_lock:
            _active_decodes -= 1
            _last_decode_end = time.monotonic()
    if worker.is_alive():
        raise DecodeError(f"tshark did not finish decoding {path} within {TSHARK_TIMEOUT} s")
    if errors:
        raise DecodeError(f"decoding {path} failed: {errors[0]!r}") from errors[0]
    return packets


_watcher_lock = threading.Lock()
_active_decodes = 0
_last_decode_end = 0.0


class _BenignReapFilter(logging.Filter):
    """While we decode, drop asyncio's "Unknown child process pid N, will report returncode 255": pyshark
    closes its event loop after tshark has exited, and the transport's close() reaps tshark before the
    ThreadedChildWatcher's waitpid does. tshark's output was complete by then (EOF was read)."""

    def filter(self, record: logging.LogRecord) -> bool:
        recent = _active_decodes > 0 or time.monotonic() - _last_decode_end < 5.0
        return not (recent and str(record.msg).startswith("Unknown child process pid"))


logging.getLogger("asyncio").addFilter(_BenignReapFilter())


def _use_threaded_child_watcher() -> None:
    """asyncio subprocesses on non-main threads need the ThreadedChildWatcher (the 3.8-3.11 default, which
    pyshark replaces by a SafeChildWatcher when it runs on the main thread). Python 3.14 has no watchers."""
    if not hasattr(asyncio, "ThreadedChildWatcher"):
        return
    with _watcher_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if not isinstance(asyncio.get_child_watcher(), asyncio.ThreadedChildWatcher):
            asyncio.set_child_watcher(asyncio.ThreadedChildWatcher())


def decode_file(
    path: str | os.PathLike[str], *, sip_ports: Iterable[int | str] = DEFAULT_SIP_PORTS,
    tls: TlsDecode | None = None,
) -> list[Decoded]:
    """One capture, one tshark (SIP over TLS decrypted with ``tls``'s key log)."""
    _require_tshark()
    out: list[Decoded] = []
    for pkt in _pyshark_packets(Path(path), sip_ports, tls):
        out.extend(convert_packet(pkt, frame_offset=0))
    return out


def decode_many(
    paths: Sequence[str | os.PathLike[str]], *, sip_ports: Iterable[int | str] = DEFAULT_SIP_PORTS
) -> dict[Path, list[Decoded]]:
    """A whole run's captures with one tshark (mergecap -a, then split by frame ranges). Frame numbers and
    times in the result are those of each original file."""
    _require_tshark()
    files = [Path(p) for p in paths]
    result: dict[Path, list[Decoded]] = {p: [] for p in files}
    counts = [pcap_packet_count(p) for p in files]
    nonempty = [(p, n) for p, n in zip(files, counts, strict=True) if n > 0]
    if len(nonempty) <= 1 or shutil.which("mergecap") is None:
        for p, _ in nonempty:
            result[p] = decode_file(p, sip_ports=sip_ports)
        return result
    with tempfile.TemporaryDirectory(prefix="trunkcheck-decode-") as tmp:
        merged = Path(tmp) / "merged.pcapng"
        cmd = ["mergecap", "-a", "-w", str(merged), *(str(p) for p, _ in nonempty)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TSHARK_TIMEOUT)
        if proc.returncode != 0:
            raise DecodeError(f"mergecap failed ({proc.returncode}): {proc.stderr.strip()}")
        starts: list[tuple[int, Path]] = []  # (first merged frame number, file)
        first = 1
        for p, n in nonempty:
            starts.append((first, p))
            first += n
        owner = 0
        for pkt in _pyshark_packets(merged, sip_ports):
            frame = int(pkt.number)
            while owner + 1 < len(starts) and frame >= starts[owner + 1][0]:
                owner += 1
            start, p = starts[owner]
            result[p].extend(convert_packet(pkt, frame_offset=start - 1))
    return result


def pcap_packet_count(path: Path) -> int:
    """Records in a capture file: read directly for classic pcap, `capinfos` otherwise."""
    with open(path, "rb") as fh:
        head = fh.read(24)
        if len(head) < 24:
            return 0
        magic = head[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            endian = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            endian = ">"
        else:
            endian = ""
        if endian:
            count = 0
            while len(rec := fh.read(16)) == 16:
                incl_len = struct.unpack(endian + "IIII", rec)[2]
                fh.seek(incl_len, os.SEEK_CUR)
                count += 1
            return count
    proc = subprocess.run(
        ["capinfos", "-c", "-M", "-T", "-r", str(path)],
        capture_output=True,
        text=True,
        timeout=TSHARK_TIMEOUT,
    )
    if proc.returncode != 0:
        raise DecodeError(f"capinfos failed on {path}: {proc.stderr.strip()}")
    return int(proc.stdout.split()[-1])


# -- decoded -> observed flow --------------------------------------------------------------------------------


def to_observed(decoded: Sequence[Decoded], role_map: Mapping[Any, str] | RoleMap) -> list[ObservedStep]:
    """SIP messages one step each; a message already seen (same Call-ID, CSeq, method or status, top-Via
    branch, To tag, same direction) is marked as a retransmission. RTP packets become one step per direction
    and burst: a burst ends at the next SIP message. Roles: a :class:`harness.capture.roles.RoleMap`, or what
    one is built from (IP or ip:port -> role; media ports on shared IPs are then learned from this capture)."""
    roles = role_map if isinstance(role_map, RoleMap) else RoleMap(role_map, decoded)
    out: list[ObservedStep] = []
    seen: set[tuple[Any, ...]] = set()
    open_bursts: dict[tuple[str, str], int] = {}  # (src, dst) -> index in out
    for item in decoded:
        src, dst = roles.role(item.src), roles.role(item.dst)
        if isinstance(item, DecodedRtp):
            k = open_bursts.get((src, dst))
            if k is None:
                open_bursts[(src, dst)] = len(out)
                out.append(
                    ObservedStep(
                        src, dst, "rtp", time=item.time, frame_no=item.frame_no, last_frame_no=item.frame_no
                    )
                )
            else:
                burst = out[k]
                out[k] = ObservedStep(
                    src,
                    dst,
                    "rtp",
                    time=burst.time,
                    frame_no=burst.frame_no,
                    packet_count=burst.packet_count + 1,
                    last_frame_no=item.frame_no,
                )
            continue
        open_bursts.clear()
        key = (
            item.src,
            item.dst,
            item.call_id,
            item.cseq_num,
            item.cseq_method,
            item.method,
            item.status,
            item.via_branch,
            item.to_tag,  # forked responses: one transaction, a To tag each (RFC 3261 §12.1)
        )
        retransmission = key in seen
        seen.add(key)
        out.append(
            ObservedStep(
                src,
                dst,
                "request" if item.kind == "request" else "response",
                method=item.method,
                status=item.status,
                reason=item.reason or "",
                has_authorization=item.has_authorization or item.has_proxy_authorization,
                is_retransmission=retransmission,
                time=item.time,
                frame_no=item.frame_no,
                cseq_method=item.cseq_method,
                sdp_direction=item.sdp_direction if item.kind == "request" and item.to_tag else None,
            )
        )
    return out
