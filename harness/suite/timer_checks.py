"""Checks of the session-timer (RFC 4028), reliable-provisional (RFC 3262) and long-call scenarios, read
from the decoded capture like every other verdict. Each raises AssertionError saying what was seen, and
returns a note for the report when it passes."""

from __future__ import annotations

from harness.capture.decoded import DecodedMessage, DecodedRtp
from harness.capture.observation import Observation
from sipcore.session_timer import bye_delay

__all__ = [
    "agreed_interval", "check_422_retry", "check_expiry_byes", "check_refresh_relayed", "check_reliable_183",
    "check_steady_rtp", "check_unreliable_183",
]

TOLERANCE = 0.5  # seconds either side of a timer's due time (scheduling on a shared machine)


def _session_interval(msg: DecodedMessage) -> int | None:
    values = msg.header("Session-Expires")
    if not values:
        return None
    head = values[0].split(";")[0].strip()
    return int(head) if head.isdigit() else None


def _tags(msg: DecodedMessage, name: str) -> set[str]:
    return {t.strip().lower() for v in msg.header(name) for t in v.split(",")}


def _answer(obs: Observation, dst: str = "UA") -> DecodedMessage:
    oks = [m for m in obs.select(src="VoIPBin", dst=dst, cseq_method="INVITE") if m.status is not None
           and 200 <= m.status < 300]
    if not oks:
        raise AssertionError(f"no 2xx to an INVITE reached the {dst}")
    return oks[0]


def agreed_interval(obs: Observation) -> int:
    """The session interval the trunk's 2xx gave the UA (its Session-Expires)."""
    ok = _answer(obs)
    interval = _session_interval(ok)
    if interval is None:
        raise AssertionError(f"the 200 OK reaching the UA (frame {ok.frame_no}) has no Session-Expires: the trunk "
                             "runs no session timer for this call (RFC 4028 §9)")
    return interval


def check_422_retry(obs: Observation, asked: int) -> str:
    """The trunk answered the UA's too small interval 422 with a larger Min-SE, and the UA's next INVITE asked
    for that Min-SE and was answered."""
    refusals = obs.select(src="VoIPBin", dst="UA", status=422)
    if not refusals:
        raise AssertionError(f"no 422 reached the UA for its Session-Expires of {asked} s (RFC 4028 §9: a UAS "
                             f"answers an interval under its minimum 422; the RFC minimum is 90 s)")
    first = refusals[0]
    min_se = first.header("Min-SE")
    if not min_se or not min_se[0].split(";")[0].strip().isdigit():
        raise AssertionError(f"the 422 (frame {first.frame_no}) has no Min-SE header (RFC 4028 §6: it MUST)")
    value = int(min_se[0].split(";")[0])
    if value <= asked:
        raise AssertionError(f"the 422's Min-SE {value} is not above the {asked} s the UA asked")
    retries = [m for m in obs.select(src="UA", dst="VoIPBin", method="INVITE") if m.frame_no > first.frame_no]
    if not retries or _session_interval(retries[0]) != value:
        raise AssertionError(f"the UA's INVITE after the 422 does not ask for the Min-SE {value}")
    ok = _answer(obs)
    return f"422 with Min-SE {value} (frame {first.frame_no}); the retry asking {value} s answered {ok.status}"


def check_refresh_relayed(obs: Observation, method: str, src: str, dst: str) -> str:
    """A refresh (``method`` inside the dialog, with Session-Expires) from ``src`` reached ``dst`` through the
    trunk, carrying the session interval, and its 2xx came back to ``src``."""
    def refreshes(a: str, b: str) -> list[DecodedMessage]:
        return [m for m in obs.select(src=a, dst=b, method=method) if m.to_tag is not None
                and _session_interval(m) is not None]

    sent, relayed = refreshes(src, "VoIPBin"), refreshes("VoIPBin", dst)
    if not sent:
        raise AssertionError(f"the {src} sent no session refresh ({method} with Session-Expires) in the call")
    if not relayed:
        raise AssertionError(f"the {src}'s refresh ({method}, frame {sent[0].frame_no}) did not reach the {dst}")
    if _session_interval(relayed[0]) != _session_interval(sent[0]):
        raise AssertionError(f"the relayed {method} asks Session-Expires {_session_interval(relayed[0])}, the "
                             f"{src} asked {_session_interval(sent[0])}")
    back = [m for m in obs.select(src="VoIPBin", dst=src, cseq_method=method)
            if m.status is not None and 200 <= m.status < 300 and m.cseq_num == sent[0].cseq_num]
    if not back:
        raise AssertionError(f"no 2xx to the {src}'s refresh came back to it")
    return (f"{len(sent)} refresh(es) by {method} from the {src}, relayed to the {dst} (frame "
            f"{relayed[0].frame_no}), answered {back[0].status}")


def check_expiry_byes(obs: Observation) -> str:
    """No refresh came: the trunk's BYE reached both sides at the agreed interval minus the smaller of 32 s
    and a third of it (RFC 4028 §10), give or take TOLERANCE, and before the session expired."""
    interval = agreed_interval(obs)
    answered = _answer(obs).time
    due = bye_delay(interval)
    notes = []
    for side in ("UA", "Destination"):
        byes = obs.select(src="VoIPBin", dst=side, method="BYE")
        if not byes:
            raise AssertionError(f"no BYE from the trunk reached the {side}: the session of {interval} s lapsed "
                                 "without a refresh and the trunk did not end the call (RFC 4028 §10)")
        after = byes[0].time - answered
        if not due - TOLERANCE <= after <= interval + TOLERANCE:
            raise AssertionError(f"the trunk's BYE to the {side} came {after:.2f} s after the answer; expected "
                                 f"{due:.2f} s (interval {interval} s minus min(32 s, interval/3))")
        notes.append(f"{side} {after:.2f} s")
    return f"BYE on both legs after the answer ({', '.join(notes)}; due {due:.2f} s)"


def _reliable(msg: DecodedMessage) -> int | None:
    rseq = msg.header("RSeq")
    if "100rel" not in _tags(msg, "Require") or not rseq or not rseq[0].strip().isdigit():
        return None
    return int(rseq[0])


def _rack(msg: DecodedMessage) -> tuple[int, int, str] | None:
    values = msg.header("RAck")
    parts = values[0].split() if values else []
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    return int(parts[0]), int(parts[1]), parts[2].upper()


def _first_183(obs: Observation, src: str, dst: str) -> DecodedMessage:
    found = obs.select(src=src, dst=dst, status=183)
    if not found:
        raise AssertionError(f"no 183 went from the {src} to the {dst}")
    return found[0]


def _destination_prack(obs: Observation) -> str:
    """The PRACK reaching the destination acknowledges its reliable 183 (RAck: its RSeq, its INVITE's CSeq)."""
    b183 = _first_183(obs, "Destination", "VoIPBin")
    rseq = _reliable(b183)
    if rseq is None:
        raise AssertionError(f"the destination's 183 (frame {b183.frame_no}) is not reliable")
    pracks = obs.select(src="VoIPBin", dst="Destination", method="PRACK")
    if not pracks:
        raise AssertionError("no PRACK reached the destination for its reliable 183 (RFC 3262 §4)")
    rack = _rack(pracks[0])
    if rack != (rseq, b183.cseq_num, "INVITE"):
        raise AssertionError(f"the PRACK reaching the destination carries RAck {rack}; its 183 had RSeq {rseq} "
                             f"for CSeq {b183.cseq_num} INVITE")
    return f"PRACK to the destination: RAck {rseq} {b183.cseq_num} INVITE"


def check_reliable_183(obs: Observation) -> str:
    """The 183 reached the UA reliably, the UA's PRACK named it, and the PRACK reaching the destination
    named the destination's own 183."""
    a183 = _first_183(obs, "VoIPBin", "UA")
    rseq = _reliable(a183)
    if rseq is None:
        raise AssertionError(f"the 183 reaching the UA (frame {a183.frame_no}) lacks Require: 100rel or RSeq")
    pracks = obs.select(src="UA", dst="VoIPBin", method="PRACK")
    if not pracks or _rack(pracks[0]) != (rseq, a183.cseq_num, "INVITE"):
        raise AssertionError(f"the UA's PRACK does not acknowledge RSeq {rseq} of CSeq {a183.cseq_num} INVITE")
    return f"reliable 183 to the UA, RSeq {rseq}; {_destination_prack(obs)}"


def check_unreliable_183(obs: Observation) -> str:
    """A UA without 100rel got the 183 unreliably, and the trunk PRACKed the destination itself."""
    a183 = _first_183(obs, "VoIPBin", "UA")
    if a183.header("RSeq") or "100rel" in _tags(a183, "Require"):
        raise AssertionError(f"the 183 reaching the UA (frame {a183.frame_no}) is reliable, but the UA's INVITE "
                             "did not support 100rel (RFC 3262 §3)")
    if obs.select(src="UA", method="PRACK"):
        raise AssertionError("the UA sent a PRACK it had no reliable response for")
    return f"unreliable 183 to the UA; {_destination_prack(obs)}"


def check_steady_rtp(obs: Observation, max_gap: float) -> str:
    """RTP flowed all through the answered call in the four directions (UA and destination, to and from the
    trunk): no gap over ``max_gap`` seconds between the answer and the first BYE."""
    start = _answer(obs).time
    byes = [m for m in obs.messages if m.method == "BYE"]
    end = byes[0].time if byes else max(p.time for p in obs.decoded)
    notes = []
    for src, dst in (("UA", "VoIPBin"), ("VoIPBin", "Destination"), ("Destination", "VoIPBin"), ("VoIPBin", "UA")):
        times = [p.time for p in obs.rtp(src=src, dst=dst) if isinstance(p, DecodedRtp) and start <= p.time <= end]
        if len(times) < 2:
            raise AssertionError(f"no steady RTP {src} -> {dst} during the call ({len(times)} packets)")
        edges = [start, *times, end]
        gap, at = max((b - a, a) for a, b in zip(edges, edges[1:], strict=False))
        if gap > max_gap:
            raise AssertionError(f"RTP {src} -> {dst} stopped for {gap * 1000:.0f} ms at {at - start:.2f} s into the "
                                 f"call (at most {max_gap * 1000:.0f} ms allowed)")
        notes.append(f"{src}->{dst} {len(times)} packets, longest gap {gap * 1000:.0f} ms")
    return f"steady RTP over {end - start:.1f} s: " + "; ".join(notes)
