"""Two-way media on every answered call: a relay dropping one direction fails, with the direction named."""

from __future__ import annotations

import pytest

from harness.capture.decode import DecodedRtp
from harness.suite.media_checks import answered_calls, check_two_way_media

from .test_checks import DST, UA, VB, msg, obs

RELAY_A, RELAY_B = ("127.0.0.20", 20000), ("127.0.0.20", 20002)
UA_MEDIA, DST_MEDIA = ("127.0.0.10", 40000), ("127.0.0.30", 41000)


def rtp(frame: int, src: tuple[str, int], dst: tuple[str, int], ssrc: int) -> DecodedRtp:
    return DecodedRtp(frame, frame / 100, src, dst, ssrc=ssrc, seq=frame, payload_type=0)


def call(*media: DecodedRtp, bye: bool = True) -> list[object]:
    """UA -> VoIPBin -> Destination, answered, RTP as given, then the UA hangs up."""
    items: list[object] = [
        msg(1, UA, VB, "INVITE", call="a"), msg(2, VB, DST, "INVITE", call="b"),
        msg(3, DST, VB, "200", call="b"), msg(4, VB, UA, "200", call="a"),
        msg(5, UA, VB, "ACK", call="a"), msg(6, VB, DST, "ACK", call="b"), *media,
    ]
    if bye:
        items += [msg(50, UA, VB, "BYE", call="a"), msg(51, VB, DST, "BYE", call="b")]
    return items


UA_TO_DST = [rtp(10, UA_MEDIA, RELAY_A, 0xA), rtp(11, RELAY_B, DST_MEDIA, 0xA)]
DST_TO_UA = [rtp(12, DST_MEDIA, RELAY_B, 0xB), rtp(13, RELAY_A, UA_MEDIA, 0xB)]


def test_media_both_ways_passes_with_a_note_per_direction() -> None:
    notes = check_two_way_media(obs(*call(*UA_TO_DST, *DST_TO_UA)))
    assert notes == ["media: UA -> Destination: 1 RTP packets sent, 1 reached the Destination (1 with the UA's SSRC)",
                     "media: Destination -> UA: 1 RTP packets sent, 1 reached the UA (1 with the Destination's SSRC)"]


def test_a_relay_dropping_the_destinations_rtp_fails_the_call() -> None:
    with pytest.raises(AssertionError, match=r"one-way audio on the call answered at frame 4, VoIPBin -> UA: the "
                                             r"Destination sent 1 RTP packets \(to VoIPBin; first at frame 12\), "
                                             r"none reached the UA"):
        check_two_way_media(obs(*call(*UA_TO_DST, DST_TO_UA[0])))


def test_rtp_reaching_the_relay_but_sent_to_the_callers_private_address_fails() -> None:
    """The relay sends to the SDP's 10.x address, nowhere near the UA: nothing reaches the UA's column."""
    private = rtp(13, RELAY_A, ("10.200.0.1", 40000), 0xB)
    with pytest.raises(AssertionError, match="none reached the UA"):
        check_two_way_media(obs(*call(*UA_TO_DST, DST_TO_UA[0], private)))


def test_rtp_after_the_bye_does_not_count() -> None:
    late = rtp(60, RELAY_A, UA_MEDIA, 0xB)
    with pytest.raises(AssertionError, match="none reached the UA"):
        check_two_way_media(obs(*call(*UA_TO_DST, DST_TO_UA[0], late)))


def test_a_sender_without_any_rtp_leaves_its_direction_unchecked_with_a_note() -> None:
    notes = check_two_way_media(obs(*call(*UA_TO_DST)))
    assert "media: the Destination sent no RTP: Destination -> UA not checked" in notes


def test_unanswered_calls_and_re_invites_are_not_separate_calls() -> None:
    rejected = [msg(1, UA, VB, "INVITE"), msg(2, VB, DST, "INVITE", call="b"), msg(3, DST, VB, "486", call="b"),
                msg(4, VB, UA, "486")]
    assert answered_calls(obs(*rejected)) == [] and check_two_way_media(obs(*rejected)) == []
    reinvite = [msg(20, UA, VB, "INVITE", call="a", cseq=2), msg(21, VB, UA, "200", call="a", cseq=2)]
    calls = answered_calls(obs(*call(*UA_TO_DST, *DST_TO_UA, *reinvite)))
    assert [(c.caller, c.callee, c.answer.frame_no) for c in calls] == [("UA", "Destination", 4)]


def ua_leg(*media: DecodedRtp) -> list[object]:
    """ua-only: the UA leg of a call to a remote trunk's test number; the far end's leg is never captured."""
    return [msg(1, UA, VB, "INVITE", call="a"), msg(4, VB, UA, "200", call="a"), msg(5, UA, VB, "ACK", call="a"),
            *media, msg(50, UA, VB, "BYE", call="a")]


def test_a_remote_far_ends_audio_must_reach_the_caller_from_the_trunk() -> None:
    assert check_two_way_media(obs(*ua_leg(UA_TO_DST[0]))) == []  # without the flag: no B leg, nothing to check
    with pytest.raises(AssertionError, match=r"one-way audio on the call answered at frame 4, VoIPBin -> UA: no RTP "
                                             r"from VoIPBin reached the UA between the answer and the BYE \(the "
                                             r"caller sent 1 RTP packets to VoIPBin\)"):
        check_two_way_media(obs(*ua_leg(UA_TO_DST[0])), remote_far_end=True)
    notes = check_two_way_media(obs(*ua_leg(UA_TO_DST[0], DST_TO_UA[1])), remote_far_end=True)
    assert notes == ["media: VoIPBin -> UA: 1 RTP packets of the far end reached the UA after the answer; "
                     "UA -> VoIPBin: 1 sent (beyond the trunk not visible: remote far end)"]
