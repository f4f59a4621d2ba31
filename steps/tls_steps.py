"""Steps of the @tls scenarios: the certificate the trunk presents, and what the UA made of it."""

from __future__ import annotations

from behave import given, then
from behave.runner import Context

from harness.suite.flow_checks import check_reached_over_own_connections
from harness.suite.tls_setup import BAD_CERTIFICATES
from steps.parameter_types import use_parameter_types
from steps.world import world

use_parameter_types()


@given('the trunk presents a certificate {kind}')
def step_trunk_certificate(context: Context, kind: str) -> None:
    """``for another name``, ``that has expired``, ``from an untrusted CA``."""
    wanted = {"for another name": "another name", "that has expired": "expired",
              "from an untrusted CA": "untrusted CA"}.get(kind)
    w = world(context)
    if wanted is None or wanted not in BAD_CERTIFICATES:
        raise ValueError(f"unknown certificate {kind!r}: for another name, that has expired, from an untrusted CA")
    if w.tls is None:
        raise RuntimeError("certificates are presented in @tls scenarios only: tag the scenario @tls")
    w.tls.present(wanted)


@then('the UA refuses the trunk\'s certificate: "{problem}"')
def step_refused(context: Context, problem: str) -> None:
    """The UA's call ended with the 503 its transport layer gave (RFC 3261 §8.1.3.1), whose reason names
    the problem; no SIP went out (the capture has none)."""
    w = world(context)
    if not w.calls:
        raise AssertionError("the UA made no call")
    call = w.calls[-1]
    reason = call.reason or ""
    if call.status != 503 or "certificate" not in reason or problem not in reason:
        raise AssertionError(f"the UA's call ended with {call.status} {reason!r}: expected a 503 refusing the "
                             f"trunk's certificate because {problem!r}")
    sip = w.observation().messages
    if sip:
        raise AssertionError(f"{len(sip)} SIP message(s) went over the refused connection, the first: "
                             f"{w.observation().summary(sip[0])}")


@given("the UA takes no incoming TLS connections")
def step_ua_no_listener(context: Context) -> None:
    """Like most softphones over TLS: the simulated UA binds no listener; its Via and Contact name a port
    nothing listens on, so the trunk can reach it only over the connections it opened."""
    w = world(context)
    if w.tls is None:
        raise RuntimeError("a UA without a TLS listener belongs to @tls scenarios only: tag the scenario @tls")
    w.tls.ua_listens = False


@then("VoIPBin reached the UA only over the connections the UA opened")
def step_reached_over_own_connections(context: Context) -> None:
    """No connection from the trunk to the UA in the capture; every request and response the trunk sent the
    UA went to a port the UA had opened a connection from (RFC 3261 §18, RFC 5923)."""
    w = world(context)
    w.record.notes.append(check_reached_over_own_connections(w.observation(), trunk="VoIPBin", ua="UA"))
