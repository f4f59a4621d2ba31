"""behave hooks for the conformance suite (at the repository root because steps/ is top-level).

Run-wide: one harness session (event loop, port plan, long-lived tshark decoder, output folder).
Per scenario: a fresh topology, capture, trunk and simulators (harness.suite.world.ScenarioWorld), torn down
after the scenario with bounded waits; its pcap, ladder and result land in the run folder.
"""

from __future__ import annotations

from behave.model import Scenario
from behave.runner import Context

from harness.suite import hooks


def before_all(context: Context) -> None:
    hooks.before_all(context)


def after_all(context: Context) -> None:
    hooks.after_all(context)


def before_scenario(context: Context, scenario: Scenario) -> None:
    hooks.before_scenario(context, scenario)


def after_scenario(context: Context, scenario: Scenario) -> None:
    hooks.after_scenario(context, scenario)
