"""Assertions on a call put on hold and resumed by re-INVITE (features/hold.feature), read from the capture.

The holder's re-INVITE offers a=sendonly or a=inactive and the resume a=sendrecv (RFC 3264 §8.4); the
trunk relays each to the other leg and relays the answer back. The checks:

- :func:`check_hold_offer`: on each leg the hold re-INVITE carries the offered direction and its 2xx the
  answer's (a=recvonly to a=sendonly, a=inactive to a=inactive);
- :func:`check_reinvite_cseq`: each leg's in-dialog requests carry that leg's own CSeq, rising
  (RFC 3261 §12.2.1.1): a B2BUA does not copy the other leg's numbers;
- :func:`check_silent_while_held`: no RTP reaches a party that said it will not receive, from the hold's 2xx
  reaching the holder until the holder's resume re-INVITE. RTP reaching it within :data:`IN_FLIGHT`
  seconds of that 2xx was already on its way (three 20 ms frames) and is only counted in a note;
- :func:`check_holder_still_heard`: a=sendonly lets the holder send (music on hold): its RTP still reaches
  the other party through the trunk;
- :func:`check_resumed`: after the resume's 2xx, RTP reaches both parties again.

Each raises AssertionError naming frames of the scenario's pcap; each returns notes for the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.capture.decode import DecodedMessage
from harness.capture.observation import Observation

__all__ = ["IN_FLIGHT", "HoldExchange", "check_hold_offer", "check_holder_still_heard", "check_reinvite_cseq",
           "check_resumed", "check_silent_while_held", "hold_exchanges"]

TRUNK = "VoIPBin"
IN_FLIGHT = 0.060  # seconds after the hold's 2xx during which RTP still arriving was already on its way
HOLD_DIRECTIONS = ("sendonly", "inactive")


@dataclass(frozen=True)
class HoldExchange:
    """A re-INVITE and its 2xx on one leg (``offer.src`` -> ``offer.dst``)."""

    offer: DecodedMessage
    answer: DecodedMessage | None


def _other(holder: str) -> str:
    return "Destination" if holder == "UA" else "UA"


def _reinvites(obs: Observation, src: str, dst: str) -> list[HoldExchange]:
    """In-dialog INVITEs with SDP from ``src`` to ``dst``, each with its 2xx (None when none came)."""
    out = []
    for m in obs.select(src=src, dst=dst, method="INVITE"):
        if m.kind != "request" or not m.to_tag or m.sdp_direction is None:
            continue
        answer = next((r for r in obs.select(src=dst, dst=src, cseq_method="INVITE", call_id=m.call_id)
                       if r.kind == "response" and r.cseq_num == m.cseq_num and r.status is not None
                       and 200 <= r.status < 300), None)
        out.append(HoldExchange(m, answer))
    return out


def hold_exchanges(obs: Observation, holder: str) -> dict[str, tuple[HoldExchange, HoldExchange | None]]:
    """Per leg ("holder": holder -> trunk, "relayed": trunk -> other party): the first hold re-INVITE and
    the first resume (a=sendrecv) after it. AssertionError when a leg has no hold re-INVITE."""
    other = _other(holder)
    out = {}
    for leg, (src, dst) in (("holder", (holder, TRUNK)), ("relayed", (TRUNK, other))):
        exchanges = _reinvites(obs, src, dst)
        hold = next((x for x in exchanges if x.offer.sdp_direction in HOLD_DIRECTIONS), None)
        if hold is None:
            seen = ", ".join(f"a={x.offer.sdp_direction} ({obs.where(x.offer)})" for x in exchanges) or "none"
            raise AssertionError(f"no hold re-INVITE (a=sendonly or a=inactive) {src} -> {dst} in the capture "
                                 f"(re-INVITEs with SDP on that leg: {seen})")
        resume = next((x for x in exchanges if x.offer.sdp_direction == "sendrecv"
                       and x.offer.time > hold.offer.time), None)
        out[leg] = (hold, resume)
    return out


def check_hold_offer(obs: Observation, *, holder: str, offered: str, answered: str) -> list[str]:
    """The hold re-INVITE says a=``offered`` and its 2xx a=``answered``, on the holder's leg and relayed."""
    notes = []
    for leg, (hold, _) in hold_exchanges(obs, holder).items():
        offer, answer = hold.offer, hold.answer
        if offer.sdp_direction != offered:
            raise AssertionError(f"the hold re-INVITE ({obs.where(offer)}) says a={offer.sdp_direction}; "
                                 f"a={offered} was expected")
        if answer is None:
            raise AssertionError(f"the hold re-INVITE ({obs.where(offer)}) got no 2xx on that leg")
        if answer.sdp_direction != answered:
            raise AssertionError(f"the {answer.status} to the hold re-INVITE ({obs.where(answer)}) says "
                                 f"a={answer.sdp_direction}; the answer to a={offered} must say a={answered} "
                                 "(RFC 3264 §6.1)")
        notes.append(f"hold ({leg} leg): re-INVITE a={offered} ({obs.where(offer)}, CSeq {offer.cseq_num}), "
                     f"{answer.status} a={answered} ({obs.where(answer)})")
    return notes


def check_reinvite_cseq(obs: Observation) -> list[str]:
    """Every in-dialog INVITE's CSeq is above each earlier request its sender sent in that dialog."""
    notes = []
    reinvites = [m for m in obs.messages if m.kind == "request" and m.method == "INVITE" and m.to_tag]
    if not reinvites:
        raise AssertionError("no re-INVITE (an INVITE inside a dialog) in the capture")
    for m in reinvites:
        earlier = [e for e in obs.messages if e.kind == "request" and e.call_id == m.call_id and e.src == m.src
                   and e.method not in ("ACK", "CANCEL") and e.time < m.time and e.cseq_num is not None]
        top = max((e.cseq_num for e in earlier if e.cseq_num is not None), default=0)
        if m.cseq_num is None or m.cseq_num <= top:
            raise AssertionError(f"the re-INVITE ({obs.where(m)}) has CSeq {m.cseq_num}, not above the {top} of "
                                 "an earlier request its sender sent in that dialog (RFC 3261 §12.2.1.1)")
        notes.append(f"re-INVITE {obs.where(m)}: CSeq {m.cseq_num} (the leg's earlier top {top})")
    return notes


def _window(obs: Observation, holder: str) -> tuple[float, float, DecodedMessage, DecodedMessage | None]:
    """From the hold's 2xx reaching the holder to the holder's resume re-INVITE (inf: none)."""
    hold, resume = hold_exchanges(obs, holder)["holder"]
    if hold.answer is None:
        raise AssertionError(f"the hold re-INVITE ({obs.where(hold.offer)}) got no 2xx: the call was never held")
    end = resume.offer.time if resume is not None else math.inf
    return hold.answer.time, end, hold.answer, resume.offer if resume is not None else None


def check_silent_while_held(obs: Observation, *, holder: str, receivers: list[str]) -> list[str]:
    """No RTP reaches any of ``receivers`` while ``holder`` holds (module docstring: the in-flight margin)."""
    start, end, answer, resume = _window(obs, holder)
    until = f"the resume re-INVITE ({obs.where(resume)})" if resume is not None else "the end of the capture"
    notes = []
    for receiver in receivers:
        reached = [p for p in obs.rtp(dst=receiver) if obs.role(p.src) != receiver and start < p.time < end]
        in_flight = [p for p in reached if p.time <= start + IN_FLIGHT]
        late = [p for p in reached if p.time > start + IN_FLIGHT]
        if late:
            raise AssertionError(
                f"{len(late)} RTP packets reached the {receiver} while the {holder} held the call (from the hold's "
                f"{answer.status}, {obs.where(answer)}, to {until}); the first at frame {late[0].frame_no} from "
                f"{obs.role(late[0].src)}, {late[0].time - start:.3f} s after the {answer.status}. A party "
                "whose SDP says a=sendonly or a=inactive receives no RTP: the trunk's relay must send it none "
                "(RFC 3264 §5.1, §6.1)")
        notes.append(f"hold: no RTP reached the {receiver} for {min(end, obs.decoded[-1].time) - start:.3f} s "
                     f"while held ({len(in_flight)} packets in flight within {IN_FLIGHT * 1000:.0f} ms of the "
                     f"{answer.status})")
    return notes


def check_holder_still_heard(obs: Observation, *, holder: str, other: str) -> list[str]:
    """a=sendonly: the holder's RTP still reaches ``other`` through the trunk while held."""
    start, end, answer, _ = _window(obs, holder)
    sent = [p for p in obs.rtp(src=holder) if start < p.time < end]
    reached = [p for p in obs.rtp(dst=other) if obs.role(p.src) != other and start < p.time < end]
    if not sent:
        return [f"hold: the {holder} sent no RTP while holding (a=sendonly allows it, does not require it)"]
    if not reached:
        raise AssertionError(f"the {holder} held with a=sendonly and sent {len(sent)} RTP packets (first at frame "
                             f"{sent[0].frame_no}), none reached the {other}: a=sendonly lets the holder send "
                             "(music on hold); the trunk must relay it (RFC 3264 §5.1)")
    return [f"hold: the {holder}'s RTP still reached the {other} while held ({len(reached)} of {len(sent)} "
            "packets: music on hold passes)"]


def check_resumed(obs: Observation) -> list[str]:
    """After the last resume (a=sendrecv re-INVITE answered on both legs), RTP reaches both parties."""
    resumed = [x.answer for src, dst in (("UA", TRUNK), (TRUNK, "Destination"), ("Destination", TRUNK),
                                         (TRUNK, "UA"))
               for x in _reinvites(obs, src, dst) if x.offer.sdp_direction == "sendrecv" and x.answer is not None]
    if not resumed:
        raise AssertionError("no resume re-INVITE (a=sendrecv inside the dialog) was answered with a 2xx")
    start = max(m.time for m in resumed)
    byes = [m.time for m in obs.messages if m.kind == "request" and m.method == "BYE" and m.time > start]
    end = min(byes, default=math.inf)
    notes = []
    for party in ("UA", "Destination"):
        reached = [p for p in obs.rtp(dst=party) if obs.role(p.src) != party and start < p.time < end]
        if not reached:
            raise AssertionError(f"after the resume (the last 2xx at {start:.3f}) no RTP reached the {party} before "
                                 "the BYE: a=sendrecv restores both directions")
        notes.append(f"resumed: {len(reached)} RTP packets reached the {party} after the resume")
    return notes
