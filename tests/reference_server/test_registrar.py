"""The registrar (RFC 3261 §10.3) on a fake clock: expirations, removal, ordering, limits, queries."""

from __future__ import annotations

import pytest

from reference_server.config import RegistrarConfig
from reference_server.registrar import Registrar
from sipcore.message import Request
from sipcore.parser import parse_message

AOR = "sip:1001@example.registrar.voipbin.net"
SRC = ("192.0.2.10", 5060)
T0 = 5000.0
PHONE = "<sip:1001@192.0.2.10:5060>"
SOFTPHONE = "<sip:1001@192.0.2.20:5062;transport=tcp>"


def register(*contacts: str, expires: int | str | None = None, call_id: str = "reg-1", cseq: int = 1,
             to: str = AOR) -> Request:
    lines = [f"Contact: {c}\r\n" for c in contacts]
    if expires is not None:
        lines.append(f"Expires: {expires}\r\n")
    raw = (f"REGISTER sip:example.registrar.voipbin.net SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{cseq}\r\nMax-Forwards: 70\r\n"
           f"From: <{to}>;tag=f1\r\nTo: <{to}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
           f"{''.join(lines)}Content-Length: 0\r\n\r\n")
    message = parse_message(raw.encode())
    assert isinstance(message, Request)
    return message


@pytest.fixture
def registrar() -> Registrar:
    return Registrar(min_expires=60, default_expires=3600, max_expires=7200, max_contacts=3)


def contacts_of(headers: tuple[tuple[str, str], ...]) -> list[str]:
    return [value for name, value in headers if name == "Contact"]


def test_register_binds_with_the_default_expiration(registrar: Registrar) -> None:
    result = registrar.handle_register(register(PHONE), T0, SRC, "UDP")
    assert result.status == 200
    assert contacts_of(result.headers) == ["<sip:1001@192.0.2.10:5060>;expires=3600"]
    (b,) = registrar.lookup("1001", T0)
    assert (b.uri, b.expires_at, b.call_id, b.cseq, b.source, b.transport) == (
        "sip:1001@192.0.2.10:5060", T0 + 3600, "reg-1", 1, SRC, "UDP")


def test_expires_header_applies_and_the_contact_parameter_wins(registrar: Registrar) -> None:
    result = registrar.handle_register(register(PHONE, SOFTPHONE + ";expires=120", expires=600), T0, SRC, "UDP")
    assert contacts_of(result.headers) == ["<sip:1001@192.0.2.10:5060>;expires=600",
                                           "<sip:1001@192.0.2.20:5062;transport=tcp>;expires=120"]


def test_too_brief_interval_is_423_with_min_expires_and_changes_nothing(registrar: Registrar) -> None:
    registrar.handle_register(register(PHONE), T0, SRC, "UDP")
    result = registrar.handle_register(register(SOFTPHONE, PHONE + ";expires=30", cseq=2), T0, SRC, "UDP")
    assert result.status == 423 and ("Min-Expires", "60") in result.headers
    assert [b.uri for b in registrar.lookup("1001", T0)] == ["sip:1001@192.0.2.10:5060"]
    assert registrar.handle_register(register(PHONE, expires=59, cseq=3), T0, SRC, "UDP").status == 423
    assert registrar.handle_register(register(PHONE, expires=60, cseq=4), T0, SRC, "UDP").status == 200


def test_423_only_below_one_hour_per_rfc() -> None:
    registrar = Registrar(min_expires=4000, default_expires=5000, max_expires=7200)
    result = registrar.handle_register(register(PHONE, expires=3700), T0, SRC, "UDP")
    assert result.status == 200 and contacts_of(result.headers) == ["<sip:1001@192.0.2.10:5060>;expires=3700"]


def test_long_interval_is_shortened_to_max_expires(registrar: Registrar) -> None:
    result = registrar.handle_register(register(PHONE, expires=100000), T0, SRC, "UDP")
    assert contacts_of(result.headers) == ["<sip:1001@192.0.2.10:5060>;expires=7200"]


def test_malformed_expires_parameter_counts_as_3600(registrar: Registrar) -> None:
    result = registrar.handle_register(register(PHONE + ";expires=soon"), T0, SRC, "UDP")
    assert contacts_of(result.headers) == ["<sip:1001@192.0.2.10:5060>;expires=3600"]


def test_expires_zero_removes_only_that_binding(registrar: Registrar) -> None:
    registrar.handle_register(register(PHONE, SOFTPHONE), T0, SRC, "UDP")
    result = registrar.handle_register(register(PHONE + ";expires=0", cseq=2), T0, SRC, "UDP")
    assert contacts_of(result.headers) == ["<sip:1001@192.0.2.20:5062;transport=tcp>;expires=3600"]
    result = registrar.handle_register(register(SOFTPHONE, expires=0, cseq=3), T0, SRC, "UDP")
    assert result.status == 200 and contacts_of(result.headers) == [] and registrar.lookup("1001", T0) == []


def test_removing_an_unknown_binding_is_harmless(registrar: Registrar) -> None:
    assert registrar.handle_register(register(PHONE, expires=0), T0, SRC, "UDP").status == 200


def test_star_with_expires_zero_removes_all(registrar: Registrar) -> None:
    registrar.handle_register(register(PHONE, SOFTPHONE), T0, SRC, "UDP")
    result = registrar.handle_register(register("*", expires=0, call_id="other"), T0, SRC, "UDP")
    assert (result.status, result.bindings) == (200, ()) and registrar.lookup("1001", T0) == []


@pytest.mark.parametrize(("contacts", "expires"), [(("*",), None), (("*",), 3600), (("*", PHONE), 0)])
def test_star_needs_expires_zero_and_no_other_contact(registrar: Registrar, contacts: tuple[str, ...],
                                                      expires: int | None) -> None:
    registrar.handle_register(register(SOFTPHONE), T0, SRC, "UDP")
    result = registrar.handle_register(register(*contacts, expires=expires, cseq=2), T0, SRC, "UDP")
    assert result.status == 400 and len(registrar.lookup("1001", T0)) == 1


def test_out_of_order_register_with_the_same_call_id_is_500(registrar: Registrar) -> None:
    registrar.handle_register(register(PHONE, cseq=5), T0, SRC, "UDP")
    for cseq in (5, 4):  # not higher: a retransmitted or delayed REGISTER
        result = registrar.handle_register(register(SOFTPHONE, PHONE + ";expires=0", cseq=cseq), T0, SRC, "UDP")
        assert result.status == 500
    assert [b.uri for b in registrar.lookup("1001", T0)] == ["sip:1001@192.0.2.10:5060"]  # nothing applied
    assert registrar.handle_register(register("*", expires=0, cseq=5), T0, SRC, "UDP").status == 500
    assert registrar.handle_register(register(PHONE, expires=600, cseq=6), T0 + 1, SRC, "UDP").status == 200
    assert registrar.lookup("1001", T0 + 1)[0].expires_at == T0 + 601


def test_another_call_id_updates_regardless_of_cseq(registrar: Registrar) -> None:
    registrar.handle_register(register(PHONE, cseq=50), T0, SRC, "UDP")
    result = registrar.handle_register(register(PHONE, expires=300, call_id="rebooted", cseq=1), T0, SRC, "UDP")
    assert result.status == 200 and contacts_of(result.headers) == ["<sip:1001@192.0.2.10:5060>;expires=300"]
    assert registrar.lookup("1001", T0)[0].call_id == "rebooted"


def test_contact_uris_compare_by_rfc3261_rules(registrar: Registrar) -> None:
    registrar.handle_register(register("<sip:1001@PHONE.example:5060;transport=UDP>"), T0, SRC, "UDP")
    registrar.handle_register(register("<sip:1001@phone.example:5060;transport=udp>", cseq=2), T0, SRC, "UDP")
    assert len(registrar.lookup("1001", T0)) == 1
    registrar.handle_register(register("<sip:1001@phone.example:5070;transport=udp>", cseq=3), T0, SRC, "UDP")
    assert len(registrar.lookup("1001", T0)) == 2


def test_same_instance_from_a_new_address_replaces_its_binding(registrar: Registrar) -> None:
    inst = ';+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
    registrar.handle_register(register(PHONE + inst, SOFTPHONE), T0, SRC, "UDP")
    moved = "<sip:1001@198.51.100.7:40000>" + inst
    result = registrar.handle_register(register(moved, cseq=2), T0 + 10, ("198.51.100.7", 40000), "UDP")
    assert [b.uri for b in result.bindings] == ["sip:1001@192.0.2.20:5062;transport=tcp",
                                                "sip:1001@198.51.100.7:40000"]
    assert result.bindings[1].instance == '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
    assert '+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";expires=3600' in contacts_of(
        result.headers)[1]


def test_at_most_max_contacts_the_least_recently_registered_is_replaced(registrar: Registrar) -> None:
    for i in range(3):
        registrar.handle_register(register(f"<sip:1001@192.0.2.{i + 1}>", call_id=f"dev{i}"), T0 + i, SRC, "UDP")
    # Refreshing device 0 makes device 1 the oldest.
    registrar.handle_register(register("<sip:1001@192.0.2.1>", call_id="dev0", cseq=2), T0 + 10, SRC, "UDP")
    result = registrar.handle_register(register("<sip:1001@192.0.2.4>", call_id="dev3"), T0 + 11, SRC, "UDP")
    assert result.status == 200
    assert sorted(b.uri for b in result.bindings) == ["sip:1001@192.0.2.1", "sip:1001@192.0.2.3",
                                                      "sip:1001@192.0.2.4"]
    assert len(contacts_of(result.headers)) == 3


def test_the_same_contact_twice_in_one_request_is_not_out_of_order(registrar: Registrar) -> None:
    result = registrar.handle_register(register(PHONE, PHONE + ";expires=100"), T0, SRC, "UDP")
    assert result.status == 200 and contacts_of(result.headers) == ["<sip:1001@192.0.2.10:5060>;expires=100"]


def test_query_without_contact_lists_the_bindings_with_remaining_time(registrar: Registrar) -> None:
    registrar.handle_register(register(PHONE, expires=600), T0, SRC, "UDP")
    result = registrar.handle_register(register(cseq=2), T0 + 100, SRC, "UDP")
    assert result.status == 200 and contacts_of(result.headers) == ["<sip:1001@192.0.2.10:5060>;expires=500"]
    assert registrar.lookup("1001", T0 + 100)[0].cseq == 1  # a query changes nothing


def test_expired_bindings_are_purged(registrar: Registrar) -> None:
    registrar.handle_register(register(PHONE, expires=60), T0, SRC, "UDP")
    registrar.handle_register(register(SOFTPHONE, expires=120, cseq=2), T0, SRC, "UDP")
    registrar.handle_register(register(PHONE, expires=60, to="sip:1002@example.registrar.voipbin.net"),
                              T0, SRC, "UDP")
    assert [b.uri for b in registrar.lookup("1001", T0 + 60)] == ["sip:1001@192.0.2.20:5062;transport=tcp"]
    assert registrar.purge(T0 + 60) == 1  # 1002's binding
    assert registrar.purge(T0 + 120) == 1 and registrar.lookup("1001", T0 + 120) == []
    result = registrar.handle_register(register(cseq=3), T0 + 121, SRC, "UDP")
    assert contacts_of(result.headers) == []


def test_lookup_orders_by_q(registrar: Registrar) -> None:
    registrar.handle_register(register(PHONE + ";q=0.5", SOFTPHONE + ";q=1.0", "<sip:1001@192.0.2.30>"),
                              T0, SRC, "UDP")
    assert [b.q for b in registrar.lookup("1001", T0)] == [1.0, None, 0.5]
    assert registrar.handle_register(register(PHONE + ";q=2", cseq=2), T0, SRC, "UDP").status == 400


def test_unknown_aor_and_non_sip_to_are_404() -> None:
    registrar = Registrar(aor_exists=lambda user: user in {"1001"})
    to = "sip:1003@example.registrar.voipbin.net"
    assert registrar.handle_register(register(PHONE, to=to), T0, SRC, "UDP").status == 404
    assert registrar.handle_register(register(PHONE, to="tel:+15551234567"), T0, SRC, "UDP").status == 404
    assert registrar.handle_register(register(PHONE), T0, SRC, "UDP").status == 200


def test_date_header_when_a_wall_clock_is_given(registrar: Registrar) -> None:
    result = registrar.handle_register(register(PHONE), T0, SRC, "UDP", date=0.0)
    assert ("Date", "Thu, 01 Jan 1970 00:00:00 GMT") in result.headers
    assert all(name != "Date" for name, _ in registrar.handle_register(register(cseq=2), T0, SRC, "UDP").headers)


def test_from_config_and_misuse() -> None:
    registrar = Registrar.from_config(RegistrarConfig("example.registrar.voipbin.net", 10, 20, 30, 1))
    assert (registrar.min_expires, registrar.default_expires, registrar.max_expires, registrar.max_contacts) == (
        10, 20, 30, 1)
    with pytest.raises(ValueError, match="REGISTER, not INVITE"):
        request = register(PHONE)
        request.method = "INVITE"
        registrar.handle_register(request, T0, SRC, "UDP")
    with pytest.raises(ValueError):
        Registrar(min_expires=100, default_expires=50)
