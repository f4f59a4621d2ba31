"""The hold and DTMF assertions (harness.suite.hold_checks, dtmf_checks) on hand-made decodes: a good
call passes, each departure fails naming what RFC 3264 / RFC 4733 asks for; and the ladder label
"INVITE with a=sendonly"."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.capture.decode import DecodedMessage, DecodedRtp, to_observed
from harness.capture.decoded import TelephoneEventFields
from harness.capture.observation import Observation
from harness.ladder.labels import classify_label
from harness.suite import dtmf_checks, hold_checks

UA, VB_A, VB_B, DST = ("127.0.0.10", 16000), ("127.0.0.20", 16001), ("127.0.0.20", 16001), ("127.0.0.30", 16002)
ROLES = {"127.0.0.10": "UA", "127.0.0.20": "VoIPBin", "127.0.0.30": "Destination"}
TE = ((0, "PCMU/8000"), (101, "telephone-event/8000"))


def sip(t: float, src, dst, first: str, *, call: str, cseq: int, direction: str | None = None,
        to_tag: str | None = "t", rtpmap=TE) -> DecodedMessage:
    status = int(first) if first.isdigit() else None
    return DecodedMessage(
        frame_no=int(t * 1000), time=t, src=src, dst=dst, transport="udp", kind="response" if status else "request",
        method=None if status else first, status=status, reason="OK" if status else None, call_id=call,
        cseq_num=cseq, cseq_method="INVITE" if status or first == "ACK" else first, via_branch=f"b{call}{cseq}{first}",
        from_tag="f", to_tag=to_tag, has_authorization=False, has_proxy_authorization=False,
        has_sdp=direction is not None, sdp_connection_address=None, sdp_media_port=None, reason_header=None,
        user_agent=None, sdp_direction=direction, sdp_rtpmap=rtpmap if direction else ())


def rtp(t: float, src, dst, *, pt: int = 0, marker: bool = False, ts: int = 0,
        event: TelephoneEventFields | None = None) -> DecodedRtp:
    return DecodedRtp(int(t * 1000), t, src, dst, ssrc=7, seq=int(t * 1000), payload_type=pt, marker=marker,
                      timestamp=ts, event=event)


def stream(start: float, end: float, src, dst) -> list[DecodedRtp]:
    return [rtp(start + k * 0.02 + 0.0001, src, dst) for k in range(int((end - start) / 0.02))]


def hold_call(*, leak: float | None = None, direction: str = "sendonly", answer: str = "recvonly") -> Observation:
    """The UA holds at 1.0 s and resumes at 2.0 s; RTP both ways outside the hold, the UA's alone inside."""
    items: list = [
        sip(0.10, UA, VB_A, "INVITE", call="a", cseq=2, direction="sendrecv", to_tag=None),
        sip(0.11, VB_B, DST, "INVITE", call="b", cseq=1, direction="sendrecv", to_tag=None),
        sip(0.12, DST, VB_B, "200", call="b", cseq=1, direction="sendrecv"),
        sip(0.13, VB_A, UA, "200", call="a", cseq=2, direction="sendrecv"),
        sip(1.00, UA, VB_A, "INVITE", call="a", cseq=3, direction=direction),
        sip(1.01, VB_B, DST, "INVITE", call="b", cseq=2, direction=direction),
        sip(1.02, DST, VB_B, "200", call="b", cseq=2, direction=answer),
        sip(1.03, VB_A, UA, "200", call="a", cseq=3, direction=answer),
        sip(2.00, UA, VB_A, "INVITE", call="a", cseq=4, direction="sendrecv"),
        sip(2.01, VB_B, DST, "INVITE", call="b", cseq=3, direction="sendrecv"),
        sip(2.02, DST, VB_B, "200", call="b", cseq=3, direction="sendrecv"),
        sip(2.03, VB_A, UA, "200", call="a", cseq=4, direction="sendrecv"),
        sip(2.50, UA, VB_A, "BYE", call="a", cseq=5),
    ]
    items += stream(0.2, 0.99, DST, VB_B) + stream(0.2, 0.99, VB_A, UA) + stream(1.05, 1.95, UA, VB_A)
    items += stream(1.05, 1.95, VB_B, DST) + stream(2.05, 2.45, DST, VB_B) + stream(2.05, 2.45, VB_A, UA)
    items += stream(2.05, 2.45, UA, VB_A) + stream(2.05, 2.45, VB_B, DST)
    if leak is not None:
        items.append(rtp(leak, VB_A, UA))
    items.sort(key=lambda d: d.time)
    return Observation.build(Path("x.pcap"), items, ROLES)


def test_a_proper_hold_passes_every_check() -> None:
    good = hold_call()
    assert len(hold_checks.check_hold_offer(good, holder="UA", offered="sendonly", answered="recvonly")) == 2
    hold_checks.check_reinvite_cseq(good)
    assert "0 packets in flight" in hold_checks.check_silent_while_held(good, holder="UA", receivers=["UA"])[0]
    assert "music on hold" in hold_checks.check_holder_still_heard(good, holder="UA", other="Destination")[0]
    assert len(hold_checks.check_resumed(good)) == 2


def test_rtp_reaching_the_holder_fails_unless_it_was_in_flight() -> None:
    in_flight = hold_call(leak=1.05)  # 20 ms after the hold's 200: already on its way
    assert "1 packets in flight" in hold_checks.check_silent_while_held(in_flight, holder="UA", receivers=["UA"])[0]
    with pytest.raises(AssertionError, match="1 RTP packets reached the UA while the UA held the call"):
        hold_checks.check_silent_while_held(hold_call(leak=1.5), holder="UA", receivers=["UA"])


def test_a_wrong_answer_direction_and_a_missing_hold_fail() -> None:
    with pytest.raises(AssertionError, match="must say a=recvonly"):
        hold_checks.check_hold_offer(hold_call(answer="sendrecv"), holder="UA", offered="sendonly",
                                     answered="recvonly")
    with pytest.raises(AssertionError, match="no hold re-INVITE"):
        hold_checks.check_hold_offer(hold_call(direction="sendrecv"), holder="UA", offered="sendonly",
                                     answered="recvonly")


def test_a_copied_cseq_fails() -> None:
    obs = hold_call()
    bad = [replace(d, cseq_num=1) if isinstance(d, DecodedMessage) and d.call_id == "b" and d.cseq_num == 2 else d
           for d in obs.decoded]
    with pytest.raises(AssertionError, match="CSeq 1, not above"):
        hold_checks.check_reinvite_cseq(Observation.build(Path("x.pcap"), bad, ROLES))


def test_re_invite_label_matches_by_sdp_direction_only_inside_a_dialog() -> None:
    matcher = classify_label("INVITE with a=sendonly")
    steps = to_observed(hold_call().decoded, ROLES)
    matched = [s for s in steps if matcher.matches(s)]
    assert [s.time for s in matched] == [1.00, 1.01]
    assert matched[0].label == "INVITE with a=sendonly"
    assert classify_label(matched[0].label) == matcher
    labels = [s.label for s in steps if s.method == "INVITE"]
    assert labels[0] == "INVITE" and labels[-1] == "INVITE"  # the initial INVITE and the a=sendrecv resume
    assert [s.time for s in steps if classify_label("INVITE with a=sendrecv").matches(s)] == [2.00, 2.01]
    with pytest.raises(ValueError, match="with a=sendonly"):
        classify_label("INVITE with a=held")


def digit_packets(t0: float, src, dst, code: int, ts: int, *, pt: int = 101, ends: int = 3,
                  marker_first: bool = True, ts_drift: int = 0) -> list[DecodedRtp]:
    out = [rtp(t0 + k * 0.02, src, dst, pt=pt, marker=marker_first and k == 0, ts=ts + (ts_drift if k == 2 else 0),
               event=TelephoneEventFields(code, False, 10, 160 * (k + 1))) for k in range(4)]
    out += [rtp(t0 + (4 + k) * 0.02, src, dst, pt=pt, ts=ts, event=TelephoneEventFields(code, True, 10, 800))
            for k in range(ends)]
    return out


def dtmf_call(**first_digit) -> Observation:
    items: list = [
        sip(0.10, UA, VB_A, "INVITE", call="a", cseq=1, direction="sendrecv", to_tag=None),
        sip(0.11, VB_B, DST, "INVITE", call="b", cseq=1, direction="sendrecv", to_tag=None),
        sip(0.12, DST, VB_B, "200", call="b", cseq=1, direction="sendrecv"),
        sip(0.13, VB_A, UA, "200", call="a", cseq=1, direction="sendrecv"),
    ]
    for leg, (src, dst) in enumerate(((UA, VB_A), (VB_B, DST))):
        items += digit_packets(1.0 + leg * 0.001, src, dst, 1, 1000, **first_digit)
        items += digit_packets(1.5 + leg * 0.001, src, dst, 11, 5000)
    items.sort(key=lambda d: d.time)
    return Observation.build(Path("x.pcap"), items, ROLES)


def test_well_formed_digits_pass_on_both_legs() -> None:
    notes = dtmf_checks.check_dtmf(dtmf_call(), sender="UA", receiver="Destination", digits="1#")
    assert len(notes) == 2 and "1# as payload type 101" in notes[0] and "3 with E" in notes[0]


@pytest.mark.parametrize(("damage", "message"), [
    ({"marker_first": False}, "no marker bit"),
    ({"ts_drift": 160}, "every packet of an event carries its start"),
    ({"ends": 0}, "no packet with the E"),
    ({"pt": 96}, "payload type 96; the VoIPBin's SDP"),
])
def test_each_rfc_4733_departure_fails(damage: dict[str, object], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        dtmf_checks.check_dtmf(dtmf_call(**damage), sender="UA", receiver="Destination", digits="1#")


def test_wrong_digits_fail() -> None:
    with pytest.raises(AssertionError, match="carry the digits '1#'; '12' were sent"):
        dtmf_checks.check_dtmf(dtmf_call(), sender="UA", receiver="Destination", digits="12")
