"""Steps about SRTP (RFC 3711) keyed by SDES (RFC 4568): who offers it, and the wire check that the media
is SRTP authenticating with the keys of the SDP (harness.suite.srtp_checks)."""

from __future__ import annotations

from behave import given, then
from behave.runner import Context

from harness.suite.srtp_checks import check_keys_inside_tls, check_srtp
from steps.world import world


@given("the UA offers SRTP")
def step_ua_offers_srtp(context: Context) -> None:
    """The simulated UA offers RTP/SAVP with an a=crypto key; a UA under test offers what its own
    configuration says (the equipment file claims srtp for it)."""
    world(context).ua_srtp = True


@given("the trunk offers SRTP to the destination")
def step_trunk_offers_srtp(context: Context) -> None:
    world(context).trunk.destination_srtp = True


@given("the trunk does not accept SRTP")
def step_trunk_refuses_srtp(context: Context) -> None:
    world(context).trunk.srtp = False


def _role(text: str) -> str:
    """"the UA" -> "UA", "VoIPBin", "the destination" -> "Destination": a ladder column."""
    name = text.strip().removeprefix("the ")
    return {"destination": "Destination", "carrier": "Carrier"}.get(name, name)


@then("the media between {a} and {b} is SRTP keyed by their SDP")
def step_media_is_srtp(context: Context, a: str, b: str) -> None:
    """Every RTP/RTCP packet between the two, both ways, authenticates with a key the sender put in its
    SDP (decoded from the capture); cleartext or a wrong key fails, naming the frame."""
    scenario = world(context)
    scenario.record.notes.append(check_srtp(scenario.observation(), between=(_role(a), _role(b))))


@then("the SRTP keys between {a} and {b} travelled only inside TLS")
def step_keys_inside_tls(context: Context, a: str, b: str) -> None:
    """Every a=crypto line between the two was read from a TLS record (decrypted with the key log), none
    from cleartext SIP on the wire."""
    scenario = world(context)
    scenario.record.notes.append(check_keys_inside_tls(scenario.observation(), between=(_role(a), _role(b))))
