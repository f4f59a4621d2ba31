"""Connection reuse on the wire (RFC 3261 §18, RFC 5923, RFC 5626 flows): a UA that takes no incoming
connections (a softphone over TLS, or one behind NAT) can be reached only over the connections it opened.

:func:`check_reached_over_own_connections` reads the capture's TCP connection attempts (SYNs, with scapy)
and the decoded SIP: the trunk must open no connection to the UA, and every request and response it sent the
UA must travel to a port the UA opened a connection from. A trunk that dials the UA's Contact (or its
source port) fails with the frame of its SYN.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.capture.datagrams import Datagram, tcp_opens
from harness.capture.observation import Observation

__all__ = ["check_reached_over_own_connections"]


def check_reached_over_own_connections(obs: Observation, *, trunk: str, ua: str,
                                       opens: Iterable[Datagram] | None = None) -> str:
    """``trunk`` opened no TCP connection to ``ua``, and every SIP message it sent ``ua`` went to a port
    ``ua`` had opened a connection from. Returns a one-line summary; AssertionError naming the frame
    otherwise. ``opens``: the capture's SYNs (read from ``obs.pcap`` when not given)."""
    own: set[tuple[str, int]] = set()
    for syn in tcp_opens(obs.pcap) if opens is None else opens:
        src, dst = obs.role(syn.src), obs.role(syn.dst)
        if src == trunk and dst == ua:
            raise AssertionError(
                f"frame {syn.frame_no}: {trunk} opened a connection to the {ua} ({syn.src[0]}:{syn.src[1]} -> "
                f"{syn.dst[0]}:{syn.dst[1]}), which takes none: requests and responses to it must ride the "
                f"connection it opened (RFC 3261 §18, RFC 5923)")
        if src == ua and dst == trunk:
            own.add(syn.src)
    sent = [m for m in obs.messages if obs.role(m.src) == trunk and obs.role(m.dst) == ua]
    requests = [m for m in sent if m.kind == "request"]
    if not requests:
        raise AssertionError(f"no request from {trunk} reached the {ua}: nothing to show how {trunk} reaches it")
    if not own:
        raise AssertionError(f"the {ua} opened no connection to {trunk} in the capture")
    for m in sent:
        if m.dst not in own:
            what = m.method or f"{m.status} {m.reason or ''}".strip()
            raise AssertionError(f"the {what} ({obs.where(m)}) went to {m.dst[0]}:{m.dst[1]}, not over a "
                                 f"connection the {ua} opened (from {', '.join(f'{h}:{p}' for h, p in sorted(own))})")
    ports = ", ".join(str(p) for _, p in sorted(own))
    return (f"{trunk} reached the {ua} only over the connection(s) the {ua} opened (its port(s) {ports}): "
            f"{', '.join(f'{m.method} (frame {m.frame_no})' for m in requests)} and {len(sent) - len(requests)} "
            f"response(s); no connection opened to it")
