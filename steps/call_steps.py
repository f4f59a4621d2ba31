"""When steps: calls placed by the UA (or a second UA, or a carrier) through the trunk."""

from __future__ import annotations

from behave import when
from behave.runner import Context

from steps.parameter_types import use_parameter_types
from steps.world import world

use_parameter_types()


@when('the {role:Role} calls "{to:Text}" and hangs up after {ms:d} ms')
def step_call_and_hang_up(context: Context, role: str, to: str, ms: int) -> None:
    world(context).call(role, to, hold_ms=ms)


@when('the {role:Role} calls "{to:Text}"')
def step_call(context: Context, role: str, to: str) -> None:
    world(context).call(role, to)


@when('the {role:Role} calls "{to:Text}" without credentials and hangs up after {ms:d} ms')
def step_call_without_credentials_hang_up(context: Context, role: str, to: str, ms: int) -> None:
    world(context).call(role, to, hold_ms=ms, settings={"password": None})


@when('the {role:Role} calls "{to:Text}" without credentials')
def step_call_without_credentials(context: Context, role: str, to: str) -> None:
    world(context).call(role, to, settings={"password": None})


@when('the UA calls "{to:Text}" with password "{password:Text}"')
def step_call_with_password(context: Context, to: str, password: str) -> None:
    world(context).call("UA", to, settings={"password": password})


@when('the UA calls "{to:Text}" as user "{user:Text}" with password "{password:Text}"')
def step_call_as_user(context: Context, to: str, user: str, password: str) -> None:
    world(context).call("UA", to, settings={"username": user, "password": password})


@when('the UA calls "{to:Text}" and waits for the destination to hang up')
def step_call_remote_hangup(context: Context, to: str) -> None:
    world(context).call("UA", to, expect_remote_bye=True)


@when('the UA calls "{to:Text}" and cancels when it rings')
def step_call_cancel(context: Context, to: str) -> None:
    world(context).call("UA", to, cancel_on_ringing=True)


@when('the UA answers a 407 challenge after its nonce expired, calling "{to:Text}" and hanging up after {ms:d} ms')
def step_call_stale_nonce(context: Context, to: str, ms: int) -> None:
    world(context).call_with_expired_nonce("UA", to, hold_ms=ms)


@when('the carrier calls extension "{extension:Text}" and hangs up after {ms:d} ms')
def step_carrier_calls_and_hangs_up(context: Context, extension: str, ms: int) -> None:
    scenario = world(context)
    scenario.call("Carrier", extension, hold_ms=ms, settings={"domain": scenario.trunk.registrar_domain})


@when('the carrier calls extension "{extension:Text}"')
def step_carrier_calls(context: Context, extension: str) -> None:
    scenario = world(context)
    scenario.call("Carrier", extension, settings={"domain": scenario.trunk.registrar_domain})
