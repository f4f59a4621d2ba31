"""Client transactions through the layer: exact retransmission times, timeouts, the ACK for a non-2xx,
RFC 6026 Accepted, reliable transports. A fake clock is stepped; nothing sleeps."""

from __future__ import annotations

import pytest

from sipcore.errors import ProtocolError
from sipcore.transaction import (
    ResponseReceived,
    State,
    TransactionTerminated,
    TransactionTimeout,
)
from sipcore.transaction_layer import TransactionLayer

from .test_transaction_support import UAS, Clock, request, response

ROUTE = "<sip:edge.acme.trunk.voipbin.net;lr>"


def event_kinds(clock: Clock) -> list[tuple[float, str]]:
    return [(t, type(e).__name__) for t, e in clock.take_events()]


# --- INVITE client --------------------------------------------------------------------------------


def test_timer_a_retransmits_invite_at_exact_times_and_timer_b_times_out_at_32s() -> None:
    clock = Clock(TransactionLayer())
    invite = request()
    transaction = clock.send_request(invite)
    clock.at(100.0)
    assert clock.send_times() == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert {data for _, data, _ in clock.sent} == {invite.to_bytes()}
    assert {addr for _, _, addr in clock.sent} == {UAS}
    events = clock.take_events()
    assert [(t, type(e).__name__) for t, e in events] == [
        (32.0, "TransactionTimeout"), (32.0, "TransactionTerminated")]
    timeout = events[0][1]
    assert isinstance(timeout, TransactionTimeout) and timeout.timer == "B"
    assert timeout.transaction is transaction and transaction.state is State.TERMINATED
    assert clock.layer.transactions == [] and clock.layer.get_timer() is None


def test_provisional_stops_timer_a_and_timer_b() -> None:
    clock = Clock(TransactionLayer())
    invite = request()
    transaction = clock.send_request(invite)
    clock.at(0.7).receive(response(invite, 180), UAS)
    clock.at(200.0)
    assert clock.send_times() == [0.0, 0.5]
    assert transaction.state is State.PROCEEDING
    assert event_kinds(clock) == [(0.7, "ResponseReceived")]


def test_non_2xx_final_is_acked_with_same_branch_and_the_responses_to_tag() -> None:
    clock = Clock(TransactionLayer())
    invite = request(via_params=";rport", routes=(ROUTE,))
    transaction = clock.send_request(invite)
    clock.at(0.2).receive(response(invite, 100, to_tag=None), UAS)
    clock.take_sent()
    # The UAS stamped received/rport into its copy of our Via: the ACK must carry our original Via.
    busy = response(invite, 486, to_tag="b7c9", via_params="=5070;received=127.0.0.1")
    clock.at(2.0).receive(busy, UAS)
    assert clock.take_sent() == [(2.0, (
        "ACK sip:+15551234567@acme.trunk.voipbin.net SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKinv1;rport\r\n"
        "Max-Forwards: 70\r\n"
        f"Route: {ROUTE}\r\n"
        "From: <sip:alice@acme.trunk.voipbin.net>;tag=ft1\r\n"
        "To: <sip:+15551234567@acme.trunk.voipbin.net>;tag=b7c9\r\n"
        "Call-ID: call-1@127.0.0.1\r\n"
        "CSeq: 1 ACK\r\n"
        "Content-Length: 0\r\n\r\n").encode(), UAS)]
    assert transaction.state is State.COMPLETED
    events = clock.take_events()
    assert [type(e) for _, e in events] == [ResponseReceived, ResponseReceived]
    assert [e.response.status for _, e in events if isinstance(e, ResponseReceived)] == [100, 486]


def test_retransmitted_final_gets_the_ack_again_and_timer_d_ends_the_transaction() -> None:
    clock = Clock(TransactionLayer())
    invite = request()
    transaction = clock.send_request(invite)
    clock.at(1.0).receive(response(invite, 503), UAS)
    ack = clock.take_sent()[-1][1]
    assert ack.startswith(b"ACK ")
    clock.take_events()
    clock.at(1.6).receive(response(invite, 503), UAS)
    assert clock.take_sent() == [(1.6, ack, UAS)]
    assert clock.take_events() == []  # the retransmission is absorbed, not passed up
    assert clock.layer.get_timer() == 33.0  # Timer D: 32 s after the final, no more INVITE retransmits
    clock.at(40.0)
    assert clock.take_sent() == []
    assert event_kinds(clock) == [(33.0, "TransactionTerminated")]
    assert transaction.state is State.TERMINATED
    clock.receive(response(invite, 503), UAS)  # now a stray: discarded
    assert clock.take_sent() == [] and clock.take_events() == []


def test_rfc6026_accepted_passes_every_2xx_up_and_sends_no_ack() -> None:
    clock = Clock(TransactionLayer())
    invite = request()
    transaction = clock.send_request(invite)
    clock.at(1.0).receive(response(invite, 200, to_tag="fork1"), UAS)
    assert clock.take_sent() == [(0.0, invite.to_bytes(), UAS), (0.5, invite.to_bytes(), UAS)]
    assert transaction.state is State.ACCEPTED
    clock.at(1.5).receive(response(invite, 200, to_tag="fork1"), UAS)  # retransmitted 2xx
    clock.at(2.0).receive(response(invite, 200, to_tag="fork2"), UAS)  # 2xx from another fork
    clock.at(2.1).receive(response(invite, 486, to_tag="fork3"), UAS)  # a late non-2xx: absorbed
    passed = [(t, e.response.to.tag) for t, e in clock.take_events() if isinstance(e, ResponseReceived)]
    assert passed == [(1.0, "fork1"), (1.5, "fork1"), (2.0, "fork2")]
    assert clock.take_sent() == []  # the TU acknowledges 2xx responses, not the transaction
    assert clock.layer.get_timer() == 33.0  # Timer M = 64*T1 after the first 2xx
    clock.at(33.0)
    assert event_kinds(clock) == [(33.0, "TransactionTerminated")]


def test_invite_client_on_reliable_transport_never_retransmits_and_acks_then_ends() -> None:
    clock = Clock(TransactionLayer(reliable=True))
    invite = request()
    transaction = clock.send_request(invite)
    assert clock.layer.get_timer() == 32.0  # Timer B only
    clock.at(5.0).receive(response(invite, 404), UAS)
    assert [data[:4] for _, data, _ in clock.take_sent()] == [b"INVI", b"ACK "]
    assert event_kinds(clock) == [(5.0, "ResponseReceived"), (5.0, "TransactionTerminated")]
    assert transaction.state is State.TERMINATED  # Timer D = 0


def test_invite_client_reliable_timer_b() -> None:
    clock = Clock(TransactionLayer(reliable=True))
    clock.send_request(request())
    clock.at(60.0)
    assert clock.send_times() == [0.0]
    assert event_kinds(clock) == [(32.0, "TransactionTimeout"), (32.0, "TransactionTerminated")]


# --- non-INVITE client ----------------------------------------------------------------------------


def test_timer_e_doubles_up_to_t2_and_timer_f_times_out_at_32s() -> None:
    clock = Clock(TransactionLayer())
    options = request("OPTIONS", branch="z9hG4bKopt1")
    clock.send_request(options)
    clock.at(100.0)
    assert clock.send_times() == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    events = clock.take_events()
    assert [(t, type(e).__name__) for t, e in events] == [
        (32.0, "TransactionTimeout"), (32.0, "TransactionTerminated")]
    assert isinstance(events[0][1], TransactionTimeout) and events[0][1].timer == "F"


def test_timer_e_in_proceeding_retransmits_every_t2() -> None:
    clock = Clock(TransactionLayer())
    bye = request("BYE", branch="z9hG4bKbye1", to_tag="uas1", cseq=2)
    transaction = clock.send_request(bye)
    clock.at(0.2).receive(response(bye, 100, to_tag="uas1"), UAS)
    assert transaction.state is State.PROCEEDING
    clock.at(100.0)
    assert clock.send_times() == [0.0, 0.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5]
    assert event_kinds(clock) == [(0.2, "ResponseReceived"), (32.0, "TransactionTimeout"),
                                  (32.0, "TransactionTerminated")]


def test_non_invite_final_completes_absorbs_retransmissions_and_timer_k_ends() -> None:
    clock = Clock(TransactionLayer())
    options = request("OPTIONS", branch="z9hG4bKopt2")
    transaction = clock.send_request(options)
    clock.at(1.0).receive(response(options, 200), UAS)
    clock.at(1.2).receive(response(options, 200), UAS)
    assert event_kinds(clock) == [(1.0, "ResponseReceived")]
    assert transaction.state is State.COMPLETED
    assert clock.layer.get_timer() == 6.0  # Timer K = T4
    clock.at(10.0)
    assert clock.send_times() == [0.0, 0.5]
    assert event_kinds(clock) == [(6.0, "TransactionTerminated")]


def test_non_invite_client_reliable_sends_once_and_ends_on_the_final() -> None:
    clock = Clock(TransactionLayer(reliable=True))
    options = request("OPTIONS", branch="z9hG4bKopt3")
    clock.send_request(options)
    clock.at(3.0).receive(response(options, 200), UAS)
    assert clock.send_times() == [0.0]
    assert event_kinds(clock) == [(3.0, "ResponseReceived"), (3.0, "TransactionTerminated")]


# --- matching and local misuse --------------------------------------------------------------------


def test_response_matches_by_branch_and_cseq_method() -> None:
    clock = Clock(TransactionLayer())
    invite = request(branch="z9hG4bKshared")
    cancel = request("CANCEL", branch="z9hG4bKshared")
    invite_tx = clock.send_request(invite)
    cancel_tx = clock.send_request(cancel)
    clock.at(0.3).receive(response(cancel, 200), UAS)
    clock.receive(response(invite, 487), UAS)
    by_tx = [(e.transaction, e.response.status) for _, e in clock.take_events()
             if isinstance(e, ResponseReceived)]
    assert by_tx == [(cancel_tx, 200), (invite_tx, 487)]


def test_stray_responses_are_discarded() -> None:
    clock = Clock(TransactionLayer())
    clock.receive(response(request(branch="z9hG4bKnobody"), 200), UAS)
    clock.receive(response(request("OPTIONS", branch="z9hG4bKnobody"), 404), UAS)
    assert clock.take_events() == [] and clock.take_sent() == []


@pytest.mark.parametrize("branch", ["", "1234abcd", "z9hG4bK"])
def test_send_request_refuses_a_branch_without_the_magic_cookie(branch: str) -> None:
    layer = TransactionLayer()
    with pytest.raises(ProtocolError, match="branch"):
        layer.send_request(request(branch=branch), UAS, 0.0)
    assert layer.transactions == [] and layer.datagrams_to_send(0.0) == []


def test_send_request_refuses_ack_and_duplicate_transactions() -> None:
    layer = TransactionLayer()
    with pytest.raises(ProtocolError, match="send_stateless"):
        layer.send_request(request("ACK"), UAS, 0.0)
    layer.send_request(request(), UAS, 0.0)
    with pytest.raises(ProtocolError, match="already exists"):
        layer.send_request(request(), UAS, 0.1)


def test_send_stateless_sends_the_ack_for_a_2xx_as_is() -> None:
    layer = TransactionLayer()
    ack = request("ACK", branch="z9hG4bKack2xx", to_tag="uas1")
    layer.send_stateless(ack, UAS)
    assert layer.datagrams_to_send(0.0) == [(ack.to_bytes(), UAS)]
    assert layer.transactions == []


def test_terminated_event_names_the_transaction() -> None:
    clock = Clock(TransactionLayer())
    options = request("OPTIONS", branch="z9hG4bKopt4")
    transaction = clock.send_request(options)
    clock.at(0.1).receive(response(options, 200), UAS)
    clock.at(10.0)
    terminated = [e for _, e in clock.take_events() if isinstance(e, TransactionTerminated)]
    assert [e.transaction for e in terminated] == [transaction]
