"""`trunkcheck run` of the @tls @srtp scenarios against the embedded reference server: the documented
ladders over TLS with SRTP media, the SRTP wire check keyed by the SDP decrypted from TLS with the
scenario's key log; a trunk that relays the media in clear fails them, naming the cleartext frame."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from .test_capture import needs_capture
from .test_run_suite import FEATURES, trunkcheck_run

FEATURE = str(FEATURES / "tls_srtp.feature")
pytestmark = [needs_capture, pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed"),
              pytest.mark.slow]


def verdicts(out: str) -> dict[str, str]:
    found = re.findall(r"^(passed|FAILED)\s+[\d.]+ s\s+Secure trunks: SIP over TLS with SRTP media: (.+)$", out, re.M)
    return {name: verdict for verdict, name in found}


def test_the_documented_ladders_pass_over_tls_with_srtp_keyed_from_the_decrypted_sdp(tmp_path: Path) -> None:
    proc = trunkcheck_run(tmp_path, "--features", FEATURE, "-v")
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    seen = verdicts(out)
    assert len(seen) == 3 and set(seen.values()) == {"passed"}, seen
    assert len(re.findall(r"note: UA and VoIPBin: \d+ SRTP/SRTCP packets \(\d+ from the UA, \d+ from the VoIPBin\)", out)) == 3
    assert len(re.findall(r"note: UA and VoIPBin: the SRTP keys of \d SDP\(s\) \(frames [\d, ]+\) travelled only "
                          r"inside TLS", out)) == 3
    assert re.search(r"note: VoIPBin and Destination: the SRTP keys of 2 SDP\(s\)", out), out
    pcap = next((tmp_path / "t").glob("*/the-documented-call-flow-over-tls-with-srtp-the-caller-hangs-up.pcap"))
    assert b"a=crypto" not in pcap.read_bytes() and b"inline:" not in pcap.read_bytes()  # the keys: only inside TLS


def test_a_trunk_relaying_the_media_in_clear_fails_the_tls_srtp_scenarios(tmp_path: Path) -> None:
    proc = trunkcheck_run(tmp_path, "--features", FEATURE, "--fault", "srtp-cleartext")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert set(verdicts(out).values()) == {"FAILED"}, out
    assert re.search(r"media between UA and VoIPBin is not all SRTP .*is cleartext RTP: PT 0", out), out
