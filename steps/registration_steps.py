"""Steps about registering an extension with VoIPBin's registrar."""

from __future__ import annotations

from typing import Any

from behave import given, when


@given('the UA has registered extension "{extension}" with password "{password}"')
def step_registered(context: Any, extension: str, password: str) -> None:
    result = context.world.register("UA", extension, password)
    assert result.ok, f"setting up: the registration of {extension} got {result.status} {result.reason or ''}"


@when('the UA registers extension "{extension}" with password "{password}" for {seconds:d} seconds')
def step_register(context: Any, extension: str, password: str, seconds: int) -> None:
    context.world.register("UA", extension, password, seconds)


@when("the UA de-registers")
def step_unregister(context: Any) -> None:
    context.world.unregister("UA")
