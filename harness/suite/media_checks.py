"""Two-way media on every answered call: the check the harness applies after each passing scenario, so
one-way audio (the classic NAT symptom) fails a scenario instead of passing unnoticed.

A call is answered when the trunk sends a 2xx to the caller's INVITE (the A leg); its far end is the role
whose 2xx to an INVITE reached the trunk last before that (the B leg). From the first message of either
leg to the first BYE of either, for each direction (caller -> far end, far end -> caller): when the sender
sent RTP, some RTP must have reached the receiver (through the trunk's relay, or straight from the sender
when the trunk lets media pass by). A sender that sent no RTP at all (SIPp without a media stream) leaves
its direction unchecked, with a note saying so.

    notes = check_two_way_media(obs)      # AssertionError naming the call, the direction and the frames

Against a remote trunk (ua-only: its far end is not trunkcheck's, its leg never captured) the UA leg is
checked instead: on every call the trunk answered, RTP from the trunk reaches the caller after the 2xx.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.capture.decode import DecodedMessage, DecodedRtp
from harness.capture.observation import Observation

__all__ = ["AnsweredCall", "answered_calls", "check_two_way_media"]


@dataclass(frozen=True)
class AnsweredCall:
    caller: str  # role of the A leg's caller
    callee: str  # role that answered the B leg
    answer: DecodedMessage  # the trunk's 2xx to the caller
    start: float  # first message of either leg
    end: float  # first BYE of either leg (inf: none in the capture)


def _is_invite_2xx(m: DecodedMessage) -> bool:
    return m.kind == "response" and m.cseq_method == "INVITE" and m.status is not None and 200 <= m.status < 300


def answered_calls(obs: Observation, trunk: str = "VoIPBin") -> list[AnsweredCall]:
    """The calls the trunk answered to a caller, each with the far end that answered it (see module)."""
    messages = obs.messages
    first_2xx: dict[str | None, DecodedMessage] = {}  # the first 2xx per Call-ID (re-INVITEs left out)
    for m in messages:
        if _is_invite_2xx(m) and m.call_id not in first_2xx:
            first_2xx[m.call_id] = m
    calls = []
    for answer in first_2xx.values():
        if obs.role(answer.src) != trunk or obs.role(answer.dst) == trunk:
            continue
        b_answers = [m for m in first_2xx.values() if obs.role(m.dst) == trunk and obs.role(m.src) != trunk
                     and m.time <= answer.time]
        if not b_answers:
            continue
        b_answer = max(b_answers, key=lambda m: m.time)
        legs = {answer.call_id, b_answer.call_id}
        in_call = [m for m in messages if m.call_id in legs]
        byes = [m.time for m in in_call if m.kind == "request" and m.method == "BYE"]
        calls.append(AnsweredCall(obs.role(answer.dst), obs.role(b_answer.src), answer,
                                  min(m.time for m in in_call), min(byes, default=math.inf)))
    return calls


def _direction(obs: Observation, call: AnsweredCall, sender: str, receiver: str) -> str:
    """A note on one direction; AssertionError when the sender's RTP reached nobody on the other side."""
    rtp = [p for p in obs.decoded if isinstance(p, DecodedRtp) and call.start <= p.time <= call.end]
    sent = [p for p in rtp if obs.role(p.src) == sender]
    if not sent:
        return f"the {sender} sent no RTP: {sender} -> {receiver} not checked"
    reached = [p for p in rtp if obs.role(p.dst) == receiver and obs.role(p.src) != receiver]
    if not reached:
        towards = sorted({obs.role(p.dst) for p in sent})
        raise AssertionError(
            f"one-way audio on the call answered at {obs.where(call.answer)}: the {sender} sent {len(sent)} RTP "
            f"packets (to {', '.join(towards)}; first at frame {sent[0].frame_no}), none reached the "
            f"{receiver}. RTP from each side must reach the other through the trunk (one-way audio is the classic "
            f"symptom of a relay refusing media from another address than the SDP announced: a far end behind NAT)"
        )
    ours = {p.ssrc for p in sent}
    same = sum(1 for p in reached if p.ssrc in ours)
    how = f"{same} with the {sender}'s SSRC" if same else "none with the sender's SSRC (re-originated)"
    return f"{sender} -> {receiver}: {len(sent)} RTP packets sent, {len(reached)} reached the {receiver} ({how})"


def check_two_way_media(obs: Observation, trunk: str = "VoIPBin", *, remote_far_end: bool = False) -> list[str]:
    """Both directions of every answered call (module docstring): notes for the report; AssertionError on
    one-way audio. ``remote_far_end`` (ua-only: the far end is the remote trunk's, its leg never in the
    capture): the UA leg instead, where the far end's audio must reach the caller from the trunk."""
    if remote_far_end:
        return [f"media: {note}" for note in _ua_leg_media(obs, trunk)]
    notes = []
    for call in answered_calls(obs, trunk):
        for sender, receiver in ((call.caller, call.callee), (call.callee, call.caller)):
            notes.append(f"media: {_direction(obs, call, sender, receiver)}")
    return notes


def _ua_leg_media(obs: Observation, trunk: str) -> list[str]:
    """Per call the trunk answered: RTP from the trunk reached the caller between the 2xx and the first BYE
    (the far end's audio); the caller's own RTP is noted, as where it goes past the trunk is not visible."""
    notes = []
    answers: dict[str | None, DecodedMessage] = {}
    for m in obs.messages:
        if _is_invite_2xx(m) and m.call_id not in answers and obs.role(m.src) == trunk and obs.role(m.dst) != trunk:
            answers[m.call_id] = m
    rtp = [p for p in obs.decoded if isinstance(p, DecodedRtp)]
    for call_id, answer in answers.items():
        caller = obs.role(answer.dst)
        byes = [m.time for m in obs.messages if m.call_id == call_id and m.kind == "request" and m.method == "BYE"]
        end = min(byes, default=math.inf)
        window = [p for p in rtp if answer.time <= p.time <= end]
        heard = [p for p in window if obs.role(p.src) == trunk and obs.role(p.dst) == caller]
        spoke = [p for p in window if obs.role(p.src) == caller and obs.role(p.dst) == trunk]
        if not heard:
            raise AssertionError(
                f"one-way audio on the call answered at {obs.where(answer)}: no RTP from {trunk} reached the "
                f"{caller} between the answer and the {'BYE' if byes else 'end of the capture'} (the caller sent "
                f"{len(spoke)} RTP packets to {trunk}). The far end's audio must reach the caller through the "
                f"trunk; a test number that answers must send media (an announcement, echo or tone)"
            )
        notes.append(f"{trunk} -> {caller}: {len(heard)} RTP packets of the far end reached the {caller} after the "
                     f"answer; {caller} -> {trunk}: {len(spoke)} sent (beyond the trunk not visible: remote far end)")
    return notes
