"""The registrar over the wire (401, 200 with bindings, 423, removal, 3 contacts, expiry) and calls to
registered extensions: every contact rings at once, the first 2xx wins, the rest are cancelled."""

from __future__ import annotations

from sipcore.dialog import Dialog
from sipcore.digest import parse_challenge
from sipcore.message import Response

from ..addresses import loopback
from .support import IDS, Peer, ServerRig, offer, retry_with_credentials, run

DOMAIN = "example.registrar.voipbin.net"


async def register(rig: ServerRig, peer: Peer, ext: str, password: str | None, *, contact: str | None = None,
                   expires: int | None = None, ruri: str = f"sip:{DOMAIN}", username: str | None = None,
                   digest_uri: str | None = None) -> Response:
    aor = f"sip:{ext}@{DOMAIN}"
    request = peer.request("REGISTER", ruri, from_uri=aor, to_uri=aor)
    if contact is not None:
        request.headers.set("Contact", contact)
    if expires is not None:
        request.headers.add("Expires", str(expires))
    first = await peer.send(request, rig.addr).final()
    if first.status != 401 or password is None:
        return first
    retry = retry_with_credentials(request, first, username or ext, password, digest_uri=digest_uri)
    return await peer.send(retry, rig.addr).final()


def _contacts(response: Response) -> list[str]:
    return [str(c.uri) for c in response.contacts]


def test_register_401_then_200_423_three_contacts_and_removal() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            phone = rig.ua
            challenge = await register(rig, phone, "1001", None)
            assert challenge.status == 401
            www = parse_challenge(challenge.headers.get("WWW-Authenticate") or "")
            assert www.realm == DOMAIN and www.qop == ("auth",)
            # the Request-URI may be the server's IP, with the registrar domain in To
            by_ip = await register(rig, phone, "1001", None, ruri=f"sip:{rig.addr[0]}:{rig.addr[1]}")
            assert by_ip.status == 401

            ok = await register(rig, phone, "1001", "pass1001")
            assert ok.status == 200
            (binding,) = ok.contacts
            assert binding.uri.port == phone.addr[1] and binding.param("expires") == "3600"

            brief = await register(rig, phone, "1001", "pass1001", expires=10)
            assert brief.status == 423 and brief.headers.get("Min-Expires") == "60"

            for i in range(1, 5):
                ok = await register(rig, phone, "1001", "pass1001", contact=f"<sip:dev{i}@{loopback(1)}:{6000 + i}>")
            listed = _contacts(ok)
            assert len(listed) == 3 and f"sip:dev1@{loopback(1)}:6001" not in listed  # the oldest replaced

            ok = await register(rig, phone, "1001", "pass1001", contact=f"<sip:dev2@{loopback(1)}:6002>;expires=0")
            assert f"sip:dev2@{loopback(1)}:6002" not in _contacts(ok) and len(ok.contacts) == 2

            ok = await register(rig, phone, "1001", "pass1001", contact="*", expires=0)
            assert ok.status == 200 and not ok.contacts
            assert rig.server.registrar.lookup("1001", rig.clock.time()) == []

            wrong_password = await register(rig, phone, "1002", "pass1001")
            assert wrong_password.status == 401
            other_aor = await register(rig, phone, "1002", "pass1001", username="1001")  # 1001 may not bind 1002
            assert other_aor.status == 403

    run(main())


def test_register_with_the_registrars_address_as_digest_uri() -> None:
    """SIPp's [authentication] for REGISTER: uri="sip:SERVER_IP:PORT", not the Request-URI sip:DOMAIN."""
    async def main() -> None:
        async with ServerRig() as rig:
            phone = await rig.peer()
            server = f"{rig.addr[0]}:{rig.addr[1]}"
            ok = await register(rig, phone, "1001", "pass1001", digest_uri=f"sip:{server}")
            assert ok.status == 200 and len(_contacts(ok)) == 1
            refused = await register(rig, phone, "1001", "pass1001", digest_uri="sip:example.trunk.voipbin.net")
            assert refused.status == 400 and "WWW-Authenticate" not in refused.headers
            assert (refused.headers.get("Warning") or "").startswith(
                f"399 {server} \"Authorization: digest uri 'sip:example.trunk.voipbin.net' designates neither")

    run(main())


def test_binding_expires_and_a_call_to_it_gets_480() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            phone = await rig.peer()
            assert (await register(rig, phone, "1002", "pass1002", expires=60)).status == 200
            await rig.clock.advance(59)
            assert len(rig.server.registrar.lookup("1002", rig.clock.time())) == 1
            await rig.clock.advance(2)  # 61 s after the REGISTER
            assert rig.server.registrar.lookup("1002", rig.clock.time()) == []
            carrier = await rig.peer(loopback(3))  # a trusted peer: no challenge
            final = await carrier.send(rig.invite(carrier, "1002", DOMAIN, offer(4000)), rig.addr).final()
            assert final.status == 480
            await phone.no_request(0.1)
            unknown = await carrier.send(rig.invite(carrier, "9999", DOMAIN, offer(4000)), rig.addr).final()
            assert unknown.status == 404

    run(main())


def test_extension_call_forks_to_every_contact_and_first_2xx_wins() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            phone1, phone2 = await rig.peer(), await rig.peer()
            for phone in (phone1, phone2):
                assert (await register(rig, phone, "1002", "pass1002")).status == 200
            carrier = await rig.peer(loopback(3))
            invite = rig.invite(carrier, "1002", DOMAIN, offer(rig.rtp().port))
            responses = carrier.send(invite, rig.addr)
            leg1, leg2 = await phone1.next_request("INVITE"), await phone2.next_request("INVITE")
            for leg, phone in ((leg1, phone1), (leg2, phone2)):
                assert leg.request.uri == f"sip:peer@{loopback(1)}:{phone.addr[1]}"
                assert str(leg.request.to.uri) == f"sip:1002@{DOMAIN}"
            assert leg1.request.call_id != leg2.request.call_id
            phone1.respond(leg1, 180)
            phone2.respond(leg2, 180)
            await responses.status(180)
            phone1.respond(leg1, 200, body=(f"v=0\r\no=- 1 1 IN IP4 {loopback(1)}\r\ns=-\r\nc=IN IP4 {loopback(1)}\r\n"
                                             "t=0 0\r\nm=audio 4002 RTP/AVP 0\r\n").encode())
            ok = await responses.final()
            assert ok.status == 200
            cancel = await phone2.next_request("CANCEL")
            assert cancel.request.call_id == leg2.request.call_id
            phone2.respond(cancel, 200)
            phone2.respond(leg2, 487)
            dialog = Dialog.from_uac(invite, ok)
            carrier.endpoint.send_stateless(dialog.create_ack(1, IDS.branch(), carrier.addr), rig.addr)
            assert (await phone1.next_request("ACK")).request.call_id == leg1.request.call_id
            bye = carrier.send(dialog.create_bye(branch=IDS.branch(), local_addr=carrier.addr), rig.addr)
            phone1.respond(await phone1.next_request("BYE"), 200)
            assert (await bye.final()).status == 200
            await rig.wait_until(lambda: rig.server.active_calls == 0 and rig.server.relays.allocator.in_use == 0)

    run(main())


def test_a_second_2xx_is_acked_and_hung_up() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            phone1, phone2 = await rig.peer(), await rig.peer()
            for phone in (phone1, phone2):
                assert (await register(rig, phone, "1002", "pass1002")).status == 200
            carrier = await rig.peer(loopback(3))
            responses = carrier.send(rig.invite(carrier, "1002", DOMAIN, offer(rig.rtp().port)), rig.addr)
            leg1, leg2 = await phone1.next_request("INVITE"), await phone2.next_request("INVITE")
            phone1.respond(leg1, 200)
            assert (await responses.final()).status == 200
            phone2.respond(leg2, 200)  # too late: it loses
            ack = await phone2.next_request("ACK")
            assert ack.request.call_id == leg2.request.call_id
            bye = await phone2.next_request("BYE")
            assert bye.request.to.tag == phone2.tag
            phone2.respond(bye, 200)

    run(main())


def test_untrusted_caller_is_challenged_in_the_registrar_realm() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            phone = await rig.peer()
            assert (await register(rig, phone, "1002", "pass1002")).status == 200
            invite = rig.invite(rig.ua, "1002", DOMAIN, offer(rig.rtp().port))
            challenge = await rig.ua.send(invite, rig.addr).final()
            assert challenge.status == 407
            assert parse_challenge(challenge.headers.get("Proxy-Authenticate") or "").realm == DOMAIN
            await phone.no_request(0.1)
            responses = rig.ua.send(retry_with_credentials(invite, challenge, "1001", "pass1001"), rig.addr)
            leg = await phone.next_request("INVITE")
            phone.respond(leg, 486)
            assert (await responses.final()).status == 486

    run(main())


def test_when_every_contact_fails_the_caller_gets_the_best_response() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            phone1, phone2 = await rig.peer(), await rig.peer()
            for phone in (phone1, phone2):
                assert (await register(rig, phone, "1002", "pass1002")).status == 200
            carrier = await rig.peer(loopback(3))
            responses = carrier.send(rig.invite(carrier, "1002", DOMAIN, offer(4000)), rig.addr)
            leg1, leg2 = await phone1.next_request("INVITE"), await phone2.next_request("INVITE")
            phone1.respond(leg1, 486)
            phone2.respond(leg2, 404)
            final = await responses.final()
            assert final.status == 404 and "cause=1" in (final.headers.get("Reason") or "")

            responses = carrier.send(rig.invite(carrier, "1002", DOMAIN, offer(4000)), rig.addr)
            leg1, leg2 = await phone1.next_request("INVITE"), await phone2.next_request("INVITE")
            phone2.respond(leg2, 180)
            phone1.respond(leg1, 603)  # a 6xx ends the search at once
            assert (await responses.final()).status == 603
            cancel = await phone2.next_request("CANCEL")
            phone2.respond(cancel, 200)
            phone2.respond(leg2, 487)
            await rig.wait_until(lambda: rig.server.active_calls == 0)

    run(main())
