"""Steps about registering an extension with VoIPBin's registrar."""

from __future__ import annotations

from behave import given, when
from behave.runner import Context

from steps.world import world


@given('the UA has registered extension "{extension}" with password "{password}"')
def step_registered(context: Context, extension: str, password: str) -> None:
    result = world(context).register("UA", extension, password)
    assert result.ok, f"setting up: the registration of {extension} got {result.status} {result.reason or ''}"


@when('the UA registers extension "{extension}" with password "{password}" for {seconds:d} seconds')
def step_register(context: Context, extension: str, password: str, seconds: int) -> None:
    world(context).register("UA", extension, password, seconds)


@when("the UA de-registers")
def step_unregister(context: Context) -> None:
    world(context).unregister("UA")
