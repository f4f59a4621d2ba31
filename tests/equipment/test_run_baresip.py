"""baresip, a real softphone, as the UA under test (examples/equipment/baresip-ua.toml): the harness runs
the reference trunk and the destination and drives baresip through its command interface. Its
authenticated call, its call into early media and its call rejected with 404 follow the spec's ladders;
it registers its extension and answers a call for it."""

from __future__ import annotations

import pytest

from harness.adapters.baresip import BARESIP_MISSING, find_baresip
from harness.equipment import load_equipment

from ..addresses import loopback
from .run_support import (
    FEATURES,
    applicable_scenarios,
    needs_run,
    statuses,
    summary,
    trunkcheck_run,
)

pytestmark = [pytest.mark.interop, *needs_run, pytest.mark.skipif(find_baresip() is None, reason=BARESIP_MISSING)]

FILE = "baresip-ua.toml"  # in the examples fixture: moved into this test process's loopback block
SPEC_LADDERS = ("The UA under test places the documented authenticated call", "The UA under test calls into early media",
                "The UA under test's call is rejected with 404 Not Found")


def test_baresip_places_the_spec_calls_registers_and_answers(tmp_path, examples) -> None:  # type: ignore[no-untyped-def]
    proc = trunkcheck_run(tmp_path, "--equipment", str(examples / FILE), "--features", str(FEATURES / "ua_equipment.feature"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yes, _ = applicable_scenarios(load_equipment(examples / FILE), [FEATURES / "ua_equipment.feature"])
    assert summary(proc) == {"total": len(yes), "passed": len(yes), "failed": 0, "na": 0}
    run_dir = tmp_path / "r"
    seen = statuses(run_dir)
    assert all(seen[name] == "passed" for name in SPEC_LADDERS), seen
    assert seen["The UA under test answers a call for its extension"] == "passed"
    folder = run_dir / "the-ua-under-test-calls-through-the-trunk"
    ladder = (folder / "the-ua-under-test-places-the-documented-authenticated-call.ladder.txt").read_text()
    assert ladder.splitlines()[0].split()[:3] == ["UA", "VoIPBin", "Destination"]
    log = (folder / "the-ua-under-test-places-the-documented-authenticated-call.equipment.log").read_text()
    assert "dial sip:+15550100@example.trunk.voipbin.net" in log and "baresip is ready" in log
    answered = (folder / "the-ua-under-test-answers-a-call-for-its-extension.equipment.log").read_text()
    assert "event CALL_INCOMING" in answered and "accept" in answered
    report = (run_dir / "validation-report.html").read_text()
    assert f"the column <b>UA</b> is baresip softphone at udp:{loopback(40)}:5062" in report


def test_without_registration_claimed_the_registration_scenarios_do_not_apply(tmp_path, examples) -> None:  # type: ignore[no-untyped-def]
    text = (examples / FILE).read_text().replace('features = ["basic-auth", "registration", "early-media", "cancel"]',
                                    'features = ["basic-auth", "early-media"]')
    path = tmp_path / "baresip-no-registration.toml"
    path.write_text(text)
    proc = trunkcheck_run(tmp_path, "--equipment", str(path), "--features", str(FEATURES / "ua_equipment.feature"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary(proc) == {"total": 3, "passed": 3, "failed": 0, "na": 2}
    assert "does not claim registration" in proc.stdout
