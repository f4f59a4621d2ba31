"""Kamailio 5.6 with its tls module as the trunk under test over TLS (examples/equipment/kamailio-tls-trunk.toml,
examples/kamailio/kamailio.cfg -A WITH_TLS, certificates this test makes): `trunkcheck run --equipment`
runs the @tls scenarios against it, the UA checking Kamailio's certificate (RFC 5922), a UA that takes no
connections reached over its own (Kamailio's force_tcp_alias). Every scenario that applies passes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.adapters.kamailio import KAMAILIO_MISSING, find_kamailio
from harness.suite.tls_certs import TestCA

from ..addresses import block
from .run_support import FEATURES, needs_run, statuses, summary, trunkcheck_run

TLS_MODULE = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so")
pytestmark = [pytest.mark.interop, *needs_run,
              pytest.mark.skipif(find_kamailio() is None, reason=KAMAILIO_MISSING),
              pytest.mark.skipif(not TLS_MODULE.exists() and shutil.which("kamailio") is not None,
                                 reason="Kamailio's tls module is not installed (Debian package kamailio-tls-modules)")]

TLS_FEATURES = [str(FEATURES / name) for name in ("tls.feature", "tls_flows.feature", "tls_srtp.feature")]


def kamailio_over_tls(examples: Path, tmp: Path, *, ca_for_ua: Path | None = None) -> Path:
    """The example file with Kamailio's certificate made here: a CA, the trunk's certificate naming its
    domain and address, and a tls.cfg naming them (Kamailio's -A TLS_CFG)."""
    ip = block().rewrite("127.0.0.50")
    ca = TestCA.create(tmp)
    trunk = ca.issue("kamailio", dns=["example.trunk.voipbin.net"], ips=[ip])
    cfg = (Path(__file__).resolve().parents[2] / "examples" / "kamailio" / "tls.cfg").read_text()
    cfg = cfg.replace("tls/trunk.pem", str(trunk.cert)).replace("tls/trunk.key", str(trunk.key))
    (tmp / "tls.cfg").write_text(cfg.replace("tls/ca.pem", str(ca.ca_file)))
    text = (examples / "kamailio-tls-trunk.toml").read_text()
    text = text.replace('ca_file = "../kamailio/tls/ca.pem"', f'ca_file = "{ca_for_ua or ca.ca_file}"')
    text = text.replace('"-A", "WITH_TLS",', f'"-A", "WITH_TLS", "-A", \'TLS_CFG="{tmp / "tls.cfg"}"\',')
    path = tmp / "kamailio-tls-trunk.toml"
    path.write_text(text)
    return path


def test_the_tls_scenarios_pass_against_kamailio_over_tls(tmp_path: Path, examples: Path) -> None:
    path = kamailio_over_tls(examples, tmp_path)
    proc = trunkcheck_run(tmp_path, "--equipment", str(path), *[a for f in TLS_FEATURES for a in ("--features", f)],
                          "-v", timeout=180)
    counts = summary(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = statuses(tmp_path / "r")
    for must in ("The documented call flow over TLS, the caller hangs up",
                 "The destination hangs up: its BYE reaches the UA over TLS",
                 "The destination hangs up: its BYE reaches the UA over the UA's connection",
                 "A call to an extension registered over TLS reaches it over its registration's connection"):
        assert seen[must] == "passed", (must, proc.stdout)
    assert counts["passed"] == 4 and counts["failed"] == 0, proc.stdout
    assert "VoIPBin reached the UA only over the connection(s) the UA opened" in proc.stdout
    ladder = next((tmp_path / "r").glob("*/the-documented-call-flow-over-tls-the-caller-hangs-up.ladder.txt")).read_text()
    assert "INVITE with Authorization" in ladder  # decrypted: the UA's key log holds the session's secrets


def test_a_ua_that_does_not_trust_kamailios_ca_fails_its_tls_scenarios(tmp_path: Path, examples: Path) -> None:
    other = TestCA.create(tmp_path / "other", "other-ca")
    path = kamailio_over_tls(examples, tmp_path, ca_for_ua=other.ca_file)
    proc = trunkcheck_run(tmp_path, "--equipment", str(path), "--features", TLS_FEATURES[0], timeout=180)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert summary(proc)["failed"] == 2, proc.stdout
    assert "not issued by a CA of the CA file" in proc.stdout, proc.stdout
