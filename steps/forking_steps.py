"""Steps of the forking scenarios: two phones (the UA and the UA2) registered for one extension, how each
answers, and what the caller (the carrier) must see (harness.suite.fork_checks)."""

from __future__ import annotations

from behave import given, then
from behave.runner import Context

from harness.suite.fork_checks import check_cancelled_elsewhere, check_early_dialogs, check_early_media_from
from simulator.settings import Answer, NeverAnswer, Send180, Send183, Step, Wait
from steps.world import world


def _phone_script(context: Context, role: str, script: tuple[Step, ...]) -> None:
    scenario = world(context)
    if role in scenario.agents:
        raise RuntimeError(f"say how the {role} answers before it registers (its settings are fixed then)")
    scenario.far_ends.phones[role] = script


@given("the {role:Role} sends 183 with early media and never answers")
def step_phone_early_media_only(context: Context, role: str) -> None:
    _phone_script(context, role, (Send183(early_media=True), NeverAnswer()))


@given("the {role:Role} rings and never answers")
def step_phone_rings(context: Context, role: str) -> None:
    _phone_script(context, role, (Send180(), NeverAnswer()))


@given("the {role:Role} sends 183 with early media after {wait:d} ms, then answers after {ms:d} ms")
def step_phone_early_media_then_answers(context: Context, role: str, wait: int, ms: int) -> None:
    _phone_script(context, role, (Wait(wait), Send183(early_media=True), Answer(ms)))


@given('the {role:Role} has registered extension "{extension}" too, with password "{password}"')
def step_registered_too(context: Context, role: str, extension: str, password: str) -> None:
    result = world(context).register(role, extension, password)
    assert result.ok, f"setting up: the {role}'s registration of {extension} got {result.status} {result.reason or ''}"


@then("the carrier sees each phone's early dialog under a To tag of its own, and the 200 OK confirms the {role:Role}'s")
def step_early_dialogs(context: Context, role: str) -> None:
    scenario = world(context)
    scenario.record.notes.append(check_early_dialogs(scenario.observation(), "Carrier", role))


@then('the CANCEL to the {role:Role} carries Reason "Call completed elsewhere"')
def step_cancelled_elsewhere(context: Context, role: str) -> None:
    scenario = world(context)
    scenario.record.notes.append(check_cancelled_elsewhere(scenario.observation(), role))


@then("once the {role:Role}'s 183 is relayed, the early media reaching the carrier is the {other:Role}'s only")
def step_early_media_from(context: Context, role: str, other: str) -> None:
    if role != other:
        raise ValueError(f"the step names two phones ({role}, {other}): name the one whose 183 came last twice")
    scenario = world(context)
    scenario.record.notes.append(check_early_media_from(scenario.observation(), "Carrier", role))
