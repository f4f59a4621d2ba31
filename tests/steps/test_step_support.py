"""What the step modules share: the custom parameter types behave matches steps with, and the typed
accessor for the scenario world."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from behave.matchers import ParseMatcher

from steps.parameter_types import use_parameter_types
from steps.world import world


def step(*args: Any) -> None:
    """A stand-in step function (the matcher only needs something to hold)."""


def matched(pattern: str, text: str) -> list[Any] | None:
    use_parameter_types()
    args = ParseMatcher(step, pattern).check_match(text)
    return None if args is None else [a.value for a in args]


def test_roles_as_written_in_a_step_become_the_harness_role_names() -> None:
    pattern = 'the {role:Role} calls "{to:Text}" and hangs up after {ms:d} ms'
    assert matched(pattern, 'the carrier calls "1001" and hangs up after 500 ms') == ["Carrier", "1001", 500]
    assert matched(pattern, 'the UA2 calls "sip:2002@example.trunk.voipbin.net" and hangs up after 9 ms') == [
        "UA2", "sip:2002@example.trunk.voipbin.net", 9]
    assert matched(pattern, 'the operator calls "1001" and hangs up after 500 ms') is None


def test_quoted_text_stops_at_the_closing_quote() -> None:
    pattern = 'the UA calls "{to:Text}" with password "{password:Text}"'
    assert matched(pattern, 'the UA calls "+15551234" with password "s3 cr3t"') == ["+15551234", "s3 cr3t"]


def test_realm_names_whose_domain_the_challenge_uses() -> None:
    pattern = "every {status:d} challenge is in the realm of the {which:Realm} domain"
    registrar = "every 407 challenge is in the realm of the registrar's domain"
    assert matched(pattern, registrar) == [407, "registrar"]
    assert matched(pattern, "every 401 challenge is in the realm of the trunk's domain") == [401, "trunk"]


def test_a_step_without_the_scenario_world_says_the_hooks_did_not_run() -> None:
    with pytest.raises(RuntimeError, match="environment.py hooks did not run"):
        world(SimpleNamespace(world="not a world"))
