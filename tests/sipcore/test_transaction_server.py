"""Server transactions through the layer: 100 Trying, absorbing retransmissions, Timers G/H/I/J/L,
RFC 6026 Accepted, local misuse, CANCEL. A fake clock is stepped; nothing sleeps."""

from __future__ import annotations

import pytest

from sipcore.errors import ProtocolError
from sipcore.message import Response
from sipcore.parser import parse_message
from sipcore.transaction import RequestReceived, ServerTransaction, State, TransactionTimeout
from sipcore.transaction_layer import TransactionLayer

from .test_transaction_support import UAC, Clock, request, tu_response


def received(clock: Clock) -> RequestReceived:
    events = [e for _, e in clock.take_events()]
    assert len(events) == 1 and isinstance(events[0], RequestReceived), events
    return events[0]


def serve(clock: Clock, method: str = "INVITE", **kwargs: object) -> RequestReceived:
    clock.receive(request(method, **kwargs), UAC)  # type: ignore[arg-type]
    return received(clock)


def server_tx(event: RequestReceived) -> ServerTransaction:
    assert event.transaction is not None
    return event.transaction


def statuses(clock: Clock) -> list[tuple[float, int]]:
    out = []
    for t, data, _ in clock.take_sent():
        message = parse_message(data)
        assert isinstance(message, Response)
        out.append((t, message.status))
    return out


# --- 100 Trying -----------------------------------------------------------------------------------


def test_100_trying_is_sent_after_200ms_without_a_to_tag() -> None:
    clock = Clock(TransactionLayer())
    event = serve(clock)
    assert event.addr == UAC and server_tx(event).state is State.PROCEEDING
    assert clock.layer.get_timer() == 0.2
    clock.at(1.0)
    [(t, data, addr)] = clock.take_sent()
    assert (t, addr) == (0.2, UAC)
    trying = parse_message(data)
    assert isinstance(trying, Response) and trying.status == 100 and trying.reason == "Trying"
    assert trying.to.tag is None and trying.top_via.branch == "z9hG4bKinv1"


def test_100_trying_is_not_sent_when_the_tu_answers_within_200ms() -> None:
    clock = Clock(TransactionLayer())
    event = serve(clock)
    clock.at(0.15).send_response(tu_response(event.request, 180))
    clock.at(10.0)
    assert statuses(clock) == [(0.15, 180)]


def test_auto_100_delay_is_configurable() -> None:
    at_once = Clock(TransactionLayer(auto_100_delay=0))
    serve(at_once)
    assert statuses(at_once) == [(0.0, 100)]
    never = Clock(TransactionLayer(auto_100_delay=None))
    serve(never)
    never.at(10.0)
    assert never.take_sent() == [] and never.layer.get_timer() is None


def test_100_trying_copies_the_timestamp() -> None:
    clock = Clock(TransactionLayer(auto_100_delay=0))
    serve(clock, extra=("Timestamp: 54.3",))
    trying = parse_message(clock.take_sent()[0][1])
    assert trying.headers.get("Timestamp") == "54.3"


# --- INVITE server: Proceeding and Completed ------------------------------------------------------


def test_retransmitted_invite_in_proceeding_gets_the_last_provisional_again() -> None:
    clock = Clock(TransactionLayer(auto_100_delay=None))
    event = serve(clock)
    clock.at(0.1).receive(request(), UAC)  # nothing sent yet: nothing to resend
    assert clock.take_sent() == [] and clock.take_events() == []
    clock.at(0.3).send_response(tu_response(event.request, 180))
    ringing = clock.take_sent()[0][1]
    clock.at(0.5).receive(request(), UAC)
    assert clock.take_sent() == [(0.5, ringing, UAC)]
    assert clock.take_events() == []  # the retransmission is absorbed, not passed to the TU


def test_timer_g_retransmits_the_final_until_timer_h() -> None:
    clock = Clock(TransactionLayer())
    event = serve(clock)
    clock.at(1.0).send_response(tu_response(event.request, 486))
    clock.take_events()
    clock.at(100.0)
    times = [t for t, _, _ in clock.sent if t >= 1.0]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert {data for t, data, _ in clock.sent if t >= 1.0} == {clock.sent[-1][1]}
    events = clock.take_events()
    assert [(t, type(e).__name__) for t, e in events] == [
        (33.0, "TransactionTimeout"), (33.0, "TransactionTerminated")]
    assert isinstance(events[0][1], TransactionTimeout) and events[0][1].timer == "H"


def test_completed_resends_final_for_invite_and_absorbs_the_ack() -> None:
    clock = Clock(TransactionLayer())
    event = serve(clock)
    transaction = server_tx(event)
    clock.at(0.1).send_response(tu_response(event.request, 603))
    final = clock.take_sent()[0][1]
    clock.at(0.2).receive(request(), UAC)
    assert clock.take_sent() == [(0.2, final, UAC)]
    clock.at(0.3).receive(request("ACK", to_tag="uas1"), UAC)
    assert transaction.state is State.CONFIRMED
    assert clock.take_events() == []  # the ACK for a non-2xx stays in the transaction
    clock.at(0.4).receive(request("ACK", to_tag="uas1"), UAC)
    clock.at(100.0)
    assert clock.take_sent() == []  # Timer G stopped by the ACK
    assert [(t, type(e).__name__) for t, e in clock.take_events()] == [(5.3, "TransactionTerminated")]


def test_rfc6026_accepted_absorbs_invite_retransmissions_and_lets_the_tu_resend_2xx() -> None:
    clock = Clock(TransactionLayer())
    event = serve(clock)
    transaction = server_tx(event)
    ok = tu_response(event.request, 200)
    clock.at(0.1).send_response(ok)
    assert transaction.state is State.ACCEPTED
    clock.at(0.6).receive(request(), UAC)
    assert clock.take_events() == []
    assert statuses(clock) == [(0.1, 200)]  # the retransmitted INVITE is absorbed, 2xx not resent
    clock.at(0.6).send_response(ok)  # the TU retransmits its 2xx
    assert statuses(clock) == [(0.6, 200)]
    ack = request("ACK", branch="z9hG4bKack2xx", to_tag="uas1")  # ACK for a 2xx: its own branch
    clock.at(0.7).receive(ack, UAC)
    assert received(clock) == RequestReceived(ack, UAC, None)
    assert clock.layer.get_timer() == 32.1  # Timer L = 64*T1
    clock.at(40.0)
    assert [type(e).__name__ for _, e in clock.take_events()] == ["TransactionTerminated"]


def test_ack_reusing_the_invite_branch_in_accepted_goes_to_the_tu() -> None:
    clock = Clock(TransactionLayer())
    event = serve(clock)
    clock.send_response(tu_response(event.request, 200))
    ack = request("ACK", to_tag="uas1")
    clock.at(0.1).receive(ack, UAC)
    assert received(clock) == RequestReceived(ack, UAC, None)


@pytest.mark.parametrize(("first", "second", "state", "what"), [
    (486, 486, "Completed", "send a 300-699 response"),
    (486, 200, "Completed", "send a 2xx response"),
    (486, 180, "Completed", "send a 1xx response"),
    (200, 180, "Accepted", "send a 1xx response"),
    (200, 486, "Accepted", "send a 300-699 response"),
])
def test_invite_server_refuses_illegal_responses(first: int, second: int, state: str, what: str) -> None:
    clock = Clock(TransactionLayer())
    event = serve(clock)
    clock.send_response(tu_response(event.request, first))
    clock.take_sent()
    with pytest.raises(ProtocolError, match=f"INVITE server transaction in state {state} cannot {what}"):
        clock.send_response(tu_response(event.request, second))
    assert clock.take_sent() == [] and server_tx(event).state.value == state


def test_confirmed_refuses_responses() -> None:
    clock = Clock(TransactionLayer())
    event = serve(clock)
    clock.send_response(tu_response(event.request, 486))
    clock.receive(request("ACK", to_tag="uas1"), UAC)
    with pytest.raises(ProtocolError, match="state Confirmed cannot send a 2xx response"):
        clock.send_response(tu_response(event.request, 200))


def test_response_for_no_transaction_is_a_protocol_error() -> None:
    layer = TransactionLayer()
    with pytest.raises(ProtocolError, match="no server transaction"):
        layer.send_response(tu_response(request(branch="z9hG4bKunknown"), 200), 0.0)


def test_response_after_timer_h_is_a_protocol_error() -> None:
    clock = Clock(TransactionLayer())
    event = serve(clock)
    clock.send_response(tu_response(event.request, 486))
    clock.at(40.0)
    with pytest.raises(ProtocolError, match="no server transaction"):
        clock.send_response(tu_response(event.request, 486))


def test_invite_server_on_reliable_transport_does_not_retransmit_and_ends_on_ack() -> None:
    clock = Clock(TransactionLayer(reliable=True))
    event = serve(clock)
    transaction = server_tx(event)
    clock.at(0.1).send_response(tu_response(event.request, 486))
    clock.at(20.0).receive(request("ACK", to_tag="uas1"), UAC)
    assert statuses(clock) == [(0.1, 486)]  # no Timer G
    assert transaction.state is State.TERMINATED  # Timer I = 0
    assert [type(e).__name__ for _, e in clock.take_events()] == ["TransactionTerminated"]


# --- non-INVITE server ----------------------------------------------------------------------------


def test_non_invite_server_absorbs_retransmissions_by_resending_the_last_response() -> None:
    clock = Clock(TransactionLayer())
    event = serve(clock, "OPTIONS", branch="z9hG4bKopt1")
    transaction = server_tx(event)
    assert transaction.state is State.TRYING
    clock.at(0.5).receive(request("OPTIONS", branch="z9hG4bKopt1"), UAC)
    assert clock.take_sent() == []  # Trying: nothing to resend, no 100 for non-INVITE
    clock.at(0.6).send_response(tu_response(event.request, 100, to_tag=None))
    clock.at(1.5).receive(request("OPTIONS", branch="z9hG4bKopt1"), UAC)
    assert statuses(clock) == [(0.6, 100), (1.5, 100)]
    clock.at(2.0).send_response(tu_response(event.request, 200))
    clock.at(3.5).receive(request("OPTIONS", branch="z9hG4bKopt1"), UAC)
    assert statuses(clock) == [(2.0, 200), (3.5, 200)]
    assert clock.take_events() == []
    with pytest.raises(ProtocolError, match="non-INVITE server transaction in state Completed cannot send"):
        clock.send_response(tu_response(event.request, 200))
    assert clock.layer.get_timer() == 34.0  # Timer J = 64*T1
    clock.at(34.0)
    assert [type(e).__name__ for _, e in clock.take_events()] == ["TransactionTerminated"]


def test_non_invite_server_reliable_ends_on_the_final() -> None:
    clock = Clock(TransactionLayer(reliable=True))
    event = serve(clock, "OPTIONS", branch="z9hG4bKopt1")
    clock.send_response(tu_response(event.request, 200))
    assert server_tx(event).state is State.TERMINATED  # Timer J = 0
    assert clock.layer.transactions == []


# --- CANCEL (RFC 3261 §9.2) -----------------------------------------------------------------------


def test_cancel_is_its_own_transaction_and_names_the_invite_it_cancels() -> None:
    clock = Clock(TransactionLayer())
    invite = server_tx(serve(clock, branch="z9hG4bKc1"))
    clock.at(0.3)
    clock.take_sent()
    cancel_event = serve(clock, "CANCEL", branch="z9hG4bKc1")
    cancel_tx = server_tx(cancel_event)
    assert cancel_tx is not invite and cancel_tx.method == "CANCEL"
    assert cancel_event.invite_transaction is invite
    clock.send_response(tu_response(cancel_event.request, 200))
    clock.send_response(tu_response(invite.request, 487))
    assert statuses(clock) == [(0.3, 200), (0.3, 487)]
    assert cancel_tx.state is State.COMPLETED and invite.state is State.COMPLETED


def test_cancel_matching_needs_branch_and_sent_by() -> None:
    clock = Clock(TransactionLayer())
    serve(clock, branch="z9hG4bKc1")
    other_branch = serve(clock, "CANCEL", branch="z9hG4bKc2")
    other_host = serve(clock, "CANCEL", branch="z9hG4bKc1", via="127.0.0.9:5070")
    assert other_branch.invite_transaction is None and other_host.invite_transaction is None
