"""Who is at a transport address: the ladder column of each end of a SIP message or RTP packet.

Columns come from transport addresses, the way a person reads a capture: by IP where each role has its
own, by ip:port where roles share one (a laptop, a single-address SBC).

    roles = RoleMap({"127.0.0.10": "UA",                        # an IP of its own
                     ("127.0.0.1", 5070): "VoIPBin",            # roles sharing 127.0.0.1, by port
                     "127.0.0.1:5090": "Destination",           # (the same, as text)
                     "127.0.0.1": "VoIPBin"},                   # whatever else is on 127.0.0.1
                    decoded)                                    # the capture: SDP says whose media is where
    roles.role(("127.0.0.1", 30002))                            # "VoIPBin", or the role whose SDP announced it

Lookup order: the (ip, port) given; media learned from SDP on a shared IP; the IP given; else "ip:port".

Media on a shared IP. RTP ports are not SIP ports and nobody declares them up front, but every SDP says
where its sender receives media (c= address, first m= port; RTCP on the next port). A port on a shared IP
belongs to the role that announced it *first*: a B2BUA's relay announces its own ports, while a proxy that
forwards the SDP unchanged announces the far end's ports only after the far end did. Endpoints send RTP
from the port they receive on (symmetric RTP, RFC 4961; the harness's simulators and the reference relay
do), so both directions of a stream land in the right column. A port nobody announced (asymmetric RTP)
goes to the IP's default role when one is given; the harness gives the equipment under test, because its
own roles announce every media port they use, so anything else on the shared IP can only be the
equipment's. Without a default such a port is drawn as its own "ip:port" column, visibly unexplained.
Attributing by SDP is preferred to "every unknown port is the equipment's" alone because a proxy under
test (no media relay) lets the destination's RTP reach the UA straight from the shared IP.

Only shared IPs (those named with a port somewhere in the map) learn from SDP: where an IP has one role,
the IP says it all, and what an SDP claims cannot move a packet to another column.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from harness.capture.decoded import Address, Decoded, DecodedMessage
from sipcore.transport_address import parse_transport_address

__all__ = ["RoleKey", "RoleMap", "parse_address_key"]

RoleKey = str | Address
"""An IP ("127.0.0.10", "::1"), an (ip, port) tuple, or "ip:port" text ("[::1]:5060" for IPv6)."""
_KEY_HINT = "a column is named by IP or IP:PORT, IPv6 with a port in brackets: [::1]:5060"


def parse_address_key(text: str) -> RoleKey:
    """``"127.0.0.1"`` -> the IP; ``"127.0.0.1:5070"`` / ``"[::1]:5060"`` -> (ip, port); ValueError saying
    what is wrong (sipcore.transport_address reads it, as every address of the project). IPs are normalised
    (``"::0001"`` -> ``"::1"``), as tshark writes them."""
    address = parse_transport_address(text, default_port=0, ip_hint=_KEY_HINT)  # AddressError: a ValueError
    return address.host if address.port == 0 else address.addr


class RoleMap:
    """IP and ip:port -> role, with media ports learned from the SDP of a capture (module docstring)."""

    def __init__(self, named: Mapping[RoleKey, str] | None = None, decoded: Iterable[Decoded] = ()) -> None:
        self.by_ip: dict[str, str] = {}
        self.by_addr: dict[Address, str] = {}
        self.media: dict[Address, str] = {}
        """(ip, port) -> role, learned from SDP."""
        for key, role in (named or {}).items():
            parsed = parse_address_key(key) if isinstance(key, str) else (str(key[0]), int(key[1]))
            if isinstance(parsed, str):
                self.by_ip[parsed] = role
            else:
                self.by_addr[parsed] = role
        self.shared = {ip for ip, _ in self.by_addr}
        """IPs whose roles are told apart by port."""
        self.learn(decoded)

    def learn(self, decoded: Iterable[Decoded]) -> None:
        """Attribute the media ports that SDP announces on shared IPs to the role that announced them
        first (capture order)."""
        for item in decoded:
            if not isinstance(item, DecodedMessage) or not item.has_sdp or not item.sdp_media_port:
                continue
            host = item.sdp_connection_address or item.src[0]
            try:
                host = str(ipaddress.ip_address(host))
            except ValueError:
                continue  # a host name in c=: not an address a packet can come from
            if host not in self.shared:
                continue
            sender = self._named(item.src)
            if sender is None:
                continue
            for port in (item.sdp_media_port, item.sdp_media_port + 1):  # RTP, and RTCP beside it
                if (host, port) not in self.by_addr:
                    self.media.setdefault((host, port), sender)

    def _named(self, addr: Address) -> str | None:
        return self.by_addr.get(addr) or self.media.get(addr) or self.by_ip.get(addr[0])

    def role(self, addr: Address) -> str:
        """The column of this end of a packet: its role, else ``ip:port``."""
        return self._named(addr) or f"{addr[0]}:{addr[1]}"
