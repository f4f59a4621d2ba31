"""SIPp as the UA under test (examples/equipment/sipp-ua.toml: the call scenario the harness generates from
uac_auth.xml, uac_register_auth.xml, uas.xml to answer), with the simulator or SIPp (uas.xml,
uas_early_media.xml with an RTP stream, uas_reject.xml) as the destination: the authenticated call, the
call into early media and the call rejected with 404 follow the spec's ladders."""

from __future__ import annotations

import pytest

from harness.adapters.sipp import SIPP_MISSING, find_sipp

from .run_support import FEATURES, needs_run, statuses, summary, trunkcheck_run

pytestmark = [pytest.mark.interop, *needs_run, pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING)]

FILE = "sipp-ua.toml"  # in the examples fixture: moved into this test process's loopback block
SPEC_LADDERS = ("The UA under test places the documented authenticated call", "The UA under test calls into early media",
                "The UA under test's call is rejected with 404 Not Found")


@pytest.mark.parametrize("destination", ["simulator", "sipp"])
def test_sipp_places_the_spec_calls(tmp_path, destination: str, examples) -> None:  # type: ignore[no-untyped-def]
    proc = trunkcheck_run(tmp_path, "--equipment", str(examples / FILE), "--destination", destination,
                          "--features", str(FEATURES / "ua_equipment.feature"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary(proc) == {"total": 5, "passed": 5, "failed": 0, "na": 0}, proc.stdout
    run_dir = tmp_path / "r"
    seen = statuses(run_dir)
    assert all(seen[name] == "passed" for name in SPEC_LADDERS), seen
    folder = run_dir / "the-ua-under-test-calls-through-the-trunk"
    early = (folder / "the-ua-under-test-calls-into-early-media.ladder.txt").read_text()
    assert "183 Session Progress" in early and "RTP Media" in early
    log = (folder / "the-ua-under-test-s-call-is-rejected-with-404-not-found.equipment.log").read_text()
    assert "uac_auth_call.xml" in log and "1 successful" in log, "SIPp ends the rejected call cleanly (ACK)"
    if destination == "sipp":
        assert (folder / "the-ua-under-test-calls-into-early-media.destination" / "uas_early_media_rtp.xml").is_file()
