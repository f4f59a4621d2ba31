"""Steps of the mid-call scenarios: hold and resume by re-INVITE (harness.suite.hold_checks) and DTMF as
RFC 4733 telephone-events (harness.suite.dtmf_checks)."""

from __future__ import annotations

from behave import given, then, when
from behave.runner import Context

from harness.suite import dtmf_checks, hold_checks
from harness.suite.ua_only import destination_side, far_end
from simulator.settings import Answer, HangupAfter, Hold, Resume, Send100, Send180, SendDigits
from steps.parameter_types import use_parameter_types
from steps.world import world

use_parameter_types()


@when('the UA calls "{to:Text}", holds it with a={direction:HoldDirection} after {hold:d} ms, resumes it after '
      '{resume:d} ms and hangs up after {ms:d} ms')
def step_ua_holds(context: Context, to: str, direction: str, hold: int, resume: int, ms: int) -> None:
    world(context).call("UA", to, hold_ms=ms, midcall=(Hold(hold, direction), Resume(resume)))


@far_end("no test number puts the call on hold")
@given("the destination answers, holds the call with a={direction:HoldDirection} after {hold:d} ms, resumes it "
       "after {resume:d} ms and hangs up after {ms:d} ms")
def step_destination_holds(context: Context, direction: str, hold: int, resume: int, ms: int) -> None:
    world(context).destination_script = (Send100(), Send180(), Answer(50), Hold(hold, direction), Resume(resume),
                                          HangupAfter(ms))


@far_end("no test number keeps sending RTP while held")
@given("the destination rings, answers, and keeps sending RTP while held")
def step_destination_ignores_hold(context: Context) -> None:
    """A broken far end: its answer says a=recvonly (or a=inactive) yet its RTP goes on."""
    scenario = world(context)
    scenario.destination_script = (Send100(), Send180(), Answer(50))
    scenario.destination_options["keep_sending_on_hold"] = True


@when('the UA calls "{to:Text}", sends DTMF "{digits}" after {after:d} ms and hangs up after {ms:d} ms')
def step_ua_dtmf(context: Context, to: str, digits: str, after: int, ms: int) -> None:
    world(context).call("UA", to, hold_ms=ms, midcall=(SendDigits(after, digits),))


@far_end("no test number sends DTMF")
@given('the destination answers, sends DTMF "{digits}" after {after:d} ms and hangs up after {ms:d} ms')
def step_destination_dtmf(context: Context, digits: str, after: int, ms: int) -> None:
    world(context).destination_script = (Send100(), Send180(), Answer(50), SendDigits(after, digits),
                                          HangupAfter(ms))


@destination_side("the re-INVITE on the trunk's leg to the destination")
@then("the {party}'s hold re-INVITE (a={direction:HoldDirection}) is answered with a={answer} on both legs")
def step_hold_answered(context: Context, party: str, direction: str, answer: str) -> None:
    world(context).record.notes.extend(hold_checks.check_hold_offer(world(context).observation(), holder=_role(party),
                                                                    offered=direction, answered=answer))


@destination_side("the CSeq of the re-INVITEs on the trunk's leg to the destination")
@then("each leg's re-INVITEs carry that leg's own CSeq, above the leg's earlier requests")
def step_reinvite_cseq(context: Context) -> None:
    world(context).record.notes.extend(hold_checks.check_reinvite_cseq(world(context).observation()))


@then("while the {party} holds, no RTP reaches {receivers}")
def step_no_rtp_on_hold(context: Context, party: str, receivers: str) -> None:
    world(context).record.notes.extend(hold_checks.check_silent_while_held(
        world(context).observation(), holder=_role(party), receivers=[_role(r) for r in receivers.split(" or ")]))


@destination_side("the held party's RTP at the destination")
@then("while the {party} holds with a=sendonly, its RTP still reaches the {other}")
def step_moh(context: Context, party: str, other: str) -> None:
    world(context).record.notes.extend(hold_checks.check_holder_still_heard(
        world(context).observation(), holder=_role(party), other=_role(other)))


@destination_side("the RTP reaching the destination after the resume")
@then("after the resume RTP flows both ways again")
def step_resumed(context: Context) -> None:
    world(context).record.notes.extend(hold_checks.check_resumed(world(context).observation()))


@destination_side("the telephone-events on the trunk's leg to the destination")
@then('the {sender} sends DTMF "{digits}" as RFC 4733 telephone-events that reach the {receiver} through VoIPBin')
def step_dtmf(context: Context, sender: str, digits: str, receiver: str) -> None:
    world(context).record.notes.extend(dtmf_checks.check_dtmf(
        world(context).observation(), sender=_role(sender), receiver=_role(receiver), digits=digits))


def _role(text: str) -> str:
    """"the UA" / "UA" / "destination" -> the role's column name."""
    name = text.strip().removeprefix("the ").strip()
    return {"ua": "UA", "destination": "Destination"}.get(name.lower(), name)
