"""Steps of the destination-failover scenarios: a trunk with two destinations (the Destination and the
Destination2 roles, harness.suite.destinations), how each answers, and what reached which."""

from __future__ import annotations

from behave import given, then
from behave.runner import Context

from harness.suite.fork_checks import check_invites
from harness.suite.ua_only import far_end
from simulator.destination import script_for
from simulator.settings import Reject, Send100
from steps.world import world

SECOND = "the scenario needs a second destination of the trunk, which only the harness's destinations play"


@given("the trunk sends its calls to the Destination, then the Destination2")
@far_end(SECOND)
def step_two_destinations(context: Context) -> None:
    world(context).trunk.destinations = ("Destination", "Destination2")


@given("the trunk gives a destination {ms:d} ms to answer at all before it tries the next")
@far_end(SECOND)
def step_destination_timeout(context: Context, ms: int) -> None:
    world(context).trunk.destination_timeout = ms / 1000


@given('the destination answers {status:d} "{reason}" with Retry-After {seconds:d}')
@far_end(SECOND)
def step_destination_retry_after(context: Context, status: int, reason: str, seconds: int) -> None:
    scenario = world(context)
    scenario.destination_script = (Send100(), Reject(status, reason, retry_after=seconds))
    scenario.far_ends.hold(seconds)


@given("the destination does not answer at all")
@far_end(SECOND)
def step_destination_silent(context: Context) -> None:
    world(context).far_ends.modes["Destination"] = "silent"


@given("nothing listens at the destination's address")
@far_end(SECOND)
def step_destination_unreachable(context: Context) -> None:
    world(context).far_ends.modes["Destination"] = "unreachable"


@given("the Destination2 rings, then answers")
@far_end(SECOND)
def step_second_answers(context: Context) -> None:
    world(context).far_ends.scripts["Destination2"] = script_for(answer_after_ms=50)


@given("the Destination2 does not answer at all")
@far_end(SECOND)
def step_second_silent(context: Context) -> None:
    world(context).far_ends.modes["Destination2"] = "silent"


@then("{count:d} INVITE reached the {role}")
@then("{count:d} INVITEs reached the {role}")
def step_invites(context: Context, count: int, role: str) -> None:
    scenario = world(context)
    scenario.record.notes.append(check_invites(scenario.observation(), role, count))
