"""Given steps about how the destination (the far end) answers the trunk's INVITE. Each says, with
:func:`harness.suite.ua_only.far_end`, which test number of a remote trunk (ua-only) plays it."""

from __future__ import annotations

from behave import given
from behave.runner import Context

from harness.suite.ua_only import FarEnd, far_end
from simulator.destination import script_for
from simulator.settings import Reject, Send100, Send183, Wait
from steps.world import world


@given("the destination rings, then answers")
@far_end(FarEnd("answers"))
def step_destination_answers(context: Context) -> None:
    world(context).destination_script = script_for(answer_after_ms=50)


@given("the destination rings, answers, and hangs up after {ms:d} ms")
@far_end("the scenario needs the destination to hang up an answered call, which only the harness's "
         "destination does on cue")
def step_destination_hangs_up(context: Context, ms: int) -> None:
    world(context).destination_script = script_for(answer_after_ms=50, hangup_after_ms=ms)


@given("the destination rings and never answers")
@far_end(FarEnd("never-answers"))
def step_destination_never_answers(context: Context) -> None:
    world(context).destination_script = script_for(never_answer=True)


@given("the destination sends 183 with early media, then answers after {ms:d} ms")
@far_end(FarEnd("early-media-then-answers"))
def step_destination_early_media(context: Context, ms: int) -> None:
    world(context).destination_script = script_for(ringing=False, early_media=True, answer_after_ms=ms)


@given('the destination sends 183 with early media, then rejects the call with {status:d} "{reason}" after {ms:d} ms')
@far_end(lambda status, **_: FarEnd("early-media-then-rejects", status))
def step_destination_early_media_reject(context: Context, status: int, reason: str, ms: int) -> None:
    world(context).destination_script = (Send100(), Send183(early_media=True), Wait(ms), Reject(status, reason))


@given('the destination rejects the call with {status:d} "{reason}"')
@far_end(lambda status, **_: FarEnd("rejects", status))
def step_destination_rejects(context: Context, status: int, reason: str) -> None:
    world(context).destination_script = script_for(ringing=False, reject=status, reason=reason)
