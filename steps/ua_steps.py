"""Steps about the UA under test: equipment in the role of the UA (driven through its adapter), or the
simulated UA when the run has no such equipment (harness.suite.ua_under_test)."""

from __future__ import annotations

from behave import given, then, when
from behave.runner import Context

from harness.suite import checks
from steps.parameter_types import use_parameter_types
from steps.world import world

use_parameter_types()


@when('the UA under test calls "{to:Text}" and hangs up after {ms:d} ms')
def step_uut_call_hang_up(context: Context, to: str, ms: int) -> None:
    world(context).ua_under_test().call(to, hold_ms=ms)


@when('the UA under test calls "{to:Text}"')
def step_uut_call(context: Context, to: str) -> None:
    world(context).ua_under_test().call(to)


@when("the UA under test registers its extension")
def step_uut_register(context: Context) -> None:
    world(context).ua_under_test().register()


@given("the UA under test has registered its extension")
def step_uut_registered(context: Context) -> None:
    world(context).ua_under_test().register()


@when("the carrier calls the UA under test's extension and hangs up after {ms:d} ms")
def step_carrier_calls_uut(context: Context, ms: int) -> None:
    world(context).ua_under_test().answer_carrier_call(hold_ms=ms)


@then("the UA under test answered the carrier's call")
def step_uut_answered(context: Context) -> None:
    obs = world(context).observation()
    checks.check_answered_by(obs, callee="UA", trunk="VoIPBin")
    checks.check_answered(obs, dst="Carrier")
