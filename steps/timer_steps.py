"""Steps of the session-timer (RFC 4028), reliable-provisional (RFC 3262) and long-call scenarios
(harness.suite.timer_checks; durations from harness.suite.durations)."""

from __future__ import annotations

from behave import given, then, when
from behave.runner import Context

from harness.suite import durations
from harness.suite.timer_checks import (
    agreed_interval,
    check_422_retry,
    check_expiry_byes,
    check_refresh_relayed,
    check_reliable_183,
    check_steady_rtp,
    check_unreliable_183,
)
from simulator.destination import script_for
from simulator.settings import SessionTimer
from steps.parameter_types import use_parameter_types
from steps.world import world

use_parameter_types()

CALL_SLACK = 1.5  # seconds a call is held past the refresh it waits for


def _interval(context: Context) -> int:
    return durations.session_interval(context.config.userdata)


def _method(text: str) -> str:
    return "INVITE" if text.lower() in ("re-invite", "invite") else "UPDATE"


@given("the destination sends 183 with early media reliably (100rel), then answers after {ms:d} ms")
def step_destination_reliable_183(context: Context, ms: int) -> None:
    scenario = world(context)
    scenario.destination_script = script_for(ringing=False, early_media=True, answer_after_ms=ms)
    scenario.destination_options["reliable"] = "on"


@given("the destination refreshes the session with {method}")
def step_destination_refreshes(context: Context, method: str) -> None:
    world(context).destination_options["session_timer"] = SessionTimer(refresher="uas", method=_method(method))


@when('the UA calls "{to:Text}" asking for a session interval of {seconds:d} s')
def step_call_small_interval(context: Context, to: str, seconds: int) -> None:
    world(context).call("UA", to, hold_ms=200, settings={"session_timer": SessionTimer(interval=seconds)})


@when('the UA calls "{to:Text}" with the run\'s session interval, refreshing it with {method}')
def step_call_refreshing(context: Context, to: str, method: str) -> None:
    interval = _interval(context)
    timer = SessionTimer(interval=interval, refresher="uac", method=_method(method))
    world(context).call("UA", to, hold_ms=int((interval / 2 + CALL_SLACK) * 1000), settings={"session_timer": timer})


@when('the UA calls "{to:Text}" with the run\'s session interval, leaving the refresh to the far end')
def step_call_far_end_refreshes(context: Context, to: str) -> None:
    interval = _interval(context)
    timer = SessionTimer(interval=interval, refresher=None)
    world(context).call("UA", to, hold_ms=int((interval / 2 + CALL_SLACK) * 1000), settings={"session_timer": timer})


@when('the UA calls "{to:Text}" with the run\'s session interval as its refresher, and never refreshes')
def step_call_never_refreshes(context: Context, to: str) -> None:
    interval = _interval(context)
    timer = SessionTimer(interval=interval, refresher="uac", refresh=False)
    wait_ms = int((interval + CALL_SLACK) * 1000)
    world(context).call("UA", to, expect_remote_bye=True, hold_ms=wait_ms, remote_bye_timeout_ms=wait_ms,
                        settings={"session_timer": timer})


@when('the UA, supporting 100rel, calls "{to:Text}" and hangs up after {ms:d} ms')
def step_call_100rel(context: Context, to: str, ms: int) -> None:
    world(context).call("UA", to, hold_ms=ms, settings={"prack": True})


@when('the UA holds a call to "{to:Text}" for the run\'s long-call duration, refreshing the session with {method}')
def step_long_call(context: Context, to: str, method: str) -> None:
    seconds = durations.long_call_seconds(context.config.userdata)
    interval = _interval(context)
    timer = SessionTimer(interval=interval, refresher="uac", method=_method(method))
    world(context).call("UA", to, hold_ms=int(seconds * 1000), settings={"session_timer": timer})


@then("the trunk answers 422 with a larger Min-SE, and the UA's retry asking for it is answered")
def step_422(context: Context) -> None:
    scenario = world(context)
    asked = scenario.agents["UA"].settings.session_timer.interval or 0
    scenario.record.notes.append(check_422_retry(scenario.observation(), asked))


@then("the {src:Side}'s refresh by {method} reaches the {dst:Side} through the trunk and is answered")
def step_refresh_relayed(context: Context, src: str, method: str, dst: str) -> None:
    scenario = world(context)
    scenario.record.notes.append(check_refresh_relayed(scenario.observation(), _method(method), src, dst))


@then("the trunk ends the call with BYE on both legs when the session expires")
def step_expiry(context: Context) -> None:
    scenario = world(context)
    scenario.record.notes.append(check_expiry_byes(scenario.observation()))


@then("the call lasted across at least one session refresh")
def step_across_refresh(context: Context) -> None:
    scenario = world(context)
    obs = scenario.observation()
    interval = agreed_interval(obs)
    result = scenario.calls[-1]
    if not result.refreshes or any(not 200 <= s < 300 for s in result.refreshes):
        raise AssertionError(f"the UA's refreshes (every {interval / 2:g} s) got {result.refreshes or 'nothing'}: "
                             "the call was not held across a refresh (a longer -D long_call_seconds?)")
    scenario.record.notes.append(f"{len(result.refreshes)} refresh(es) of a {interval} s session, all answered 2xx")


@then("RTP flows steadily both ways on both legs, no gap over {ms:d} ms")
def step_steady_rtp(context: Context, ms: int) -> None:
    scenario = world(context)
    scenario.record.notes.append(check_steady_rtp(scenario.observation(), ms / 1000))


@then("the 183 reaches the UA reliably and the PRACKs acknowledge it on both legs")
def step_reliable(context: Context) -> None:
    scenario = world(context)
    scenario.record.notes.append(check_reliable_183(scenario.observation()))


@then("the 183 reaches the UA unreliably and the trunk PRACKs the destination itself")
def step_unreliable(context: Context) -> None:
    scenario = world(context)
    scenario.record.notes.append(check_unreliable_183(scenario.observation()))
