"""Scenario durations from behave's user data (-D): short defaults for CI, checked values, stated among
the run's conditions."""

from __future__ import annotations

import pytest

from harness.settings import RunSettings
from harness.suite.durations import long_call_seconds, parse_define, session_interval


def test_defaults_and_values() -> None:
    assert session_interval({}) == 4 and long_call_seconds({}) == 6.0
    assert session_interval({"session_interval": "90"}) == 90
    assert long_call_seconds({"long_call_seconds": "1800"}) == 1800.0


@pytest.mark.parametrize("text, problem", [("session_interval=1", r"2\.\.86400"), ("nap=3", "NAME one of"),
                                           ("long_call_seconds=soon", "number of seconds"), ("session_interval", "NAME=VALUE")])
def test_bad_defines_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_define(text)


def test_a_define_is_a_condition_of_the_run() -> None:
    conditions = RunSettings(defines=(parse_define("long_call_seconds=1800"),)).conditions
    assert [str(c) for c in conditions] == ["-D long_call_seconds=1800"]
