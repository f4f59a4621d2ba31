"""Given steps about how the destination (the far end) answers the trunk's INVITE."""

from __future__ import annotations

from behave import given
from behave.runner import Context

from simulator.destination import script_for
from simulator.settings import Reject, Send100, Send183, Wait
from steps.world import world


@given("the destination rings, then answers")
def step_destination_answers(context: Context) -> None:
    world(context).destination_script = script_for(answer_after_ms=50)


@given("the destination rings, answers, and hangs up after {ms:d} ms")
def step_destination_hangs_up(context: Context, ms: int) -> None:
    world(context).destination_script = script_for(answer_after_ms=50, hangup_after_ms=ms)


@given("the destination rings and never answers")
def step_destination_never_answers(context: Context) -> None:
    world(context).destination_script = script_for(never_answer=True)


@given("the destination sends 183 with early media, then answers after {ms:d} ms")
def step_destination_early_media(context: Context, ms: int) -> None:
    world(context).destination_script = script_for(ringing=False, early_media=True, answer_after_ms=ms)


@given('the destination sends 183 with early media, then rejects the call with {status:d} "{reason}" after {ms:d} ms')
def step_destination_early_media_reject(context: Context, status: int, reason: str, ms: int) -> None:
    world(context).destination_script = (Send100(), Send183(early_media=True), Wait(ms), Reject(status, reason))


@given('the destination rejects the call with {status:d} "{reason}"')
def step_destination_rejects(context: Context, status: int, reason: str) -> None:
    world(context).destination_script = script_for(ringing=False, reject=status, reason=reason)
