"""What environment.py's hooks do: a harness session for the run, a ScenarioWorld per scenario.

With equipment under test, a scenario that does not apply to it (harness.equipment.applicable: a feature
it does not claim, the other role, a scenario that reconfigures the trunk; in a ua-only run also one that
needs the harness's destination, harness.suite.ua_only) is skipped before any traffic, with a record saying
why: reported "not applicable", never passed. So is a ``@dns`` scenario that cannot run here
(harness.suite.dns_failover: no dnsmasq, roles off loopback).

After a scenario whose steps passed, every answered call must have carried media both ways
(harness.suite.media_checks): one-way audio fails the scenario from the after_scenario hook."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from harness.capture.sniffer import Capture, CaptureError, CaptureNotPermitted
from harness.equipment import applicable
from harness.reports.record import NOT_APPLICABLE, ScenarioRecord
from harness.suite import ua_only
from harness.suite.dns_failover import not_applicable as dns_not_applicable
from harness.suite.session import RunOptions, Session
from harness.suite.world import ScenarioWorld

__all__ = ["after_all", "after_scenario", "before_all", "before_scenario", "check_capture", "failure_text",
           "not_applicable", "resolve_capture"]


def check_capture(iface: str = "lo") -> None:
    """Fail fast, with the reason, when this process may not capture on `iface` (CaptureNotPermitted)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="trunkcheck-probe-") as tmp:
        probe = Capture(Path(tmp) / "probe.pcap", iface=iface, addresses=["127.0.0.1"], start_timeout=3,
                        stop_timeout=3, close_later=False)  # leaves no thread: --jobs forks from one
        probe.start()
        probe.stop()


def resolve_capture(mode: str, iface: str = "lo") -> str:
    """The capture a run uses: "raw" or "sockets". `auto` is raw when this process may open a packet socket
    on `iface`, else sockets; `raw` raises the CaptureError saying why it cannot; `sockets` needs nothing."""
    if mode == "sockets":
        return "sockets"
    if mode not in ("raw", "auto"):
        raise CaptureError(f"capture={mode!r}: use raw, sockets or auto")
    try:
        check_capture(iface)
    except CaptureNotPermitted:
        if mode == "raw":
            raise
        return "sockets"
    return "raw"


def before_all(context: Any) -> None:
    try:
        options = RunOptions.from_userdata(context.config.userdata)
    except ValueError as err:
        raise SystemExit(f"trunkcheck: {err}") from err
    try:
        capture = resolve_capture(options.capture, options.interface)
    except CaptureError as err:
        raise SystemExit(f"trunkcheck: cannot capture on {options.interface}: {err}") from err
    context.session = Session(replace(options, capture=capture))


def after_all(context: Any) -> None:
    session = getattr(context, "session", None)
    if session is not None:
        session.close()


def not_applicable(session: Session, feature: str, scenario: str, *, location: str, tags: list[str],
                   reason: str) -> ScenarioRecord:
    """The record of a scenario that does not apply to the equipment under test (written beside the
    others, so the reports list it with its reason)."""
    stem = session.artifact_stem(feature, scenario, location)
    record = ScenarioRecord(feature, scenario, location, status=NOT_APPLICABLE, tags=tags, notes=[reason])
    stem.with_name(stem.name + ".json").write_text(record.to_json(), encoding="utf-8")
    return record


def before_scenario(context: Any, scenario: Any) -> None:
    scenario_filter = context.config.userdata.get("scenario_filter")  # harness.jobs.scenario_filter
    if scenario_filter is not None and not scenario_filter.take(str(scenario.location)):
        scenario.skip()  # another shard's, or another worker's: not in this process's results
        scenario.trunkcheck_elsewhere = True
        return
    tags = [str(t) for t in scenario.effective_tags]
    equipment = context.session.equipment
    ok, why = applicable(tags, equipment)
    options = context.session.options
    if ok and (dns_why := dns_not_applicable(tags, options.roles, options.interface)) is not None:
        ok, why = False, dns_why
    number = None
    if ok and equipment is not None and equipment.ua_only:
        from behave.step_registry import registry

        ok, why, number = ua_only.plan(scenario.all_steps, equipment, registry.find_match)
    if not ok:
        scenario.trunkcheck_record = not_applicable(context.session, scenario.feature.name, scenario.name,
                                                    location=str(scenario.location), tags=tags, reason=why)
        scenario.skip()  # no reason given: behave would log it as a warning; the record has it
        scenario.trunkcheck_not_applicable = why
        return
    world = ScenarioWorld(
        context.session,
        scenario.feature.name,
        scenario.name,
        location=str(scenario.location),
        tags=tags,
    )
    if equipment is not None and equipment.ua_only:
        world.use_remote_far_end(number, why)
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
    error = failure_text(scenario) if status != "passed" else None
    one_way = world.check_media() if status == "passed" else None
    if one_way is not None:
        status, error = "failed", one_way
    record = world.finish(status, error)
    scenario.trunkcheck_record = record  # for the progress formatter
    if one_way is not None:
        raise AssertionError(one_way)  # behave: the scenario fails (hook_error), the run exits non-zero
