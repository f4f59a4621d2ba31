"""Decoding captured SIP/RTP with tshark: fields, non-standard ports, batches, and the observed flow."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from harness.capture.decode import (
    DecodedMessage,
    DecodedRtp,
    decode_file,
    decode_many,
    pcap_packet_count,
    to_observed,
)
from harness.capture.sniffer import Capture
from harness.ladder import compare, parse_ladder, render_observed

from ..addresses import loopback
from . import traffic as t
from .test_capture import needs_capture
from .test_ladder_format import _spec_ladders

needs_tshark = pytest.mark.skipif(
    shutil.which("tshark") is None, reason="tshark not installed (apt-get install tshark)"
)
pytestmark = [needs_tshark, needs_capture]

TCP_TRUNK = (loopback(62), 5081)


def _tcp_exchange() -> None:
    """Two SIP requests in one TCP segment to a non-standard port."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(TCP_TRUNK)
    server.listen(1)
    server.settimeout(2.0)
    client = socket.create_connection(TCP_TRUNK, timeout=2.0, source_address=(loopback(61), 0))
    conn, _ = server.accept()
    conn.settimeout(2.0)

    def msg(n: int) -> bytes:
        via = (loopback(61), client.getsockname()[1])
        return t.sip(
            "OPTIONS sip:trunk.example SIP/2.0", call=f"tcp-{n}", cseq=f"{n} OPTIONS", branch=f"o{n}", via=via
        )

    client.sendall(msg(1) + msg(2))
    received = b""
    while len(received) < len(msg(1)) * 2:
        received += conn.recv(65536)
    for s in (client, conn, server):
        s.close()


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("decode")
    paths = {name: folder / f"{name}.pcap" for name in ("early", "hangup", "tcp", "empty", "relayed-as-500")}
    addresses = [loopback(61), loopback(62), loopback(63)]
    with t.Endpoints() as ep:
        with Capture(paths["early"], addresses=addresses):
            t.early_media_call(ep)
        with Capture(paths["hangup"], addresses=addresses):
            t.hangup_cause_call(ep)
        with Capture(paths["relayed-as-500"], addresses=addresses):
            t.hangup_cause_call(ep, relayed_status="500 Server Internal Error")
    with Capture(paths["tcp"], bpf_filter="tcp", addresses=addresses):
        _tcp_exchange()
    with Capture(paths["empty"], addresses=[loopback(69)]):
        pass
    decoded = decode_many(list(paths.values()), sip_ports=(*t.SIP_PORTS, TCP_TRUNK[1]))
    return paths, {name: decoded[path] for name, path in paths.items()}


def _sip(items):
    return [d for d in items if isinstance(d, DecodedMessage)]


def test_sip_on_non_standard_ports_in_order(captures):
    _, decoded = captures
    summary = [(m.src[1], m.dst[1], m.method or m.status) for m in _sip(decoded["early"])]
    assert summary == [
        (15060, 5080, "INVITE"),
        (5080, 15060, 407),
        (15060, 5080, "ACK"),
        (15060, 5080, "INVITE"),
        (5080, 15060, 100),
        (5080, 5090, "INVITE"),
        (5080, 5090, "INVITE"),
        (5090, 5080, 100),
        (5090, 5080, 183),
        (5080, 15060, 183),
    ]


def test_request_fields(captures):
    _, decoded = captures
    first, _, ack, authed = _sip(decoded["early"])[:4]
    assert (first.kind, first.method, first.transport) == ("request", "INVITE", "udp")
    assert first.src == t.UA and first.dst == t.TRUNK
    assert (first.call_id, first.cseq_num, first.cseq_method) == (f"a-call@{loopback(61)}", 1, "INVITE")
    assert (first.via_branch, first.from_tag, first.to_tag) == ("z9hG4bKa1", "from-1", None)
    assert first.user_agent == "trunkcheck-ua/1.0"
    assert first.has_sdp and (first.sdp_connection_address, first.sdp_media_port) == t.UA_RTP
    assert not first.has_proxy_authorization and not first.has_authorization
    assert authed.has_proxy_authorization and not authed.has_authorization
    assert authed.header("proxy-authorization") == [t.DIGEST]
    assert authed.cseq_num == 2 and authed.via_branch == "z9hG4bKa2"
    assert (ack.method, ack.cseq_method, ack.via_branch, ack.to_tag) == ("ACK", "ACK", "z9hG4bKa1", "t-407")
    assert list(first.headers) == [
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "User-Agent",
        "Max-Forwards",
        "Content-Type",
        "Content-Length",
    ]
    assert first.header("v") == [f"SIP/2.0/UDP {loopback(61)}:15060;branch=z9hG4bKa1;rport"]


def test_response_fields_and_reason_header(captures):
    _, decoded = captures
    challenge = _sip(decoded["early"])[1]
    assert (challenge.kind, challenge.status, challenge.reason) == (
        "response",
        407,
        "Proxy Authentication Required",
    )
    assert challenge.to_tag == "t-407" and challenge.cseq_method == "INVITE"
    relayed_183 = _sip(decoded["early"])[-1]
    assert (relayed_183.status, relayed_183.reason) == (183, "Session Progress")
    assert (relayed_183.sdp_connection_address, relayed_183.sdp_media_port) == t.TRUNK_RTP_A
    not_found = _sip(decoded["hangup"])[-1]
    assert (not_found.status, not_found.reason) == (404, "Not Found")
    assert not_found.reason_header == 'Q.850;cause=1;text="Unallocated (unassigned) number"'


def test_rtp_found_by_the_heuristic(captures):
    _, decoded = captures
    rtp = [d for d in decoded["early"] if isinstance(d, DecodedRtp)]
    assert len(rtp) == 10
    from_dest = [p for p in rtp if p.src == t.DEST_RTP]
    assert [p.seq for p in from_dest] == [1000, 1001, 1002, 1003, 1004]
    assert {(p.ssrc, p.payload_type, p.dst) for p in from_dest} == {(0xD0D0D0D0, 0, t.TRUNK_RTP_B)}


def test_two_sip_messages_in_one_tcp_segment(captures):
    _, decoded = captures
    msgs = _sip(decoded["tcp"])
    assert [(m.method, m.cseq_num, m.transport) for m in msgs] == [
        ("OPTIONS", 1, "tcp"),
        ("OPTIONS", 2, "tcp"),
    ]
    assert msgs[0].frame_no == msgs[1].frame_no and msgs[0].dst == TCP_TRUNK


def test_batch_decode_matches_one_by_one_with_per_file_frame_numbers(captures):
    paths, decoded = captures
    assert decoded["empty"] == [] and pcap_packet_count(paths["empty"]) == 0
    for name in ("early", "hangup"):
        alone = decode_file(paths[name], sip_ports=t.SIP_PORTS)
        assert alone == decoded[name]
        assert decoded[name][0].frame_no == 1
        assert len(decoded[name]) == pcap_packet_count(paths[name])


def test_observed_flow_marks_retransmissions_and_groups_rtp(captures):
    _, decoded = captures
    observed = to_observed(decoded["early"], t.ROLES)
    labels = [(o.src, o.dst, o.label) for o in observed]
    assert labels[5:7] == [
        ("VoIPBin", "Destination", "INVITE"),
        ("VoIPBin", "Destination", "INVITE (retransmission)"),
    ]
    assert labels[-2:] == [
        ("Destination", "VoIPBin", "RTP Media (5 packets)"),
        ("VoIPBin", "UA", "RTP Media (5 packets)"),
    ]
    assert observed[3].has_authorization and observed[3].label == "INVITE with Authorization"
    burst = observed[-2]
    assert burst.last_frame_no is not None and burst.last_frame_no > observed[-1].frame_no


def test_roles_by_address_and_port_and_unknown_endpoints(captures):
    _, decoded = captures
    roles = {t.UA: "UA", t.TRUNK[0]: "VoIPBin"}
    observed = to_observed(decoded["early"], roles)
    assert observed[0].src == "UA" and observed[5].dst == f"{loopback(63)}:5090"
    assert observed[-2].src == f"{loopback(63)}:40000"  # the UA's (ip, port) entry does not cover other ports


def test_captured_flows_follow_the_spec_ladders(captures):
    _, decoded = captures
    _, early, hangup = _spec_ladders()
    observed = to_observed(decoded["early"], t.ROLES)
    result = compare(early, observed)
    assert result.ok, result.divergence
    assert any("'183 Ringing'" in n and "'183 Session Progress'" in n for n in result.notes)
    assert compare(hangup, to_observed(decoded["hangup"], t.ROLES)).ok
    drawn = render_observed(observed, early.columns)
    assert parse_ladder(drawn).steps[6].label == "INVITE (retransmission)"


def test_404_relayed_as_500_is_caught_from_the_capture(captures):
    _, decoded = captures
    _, _, hangup = _spec_ladders()
    result = compare(hangup, to_observed(decoded["relayed-as-500"], t.ROLES))
    assert not result.ok
    assert (
        "line 113" in result.divergence
        and "observed 500 Server Internal Error VoIPBin -> UA" in result.divergence
    )


def test_capture_file_record_count(tmp_path):
    path = Path(tmp_path / "n.pcap")
    a, b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind((loopback(64), 0))
    b.bind((loopback(65), 0))
    with Capture(path, addresses=[loopback(64)]):
        for k in range(7):
            a.sendto(t.rtp(k, 1), b.getsockname())
    a.close()
    b.close()
    assert pcap_packet_count(path) == 7
