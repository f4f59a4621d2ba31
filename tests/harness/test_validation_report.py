"""The validation report handed to a customer: identity and claims of the equipment, every scenario's
verdict (not applicable is never passed), each failure with its divergence and capture, the equipment's
log, and no test-framework jargon. And the JUnit XML gives a not-applicable scenario's reason."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.equipment import load_equipment
from harness.reports.junit import install
from harness.reports.record import NOT_APPLICABLE, RunSummary, ScenarioRecord
from harness.reports.validation import LOG_EXCERPT, EquipmentRunInfo, write_validation_report

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "equipment" / "kamailio-trunk.toml"
DIVERGENCE = """the capture diverges from the documented ladder
   expected      observed
>> |<-- 180 --|   >> |<-- 486 --|

divergence: step 6 (line 60: VoIPBin -> UA '180 Ringing'): expected 180 response VoIPBin -> UA, observed 486"""


def records() -> list[ScenarioRecord]:
    return [
        ScenarioRecord("Outgoing call", "The documented call flow", "f:1", status="passed", seconds=0.4,
                       pcap="out/flow.pcap", ladder="out/flow.ladder.txt"),
        ScenarioRecord("Early media", "The documented early media flow", "f:2", status=NOT_APPLICABLE,
                       notes=["not applicable: Kamailio trunk example (trunk) does not claim early-media"]),
        ScenarioRecord("Outgoing call", "The destination hangs up", "f:3", status="failed", seconds=0.3,
                       pcap="out/bye.pcap", ladder="out/bye.ladder.txt", error="Assertion Failed: " + DIVERGENCE,
                       expected=[{"title": "the spec's ladder", "text": "UA  VoIPBin"}], observed="UA  VoIPBin"),
        ScenarioRecord("Registration", "REGISTER", "f:4", status="hook_error", seconds=0.1, pcap="reg/r.pcap",
                       ladder="reg/r.ladder.txt",
                       error="Traceback (most recent call last):\n  File x\nharness.aio_loop.StepTimeout: the UA's "
                             "REGISTER as 1001 did not finish within 40 s"),
    ]


def write(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "equipment").mkdir()
    log = tmp_path / "equipment" / "equipment.log"
    log.write_text("kamailio 5.6 Listening on udp:127.0.0.50:5060\n" + "x" * 80 + "\n" + "request line\n" * 2000
                   + "sig_usr(): signal 15 received\n")
    now = time.time()
    info = EquipmentRunInfo(load_equipment(EXAMPLE), EXAMPLE, now - 12.5, now, log)
    summary = RunSummary("r1", 3, 1, 2, 0, 12.5, not_applicable=1)
    path = write_validation_report(tmp_path, info, summary, records())
    return path.read_text(), (tmp_path / "validation-report.md").read_text()


def test_identity_claims_and_each_verdict(tmp_path: Path) -> None:
    page, md = write(tmp_path)
    assert "Does not conform: 1 passed, 2 failed, 1 not applicable (of 4 scenarios)." in page
    for fact in ("Kamailio trunk example", "Kamailio", "5.6", "udp:127.0.0.50:5060", "example.trunk.voipbin.net",
                 "SIP trunk (SBC, PBX or proxy) standing in for VoIPBin", "Call cancellation: CANCEL while ringing"):
        assert fact in page and fact in md
    assert page.count('<td class="Passed">Passed</td>') == 1 and page.count('<td class="Failed">Failed</td>') == 2
    assert '<td class="na">Not applicable</td>' in page and "does not claim early-media" in page
    assert "| Not applicable | Early media | The documented early media flow |" in md
    assert "the column <b>VoIPBin</b> is Kamailio trunk example at udp:127.0.0.50:5060" in page


def test_each_failure_shows_its_divergence_and_capture_in_plain_words(tmp_path: Path) -> None:
    page, md = write(tmp_path)
    assert page.count('class="failure"') == 2
    assert "divergence: step 6 (line 60: VoIPBin -&gt; UA &#x27;180 Ringing&#x27;)" in page
    assert '<a href="out/bye.pcap">out/bye.pcap</a>' in page and "Capture: [out/bye.pcap](out/bye.pcap)" in md
    assert "the UA&#x27;s REGISTER as 1001 did not finish within 40 s" in page
    assert "Observed flow:" in page, "a failure that is no ladder divergence shows what was captured"
    for jargon in ("Assertion Failed", "ASSERT FAILED", "Traceback", "hook_error", "behave", "StepTimeout", "n/a"):
        assert jargon not in page and jargon not in md, jargon


def test_the_equipment_log_start_and_end_and_the_run_metadata(tmp_path: Path) -> None:
    page, _ = write(tmp_path)
    assert "Listening on udp:127.0.0.50:5060" in page and "signal 15 received" in page
    assert "lines left out: see the full log" in page and page.count("request line") < LOG_EXCERPT // 10
    assert "trunkcheck " in page and "UTC" in page and "12.5 s" in page and "kamailio-trunk.toml (SHA-256 " in page


NOT_APPLICABLE_FEATURE = """Feature: Early media

  Scenario: The documented early media flow
    Given nothing

  Scenario: The documented call flow
    Given nothing
"""
NOT_APPLICABLE_HOOKS = """
def before_scenario(context, scenario):
    if "early media" in scenario.name:
        scenario.trunkcheck_not_applicable = "not applicable: Kamailio trunk example (trunk) does not claim early-media"
        scenario.skip()
"""


def test_junit_gives_a_not_applicable_scenario_its_reason_as_it_is_written(tmp_path: Path) -> None:
    """behave's JUnit reporter, as trunkcheck installs it, writes the reason harness.suite.hooks gives the
    scenario into its <skipped>: the file is written once, never edited afterwards."""
    from behave.configuration import Configuration
    from behave.runner import Runner

    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "steps.py").write_text("from behave import given\n\n@given('nothing')\ndef step(context):\n"
                                                 "    pass\n")
    (tmp_path / "environment.py").write_text(NOT_APPLICABLE_HOOKS)
    (tmp_path / "early.feature").write_text(NOT_APPLICABLE_FEATURE)
    config = Configuration([str(tmp_path / "early.feature"), "--junit", "--junit-directory", str(tmp_path / "junit"),
                            "--format", "null", "--no-summary"], load_config=False)
    install(config, ())
    assert not Runner(config).run()
    [junit] = (tmp_path / "junit").glob("*.xml")
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    skipped = cases["The documented early media flow"].find("skipped")
    assert skipped is not None and skipped.get("message") == skipped.text
    assert (skipped.text or "").startswith("not applicable: Kamailio trunk example")
    assert cases["The documented call flow"].find("skipped") is None


def test_every_claim_has_its_text_in_the_validation_report() -> None:
    from harness.equipment import FEATURES
    from harness.reports.validation import FEATURE_TEXT

    assert set(FEATURE_TEXT) == set(FEATURES)
