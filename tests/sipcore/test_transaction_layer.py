"""The layer's transport duties: Via stamping (received/rport), response addressing, RFC 2543 matching
with the RFC 4475 messages, and the ids and timer values it relies on."""

from __future__ import annotations

import random

import pytest

from sipcore.errors import ProtocolError
from sipcore.ids import IdGenerator, has_magic_cookie
from sipcore.message import Request, Response
from sipcore.parser import parse_message
from sipcore.timers import TimerConfig
from sipcore.transaction import RequestReceived, State
from sipcore.transaction_layer import TransactionLayer, response_address, stamp_via

from ..paths import RFC4475_DIR as RFC4475  # noqa: E402
from .test_transaction_support import UAC, UAS, Clock, request, response, tu_response

PEER = ("127.0.0.5", 40000)


def load(name: str) -> Request:
    message = parse_message((RFC4475 / name).read_bytes())
    assert isinstance(message, Request)
    return message


def requests_received(clock: Clock) -> list[RequestReceived]:
    return [e for _, e in clock.take_events() if isinstance(e, RequestReceived)]


# --- Via stamping and response address (RFC 3261 §18.2, RFC 3581) ----------------------------------


def test_rport_is_filled_and_received_added_even_when_the_host_matches() -> None:
    clock = Clock(TransactionLayer(auto_100_delay=0))
    clock.receive(request(via="127.0.0.5:5070", via_params=";rport"), PEER)
    [event] = requests_received(clock)
    assert event.request.headers.get("Via") == (
        "SIP/2.0/UDP 127.0.0.5:5070;branch=z9hG4bKinv1;rport=40000;received=127.0.0.5")
    [(_, data, addr)] = clock.take_sent()
    assert addr == PEER  # the 100 Trying goes back through the NAT binding
    assert b"\r\nVia: SIP/2.0/UDP 127.0.0.5:5070;branch=z9hG4bKinv1;rport=40000;received=127.0.0.5\r\n" in data


def test_received_is_added_when_sent_by_differs_and_responses_go_to_it_on_the_sent_by_port() -> None:
    clock = Clock(TransactionLayer(auto_100_delay=0))
    clock.receive(request(via="uac.example.com:5070"), PEER)
    [event] = requests_received(clock)
    assert event.request.top_via.received == "127.0.0.5"
    assert event.request.top_via.rport is None
    assert clock.take_sent()[0][2] == ("127.0.0.5", 5070)


def test_via_is_left_alone_when_sent_by_is_the_source_and_other_headers_keep_their_bytes() -> None:
    clock = Clock(TransactionLayer(auto_100_delay=0))
    original = request(via="127.0.0.5:5070")
    wire = original.to_bytes()
    clock.receive(original, PEER)
    [event] = requests_received(clock)
    assert event.request.to_bytes() == wire
    assert clock.take_sent()[0][2] == ("127.0.0.5", 5070)  # no rport asked: the sent-by port


def test_stamping_keeps_the_other_via_values_and_header_order() -> None:
    clock = Clock(TransactionLayer())
    original = request(via="10.0.0.1:5060", via_params=";rport, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb")
    clock.receive(original, PEER)
    [event] = requests_received(clock)
    names = [name for name, _ in event.request.headers]
    assert names == [name for name, _ in original.headers]
    assert event.request.headers.values("Via")[1] == "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb"


def test_reliable_transport_answers_over_the_connection() -> None:
    clock = Clock(TransactionLayer(reliable=True, auto_100_delay=0))
    clock.receive(request(via="uac.example.com:5070"), PEER)
    assert clock.take_sent()[0][2] == PEER


@pytest.mark.parametrize(("sent_by", "params", "expected"), [
    # rport asked: filled, and received added even when the host matches (RFC 3581 §4)
    ("127.0.0.5:5070", ";rport", ";branch=z9hG4bKinv1;rport=40000;received=127.0.0.5"),
    ("127.0.0.5:5070", ";RPORT", ";branch=z9hG4bKinv1;RPORT=40000;received=127.0.0.5"),
    ("127.0.0.5:5070", ";rport;Received=10.9.9.9;x", ";branch=z9hG4bKinv1;rport=40000;Received=127.0.0.5;x"),
    ("127.0.0.5:5070", ";rport;RPort", ";branch=z9hG4bKinv1;rport=40000;RPort;received=127.0.0.5"),
    # rport already filled: only the host decides
    ("127.0.0.5:5070", ";rport=1234", None),
    ("10.0.0.1:5070", ";rport=1234", ";branch=z9hG4bKinv1;rport=1234;received=127.0.0.5"),
    # no rport: received only when the sent-by host is not the source, and not when it already says so
    ("127.0.0.5", "", None),
    ("uac.example.com", "", ";branch=z9hG4bKinv1;received=127.0.0.5"),
    ("uac.example.com", ";received=127.0.0.5", None),
    ("uac.example.com", ";RECEIVED=10.1.1.1;ttl=1", ";branch=z9hG4bKinv1;RECEIVED=127.0.0.5;ttl=1"),
])
def test_stamp_via(sent_by: str, params: str, expected: str | None) -> None:
    """stamp_via returns the top Via as it is after stamping: the same object when nothing changes."""
    req = request(via=sent_by, via_params=params)
    before = req.top_via
    wire = req.to_bytes()
    after = stamp_via(req, PEER)
    assert after is req.top_via
    if expected is None:
        assert after is before
        assert req.to_bytes() == wire
    else:
        assert req.headers.get("Via") == f"SIP/2.0/UDP {sent_by}{expected}"
        assert after == parse_message(req.to_bytes()).top_via  # type: ignore[union-attr]


@pytest.mark.parametrize(("via", "expected"), [
    ("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx", ("192.0.2.1", 5060)),
    ("SIP/2.0/TLS host.example;branch=z9hG4bKx", ("host.example", 5061)),
    ("SIP/2.0/UDP 192.0.2.1:5080;received=198.18.0.1;branch=z9hG4bKx", ("198.18.0.1", 5080)),
    ("SIP/2.0/UDP 192.0.2.1:5080;received=198.18.0.1;rport=6000;branch=z9hG4bKx", ("198.18.0.1", 6000)),
    ("SIP/2.0/UDP 192.0.2.1:5080;maddr=239.255.255.1;branch=z9hG4bKx", ("239.255.255.1", 5080)),
    ("SIP/2.0/UDP 192.0.2.1:5080;rport=6000;branch=z9hG4bKx", ("192.0.2.1", 5080)),  # rport without received
    ("SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKx", ("2001:db8::1", 5070)),
])
def test_response_address(via: str, expected: tuple[str, int]) -> None:
    from sipcore.headers import parse_via

    assert response_address(parse_via(via), ("127.0.0.1", 1), reliable=False) == expected


# --- RFC 2543 matching (RFC 3261 §17.2.3, RFC 4475 §3.2.1 and §3.4.1) -------------------------------


def test_inv2543_retransmission_matches_by_the_rfc2543_rules() -> None:
    clock = Clock(TransactionLayer())
    clock.receive(load("inv2543.dat"), PEER)
    [event] = requests_received(clock)
    transaction = event.transaction
    assert transaction is not None and transaction.branch == ""
    clock.at(0.1).send_response(tu_response(event.request, 180, to_tag="t2543"))
    ringing = clock.take_sent()[0][1]
    clock.at(0.6).receive(load("inv2543.dat"), PEER)
    # absorbed, the 180 resent to received and the sent-by port (no rport in 2543 Via)
    assert requests_received(clock) == [] and clock.take_sent() == [(0.6, ringing, ("127.0.0.5", 5060))]
    # the same INVITE with a new CSeq is a new transaction
    newer = load("inv2543.dat")
    newer.headers.set("CSeq", "57 INVITE")
    clock.receive(newer, PEER)
    assert len(requests_received(clock)) == 1 and len(clock.layer.transactions) == 2


def rfc2543_ack(to_tag: str) -> Request:
    invite = load("inv2543.dat")
    ack = Request("ACK", invite.uri, [(n, v) for n, v in invite.headers if n not in ("Content-Type",)])
    ack.headers.set("CSeq", "56 ACK")
    ack.headers.set("To", f"{invite.headers.get('To')};tag={to_tag}")
    ack.headers.set("Content-Length", "0")
    return ack


def test_inv2543_ack_matches_only_with_the_final_responses_to_tag() -> None:
    clock = Clock(TransactionLayer())
    clock.receive(load("inv2543.dat"), PEER)
    [event] = requests_received(clock)
    clock.send_response(tu_response(event.request, 486, to_tag="t2543"))
    wrong = rfc2543_ack("other")
    clock.at(0.2).receive(wrong, PEER)
    assert requests_received(clock) == [RequestReceived(wrong, PEER, None)]
    transaction = event.transaction
    assert transaction is not None and transaction.state is State.COMPLETED
    clock.at(0.3).receive(rfc2543_ack("t2543"), PEER)
    assert requests_received(clock) == []
    assert transaction.state.value == "Confirmed"


def test_inv2543_cancel_names_the_invite() -> None:
    clock = Clock(TransactionLayer())
    clock.receive(load("inv2543.dat"), PEER)
    [invite_event] = requests_received(clock)
    cancel = load("inv2543.dat")
    cancel = Request("CANCEL", cancel.uri, [(n, v) for n, v in cancel.headers if n != "Content-Type"])
    cancel.headers.set("CSeq", "56 CANCEL")
    cancel.headers.set("Content-Length", "0")
    clock.receive(cancel, PEER)
    [cancel_event] = requests_received(clock)
    assert cancel_event.transaction is not None and cancel_event.transaction.method == "CANCEL"
    assert cancel_event.invite_transaction is invite_event.transaction


def test_badbranch_bare_magic_cookie_falls_back_to_rfc2543_matching() -> None:
    clock = Clock(TransactionLayer())
    clock.receive(load("badbranch.dat"), PEER)
    [first] = requests_received(clock)
    clock.receive(load("badbranch.dat"), PEER)  # a retransmission: absorbed
    assert requests_received(clock) == []
    # Same bare "z9hG4bK" branch, another call: RFC 3261 matching would wrongly merge it.
    other = load("badbranch.dat")
    other.headers.set("Call-ID", "another.call@127.0.0.5")
    clock.receive(other, PEER)
    [second] = requests_received(clock)
    assert second.transaction is not first.transaction
    clock.send_response(tu_response(second.request, 200))
    clock.send_response(tu_response(first.request, 404))
    sent = {parse_message(d).call_id: parse_message(d) for _, d, _ in clock.take_sent()}
    assert {k: v.status for k, v in sent.items() if isinstance(v, Response)} == {
        "another.call@127.0.0.5": 200, "badbranch.sadonfo23i420jv0as0derf3j3n": 404}


def test_rfc2543_requests_differing_only_in_request_uri_are_answered_through_their_own_transactions() -> None:
    """Two RFC 2543 INVITEs alike but for the Request-URI are two transactions (§17.2.3), which a response
    cannot tell apart: it carries no Request-URI. The TU names the transaction; a response sent without
    one is refused as ambiguous, never sent through the wrong (here already completed) transaction."""
    clock = Clock(TransactionLayer(auto_100_delay=None))
    clock.receive(load("inv2543.dat"), PEER)
    [first] = requests_received(clock)
    clock.send_response(tu_response(first.request, 404), first.transaction)
    other_uri = load("inv2543.dat")
    other_uri.uri = "tel:+16505552222"
    clock.at(0.1).receive(other_uri, PEER)
    [second] = requests_received(clock)
    assert second.transaction is not None and second.transaction is not first.transaction
    refusal = tu_response(second.request, 416)
    with pytest.raises(ProtocolError, match="matches 2 RFC 2543 server transactions"):
        clock.send_response(refusal)
    clock.send_response(refusal, second.transaction)
    assert [parse_message(d).status for _, d, _ in clock.take_sent()] == [404, 416]  # type: ignore[union-attr]
    assert first.transaction is not None and first.transaction.state is State.COMPLETED
    assert second.transaction.state is State.COMPLETED and second.transaction.last_response is not None
    assert second.transaction.last_response.status == 416


# --- junk from the network ------------------------------------------------------------------------


def test_unparsable_via_or_cseq_is_dropped_not_raised() -> None:
    clock = Clock(TransactionLayer())
    broken = request()
    broken.headers.set("Via", "garbage")
    clock.receive(broken, PEER)
    response = Response(200, headers=[("Via", "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx"), ("CSeq", "x")])
    clock.receive(response, PEER)
    assert clock.take_events() == [] and clock.take_sent() == [] and clock.layer.transactions == []


def test_early_ack_is_absorbed_in_proceeding() -> None:
    clock = Clock(TransactionLayer(auto_100_delay=None))
    clock.receive(request(), UAC)
    clock.take_events()
    clock.receive(request("ACK"), UAC)
    assert clock.take_events() == [] and clock.take_sent() == []


# --- timers and ids -------------------------------------------------------------------------------


def test_timer_values_follow_rfc3261_table_4_and_rfc6026() -> None:
    udp = TimerConfig()
    assert (udp.timer_a, udp.timer_b, udp.timer_d, udp.timer_e, udp.timer_f, udp.timer_g) == (
        0.5, 32.0, 32.0, 0.5, 32.0, 0.5)
    assert (udp.timer_h, udp.timer_i, udp.timer_j, udp.timer_k, udp.timer_l, udp.timer_m) == (
        32.0, 5.0, 32.0, 5.0, 32.0, 32.0)
    tcp = TimerConfig(reliable=True)
    assert (tcp.timer_b, tcp.timer_d, tcp.timer_i, tcp.timer_j, tcp.timer_k, tcp.timer_h) == (
        32.0, 0.0, 0.0, 0.0, 0.0, 32.0)
    assert not tcp.retransmits and udp.retransmits
    assert TimerConfig(t1=1.0, t2=8.0).timer_d == 64.0  # D stays at least 64*T1 (and >= 32 s)
    with pytest.raises(ValueError, match="T1"):
        TimerConfig(t1=5.0, t2=4.0)


def test_layer_reliable_flag_overrides_the_timer_config() -> None:
    assert TransactionLayer(reliable=True).timers == TimerConfig(reliable=True)
    assert TransactionLayer(timers=TimerConfig(t1=0.1, reliable=True)).reliable
    assert not TransactionLayer(reliable=False, timers=TimerConfig(reliable=True)).reliable


def test_ids_are_deterministic_with_a_seeded_source_and_well_formed() -> None:
    a, b = IdGenerator(random.Random(7)), IdGenerator(random.Random(7))
    assert [a.branch(), a.tag(), a.call_id("127.0.0.1"), a.cnonce()] == [
        b.branch(), b.tag(), b.call_id("127.0.0.1"), b.cnonce()]
    ids = IdGenerator(random.Random(1))
    branch = ids.branch()
    assert has_magic_cookie(branch) and len(branch) == 7 + 20
    assert len(ids.tag()) == 16 and ids.call_id("h").endswith("@h") and len(ids.cnonce()) == 32
    assert len({ids.branch() for _ in range(1000)}) == 1000


def test_ids_accept_a_token_source() -> None:
    ids = IdGenerator(lambda n: bytes(range(n)))
    assert ids.branch() == "z9hG4bK00010203040506070809"
    assert ids.tag() == "0001020304050607"
    with pytest.raises(ValueError, match="octets"):
        IdGenerator(lambda n: b"x").tag()
    with pytest.raises(TypeError):
        IdGenerator(42)  # type: ignore[arg-type]


def test_magic_cookie_check() -> None:
    assert has_magic_cookie("z9hG4bK776asdhds")
    assert not has_magic_cookie("z9hG4bK") and not has_magic_cookie(None) and not has_magic_cookie("abc")


def test_abandoning_an_invite_stuck_in_proceeding_ends_it_and_sends_nothing_more() -> None:
    """RFC 3261 §9.1: a CANCELled INVITE whose peer never sends a final response is given up by the TU."""
    clock = Clock(TransactionLayer())
    invite = request()
    transaction = clock.layer.send_request(invite, UAS, clock.now)
    clock.collect()
    clock.layer.receive(response(invite, 180), UAS, clock.now)
    clock.collect()
    assert transaction.state is State.PROCEEDING and clock.layer.get_timer() is None
    sent_before = len(clock.sent)
    clock.layer.abandon(transaction)
    clock.collect()
    assert transaction.terminated
    assert [type(e).__name__ for _, e in clock.events][-1] == "TransactionTerminated"
    assert transaction not in clock.layer.transactions
    clock.layer.receive(response(invite, 487), UAS, clock.now)  # a late final is now a stray
    clock.collect()
    assert len(clock.sent) == sent_before
