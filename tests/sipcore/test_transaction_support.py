"""Shared builders and a fake-clock driver for the transaction tests (this module holds no tests).

Messages are built as wire text and parsed, the way they reach the transaction layer. Every address is
on 127.0.0.0/8; no socket is opened (the layer is sans-IO).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sipcore.message import Request, Response, make_response
from sipcore.parser import parse_message
from sipcore.transaction import Address, ClientTransaction, Event, ServerTransaction
from sipcore.transaction_layer import TransactionLayer

UAC: Address = ("127.0.0.1", 5070)
UAS: Address = ("127.0.0.2", 5060)
TRUNK_URI = "sip:+15551234567@acme.trunk.voipbin.net"


def request(method: str = "INVITE", *, branch: str = "z9hG4bKinv1", via: str = "127.0.0.1:5070",
            via_params: str = "", uri: str = TRUNK_URI, cseq: int = 1, call_id: str = "call-1@127.0.0.1",
            from_tag: str = "ft1", to_tag: str | None = None, routes: tuple[str, ...] = (),
            extra: tuple[str, ...] = ()) -> Request:
    """A request as parsed from the wire."""
    branch_param = f";branch={branch}" if branch else ""
    to = f"<{TRUNK_URI}>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {via}{branch_param}{via_params}",
        "Max-Forwards: 70",
        *(f"Route: {r}" for r in routes),
        f"From: <sip:alice@acme.trunk.voipbin.net>;tag={from_tag}",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        *extra,
        "Content-Length: 0",
    ]
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def response(req: Request, status: int, *, to_tag: str | None = "uas1", via_params: str = "") -> Response:
    """The response a UAS would send for ``req`` (its top Via optionally stamped), as parsed."""
    built = make_response(req, status, to_tag=to_tag)
    if via_params:
        top, *rest = built.headers.values("Via")
        built.headers.set("Via", ", ".join([top + via_params, *rest]))
    built.headers.set("Content-Length", "0")
    message = parse_message(built.to_bytes())
    assert isinstance(message, Response)
    return message


def tu_response(req: Request, status: int, *, to_tag: str | None = "uas1") -> Response:
    """A response the TU builds for a received request."""
    built = make_response(req, status, to_tag=to_tag)
    built.headers.set("Content-Length", "0")
    return built


@dataclass
class Clock:
    """Steps a layer through its timers and records what it sends and reports, stamped with the time."""

    layer: TransactionLayer
    now: float = 0.0
    sent: list[tuple[float, bytes, Address]] = field(default_factory=list)
    events: list[tuple[float, Event]] = field(default_factory=list)

    def collect(self) -> None:
        for data, addr in self.layer.datagrams_to_send(self.now):
            self.sent.append((self.now, data, addr))
        while (event := self.layer.next_event()) is not None:
            self.events.append((self.now, event))

    def at(self, now: float) -> Clock:
        """Move to ``now``, firing every timer due on the way at its own deadline."""
        self.run_until(now)
        self.now = now
        return self

    def run_until(self, end: float) -> None:
        while (deadline := self.layer.get_timer()) is not None and deadline <= end:
            self.now = deadline
            self.layer.handle_timer(deadline)
            self.collect()

    def receive(self, message: Request | Response, addr: Address) -> None:
        self.layer.receive(message, addr, self.now)
        self.collect()

    def send_request(self, req: Request, addr: Address = UAS) -> ClientTransaction:
        transaction = self.layer.send_request(req, addr, self.now)
        self.collect()
        return transaction

    def send_response(self, resp: Response, transaction: ServerTransaction | None = None) -> None:
        self.layer.send_response(resp, self.now, transaction)
        self.collect()

    def take_sent(self) -> list[tuple[float, bytes, Address]]:
        sent, self.sent = self.sent, []
        return sent

    def take_events(self) -> list[tuple[float, Event]]:
        events, self.events = self.events, []
        return events

    def send_times(self) -> list[float]:
        return [t for t, _, _ in self.sent]
