"""The scenario's world, typed: what every step acts on.

environment.py's ``before_scenario`` puts a :class:`harness.suite.world.ScenarioWorld` on behave's context
for each scenario. behave's context takes any attribute (so reads of it are untyped); steps reach the world
through :func:`world` instead, which mypy checks and which says what is wrong when the hooks did not run.
"""

from __future__ import annotations

from behave.runner import Context

from harness.suite.world import ScenarioWorld

__all__ = ["world"]


def world(context: Context) -> ScenarioWorld:
    """The current scenario's :class:`ScenarioWorld`; RuntimeError when there is none."""
    found = getattr(context, "world", None)
    if not isinstance(found, ScenarioWorld):
        raise RuntimeError("no scenario world on behave's context: the suite's environment.py hooks did "
                           "not run (run it with `trunkcheck run`, or behave from the repository root)")
    return found
