"""Caller identity on the trunk's outgoing leg: P-Asserted-Identity (RFC 3325) by the trunk's ``pai`` policy,
Privacy (RFC 3323) honoured, PAI only toward a trusted destination, numbers in E.164 with user=phone."""

from __future__ import annotations

import pytest

from reference_server.config import ConfigError, parse_config
from reference_server.identity import IdentityPolicy, normalise_number, outgoing_identity
from reference_server.server import ReferenceServer, with_listen
from sipcore.aio.clock import SteppedClock
from sipcore.builders import new_request
from sipcore.message import Request

from ..addresses import loopback
from .support import Peer, offer, retry_with_credentials, run

E164 = IdentityPolicy(number_format="e164", country_code="1", national_prefix="1")


@pytest.mark.parametrize(("user", "policy", "expected"), [
    ("+1 (555) 010-0", E164, None),  # a space is not a visual separator of a SIP user part
    ("+1-555-0100", E164, "+15550100"),
    ("0015550100", E164, "+15550100"),
    ("15550100", E164, "+15550100"),  # NANP: the national prefix is 1
    ("5550100", E164, "+15550100"),
    ("02079460000", IdentityPolicy(number_format="e164", country_code="44"), "+442079460000"),
    ("02079460000", IdentityPolicy(number_format="e164"), None),  # national, and no country code known
    ("alice", E164, None),
    ("anonymous", E164, None),
])
def test_normalise_number(user: str, policy: IdentityPolicy, expected: str | None) -> None:
    assert normalise_number(user, policy) == expected


def _invite(*headers: tuple[str, str]) -> Request:
    return new_request("INVITE", "sip:0015550100@example.trunk.voipbin.net", from_uri="sip:0015550123@x",
                       to_uri="sip:0015550100@x", local_addr=("127.0.0.1", 5062), from_tag="t", call_id="c", cseq=1,
                       branch="z9hG4bK1", extra_headers=list(headers))


HOST = "example.trunk.voipbin.net"


def test_assert_policy_asserts_the_callers_number_not_the_one_it_claims() -> None:
    policy = IdentityPolicy(pai="assert", number_format="e164", country_code="1")
    out = outgoing_identity(_invite(("P-Asserted-Identity", "<sip:+19995550000@evil>")), policy,
                            caller="0015550123", display="Sales", callee="0015550100", host=HOST)
    assert out.from_uri == f"sip:+15550123@{HOST};user=phone" and out.from_display == "Sales"
    assert (out.callee, out.callee_params) == ("+15550100", ";user=phone")
    assert out.headers == (("P-Asserted-Identity", f'"Sales" <sip:+15550123@{HOST};user=phone>'),)


def test_privacy_id_anonymises_from_and_keeps_pai_only_toward_a_trusted_destination() -> None:
    request = _invite(("Privacy", "id"))
    trusted = outgoing_identity(request, IdentityPolicy(pai="assert"), caller="5550123", display=None,
                                callee="5550100", host=HOST)
    assert (trusted.from_uri, trusted.from_display) == ("sip:anonymous@anonymous.invalid", "Anonymous")
    assert trusted.headers == (("P-Asserted-Identity", f"<sip:5550123@{HOST}>"), ("Privacy", "id"))
    untrusted = outgoing_identity(request, IdentityPolicy(pai="assert", destination_trusted=False),
                                  caller="5550123", display=None, callee="5550100", host=HOST)
    assert untrusted.from_uri == "sip:anonymous@anonymous.invalid" and untrusted.headers == ()
    none = outgoing_identity(_invite(("Privacy", "none")), IdentityPolicy(), caller="5550123", display=None,
                             callee="5550100", host=HOST)
    assert none.from_uri == f"sip:5550123@{HOST}"


def test_relay_policy_relays_pai_or_turns_ppi_into_pai_and_strip_sends_none() -> None:
    relay = IdentityPolicy(pai="relay")
    pai = outgoing_identity(_invite(("P-Asserted-Identity", "<sip:+15550199@pbx>")), relay, caller="a",
                            display=None, callee="b", host=HOST)
    assert pai.headers == (("P-Asserted-Identity", "<sip:+15550199@pbx>"),)
    ppi = outgoing_identity(_invite(("P-Preferred-Identity", "<tel:+15550198>")), relay, caller="a",
                            display=None, callee="b", host=HOST)
    assert ppi.headers == (("P-Asserted-Identity", "<tel:+15550198>"),)
    strip = outgoing_identity(_invite(("P-Asserted-Identity", "<sip:+15550199@pbx>")), IdentityPolicy(),
                              caller="a", display=None, callee="b", host=HOST)
    assert strip.headers == ()


@pytest.mark.parametrize(("line", "why"), [
    ('pai = "trust"', "is not one of assert, relay, strip"),
    ('number_format = "E164"', "is not one of as-is, e164"),
    ('country_code = "+1"', "is not a string of digits"),
    ("options_interval = -1", "must be 0 (no pings) or above"),
    ("options_timeout = 60", "at most 32 (Timer F)"),
    ('destination = ["127.0.0.1:5080", "127.0.0.1:5080"]', "is listed twice"),
    ('destination = ["127.0.0.1:5080", "carrier.example.net"]', "a host name stands alone"),
    ("destination = []", "give at least one destination"),
])
def test_bad_trunk_options_name_file_line_and_key(line: str, why: str) -> None:
    base = '[[trunk]]\ndomain_name = "example"\nusername = "a"\npassword = "b"\n'
    text = base + line + "\n" + ("" if line.startswith("destination") else 'destination = "127.0.0.1:5080"\n')
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "t.toml")
    assert str(exc.value).startswith("t.toml:5: trunk[0].") and why in str(exc.value)


CONFIG = """
[media]
address = "{host}"
port_min = 41100
port_max = 41199
[[trunk]]
domain_name = "example"
username = "alice"
password = "secret"
destination = "{dest}"
pai = "assert"
number_format = "e164"
country_code = "1"
destination_trusted = {trusted}
"""


@pytest.mark.parametrize("trusted", [True, False])
def test_the_destination_gets_the_identity_the_policy_gives(trusted: bool) -> None:
    async def main() -> None:
        clock = SteppedClock()
        dest, ua = await Peer.open(clock=clock), await Peer.open(loopback(2), clock=clock)
        text = CONFIG.format(host=loopback(1), dest=f"{dest.addr[0]}:{dest.addr[1]}", trusted=str(trusted).lower())
        server = ReferenceServer(with_listen(parse_config(text), f"udp:{loopback(1)}:0"), clock=clock)
        await server.start()
        try:
            local = server.local_addresses[0]
            addr = (local.host, local.port)
            uri = "sip:0015550100@example.trunk.voipbin.net"
            invite = ua.request("INVITE", uri, from_uri="sip:0015550123@example.trunk.voipbin.net", to_uri=uri,
                                body=offer(4000), headers=[("Privacy", "id")])
            challenge = await ua.send(invite, addr).final()
            call = ua.send(retry_with_credentials(invite, challenge, "alice", "secret"), addr)
            event = await dest.next_request("INVITE")
            b = event.request
            assert str(b.uri).startswith(f"sip:+15550100@{dest.addr[0]}:{dest.addr[1]};user=phone")
            assert str(b.to.uri).startswith("sip:+15550100@") and "user=phone" in str(b.to.uri)
            assert str(b.from_.uri) == "sip:anonymous@anonymous.invalid"
            pai = b.headers.get_all("P-Asserted-Identity")
            if trusted:
                assert pai == ["<sip:+15550123@example.trunk.voipbin.net;user=phone>"]
                assert b.headers.get("Privacy") == "id"
            else:
                assert pai == [] and b.headers.get("Privacy") is None
            dest.respond(event, 486)
            assert (await call.final()).status == 486
        finally:
            await server.stop()
            dest.close()
            ua.close()
    run(main())
