"""When steps: calls placed by the UA (or a second UA, or a carrier) through the trunk."""

from __future__ import annotations

from typing import Any

import parse
from behave import register_type, when


@parse.with_pattern(r"UA2|UA|carrier")
def parse_role(text: str) -> str:
    """A calling role as written in a step: UA, UA2 (a UA at another address) or carrier."""
    return "Carrier" if text == "carrier" else text


@parse.with_pattern(r'[^"]+')
def parse_text(text: str) -> str:
    """What stands between double quotes: a number, a SIP URI, a password."""
    return text


register_type(Role=parse_role, Text=parse_text)


@when('the {role:Role} calls "{to:Text}" and hangs up after {ms:d} ms')
def step_call_and_hang_up(context: Any, role: str, to: str, ms: int) -> None:
    context.world.call(role, to, hold_ms=ms)


@when('the {role:Role} calls "{to:Text}"')
def step_call(context: Any, role: str, to: str) -> None:
    context.world.call(role, to)


@when('the {role:Role} calls "{to:Text}" without credentials and hangs up after {ms:d} ms')
def step_call_without_credentials_hang_up(context: Any, role: str, to: str, ms: int) -> None:
    context.world.call(role, to, hold_ms=ms, settings={"password": None})


@when('the {role:Role} calls "{to:Text}" without credentials')
def step_call_without_credentials(context: Any, role: str, to: str) -> None:
    context.world.call(role, to, settings={"password": None})


@when('the UA calls "{to:Text}" with password "{password:Text}"')
def step_call_with_password(context: Any, to: str, password: str) -> None:
    context.world.call("UA", to, settings={"password": password})


@when('the UA calls "{to:Text}" as user "{user:Text}" with password "{password:Text}"')
def step_call_as_user(context: Any, to: str, user: str, password: str) -> None:
    context.world.call("UA", to, settings={"username": user, "password": password})


@when('the UA calls "{to:Text}" and waits for the destination to hang up')
def step_call_remote_hangup(context: Any, to: str) -> None:
    context.world.call("UA", to, expect_remote_bye=True)


@when('the UA calls "{to:Text}" and cancels when it rings')
def step_call_cancel(context: Any, to: str) -> None:
    context.world.call("UA", to, cancel_on_ringing=True)


@when('the UA answers a 407 challenge after its nonce expired, calling "{to:Text}" and hanging up after {ms:d} ms')
def step_call_stale_nonce(context: Any, to: str, ms: int) -> None:
    context.world.call_with_expired_nonce("UA", to, hold_ms=ms)


@when('the carrier calls extension "{extension:Text}" and hangs up after {ms:d} ms')
def step_carrier_calls_and_hangs_up(context: Any, extension: str, ms: int) -> None:
    context.world.call("Carrier", extension, hold_ms=ms, settings={"domain": context.world.trunk.registrar_domain})


@when('the carrier calls extension "{extension:Text}"')
def step_carrier_calls(context: Any, extension: str) -> None:
    context.world.call("Carrier", extension, settings={"domain": context.world.trunk.registrar_domain})
