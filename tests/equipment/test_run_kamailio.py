"""Kamailio 5.6 (examples/kamailio/kamailio.cfg) as the trunk under test, run the way a vendor runs it:
`trunkcheck run --equipment examples/equipment/kamailio-trunk.toml`. The harness starts Kamailio, plays
the UA, the destination and the carrier around it, and stops it. Every scenario that applies passes; those
for what a proxy does differently from the spec's B2BUA (no media relay, no Reason header of its own:
examples/kamailio/README.md) are not claimed in the file and so reported not applicable, never passed. The
destination's final status it relays unchanged (status-relay, the spec's 404 ladder) is claimed, and passes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.adapters.kamailio import KAMAILIO_MISSING, find_kamailio
from harness.adapters.sipp_process import port_bound
from harness.equipment import load_equipment

from ..addresses import loopback
from .run_support import applicable_scenarios, needs_run, statuses, summary, trunkcheck_run

pytestmark = [pytest.mark.interop, *needs_run,
              pytest.mark.skipif(find_kamailio() is None, reason=KAMAILIO_MISSING)]

FILE = "kamailio-trunk.toml"  # in the examples fixture: moved into this test process's loopback block


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, examples: Path) -> tuple[object, Path]:
    tmp = tmp_path_factory.mktemp("kamailio-run")
    return trunkcheck_run(tmp, "--equipment", str(examples / FILE)), tmp / "r"


def test_every_applicable_scenario_passes_and_the_others_are_not_applicable(run, examples) -> None:  # type: ignore[no-untyped-def]
    proc, run_dir = run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    eq = load_equipment(examples / FILE)
    yes, no = applicable_scenarios(eq)
    counts = summary(proc)
    assert counts == {"total": len(yes), "passed": len(yes), "failed": 0, "na": len(no)}, proc.stdout
    assert len(yes) >= 10, "basic auth, domains, CANCEL, the destination's BYE and registration all apply"
    seen = statuses(run_dir)
    assert {seen[name] for name in yes} == {"passed"}
    assert {seen[name] for name in no} == {"n/a"}
    for must in ("The documented call flow, the caller hangs up", "The caller cancels while the destination rings",
                 "A call to a registered extension rings the UA", "De-registration removes the binding"):
        assert seen[must] == "passed", must
    assert "Kamailio trunk example (trunk) does not claim early-media" in proc.stdout
    assert "does not claim q850-reason" in proc.stdout


def test_the_spec_s_hangup_status_ladder_passes_against_kamailio(run) -> None:  # type: ignore[no-untyped-def]
    """Kamailio relays the destination's final status unchanged (503 too: remap_503_500 is off) and claims
    status-relay: the spec's 404 ladder and every status of the outline run against it, and pass. Only the
    Q.850 Reason (a B2BUA's addition) is not claimed."""
    _, run_dir = run
    seen = statuses(run_dir)
    assert seen["The documented flow, the destination answers 404 Not Found"] == "passed"
    relayed = {name: status for name, status in seen.items() if "reaches the UA unchanged" in name}
    assert len(relayed) == 7 and set(relayed.values()) == {"passed"}, relayed
    q850 = {name: status for name, status in seen.items() if "with Q.850 cause" in name}
    assert len(q850) == 8 and set(q850.values()) == {"n/a"}, q850
    ladder = (run_dir / "hangup-cause-relay" /
              "the-documented-flow-the-destination-answers-404-not-found.ladder.txt").read_text()
    assert ladder.count("404 Not Found") == 2, "the destination's 404 and the one Kamailio relays to the UA"


def test_kamailio_is_the_voipbin_column_and_is_stopped_at_the_end(run) -> None:  # type: ignore[no-untyped-def]
    proc, run_dir = run
    ladder = (run_dir / "outgoing-call-with-basic-authentication" /
              "the-documented-call-flow-the-caller-hangs-up.ladder.txt").read_text()
    assert ladder.splitlines()[0].split() == ["UA", "VoIPBin", "Destination"]
    assert "407 Proxy Authentication Required" in ladder and "Kamailio" not in ladder.splitlines()[0]
    log = (run_dir / "equipment" / "equipment.log").read_text()
    assert "Listening on" in log and "signal 15 received" in log, "started by the run, stopped with SIGTERM"
    assert not port_bound(loopback(50), 5060), "Kamailio still listens after the run"


def test_the_reports_say_not_applicable_never_passed(run, examples) -> None:  # type: ignore[no-untyped-def]
    _, run_dir = run
    report = (run_dir / "validation-report.html").read_text()
    assert "Conforms for every feature it claims" in report and "Kamailio trunk example" in report
    assert report.count('<td class="na">Not applicable</td>') == len(applicable_scenarios(load_equipment(examples / FILE))[1])
    assert "Listening on" in report, "an excerpt of Kamailio's own log"
    skipped = {}
    for path in (run_dir / "junit").glob("*.xml"):
        for case in ET.parse(path).getroot().iter("testcase"):
            if case.find("skipped") is not None:
                skipped[case.get("name")] = case.find("skipped").get("message")  # type: ignore[union-attr]
    assert skipped["The documented early media flow"].startswith("not applicable: Kamailio trunk example")
    assert all(message and "not applicable" in message for message in skipped.values())
    html = (run_dir / "report.html").read_text()
    assert "N/A</td>" in html and "PASSED</span>" in html
