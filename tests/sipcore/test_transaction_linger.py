"""What transactions keep while they linger after their final response (RFC 3261 Timers D/I/J/K, RFC 6026
Timers L/M): unparsed copies of their messages, not the TU's objects, so a finished call's parsed headers
are freed when the TU drops them -- and retransmissions are still answered byte for byte."""

from __future__ import annotations

from sipcore.message import Request, Response
from sipcore.parser import parse_message
from sipcore.transaction import State
from sipcore.transaction_layer import TransactionLayer

from .test_transaction_support import UAC, UAS, Clock, request, response, tu_response


def test_unparsed_copy_is_equal_on_the_wire_and_independent_of_the_original() -> None:
    original = parse_message(request("INVITE").to_bytes())
    assert isinstance(original, Request)
    assert original.from_.tag and original.top_via.branch == "z9hG4bKinv1"  # parsed views cached
    copy = original.unparsed_copy()
    assert copy.to_bytes() == original.to_bytes()
    assert copy.headers._cache == {} and copy.top_via.branch == "z9hG4bKinv1"  # parsed again on demand
    original.headers.add("Subject", "changed later by the TU")
    assert b"Subject" not in copy.to_bytes()
    ok = tu_response(original, 200)
    assert ok.unparsed_copy().to_bytes() == ok.to_bytes()


def test_a_parsed_messages_header_copy_has_the_same_fields_and_edits_of_either_stay_apart() -> None:
    original = parse_message(request("INVITE").to_bytes())
    fields = list(original.headers)
    copy = original.headers.copy()
    assert list(copy) == fields and copy.get("Call-ID") == original.headers.get("Call-ID")
    copy.replace_first_value("Via", "SIP/2.0/UDP copy.example.com;branch=z9hG4bKcopy")
    original.headers.replace_first_value("To", "<sip:original@example.com>")
    assert list(original.headers)[0] == fields[0] and original.top_via.branch == "z9hG4bKinv1"
    assert copy.get("To") == original_to(fields) and copy.get("Via", "").endswith("z9hG4bKcopy")
    assert Request._parsed("INVITE", original.uri, copy).top_via.host == "copy.example.com"


def original_to(fields: list[tuple[str, str]]) -> str:
    return next(value for name, value in fields if name == "To")


def test_accepted_invite_server_transaction_lets_the_tu_free_its_messages_but_resends_the_2xx() -> None:
    clock = Clock(TransactionLayer())
    clock.receive(request("INVITE"), UAC)
    [(_, event)] = clock.take_events()
    transaction = event.transaction  # type: ignore[attr-defined]
    invite = event.request  # type: ignore[attr-defined]
    ok = tu_response(invite, 200)
    ok_bytes = ok.to_bytes()
    clock.at(0.1).send_response(ok)
    assert transaction.state is State.ACCEPTED
    assert transaction.request is not invite and transaction.last_response is not ok  # only the TU holds them
    assert transaction.request.to_bytes() == invite.to_bytes()
    clock.at(0.6).send_response(transaction.last_response)  # the TU's 2xx retransmission, same bytes
    assert [data for _, data, _ in clock.take_sent()] == [ok_bytes, ok_bytes]
    assert transaction.request.top_via.branch == "z9hG4bKinv1"


def test_completed_non_invite_server_transaction_resends_the_same_final_response() -> None:
    clock = Clock(TransactionLayer())
    clock.receive(request("OPTIONS", branch="z9hG4bKopt1"), UAC)
    [(_, event)] = clock.take_events()
    final = tu_response(event.request, 200)  # type: ignore[attr-defined]
    clock.at(0.1).send_response(final)
    clock.at(1.0).receive(request("OPTIONS", branch="z9hG4bKopt1"), UAC)
    [first, again] = [data for _, data, _ in clock.take_sent()]
    assert first == again == final.to_bytes()
    assert event.transaction.last_response is not final  # type: ignore[attr-defined]


def test_accepted_invite_client_transaction_does_not_keep_the_tu_request() -> None:
    clock = Clock(TransactionLayer())
    invite = request("INVITE", branch="z9hG4bKcli1")
    transaction = clock.send_request(invite, UAS)
    clock.at(0.1).receive(response(invite, 200), UAS)
    assert transaction.state is State.ACCEPTED
    assert transaction.request is not invite and transaction.request.to_bytes() == invite.to_bytes()
    assert isinstance(transaction.request, Request) and not isinstance(transaction.request, Response)
