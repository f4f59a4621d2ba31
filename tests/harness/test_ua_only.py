"""UA-only planning: which scenarios run against a remote trunk (its own far end answers its calls),
which test number each calls, and the UA leg of a ladder. Steps are matched by behave's own registry and
parser, with step functions marked the way steps/ marks them."""

from __future__ import annotations

from typing import Any

from behave.parser import parse_feature
from behave.step_registry import StepRegistry

from harness.equipment import parse_equipment
from harness.ladder import ladder_from_table, parse_ladder
from harness.suite.ua_only import FarEnd, destination_side, far_end, plan, ua_leg

EQUIPMENT = """\
[equipment]
name = "remote trunk"
role = "trunk"
address = "udp:127.0.9.50:5060"
features = ["basic-auth"]
[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"
destination = "remote"
[[equipment.trunk.number]]
number = "+15550100"
behaviour = "answers"
[[equipment.trunk.number]]
number = "+15550404"
behaviour = "rejects"
status = 404
"""


def _registry() -> StepRegistry:
    registry = StepRegistry()

    def step(context: Any, **_: Any) -> None:
        """A stand-in: plan() reads only the marks (each marked step gets a function of its own)."""

    registry.add_step_definition("given", "the destination rings, then answers", far_end(FarEnd("answers"))(
        lambda context: None))
    registry.add_step_definition("given", 'the destination rejects the call with {status:d} "{reason}"',
                                 far_end(lambda status, **_: FarEnd("rejects", status))(lambda context, **_: None))
    registry.add_step_definition("given", "the destination rings, answers, and hangs up after {ms:d} ms",
                                 far_end("the destination must hang up")(lambda context, **_: None))
    registry.add_step_definition("when", 'the UA calls "{to}"', step)
    registry.add_step_definition("then", "the UA receives {status:d}", step)
    registry.add_step_definition("then", "the destination receives no INVITE",
                                 destination_side("that no INVITE reached the destination")(lambda context: None))
    return registry


def _plan(*lines: str) -> tuple[bool, str, str | None]:
    text = "Feature: f\n  Scenario: s\n" + "".join(f"    {line}\n" for line in lines)
    scenario = parse_feature(text).scenarios[0]
    ok, why, number = plan(scenario.all_steps, parse_equipment(EQUIPMENT, "eq.toml"), _registry().find_match)
    return ok, why, number.number if number else None


def test_a_scenario_calls_the_test_number_whose_far_end_does_what_it_needs() -> None:
    ok, why, number = _plan('Given the destination rejects the call with 404 "Not Found"', 'When the UA calls "+1"',
                            "Then the UA receives 404")
    assert (ok, number) == (True, "+15550404") and "+15550404 (rejects with 404)" in why
    assert _plan("Given the destination rings, then answers", 'When the UA calls "+1"')[2] == "+15550100"


def test_a_scenario_without_a_matching_test_number_is_not_applicable_saying_which_to_add() -> None:
    ok, why, number = _plan('Given the destination rejects the call with 486 "Busy Here"', 'When the UA calls "+1"')
    assert not ok and number is None
    assert why.startswith("not applicable: the scenario needs a far end that rejects with 486")
    assert 'behaviour = "rejects", status = 486' in why and "eq.toml" in why


def test_a_scenario_checking_the_destination_or_needing_its_cue_is_not_applicable() -> None:
    ok, why, _ = _plan("Given the destination rings, then answers", 'When the UA calls "+1"',
                       "Then the destination receives no INVITE")
    assert not ok and '"Then the destination receives no INVITE" checks that no INVITE reached' in why
    assert 'destination = "remote"' in why
    ok, why, _ = _plan("Given the destination rings, answers, and hangs up after 200 ms", 'When the UA calls "+1"')
    assert not ok and "the destination must hang up" in why


def test_a_scenario_saying_nothing_of_the_far_end_calls_the_answering_number() -> None:
    assert _plan('When the UA calls "+1"') == (True, "ua-only: the UA leg; calls to the destination go to "
                                                     "+15550100 (answers)", "+15550100")


SPEC = """\
UA                                   VoIPBin                                 Destination

|                                        |                                        |
===================================================================================
|----- INVITE with Authorization ------->|                                        |
|                                        |---------------- INVITE --------------->|
|                                        |<--------------- 100 Trying ------------|
|<------------- 100 Trying --------------|                                        |
|                                        |<--------------- 183 Ringing -----------|
|<------------- 183 Ringing -------------|                                        |
|<------------- RTP Media ---------------|<---------------- RTP Media ------------|
"""


def test_the_ua_leg_keeps_the_ua_and_voipbin_columns_and_the_spec_line_numbers() -> None:
    ladder = parse_ladder(SPEC)
    leg = ua_leg(ladder)
    assert leg.columns == ["UA", "VoIPBin"] and leg.elided_prefix
    assert [(s.src, s.dst, s.label) for s in leg.steps] == [
        ("UA", "VoIPBin", "INVITE with Authorization"), ("VoIPBin", "UA", "100 Trying"),
        ("VoIPBin", "UA", "183 Ringing"), ("VoIPBin", "UA", "RTP Media")]
    assert [s.line_no for s in leg.steps] == [5, 8, 10, 11]  # the lines of the full diagram
    assert parse_ladder(leg.text).steps == leg.steps  # its drawing is the same flow
    table = ladder_from_table([{"from": "VoIPBin", "to": "Destination", "message": "CANCEL"}])
    assert ua_leg(table).steps == [] and ua_leg(table).text == ""
