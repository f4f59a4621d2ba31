"""What the keep-alive scenarios do besides calls: the UA sends the trunk an OPTIONS, and the harness waits
for the trunk's own OPTIONS to reach the simulated destination.

How long to wait comes from the trunk's keep-alive settings: the embedded reference server's (the
scenario sets them), or what the equipment file declares (``[equipment.trunk] options_interval`` and
``options_timeout``), so a real SBC pinging once a minute is waited for long enough, and the reference
server pinging every 10 s is not waited for longer than that.
"""

from __future__ import annotations

import asyncio
import time

from harness.suite.world import ScenarioWorld
from simulator.keepalive import send_options

__all__ = ["ping_settings", "send_trunk_options", "wait_for_pings", "wait_until_down"]

SLACK = 2.0  # seconds beyond the trunk's own interval or timeout


def ping_settings(world: ScenarioWorld) -> tuple[float, float]:
    """(interval, timeout) of the trunk's OPTIONS toward its destination."""
    if world.topology.external_trunk:
        return world.trunk.options_interval, world.trunk.options_timeout
    keepalive = world.trunk.keepalive
    if not keepalive.enabled:
        raise RuntimeError("the trunk sends no OPTIONS: add a step 'Given the trunk pings its destination with "
                           "OPTIONS every N s ...' first")
    return keepalive.interval, keepalive.timeout


def send_trunk_options(world: ScenarioWorld, role: str, uri: str) -> int:
    """``role`` sends one OPTIONS for ``uri`` to the trunk; the status of the answer (bounded: Timer F)."""
    agent = world.agent(role)
    what = f"the {role}'s OPTIONS {uri}"
    response = world.run(send_options(agent, uri, world.topology.trunk, from_uri=agent.settings.local_uri),
                         agent.transaction_bound + 1, what)
    return response.status


def _destination(world: ScenarioWorld) -> list[float]:
    world.ensure_traffic()
    if world.destination is None:
        raise RuntimeError("the keep-alive scenarios need trunkcheck's simulated destination (not --destination sipp)")
    return world.destination.options_received


def wait_for_pings(world: ScenarioWorld, count: int) -> float:
    """Until the destination has received ``count`` OPTIONS (new transactions); the seconds waited.
    AssertionError after ``count`` intervals plus slack (the first ping may come an interval after start)."""
    received = _destination(world)
    interval, _ = ping_settings(world)
    bound = count * interval * 1.1 + SLACK
    started = time.monotonic()

    async def poll() -> None:
        while len(received) < count:
            await asyncio.sleep(0.05)
    try:
        world.run(poll(), bound, f"{count} OPTIONS from the trunk")
    except TimeoutError:
        raise AssertionError(f"the destination received {len(received)} OPTIONS from the trunk in {bound:.0f} s; "
                             f"{count} were expected (a keep-alive every {interval:g} s)") from None
    return time.monotonic() - started


def wait_until_down(world: ScenarioWorld) -> None:
    """Wait for the trunk's first OPTIONS (which the destination leaves unanswered), then for as long as
    the trunk gives an OPTIONS before it marks the destination down, plus slack."""
    wait_for_pings(world, 1)
    _, timeout = ping_settings(world)
    time.sleep(timeout + (0.5 if not world.topology.external_trunk else SLACK))
