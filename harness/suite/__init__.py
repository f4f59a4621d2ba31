"""The conformance suite as it runs: behave's Runner driven by :func:`run_suite`, the hooks environment.py
calls, and the world each scenario's steps act on.

- :mod:`~harness.suite.runner`: one run (equipment started and stopped, behave run, reports written);
- :mod:`~harness.suite.hooks`, :mod:`~harness.suite.progress`: behave's hooks and its live formatter;
- :mod:`~harness.suite.session`: what a run shares (event loop, port plan, decoder, output folder);
- :mod:`~harness.suite.world`: one scenario (topology, capture, trunk, destination, UAs, expectations);
- :mod:`~harness.suite.trunk`, :mod:`~harness.suite.ua_under_test`, :mod:`~harness.suite.equipment_setup`:
  the trunk a scenario talks to, the UA under test, and how equipment under test takes its place;
- :mod:`~harness.suite.checks`: the Then steps' assertions on a decoded capture;
- :mod:`~harness.suite.loop`: the asyncio loop on its own thread that synchronous steps drive.
"""

from __future__ import annotations

from harness.suite.equipment_setup import RunningEquipment, check_usable, start_equipment
from harness.suite.loop import LoopThread, StepTimeout
from harness.suite.runner import RunResult, run_suite
from harness.suite.session import RunOptions, Session
from harness.suite.trunk import TrunkSettings
from harness.suite.ua_under_test import EquipmentSilent, UaUnderTest
from harness.suite.world import ScenarioWorld

__all__ = [
    "EquipmentSilent",
    "LoopThread",
    "RunOptions",
    "RunResult",
    "RunningEquipment",
    "ScenarioWorld",
    "Session",
    "StepTimeout",
    "TrunkSettings",
    "UaUnderTest",
    "check_usable",
    "run_suite",
    "start_equipment",
]
