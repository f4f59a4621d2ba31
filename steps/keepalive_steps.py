"""Steps of the OPTIONS keep-alive scenarios (features/options_keepalive.feature): the trunk answers OPTIONS,
pings its destination at a sane interval, and stops calling a destination that no longer answers."""

from __future__ import annotations

from behave import given, then, when
from behave.runner import Context

from harness.suite import beyond_checks, keepalive_run
from reference_server.keepalive import KeepAliveSettings
from steps.parameter_types import use_parameter_types
from steps.world import world

use_parameter_types()


@given("the trunk pings its destination with OPTIONS every {seconds:d} s, counting one unanswered for {timeout:d} s as down")
def step_trunk_pings(context: Context, seconds: int, timeout: int) -> None:
    """The embedded reference server's keep-alive; equipment under test pings as it is configured (its
    file's options_interval and options_timeout say how long to wait for it)."""
    world(context).trunk.keepalive = KeepAliveSettings(float(seconds), float(timeout))


@given("the destination does not answer OPTIONS")
def step_destination_silent_to_options(context: Context) -> None:
    world(context).destination_answers_options = False


@when("the {role:Role} sends OPTIONS to the trunk's domain")
def step_options_domain(context: Context, role: str) -> None:
    w = world(context)
    keepalive_run.send_trunk_options(w, role, f"sip:{w.trunk.host}")


@when("the {role:Role} sends OPTIONS to the trunk's address")
def step_options_address(context: Context, role: str) -> None:
    w = world(context)
    host, port = w.topology.trunk
    keepalive_run.send_trunk_options(w, role, f"sip:{host}:{port}")


@when("the destination has received {count:d} OPTIONS from the trunk")
def step_wait_pings(context: Context, count: int) -> None:
    keepalive_run.wait_for_pings(world(context), count)


@when('the UA calls "{to:Text}" once the trunk has had time to mark its silent destination down')
def step_call_after_down(context: Context, to: str) -> None:
    w = world(context)
    keepalive_run.wait_until_down(w)
    w.call("UA", to)


@then("every OPTIONS the UA sent the trunk got 200 OK with Allow, Accept and Supported")
def step_options_answered(context: Context) -> None:
    beyond_checks.check_options_answer(world(context).observation())


@then("the trunk's OPTIONS reached the destination {low:d} to {high:d} s apart")
def step_ping_interval(context: Context, low: int, high: int) -> None:
    w = world(context)
    gaps = beyond_checks.check_ping_interval(w.observation(), window=(float(low), float(high)))
    w.record.notes.append("keep-alive interval measured: " + ", ".join(f"{g:.1f} s" for g in gaps))
