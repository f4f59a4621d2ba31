"""`trunkcheck run` of the @tls scenarios: the documented ladders pass over TLS (decrypted with the
scenario's key log), the pcap is kept with its keys, the refused certificates fail the right way, a
@tls scenario under socket capture fails asking for raw capture, and a trunk under test that claims tls
but takes only cleartext fails its scenarios."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ..addresses import block
from ..equipment.run_support import examples_in_block, statuses, summary, trunkcheck_run
from .test_capture import needs_capture

REPO = Path(__file__).resolve().parents[2]
TLS_FEATURE = str(REPO / "features" / "tls.feature")
pytestmark = [needs_capture, pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed"),
              pytest.mark.slow]


def test_the_tls_scenarios_pass_over_tls_and_keep_their_keys(tmp_path: Path) -> None:
    proc = trunkcheck_run(tmp_path, "--features", TLS_FEATURE)
    counts = summary(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert counts["total"] == counts["passed"] == 5
    folder = tmp_path / "r" / "secure-trunks-sip-over-tls"
    documented = folder / "the-documented-call-flow-over-tls-the-caller-hangs-up"
    wire = documented.with_suffix(".pcap").read_bytes()
    assert b"INVITE sip:" not in wire and b"SIP/2.0" not in wire  # encrypted on the wire ...
    ladder = documented.with_suffix(".ladder.txt").read_text()
    assert "INVITE with Authorization" in ladder and "407 Proxy Authentication Required" in ladder  # ... decoded
    keys = documented.with_suffix(".keys").read_text()
    assert "CLIENT_TRAFFIC_SECRET_0" in keys or "CLIENT_RANDOM" in keys
    if shutil.which("editcap"):
        assert documented.with_suffix(".pcapng").stat().st_size > len(wire)  # the capture with its secrets
    refused = json.loads((folder / "the-ua-refuses-a-trunk-certificate-that-has-expired-1-2.json").read_text())
    assert refused["status"] == "passed"


def test_a_tls_scenario_under_socket_capture_asks_for_raw_capture(tmp_path: Path) -> None:
    proc = trunkcheck_run(tmp_path, "--features", TLS_FEATURE, "--tags", "not @reference-only",
                          "--capture", "sockets")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 scenarios, 0 passed, 2 failed" in proc.stdout
    assert proc.stdout.count("ASSERT FAILED: a @tls scenario needs raw capture") == 2
    assert "Traceback" not in proc.stdout


def test_a_trunk_claiming_tls_that_speaks_cleartext_fails_its_tls_scenarios(tmp_path: Path) -> None:
    """The reference trunk as equipment under test, its cleartext TCP listener given as its TLS address."""
    examples = examples_in_block(tmp_path / "examples")
    path = examples / "reference-trunk.toml"
    text = path.read_text().replace("features = [", 'features = ["tls", ', 1)
    address = block().rewrite("tcp:127.0.0.55:5060").replace("tcp:", "tls:")
    path.write_text(text.replace("[equipment.trunk]", f'[equipment.tls]\naddress = "{address}"\n\n[equipment.trunk]'))
    proc = trunkcheck_run(tmp_path, "--equipment", str(path), "--features", TLS_FEATURE, timeout=180)
    counts = summary(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (counts["failed"], counts["na"]) == (2, 3)  # the certificate negatives reconfigure the trunk: N/A
    assert "listening for TLS, or for cleartext SIP?" in proc.stdout
    assert set(statuses(tmp_path / "r").values()) == {"failed", "n/a"}
