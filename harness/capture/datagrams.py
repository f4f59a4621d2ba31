"""The UDP datagrams of a scenario's pcap as bytes, numbered as tshark numbers frames (from 1), for checks
that need what a dissector does not give: the SRTP check authenticates each packet's bytes.

    for d in udp_datagrams(pcap):
        d.frame_no, d.src, d.dst, d.payload

Read with scapy (Ethernet or raw-IP captures, IPv4 and IPv6); IP fragments are not reassembled (media
datagrams are small). A file that cannot be read raises :class:`DatagramReadError` naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Datagram", "DatagramReadError", "tcp_opens", "udp_datagrams"]

Address = tuple[str, int]


class DatagramReadError(RuntimeError):
    """The pcap could not be read."""


@dataclass(frozen=True)
class Datagram:
    frame_no: int
    time: float
    src: Address
    dst: Address
    payload: bytes


def _reader(pcap: Path) -> Any:
    from scapy.utils import PcapReader

    try:
        return PcapReader(str(pcap))
    except Exception as exc:  # noqa: BLE001 - OSError, or scapy's Scapy_Exception for a file that is no pcap
        raise DatagramReadError(f"{pcap}: cannot read the capture: {exc}") from None


def tcp_opens(pcap: Path) -> Iterator[Datagram]:
    """Every TCP connection attempt of ``pcap`` (a SYN without ACK), in capture order, with no payload."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6

    with _reader(pcap) as reader:
        for number, packet in enumerate(reader, 1):
            if TCP not in packet or (int(packet[TCP].flags) & 0x12) != 0x02:
                continue
            layer = IP if IP in packet else IPv6 if IPv6 in packet else None
            if layer is None:
                continue
            net, tcp = packet[layer], packet[TCP]
            yield Datagram(number, float(packet.time), (str(net.src), int(tcp.sport)), (str(net.dst), int(tcp.dport)),
                           b"")


def udp_datagrams(pcap: Path) -> Iterator[Datagram]:
    """Every UDP datagram of ``pcap``, in capture order."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6

    with _reader(pcap) as reader:
        for number, packet in enumerate(reader, 1):
            if UDP not in packet:
                continue
            layer = IP if IP in packet else IPv6 if IPv6 in packet else None
            if layer is None:
                continue
            net = packet[layer]
            udp = packet[UDP]
            yield Datagram(number, float(packet.time), (str(net.src), int(udp.sport)), (str(net.dst), int(udp.dport)),
                           bytes(udp.payload))
