"""A pcap of UDP datagrams, framed as a raw capture on loopback would frame them (Ethernet with zeroed MACs,
IPv4 or IPv6, UDP with its checksum), so tshark dissects SIP and RTP in it exactly as in a raw capture.

    with PcapWriter(path) as pcap:
        pcap.udp(("127.0.0.10", 5060), ("127.0.0.20", 5060), b"INVITE ...", at=time.time())
"""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

__all__ = ["PcapWriter", "udp_frame"]

Addr = tuple[str, int]
LINKTYPE_ETHERNET = 1
SNAPLEN = 262144
_ETHERTYPE_IPV4, _ETHERTYPE_IPV6 = 0x0800, 0x86DD
_UDP = 17


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_frame(src: Addr, dst: Addr, payload: bytes, ident: int = 0) -> bytes:
    """One Ethernet frame carrying `payload` from `src` to `dst` over UDP (ValueError for a bad address,
    or for mixed IPv4 and IPv6)."""
    sip, dip = ipaddress.ip_address(src[0]), ipaddress.ip_address(dst[0])
    if sip.version != dip.version:
        raise ValueError(f"{src[0]} and {dst[0]} are not of one IP version")
    length = 8 + len(payload)
    if sip.version == 4:
        pseudo = sip.packed + dip.packed + struct.pack("!BBH", 0, _UDP, length)
    else:
        pseudo = sip.packed + dip.packed + struct.pack("!IxxxB", length, _UDP)
    header = struct.pack("!HHHH", src[1], dst[1], length, 0)
    checksum = _checksum(pseudo + header + payload) or 0xFFFF  # 0 means "no checksum" (RFC 768)
    udp = struct.pack("!HHHH", src[1], dst[1], length, checksum) + payload
    if sip.version == 4:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, ident & 0xFFFF, 0x4000, 64, _UDP, 0,
                         sip.packed, dip.packed)
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        ethertype = _ETHERTYPE_IPV4
    else:
        ip = struct.pack("!IHBB16s16s", 6 << 28, length, _UDP, 64, sip.packed, dip.packed)
        ethertype = _ETHERTYPE_IPV6
    return b"\0" * 12 + struct.pack("!H", ethertype) + ip + udp


class PcapWriter:
    """A classic pcap file (microsecond timestamps; Ethernet unless ``linktype`` says otherwise); frames are
    written as they are given."""

    def __init__(self, path: str | Path, linktype: int = LINKTYPE_ETHERNET) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO | None = self.path.open("wb")
        self._file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, linktype))
        self._ident = 0
        self.count = 0

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def frame(self, frame: bytes, at: float) -> None:
        assert self._file is not None, "pcap writer closed"
        sec = int(at)
        usec = min(int(round((at - sec) * 1_000_000)), 999_999)
        kept = frame[:SNAPLEN]
        self._file.write(struct.pack("<IIII", sec, usec, len(kept), len(frame)) + kept)
        self.count += 1

    def udp(self, src: Addr, dst: Addr, payload: bytes, at: float) -> None:
        self._ident += 1
        self.frame(udp_frame(src, dst, payload, self._ident), at)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
