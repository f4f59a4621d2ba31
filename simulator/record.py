"""What a simulated agent saw and did, in order, with timestamps: the record the harness reads after a call.

Every SIP message sent or received (retransmissions included, flagged), the start of an RTP stream, the
first RTP packet that arrived, every timeout and free-form notes are :class:`RecordEvent` values in one
:class:`Record`. ``t_monotonic`` is the record's clock's ``time()`` (by default the asyncio loop's, so it
compares with :attr:`sipcore.aio.rtp.ReceivedRtp.arrival`); ``t_wall`` is its ``wall()`` (Unix time) for
reports. An agent's record and the agent share one clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sipcore.aio.clock import LOOP_CLOCK, Clock
from sipcore.message import Request, Response

__all__ = ["KINDS", "Record", "RecordEvent", "message_summary"]

KINDS = ("sip-sent", "sip-received", "rtp-started", "rtp-first-packet", "rtp-paused", "rtp-resumed", "dtmf", "timeout",
         "note")
SEEN_LIMIT = 100_000
"""Messages remembered per direction to flag retransmissions (far more than 32 s of any test's traffic)."""


def message_summary(message: Request | Response) -> str:
    """``INVITE sip:+15551234567@example.trunk.voipbin.net`` or ``407 Proxy Authentication Required``."""
    if isinstance(message, Request):
        return f"{message.method} {message.uri}"
    return f"{message.status} {message.reason}"


@dataclass(frozen=True)
class RecordEvent:
    """One thing that happened."""

    t_monotonic: float
    """When, on the record's monotonic clock (by default the asyncio loop's ``time()``)."""
    t_wall: float
    """When, as a Unix time."""
    kind: str
    """One of :data:`KINDS`."""
    summary: str
    """A one-line description: ``INVITE sip:...``, ``200 OK``, ``RTP 1000 Hz to 127.0.0.30:40000``."""
    call_id: str | None = None
    """The Call-ID of the call it belongs to, when it belongs to one."""
    detail: dict[str, Any] = field(default_factory=dict)
    """Anything else: peer address, transport, CSeq, the raw message, RTP addresses."""

    @property
    def is_request(self) -> bool:
        return self.kind.startswith("sip-") and "method" in self.detail

    @property
    def status(self) -> int | None:
        """The status code of a SIP response event, else None."""
        value = self.detail.get("status")
        return value if isinstance(value, int) else None

    @property
    def method(self) -> str | None:
        """The method of a request, or the CSeq method of a response (SIP events only)."""
        value = self.detail.get("method") or self.detail.get("cseq_method")
        return value if isinstance(value, str) else None

    def to_dict(self) -> dict[str, Any]:
        return {"t_monotonic": self.t_monotonic, "t_wall": self.t_wall, "kind": self.kind,
                "summary": self.summary, "call_id": self.call_id, "detail": self.detail}


class Record:
    """An append-only list of :class:`RecordEvent` with the queries tests and reports need."""

    def __init__(self, name: str = "", *, clock: Clock = LOOP_CLOCK) -> None:
        self.name = name
        self.clock = clock
        self.events: list[RecordEvent] = []
        # recent messages by hash, to flag retransmissions; bounded (a retransmission comes within 32 s),
        # so that a destination answering calls for hours does not grow without end
        self._seen: dict[str, dict[int, None]] = {"sip-sent": {}, "sip-received": {}}

    def __iter__(self) -> Iterator[RecordEvent]:
        return iter(list(self.events))

    def __len__(self) -> int:
        return len(self.events)

    # -- writing ------------------------------------------------------------------------------------
    def add(self, kind: str, summary: str, call_id: str | None = None, *, t: float | None = None,
            **detail: Any) -> RecordEvent:
        """Append an event; ``t`` (monotonic) defaults to now."""
        if kind not in KINDS:
            raise ValueError(f"record event kind {kind!r} is not one of {', '.join(KINDS)}")
        now_mono, now_wall = self.clock.time(), self.clock.wall()
        t_mono = now_mono if t is None else t
        event = RecordEvent(t_mono, now_wall - (now_mono - t_mono), kind, summary, call_id, detail)
        self.events.append(event)
        return event

    def sip(self, kind: str, message: Request | Response, peer: tuple[str, int], transport: str,
            data: bytes | None = None) -> RecordEvent:
        """Record a SIP message sent (``kind="sip-sent"``) to or received from ``peer``."""
        raw = data if data is not None else message.to_bytes()
        seen = self._seen[kind]
        key = hash(raw)
        detail: dict[str, Any] = {"peer": f"{peer[0]}:{peer[1]}", "transport": transport,
                                  "retransmission": key in seen}
        seen[key] = None
        if len(seen) > SEEN_LIMIT:
            del seen[next(iter(seen))]  # the oldest
        try:
            cseq = message.cseq
            detail["cseq"] = str(cseq)
            detail["cseq_method"] = cseq.method
        except ValueError:
            pass
        if isinstance(message, Request):
            detail["method"] = message.method
            detail["uri"] = message.uri
        else:
            detail["status"] = message.status
            detail["reason"] = message.reason
        for name in ("Reason", "Proxy-Authorization", "Authorization"):
            value = message.headers.get(name)
            if value is not None:
                detail[name.lower()] = value
        detail["raw"] = raw.decode("utf-8", "replace")
        call_id = message.headers.get("Call-ID")
        return self.add(kind, message_summary(message), call_id.strip() if call_id else None, **detail)

    # -- reading ------------------------------------------------------------------------------------
    def select(self, kind: str | None = None, *, call_id: str | None = None, summary: str | None = None,
               method: str | None = None, status: int | None = None,
               retransmissions: bool = True) -> list[RecordEvent]:
        """Events matching every criterion given: ``summary`` is a prefix (``"INVITE"``, ``"200"``),
        ``method`` matches a request's method or a response's CSeq method."""
        out = []
        for event in self.events:
            if kind is not None and event.kind != kind:
                continue
            if call_id is not None and event.call_id != call_id:
                continue
            if summary is not None and not event.summary.startswith(summary):
                continue
            if method is not None and event.method != method:
                continue
            if status is not None and event.status != status:
                continue
            if not retransmissions and event.detail.get("retransmission"):
                continue
            out.append(event)
        return out

    def first(self, kind: str | None = None, **criteria: Any) -> RecordEvent | None:
        found = self.select(kind, **criteria)
        return found[0] if found else None

    def for_call(self, call_id: str) -> list[RecordEvent]:
        return [e for e in self.events if e.call_id == call_id]

    def take_call(self, call_id: str) -> list[RecordEvent]:
        """Remove one call's events from the record and return them: a long-running agent that has
        reported a finished call keeps no more of it."""
        taken = [e for e in self.events if e.call_id == call_id]
        if taken:
            self.events = [e for e in self.events if e.call_id != call_id]
        return taken

    # -- output -------------------------------------------------------------------------------------
    def to_dicts(self, call_id: str | None = None, *, raw: bool = True) -> list[dict[str, Any]]:
        events = self.events if call_id is None else self.for_call(call_id)
        out = []
        for event in events:
            d = event.to_dict()
            if not raw:
                d["detail"] = {k: v for k, v in event.detail.items() if k != "raw"}
            out.append(d)
        return out

    def to_json(self, call_id: str | None = None, *, raw: bool = True, indent: int | None = 2) -> str:
        """The record (or one call's events) as JSON: ``{"name": ..., "events": [...]}``."""
        return json.dumps({"name": self.name, "events": self.to_dicts(call_id, raw=raw)}, indent=indent)

    def lines(self, call_id: str | None = None, *, start: float | None = None,
              events: list[RecordEvent] | None = None) -> list[str]:
        """A readable ladder-ish listing: ``+0.012  -> INVITE sip:...  (127.0.0.30:5080 UDP)``; of the
        whole record, of one call, or of ``events`` taken from it."""
        if events is None:
            events = self.events if call_id is None else self.for_call(call_id)
        if not events:
            return []
        t0 = events[0].t_monotonic if start is None else start
        arrows = {"sip-sent": "->", "sip-received": "<-", "rtp-started": "~>", "rtp-first-packet": "<~",
                  "rtp-paused": "~|", "rtp-resumed": "~>", "dtmf": "~#", "timeout": "!!", "note": "  "}
        out = []
        for event in events:
            where = ""
            if event.kind.startswith("sip-"):
                rtx = ", retransmission" if event.detail.get("retransmission") else ""
                cseq = f"  [{event.detail['cseq']}]" if "status" in event.detail and "cseq" in event.detail else ""
                where = f"{cseq}  ({event.detail.get('peer')} {event.detail.get('transport')}{rtx})"
            out.append(f"{event.t_monotonic - t0:+8.3f}  {arrows[event.kind]} {event.summary}{where}")
        return out
