"""`trunkcheck run` of the connection-reuse scenarios: a simulated UA that takes no TLS connections (as a
softphone) gets the destination's BYE and calls to its registered extension over the connections it opened;
a trunk that sends in-dialog requests to the caller's Contact (the test-only fault dial-contact) fails."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from .test_capture import needs_capture
from .test_run_suite import FEATURES, trunkcheck_run

FEATURE = str(FEATURES / "tls_flows.feature")
pytestmark = [needs_capture, pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed"),
              pytest.mark.slow]


def verdicts(out: str) -> dict[str, str]:
    found = re.findall(r"^(passed|FAILED)\s+[\d.]+ s\s+Secure trunks: reaching a UA over its own TLS connection: "
                       r"(.+)$", out, re.M)
    return {name: verdict for verdict, name in found}


def test_a_ua_that_takes_no_connections_is_reached_over_its_own(tmp_path: Path) -> None:
    proc = trunkcheck_run(tmp_path, "--features", FEATURE, "-v")
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert set(verdicts(out).values()) == {"passed"} and len(verdicts(out)) == 2, out
    assert re.search(r"note: VoIPBin reached the UA only over the connection\(s\) the UA opened \(its port\(s\) \d+\): "
                     r"BYE \(frame \d+\)", out), out
    assert re.search(r"the UA opened \(its port\(s\) \d+\): INVITE \(frame \d+\), ACK \(frame \d+\), BYE", out), out


def test_a_trunk_that_sends_the_callers_bye_to_its_contact_fails(tmp_path: Path) -> None:
    proc = trunkcheck_run(tmp_path, "--features", FEATURE, "--fault", "dial-contact")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert verdicts(out)["The destination hangs up: its BYE reaches the UA over the UA's connection"] == "FAILED"
    assert "expected BYE request VoIPBin -> UA" in out, out  # the BYE went to a port nothing listens on
