"""A scenario's capture as decoded by tshark, with roles resolved: what every assertion reads.

    obs = Observation.build(pcap, decoded, roles={"127.0.0.10": "UA", ("127.0.0.1", 5070): "VoIPBin", ...})
    obs.requests("INVITE", dst="Destination")      # DecodedMessages, capture order, no retransmissions
    obs.final_responses(dst="UA")                  # final answers to INVITEs, per call
    obs.observed                                   # ObservedStep list for harness.ladder.compare
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.capture.decode import Decoded, DecodedMessage, DecodedRtp, to_observed
from harness.capture.roles import RoleKey, RoleMap
from harness.ladder import ObservedStep

__all__ = ["Observation"]


@dataclass
class Observation:
    pcap: Path
    decoded: list[Decoded]
    roles: RoleMap  # IP or ip:port -> role, media ports on shared IPs learned from this capture's SDP
    observed: list[ObservedStep] = field(default_factory=list)

    @classmethod
    def build(cls, pcap: Path, decoded: Sequence[Decoded], roles: Mapping[RoleKey, str]) -> Observation:
        items = list(decoded)
        role_map = RoleMap(roles, items)
        return cls(pcap, items, role_map, to_observed(items, role_map))

    def role(self, addr: tuple[str, int]) -> str:
        return self.roles.role(addr)

    def where(self, msg: Decoded) -> str:
        """`frame 7, VoIPBin -> UA`: how a report points at a message."""
        return f"frame {msg.frame_no}, {self.role(msg.src)} -> {self.role(msg.dst)}"

    @property
    def messages(self) -> list[DecodedMessage]:
        """SIP messages in capture order, retransmissions left out (first copy kept)."""
        seen: set[tuple[object, ...]] = set()
        out = []
        for m in self.decoded:
            if not isinstance(m, DecodedMessage):
                continue
            key = (m.src, m.dst, m.call_id, m.cseq_num, m.cseq_method, m.method, m.status, m.via_branch, m.to_tag)
            if key in seen:
                continue
            seen.add(key)
            out.append(m)
        return out

    def select(
        self,
        *,
        src: str | None = None,
        dst: str | None = None,
        method: str | None = None,
        status: int | None = None,
        cseq_method: str | None = None,
        call_id: str | None = None,
    ) -> list[DecodedMessage]:
        out = []
        for m in self.messages:
            if src is not None and self.role(m.src) != src:
                continue
            if dst is not None and self.role(m.dst) != dst:
                continue
            if method is not None and m.method != method:
                continue
            if status is not None and m.status != status:
                continue
            if cseq_method is not None and m.cseq_method != cseq_method:
                continue
            if call_id is not None and m.call_id != call_id:
                continue
            out.append(m)
        return out

    def requests(self, method: str, *, src: str | None = None, dst: str | None = None) -> list[DecodedMessage]:
        return [m for m in self.select(src=src, dst=dst, method=method) if m.kind == "request"]

    def final_responses(self, *, dst: str, cseq_method: str = "INVITE") -> list[DecodedMessage]:
        """Final responses (>= 200) to `cseq_method` requests received by `dst`, in capture order."""
        return [
            m
            for m in self.select(dst=dst, cseq_method=cseq_method)
            if m.kind == "response" and m.status is not None and m.status >= 200
        ]

    def rtp(self, *, src: str | None = None, dst: str | None = None) -> list[DecodedRtp]:
        return [
            p
            for p in self.decoded
            if isinstance(p, DecodedRtp)
            and (src is None or self.role(p.src) == src)
            and (dst is None or self.role(p.dst) == dst)
        ]

    def touching(self, role: str) -> list[Decoded]:
        """Every SIP message or RTP packet sent to or from `role`."""
        return [d for d in self.decoded if role in (self.role(d.src), self.role(d.dst))]

    def summary(self, item: Decoded) -> str:
        if isinstance(item, DecodedRtp):
            return f"RTP PT {item.payload_type} ({self.where(item)})"
        first = item.method if item.kind == "request" else f"{item.status} {item.reason or ''}".strip()
        return f"{first} ({self.where(item)})"
