"""The feature files against the document under test: every ladder doc string is one of the spec's ladders
character for character, every spec ladder is asserted by some scenario, and every step is defined."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from behave.parser import parse_file

from harness.ladder.expected import (
    ROLE_ORDER,
    SPEC_PATH,
    ExpectationError,
    column_order,
    ladder_from_docstring,
    ladder_from_drawing,
    ladder_from_table,
    spec_ladders,
)

REPO = Path(__file__).resolve().parents[2]
FEATURES = sorted((REPO / "features").glob("*.feature"))
LADDER_STEP = "the capture follows the ladder:"


def _steps():
    for path in FEATURES:
        feature = parse_file(str(path))
        for scenario in feature.walk_scenarios(with_outlines=True):
            for step in scenario.steps:
                yield path, scenario, step
        if feature.background:
            for step in feature.background.steps:
                yield path, feature.background, step


DRAWN_STEP = "the capture follows this ladder, which the spec does not draw:"


def _ladder_docstrings():
    """The spec's ladders in the features (ladders drawn for flows the spec does not draw left aside)."""
    return [(p, s, st.text) for p, s, st in _steps() if st.text and "|" in st.text and st.name != DRAWN_STEP]


def test_the_spec_is_in_the_repository():
    assert SPEC_PATH == REPO / "spec" / "voipbin-trunk.txt"
    assert len(spec_ladders()) == 3


def test_every_ladder_doc_string_is_a_spec_ladder_character_for_character():
    spec_blocks = [lad.text.rstrip("\n") for lad in spec_ladders()]
    docstrings = _ladder_docstrings()
    assert docstrings, "no ladder doc strings in features/"
    for path, scenario, text in docstrings:
        assert text in spec_blocks, f"{path.name}: '{scenario.name}': the doc string differs from every ladder of the spec"


def test_every_spec_ladder_is_asserted_by_a_scenario():
    used = {text for _, _, text in _ladder_docstrings()}
    for k, lad in enumerate(spec_ladders()):
        assert lad.text.rstrip("\n") in used, f"spec ladder {k + 1} (line {lad.steps[0].line_no}) is in no scenario"


def test_ladder_doc_strings_are_only_used_by_the_ladder_steps():
    for path, scenario, step in _steps():
        if step.text and "|" in step.text:
            assert step.name in (LADDER_STEP, DRAWN_STEP), f"{path.name}: '{scenario.name}': {step.name}"


def test_a_drawn_ladder_is_not_a_spec_ladder_and_parses() -> None:
    spec_blocks = [lad.text.rstrip("\n") for lad in spec_ladders()]
    drawn = [(p, s, st.text) for p, s, st in _steps() if st.name == DRAWN_STEP]
    assert drawn, "no drawn ladder in features/ (features/hold.feature has some)"
    for path, scenario, text in drawn:
        assert text not in spec_blocks, f"{path.name}: '{scenario.name}': a spec ladder belongs under {LADDER_STEP!r}"
        ladder = ladder_from_drawing(text)
        unknown = set(ladder.columns) - {*ROLE_ORDER, "Carrier"}
        assert ladder.steps and not unknown, f"{path.name}: '{scenario.name}': columns {ladder.columns}"
    with pytest.raises(ExpectationError, match="one of the spec's"):
        ladder_from_drawing(spec_ladders()[0].text)


def test_a_doc_string_that_drifted_from_the_spec_is_refused():
    text = spec_ladders()[2].text.replace("404 NOT FOUND", "404 Not Found  ")
    with pytest.raises(ExpectationError, match="not character for character"):
        ladder_from_docstring(text)


def test_a_spec_ladder_keeps_the_spec_line_numbers():
    ladder = ladder_from_docstring(spec_ladders()[1].text.rstrip("\n"))
    assert ladder.steps[-1].label == "RTP Media"
    assert ladder.steps[0].line_no == spec_ladders()[1].steps[0].line_no > 80


def test_the_issue_s_scenarios_are_all_there():
    names = "\n".join(s.name for p, s, _ in _steps())
    for wanted in ("caller hangs up", "wrong password and an unknown user", "stale=TRUE", "destination hangs up",
                   "cancels while", "early media", "rejects the call", "never answers", "unknown trunk domain",
                   "example.trunk.voipbin.net", "allowed address", "another address", "registered extension",
                   "not registered", "too brief", "De-registration"):
        assert wanted.lower() in names.lower(), wanted
    outline = (REPO / "features" / "hangup_cause.feature").read_text()
    statuses = set(re.findall(r"^\s+\|\s+(\d{3})\s+\|", outline, re.M))
    assert {"404", "480", "486", "488", "500", "502", "503", "603"} <= statuses
    assert "@wip" in (REPO / "features" / "ip_auth.feature").read_text().split("Feature:")[0]


def test_tables_become_ladders_in_the_spec_format():
    ladder = ladder_from_table(
        [{"from": "Destination", "to": "VoIPBin", "message": "BYE"}, {"from": "VoIPBin", "to": "UA", "message": "BYE"}],
        elided=True,
    )
    assert ladder.columns == ["UA", "VoIPBin", "Destination"]
    assert ladder.elided_prefix
    assert [(s.src, s.dst, s.label) for s in ladder.steps] == [("Destination", "VoIPBin", "BYE"), ("VoIPBin", "UA", "BYE")]
    with pytest.raises(ExpectationError, match="unknown role 'Gateway'"):
        ladder_from_table([{"from": "Gateway", "to": "VoIPBin", "message": "BYE"}])
    with pytest.raises(ExpectationError, match="neither a SIP method"):
        ladder_from_table([{"from": "UA", "to": "VoIPBin", "message": "HELLO there"}])


def test_a_carrier_calling_the_ua_puts_the_ua_on_the_called_side():
    assert column_order(["UA", "VoIPBin", "Carrier"]) == ["Carrier", "VoIPBin", "UA"]
    assert column_order(["Destination", "UA", "VoIPBin"]) == ["UA", "VoIPBin", "Destination"]


def test_every_step_is_defined():
    proc = subprocess.run(
        [sys.executable, "-m", "behave", "--dry-run", "--no-summary", "--format", "null", "--no-snippets",
         "-D", "run_dir=/nonexistent-dry-run", str(REPO / "features")],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "undefined" not in proc.stdout.lower(), proc.stdout
