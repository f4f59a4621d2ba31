"""Decode helpers that need no tshark: options, header parsing, and the observed flow from decoded items."""

from __future__ import annotations

from harness.capture.decode import DecodedMessage, DecodedRtp, parse_headers, to_observed, tshark_options

UA, TRUNK, DEST = ("127.0.0.1", 5060), ("127.0.0.2", 5080), ("127.0.0.3", 5090)
ROLES = {UA[0]: "UA", TRUNK[0]: "VoIPBin", DEST[0]: "Destination"}


def msg(
    frame,
    src,
    dst,
    *,
    method=None,
    status=None,
    branch="z9hG4bK1",
    cseq=1,
    call="c1",
    reason=None,
    proxy_auth=False,
    to_tag=None,
) -> DecodedMessage:
    return DecodedMessage(
        frame_no=frame,
        time=frame / 100,
        src=src,
        dst=dst,
        transport="udp",
        kind="request" if method else "response",
        method=method,
        status=status,
        reason=reason,
        call_id=call,
        cseq_num=cseq,
        cseq_method=method or "INVITE",
        via_branch=branch,
        from_tag="f",
        to_tag=to_tag,
        has_authorization=False,
        has_proxy_authorization=proxy_auth,
        has_sdp=False,
        sdp_connection_address=None,
        sdp_media_port=None,
        reason_header=None,
        user_agent=None,
    )


def rtp(frame, src, dst, seq) -> DecodedRtp:
    return DecodedRtp(frame, frame / 100, src, dst, ssrc=7, seq=seq, payload_type=0)


def test_tshark_options_cover_every_non_standard_sip_port_on_udp_and_tcp():
    decode_as, prefs = tshark_options([5060, 5080, 15060])
    assert decode_as == {
        "udp.port==5080": "sip",
        "tcp.port==5080": "sip",
        "udp.port==15060": "sip",
        "tcp.port==15060": "sip",
    }
    assert prefs == {"rtp.heuristic_rtp": "TRUE"}


def test_header_block_parsing():
    raw = "i: abc\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nSubject: a\r\n  folded\r\nVia: second\r\n\r\nv=0\r\na=x:y\r\n"
    assert parse_headers(raw) == {
        "Call-ID": ["abc"],
        "Via": ["SIP/2.0/UDP h;branch=z9hG4bK1", "second"],
        "Subject": ["a folded"],
    }


def test_every_compact_form_sipcore_knows_is_read_as_its_full_name():
    raw = "a: *;audio\r\nj: *;video\r\nd: proxy\r\nn: <https://id.example/cert>\r\nx: 1800\r\n\r\n"
    headers = parse_headers(raw)
    assert list(headers) == ["Accept-Contact", "Reject-Contact", "Request-Disposition", "Identity-Info",
                             "Session-Expires"]


def test_same_transaction_same_direction_is_a_retransmission_but_the_ack_and_the_other_leg_are_not():
    decoded = [
        msg(1, UA, TRUNK, method="INVITE"),
        msg(2, UA, TRUNK, method="INVITE"),  # retransmission
        msg(3, TRUNK, UA, status=407, reason="Proxy Authentication Required"),
        msg(4, TRUNK, UA, status=407, reason="Proxy Authentication Required"),  # retransmission
        msg(5, UA, TRUNK, method="ACK"),  # same branch, other method: not a retransmission
        msg(6, UA, TRUNK, method="INVITE", branch="z9hG4bK2", cseq=2, proxy_auth=True),
        msg(7, TRUNK, DEST, method="INVITE", branch="z9hG4bK2", cseq=2, call="c1"),  # other direction
    ]
    observed = to_observed(decoded, ROLES)
    assert [o.is_retransmission for o in observed] == [False, True, False, True, False, False, False]
    assert observed[5].has_authorization and observed[2].reason == "Proxy Authentication Required"
    assert observed[3].label == "407 Proxy Authentication Required (retransmission)"


def test_forked_responses_with_distinct_to_tags_are_not_retransmissions():
    """Two 183s of one INVITE transaction under two To tags are two early dialogs (a forked call), not one
    183 sent twice; the same 183 again (same To tag) is a retransmission."""
    decoded = [
        msg(1, TRUNK, UA, status=183, to_tag="a"),
        msg(2, TRUNK, UA, status=183, to_tag="b"),
        msg(3, TRUNK, UA, status=183, to_tag="b"),
    ]
    assert [o.is_retransmission for o in to_observed(decoded, ROLES)] == [False, False, True]


def test_rtp_bursts_per_direction_end_at_the_next_sip_message():
    decoded = [
        rtp(1, DEST, TRUNK, 1),
        rtp(2, TRUNK, UA, 1),
        rtp(3, DEST, TRUNK, 2),
        rtp(4, TRUNK, UA, 2),
        msg(5, UA, TRUNK, method="BYE"),
        rtp(6, DEST, TRUNK, 3),
    ]
    observed = to_observed(decoded, ROLES)
    assert [(o.src, o.dst, o.kind, o.packet_count, o.frame_no, o.last_frame_no) for o in observed] == [
        ("Destination", "VoIPBin", "rtp", 2, 1, 3),
        ("VoIPBin", "UA", "rtp", 2, 2, 4),
        ("UA", "VoIPBin", "request", 1, 5, None),
        ("Destination", "VoIPBin", "rtp", 1, 6, 6),
    ]
