"""Dialogs (RFC 3261 §12-§15): creation, route sets, loose/strict routing, CSeq, target refresh, forking."""

from __future__ import annotations

import pytest

from sipcore.builders import new_request
from sipcore.dialog import (
    Dialog,
    DialogId,
    DialogSet,
    DialogState,
    creates_dialog,
    dialog_id_of,
)
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Request, Response, make_response
from sipcore.parser import parse_message

RURI = "sip:+15551234567@trunk.example.com"
UAC = ("127.0.0.1", 5062)
UAS = ("127.0.0.2", 5060)
SDP = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


def make_invite(cseq: int = 2, *, record_route: tuple[str, ...] = (), ruri: str = RURI,
                transport: str = "UDP") -> Request:
    invite = new_request("INVITE", ruri, from_uri="sip:alice@client.example.com", to_uri=RURI,
                         local_addr=UAC, transport=transport, from_display="Alice", from_tag="alice-tag",
                         call_id="call-1@127.0.0.1", cseq=cseq, branch="z9hG4bKinvite",
                         contact="sip:alice@127.0.0.1:5062", body=SDP, content_type="application/sdp")
    for value in record_route:  # as proxies on the path would have added them
        invite.headers.add("Record-Route", value, first=True)
    return invite


def respond(request: Request, status: int, *, to_tag: str | None = "bob-tag", contact: str | None = None,
            record_route: tuple[str, ...] = ()) -> Response:
    response = make_response(request, status, to_tag=to_tag)
    for value in record_route:
        response.headers.add("Record-Route", value)
    if contact is not None:
        response.headers.add("Contact", f"<{contact}>")
    return response


def in_dialog(method: str, cseq: int, *, contact: str | None = None, from_tag: str = "alice-tag",
              to_tag: str = "bob-tag") -> Request:
    """A request the UAC sends to the UAS inside the dialog (as the UAS receives it)."""
    request = new_request(method, "sip:bob@127.0.0.2:5060", from_uri="sip:alice@client.example.com",
                          to_uri=RURI, local_addr=UAC, from_tag=from_tag, call_id="call-1@127.0.0.1",
                          cseq=cseq, branch=f"z9hG4bK{method}{cseq}", contact=contact)
    request.headers.set("To", f"<{RURI}>;tag={to_tag}")
    return request


def header_lines(request: Request) -> list[str]:
    return request.to_bytes().split(b"\r\n\r\n", 1)[0].decode().split("\r\n")


RR = ("<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>")  # p1 nearest the UAS, p2 nearest the UAC


def uac_dialog(**kw: object) -> Dialog:
    invite = make_invite()
    return Dialog.from_uac(invite, respond(invite, 200, contact="sip:bob@127.0.0.2:5060", **kw))  # type: ignore[arg-type]


# -- creation -----------------------------------------------------------------------------------------

def test_180_with_tag_creates_early_dialog_and_200_confirms_with_its_own_route_and_contact() -> None:
    invite = make_invite()
    ringing = respond(invite, 180, contact="sip:bob@10.9.9.9:5060", record_route=("<sip:early.example.com;lr>",))
    dialog = Dialog.from_uac(invite, ringing)
    assert dialog.state is DialogState.EARLY
    assert dialog.id == DialogId("call-1@127.0.0.1", "alice-tag", "bob-tag")
    assert str(dialog.remote_target) == "sip:bob@10.9.9.9:5060"
    assert [str(r.uri) for r in dialog.route_set] == ["sip:early.example.com;lr"]
    ok = respond(invite, 200, contact="sip:bob@127.0.0.2:5060", record_route=RR)
    dialog.update_from_response(ok)
    assert dialog.state is DialogState.CONFIRMED
    assert str(dialog.remote_target) == "sip:bob@127.0.0.2:5060"
    assert [str(r.uri) for r in dialog.route_set] == ["sip:p2.example.com;lr", "sip:p1.example.com;lr"]
    assert (dialog.local_cseq, dialog.remote_cseq) == (2, None)
    assert str(dialog.local_uri) == "sip:alice@client.example.com" and str(dialog.remote_uri) == RURI


@pytest.mark.parametrize(("status", "to_tag"), [(100, None), (100, "bob-tag"), (180, None)])
def test_no_dialog_from_100_or_from_180_without_to_tag(status: int, to_tag: str | None) -> None:
    invite = make_invite()
    response = respond(invite, status, to_tag=to_tag)
    assert not creates_dialog(invite, response)
    with pytest.raises(ProtocolError, match="creates no dialog"):
        Dialog.from_uac(invite, response)
    dialogs = DialogSet()
    assert dialogs.handle_response(invite, response) is None
    assert len(dialogs) == 0


def test_uac_route_set_is_record_route_reversed_and_used_as_route() -> None:
    dialog = uac_dialog(record_route=RR)
    bye = dialog.create_bye(branch="z9hG4bKbye", local_addr=UAC)
    assert bye.uri == "sip:bob@127.0.0.2:5060"  # loose routing: Request-URI is the remote target
    assert bye.headers.get_all("Route") == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]


def test_uas_route_set_is_record_route_in_order_and_remote_target_is_request_contact() -> None:
    invite = make_invite(record_route=RR[::-1])  # p1 added last, so it is on top
    ok = respond(invite, 200, to_tag="uas-tag", contact="sip:bob@127.0.0.2:5060")
    dialog = Dialog.from_uas(invite, ok)
    assert dialog.state is DialogState.CONFIRMED and not dialog.uac
    assert dialog.id == DialogId("call-1@127.0.0.1", "uas-tag", "alice-tag")
    assert [str(r.uri) for r in dialog.route_set] == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    assert str(dialog.remote_target) == "sip:alice@127.0.0.1:5062"
    assert (dialog.local_cseq, dialog.remote_cseq) == (None, 2)
    bye = dialog.create_bye(branch="z9hG4bKuasbye", local_addr=UAS)
    assert header_lines(bye)[:8] == [
        "BYE sip:alice@127.0.0.1:5062 SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKuasbye;rport",
        "Max-Forwards: 70",
        "Route: <sip:p1.example.com;lr>",
        "Route: <sip:p2.example.com;lr>",
        f"From: <{RURI}>;tag=uas-tag",
        "To: Alice <sip:alice@client.example.com>;tag=alice-tag",
        "Call-ID: call-1@127.0.0.1",
    ]
    assert bye.headers.get("CSeq") == "1 BYE"  # the UAS's own CSeq space, independent of the INVITE's


def test_uas_dialog_needs_a_contact_in_the_request() -> None:
    invite = make_invite()
    invite.headers.remove("Contact")
    with pytest.raises(SIPParseError, match="no Contact"):
        Dialog.from_uas(invite, respond(invite, 200, to_tag="t"))


def test_uas_early_dialog_confirmed_by_the_2xx_it_sends() -> None:
    invite = make_invite()
    dialog = Dialog.from_uas(invite, respond(invite, 183, to_tag="t"))
    assert dialog.state is DialogState.EARLY
    dialog.update_from_sent_response(respond(invite, 200, to_tag="t"))
    assert dialog.state is DialogState.CONFIRMED


def test_secure_flag_needs_sips_and_tls() -> None:
    sips = "sips:+15551234567@trunk.example.com"
    assert Dialog.from_uac(make_invite(ruri=sips, transport="TLS"),
                           respond(make_invite(ruri=sips, transport="TLS"), 200, contact=sips)).secure
    assert not uac_dialog().secure


# -- routing ------------------------------------------------------------------------------------------

def test_strict_router_gets_the_request_uri_and_remote_target_goes_last() -> None:
    dialog = uac_dialog(record_route=("<sip:p1.example.com;lr>", "<sip:strict.example.com;method=INVITE>"))
    bye = dialog.create_bye(branch="z9hG4bKbye", local_addr=UAC)
    assert bye.uri == "sip:strict.example.com"  # method parameter stripped (§19.1.1)
    assert bye.headers.get_all("Route") == ["<sip:p1.example.com;lr>", "<sip:bob@127.0.0.2:5060>"]
    parsed = parse_message(bye.to_bytes())
    assert [str(r.uri) for r in parsed.route] == ["sip:p1.example.com;lr", "sip:bob@127.0.0.2:5060"]


def test_bare_record_route_with_lr_is_still_loose() -> None:
    invite = make_invite()
    ok = respond(invite, 200, contact="sip:bob@127.0.0.2:5060")
    ok.headers.add("Record-Route", "sip:p1.example.com;lr")
    dialog = Dialog.from_uac(invite, ok)
    bye = dialog.create_bye(branch="z9hG4bKbye", local_addr=UAC)
    assert bye.uri == "sip:bob@127.0.0.2:5060"
    assert bye.headers.get_all("Route") == ["<sip:p1.example.com;lr>"]


# -- CSeq -----------------------------------------------------------------------------------------------

def test_local_cseq_increments_and_ack_keeps_the_invite_number() -> None:
    dialog = uac_dialog()
    ack = dialog.create_ack(2, "z9hG4bKack", UAC)
    assert ack.headers.get("CSeq") == "2 ACK" and ack.top_via.branch == "z9hG4bKack"
    assert ack.to.tag == "bob-tag" and "Contact" not in ack.headers
    info = dialog.create_request("INFO", branch="z9hG4bKinfo", local_addr=UAC)
    assert info.headers.get("CSeq") == "3 INFO"
    reinvite = dialog.create_reinvite(branch="z9hG4bKre", local_addr=UAC, body=SDP)
    assert reinvite.headers.get("CSeq") == "4 INVITE"
    assert reinvite.headers.get("Contact") == "<sip:alice@127.0.0.1:5062>"  # target refresh carries it
    assert reinvite.content_type == "application/sdp"
    assert dialog.create_ack(4, "z9hG4bKack2", UAC).headers.get("CSeq") == "4 ACK"
    bye = dialog.create_bye(branch="z9hG4bKbye", local_addr=UAC)
    assert bye.headers.get("CSeq") == "5 BYE" and "Contact" not in bye.headers


def test_bye_after_invite_cseq_2_is_3() -> None:
    assert uac_dialog().create_bye(branch="z9hG4bKb", local_addr=UAC).cseq.seq == 3


def test_remote_cseq_lower_is_rejected_with_500() -> None:
    invite = make_invite(cseq=5)
    dialog = Dialog.from_uas(invite, respond(invite, 200, to_tag="bob-tag"))
    assert dialog.receive_request(in_dialog("ACK", 5)) is None
    assert dialog.receive_request(in_dialog("INFO", 4)) == 500
    assert dialog.remote_cseq == 5
    assert dialog.receive_request(in_dialog("INFO", 9)) is None
    assert dialog.remote_cseq == 9
    assert dialog.receive_request(in_dialog("ACK", 5)) is None  # an ACK is never 500'd
    assert dialog.receive_request(in_dialog("INFO", 10, to_tag="other")) == 481


def test_received_reinvite_refreshes_target_but_info_does_not() -> None:
    invite = make_invite()
    dialog = Dialog.from_uas(invite, respond(invite, 200, to_tag="bob-tag"))
    assert dialog.receive_request(in_dialog("INFO", 3, contact="sip:alice@10.1.1.1")) is None
    assert str(dialog.remote_target) == "sip:alice@127.0.0.1:5062"
    assert dialog.receive_request(in_dialog("INVITE", 4, contact="sip:alice@10.2.2.2:5070")) is None
    assert str(dialog.remote_target) == "sip:alice@10.2.2.2:5070"


def test_received_bye_terminates_and_later_requests_get_481() -> None:
    invite = make_invite()
    dialog = Dialog.from_uas(invite, respond(invite, 200, to_tag="bob-tag"))
    assert dialog.receive_request(in_dialog("BYE", 3)) is None
    assert dialog.state is DialogState.TERMINATED
    assert dialog.receive_request(in_dialog("INFO", 4)) == 481
    with pytest.raises(ProtocolError, match="terminated"):
        dialog.create_bye(branch="z9hG4bKb", local_addr=UAS)


# -- responses in the dialog -----------------------------------------------------------------------------

def test_2xx_to_reinvite_refreshes_target_but_not_route_set() -> None:
    dialog = uac_dialog(record_route=RR)
    reinvite = dialog.create_reinvite(branch="z9hG4bKre", local_addr=UAC, body=SDP)
    dialog.update_from_response(respond(reinvite, 200, contact="sip:bob@10.3.3.3",
                                        record_route=("<sip:new.example.com;lr>",)))
    assert str(dialog.remote_target) == "sip:bob@10.3.3.3"
    assert [str(r.uri) for r in dialog.route_set] == ["sip:p2.example.com;lr", "sip:p1.example.com;lr"]


@pytest.mark.parametrize(("method", "status"), [("INFO", 481), ("INFO", 408), ("BYE", 200), ("BYE", 500)])
def test_responses_that_end_the_dialog(method: str, status: int) -> None:
    dialog = uac_dialog()
    request = dialog.create_request(method, branch="z9hG4bKx", local_addr=UAC)
    dialog.update_from_response(respond(request, status))
    assert dialog.state is DialogState.TERMINATED


def test_non2xx_final_terminates_early_dialog_and_ack_is_refused_while_early() -> None:
    invite = make_invite()
    dialog = Dialog.from_uac(invite, respond(invite, 180))
    with pytest.raises(ProtocolError, match="early"):
        dialog.create_ack(2, "z9hG4bKack", UAC)
    dialog.update_from_response(respond(invite, 486, to_tag="proxy-tag"))
    assert dialog.state is DialogState.TERMINATED


def test_response_with_foreign_to_tag_is_refused() -> None:
    dialog = uac_dialog()
    with pytest.raises(ProtocolError, match="another dialog"):
        dialog.update_from_response(respond(make_invite(), 200, to_tag="fork-2"))


# -- matching and forking -------------------------------------------------------------------------------

def test_dialog_id_of_depends_on_the_role() -> None:
    request = in_dialog("BYE", 3)
    assert dialog_id_of(request, uas=True) == DialogId("call-1@127.0.0.1", "bob-tag", "alice-tag")
    assert dialog_id_of(request, uas=False) == DialogId("call-1@127.0.0.1", "alice-tag", "bob-tag")
    assert dialog_id_of(make_invite(), uas=True) is None  # no To tag: out of dialog


def test_forked_early_dialogs_and_the_2xx_that_picks_one() -> None:
    invite = make_invite()
    dialogs = DialogSet()
    a = dialogs.handle_response(invite, respond(invite, 180, to_tag="fork-a", contact="sip:a@127.0.0.3"))
    b = dialogs.handle_response(invite, respond(invite, 183, to_tag="fork-b", contact="sip:b@127.0.0.4"))
    assert a is not None and b is not None and a is not b and len(dialogs) == 2
    assert {d.remote_tag for d in dialogs.early_dialogs_of(invite)} == {"fork-a", "fork-b"}
    assert dialogs.handle_response(invite, respond(invite, 180, to_tag="fork-a")) is a  # no new dialog
    confirmed = dialogs.handle_response(invite, respond(invite, 200, to_tag="fork-b",
                                                        contact="sip:b@127.0.0.4:5070"))
    assert confirmed is b and b.state is DialogState.CONFIRMED and a.state is DialogState.EARLY
    assert str(b.remote_target) == "sip:b@127.0.0.4:5070"
    bye_from_b = in_dialog("BYE", 1, from_tag="fork-b", to_tag="alice-tag")
    assert dialogs.match_request(bye_from_b) is b


def test_non2xx_final_ends_every_early_dialog_of_the_invite() -> None:
    invite = make_invite()
    dialogs = DialogSet()
    for tag in ("fork-a", "fork-b"):
        dialogs.handle_response(invite, respond(invite, 180, to_tag=tag))
    assert dialogs.handle_response(invite, respond(invite, 480, to_tag="proxy")) is None
    assert {d.state for d in dialogs} == {DialogState.TERMINATED}
    assert len(dialogs.prune()) == 2 and len(dialogs) == 0


def test_dialog_set_creates_confirmed_dialog_from_200_without_provisional() -> None:
    invite = make_invite()
    dialogs = DialogSet()
    dialog = dialogs.handle_response(invite, respond(invite, 200, contact="sip:bob@127.0.0.2"))
    assert dialog is not None and dialog.state is DialogState.CONFIRMED
    assert dialog.id in dialogs
    with pytest.raises(ProtocolError, match="already exists"):
        dialogs.add(dialog)


# -- round trip -----------------------------------------------------------------------------------------

def test_in_dialog_request_round_trips_through_the_parser() -> None:
    dialog = uac_dialog(record_route=RR)
    reinvite = dialog.create_reinvite(branch="z9hG4bKre4", local_addr=UAC, transport="TCP", body=SDP)
    parsed = parse_message(reinvite.to_bytes(), stream=True)
    assert isinstance(parsed, Request)
    assert (parsed.method, parsed.uri) == ("INVITE", "sip:bob@127.0.0.2:5060")
    assert parsed.top_via.transport == "TCP" and parsed.top_via.branch == "z9hG4bKre4"
    assert parsed.top_via.has_rport and len(parsed.via) == 1
    assert parsed.max_forwards == 70
    assert [str(r.uri) for r in parsed.route] == ["sip:p2.example.com;lr", "sip:p1.example.com;lr"]
    assert (parsed.from_.tag, parsed.to.tag) == ("alice-tag", "bob-tag")
    assert parsed.from_.display_name == "Alice" and str(parsed.to.uri) == RURI
    assert parsed.call_id == "call-1@127.0.0.1"
    assert (parsed.cseq.seq, parsed.cseq.method) == (3, "INVITE")
    assert str(parsed.contacts[0].uri) == "sip:alice@127.0.0.1:5062"
    assert parsed.headers.get("Content-Length") == str(len(SDP)) and parsed.body == SDP
    assert dialog_id_of(parsed, uas=False) == dialog.id
