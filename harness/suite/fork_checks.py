"""Assertions of the forking and destination-failover scenarios, read from the decoded capture.

Forking (@forking): a call to an extension registered from two phones (UA, UA2) rings both; the caller (the
Carrier) must see each phone's early dialog as an early dialog of its own (a distinct To tag per phone,
RFC 3261 §12.1 / §13.2.2.4), one 2xx whose To tag is that of the answering phone's early dialog, a CANCEL
with Reason "Call completed elsewhere" (RFC 3326) towards the other phone, and before the answer the early
media of the phone whose 183 came last. Failover (@destination-failover): which destination got which
INVITE, and what the caller got.
"""

from __future__ import annotations

from harness.capture.decoded import DecodedMessage
from harness.capture.observation import Observation

__all__ = ["check_cancelled_elsewhere", "check_early_dialogs", "check_early_media_from", "check_invites"]

PHONES = ("UA", "UA2")
COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'


def _invite_responses(obs: Observation, src: str, dst: str) -> list[DecodedMessage]:
    return [m for m in obs.select(src=src, dst=dst, cseq_method="INVITE") if m.kind == "response"]


def _phone_of_relayed(obs: Observation, caller: str) -> list[tuple[DecodedMessage, str | None]]:
    """Each 101-299 response the trunk sent the caller, with the phone whose response it relays: the phone
    whose response to the trunk came last before it (with the same status)."""
    from_phones = sorted((m for phone in PHONES for m in _invite_responses(obs, phone, "VoIPBin")
                          if m.status is not None and 100 < m.status < 300), key=lambda m: m.frame_no)
    out = []
    for relayed in _invite_responses(obs, "VoIPBin", caller):
        if relayed.status is None or not 100 < relayed.status < 300:
            continue
        before = [m for m in from_phones if m.frame_no < relayed.frame_no and m.status == relayed.status]
        out.append((relayed, obs.role(before[-1].src) if before else None))
    return out


def check_early_dialogs(obs: Observation, caller: str, winner: str) -> str:
    """One To tag per phone on the caller's side, and the 2xx under the winner's; the note for the report."""
    relayed = _phone_of_relayed(obs, caller)
    tags: dict[str, set[str]] = {}
    for message, phone in relayed:
        if message.status is not None and message.status < 200 and phone is not None:
            if message.to_tag is None:
                raise AssertionError(f"frame {message.frame_no}: {message.status} to the {caller} has no To tag")
            tags.setdefault(phone, set()).add(message.to_tag)
    if set(tags) != set(PHONES):
        raise AssertionError(f"early responses reached the {caller} from {', '.join(sorted(tags)) or 'no phone'}, "
                             f"not from both phones ({', '.join(PHONES)})")
    for phone, seen in tags.items():
        if len(seen) != 1:
            raise AssertionError(f"{phone}'s early dialog reached the {caller} under {len(seen)} To tags: {sorted(seen)}")
    first, second = (next(iter(tags[p])) for p in PHONES)
    if first == second:
        raise AssertionError(f"both phones' early dialogs reached the {caller} under one To tag ({first}): the "
                             "caller cannot tell the forks apart (RFC 3261 §13.2.2.4)")
    oks = {m.to_tag for m, _ in relayed if m.status is not None and m.status >= 200}
    if len(oks) != 1:
        raise AssertionError(f"the {caller} got {len(oks)} confirmed dialogs (2xx To tags {sorted(map(str, oks))}), "
                             "not exactly one")
    ok = next(iter(oks))
    if ok not in tags[winner]:
        raise AssertionError(f"the 2xx reached the {caller} with To tag {ok}, not {winner}'s early dialog's "
                             f"({next(iter(tags[winner]))})")
    return (f"early dialogs at the {caller}: UA as To tag {first}, UA2 as {second}; the 2xx confirmed {winner}'s "
            f"({ok})")


def check_cancelled_elsewhere(obs: Observation, loser: str) -> str:
    cancels = obs.requests("CANCEL", src="VoIPBin", dst=loser)
    if not cancels:
        raise AssertionError(f"no CANCEL reached the {loser}")
    reasons = [m.reason_header for m in cancels]
    if reasons[0] != COMPLETED_ELSEWHERE:
        raise AssertionError(f"the CANCEL to the {loser} (frame {cancels[0].frame_no}) carries Reason "
                             f"{reasons[0]!r}, not {COMPLETED_ELSEWHERE!r} (RFC 3326)")
    return f"CANCEL to the {loser}: Reason {reasons[0]}"


def check_early_media_from(obs: Observation, caller: str, phone: str) -> str:
    """Between ``phone``'s 183 reaching the caller and the 2xx, the caller's RTP is ``phone``'s stream (the
    relay passes SSRCs through) and nobody else's."""
    relayed = [m for m, who in _phone_of_relayed(obs, caller) if who == phone and m.status == 183]
    oks = [m for m in _invite_responses(obs, "VoIPBin", caller) if m.status is not None and m.status >= 200]
    if not relayed or not oks:
        raise AssertionError(f"no 183 from the {phone} and 2xx reached the {caller}")
    start, end = relayed[0].time, oks[0].time
    ssrcs = {p.ssrc for p in obs.rtp(src=phone, dst="VoIPBin")}
    others = {p.ssrc for other in PHONES if other != phone for p in obs.rtp(src=other, dst="VoIPBin")}
    heard = [p for p in obs.rtp(src="VoIPBin", dst=caller) if start < p.time < end]
    if not heard:
        raise AssertionError(f"no RTP reached the {caller} between the {phone}'s 183 and the 2xx")
    late = [p for p in heard if p.ssrc not in ssrcs and p.time > start + 0.1]
    if late:
        source = "the other phone" if late[0].ssrc in others else "no phone"
        raise AssertionError(f"{len(late)} of {len(heard)} RTP packets reaching the {caller} after the {phone}'s 183 "
                             f"came from {source} (SSRC {late[0].ssrc:#x}, frame {late[0].frame_no})")
    return f"early media at the {caller}: {len(heard)} packets, all the {phone}'s (SSRC {', '.join(f'{s:#x}' for s in ssrcs)})"


def check_invites(obs: Observation, role: str, count: int) -> str:
    invites = obs.requests("INVITE", src="VoIPBin", dst=role)
    calls = {m.call_id for m in invites}
    if len(calls) != count:
        raise AssertionError(f"{len(calls)} INVITE(s) reached the {role}, not {count}")
    return f"{role}: {len(calls)} INVITE(s)"
