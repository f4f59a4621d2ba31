"""What environment.py's hooks do: a harness session for the run, a ScenarioWorld per scenario."""

from __future__ import annotations

from typing import Any

from harness.capture import Capture, CaptureError
from harness.scenario import ScenarioWorld
from harness.session import RunOptions, Session

__all__ = ["after_all", "after_scenario", "before_all", "before_scenario", "check_capture", "failure_text"]


def check_capture() -> None:
    """Fail fast, with the reason, when this process may not capture on loopback (CaptureNotPermitted)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="trunkcheck-probe-") as tmp:
        probe = Capture(Path(tmp) / "probe.pcap", addresses=["127.0.0.1"], start_timeout=3, stop_timeout=3)
        probe.start()
        probe.stop()


def before_all(context: Any) -> None:
    options = RunOptions.from_userdata(context.config.userdata)
    try:
        check_capture()
    except CaptureError as err:
        raise SystemExit(f"trunkcheck: cannot capture on loopback: {err}") from err
    context.session = Session(options)


def after_all(context: Any) -> None:
    session = getattr(context, "session", None)
    if session is not None:
        session.close()


def before_scenario(context: Any, scenario: Any) -> None:
    world = ScenarioWorld(
        context.session,
        scenario.feature.name,
        scenario.name,
        location=str(scenario.location),
        tags=[str(t) for t in scenario.effective_tags],
    )
    context.world = world
    context.add_cleanup(world.close)


def failure_text(scenario: Any) -> str | None:
    """The message of the step (or hook) that made the scenario fail."""
    for step in scenario.all_steps:
        status = getattr(step.status, "name", str(step.status))
        if status in ("failed", "error", "undefined"):
            if status == "undefined":
                return f"undefined step: {step.keyword} {step.name}"
            return step.error_message or f"{step.keyword} {step.name}: {status}"
    if getattr(scenario, "hook_failed", False):
        return getattr(scenario, "error_message", None) or "a hook failed"
    return None


def after_scenario(context: Any, scenario: Any) -> None:
    world = getattr(context, "world", None)
    if world is None:
        return
    status = getattr(scenario.status, "name", str(scenario.status))
    record = world.finish(status, failure_text(scenario) if status != "passed" else None)
    scenario.trunkcheck_record = record  # for the progress formatter
