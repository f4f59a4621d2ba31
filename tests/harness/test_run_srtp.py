"""The SRTP scenarios run against the embedded reference server, and catch a trunk that negotiates SRTP
keys but relays media in clear (the test-only fault srtp-cleartext)."""

from __future__ import annotations

import re
from pathlib import Path

from .test_capture import needs_capture
from .test_run_suite import FEATURES, trunkcheck_run

SRTP = str(FEATURES / "srtp.feature")


def verdicts(out: str) -> dict[str, str]:
    found = re.findall(r"^(passed|FAILED)\s+[\d.]+ s\s+SRTP keyed by SDES: (.+)$", out, re.M)
    return {name: verdict for verdict, name in found}


@needs_capture
def test_the_srtp_scenarios_pass_against_the_reference_server(tmp_path: Path) -> None:
    proc = trunkcheck_run(tmp_path, "--features", SRTP, "-v")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = verdicts(proc.stdout)
    assert len(seen) == 5 and set(seen.values()) == {"passed"}, seen
    assert re.search(r"note: UA and VoIPBin: \d+ SRTP/SRTCP packets \(\d+ from the UA, \d+ from the VoIPBin\) "
                     r"authenticated with AES_CM_128_HMAC_SHA1_80 keys", proc.stdout)


@needs_capture
def test_a_trunk_relaying_srtp_calls_in_clear_fails_them_naming_the_cleartext_frame(tmp_path: Path) -> None:
    proc = trunkcheck_run(tmp_path, "--features", SRTP, "--fault", "srtp-cleartext")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    seen = verdicts(out)
    assert seen["A trunk that takes no SRTP refuses an RTP/SAVP offer with 488"] == "passed"
    assert seen["An SRTP call through the trunk"] == "FAILED"
    assert seen["SRTP early media reaches the UA before the answer"] == "FAILED"
    assert re.search(r"media between UA and VoIPBin is not all SRTP \(\d+ such packets; the first shown\): frame \d+ "
                     r"\(VoIPBin [\d.:]+ -> UA [\d.:]+, RTP, 172 bytes\) is cleartext RTP: PT 0 with a 160-byte G\.711 "
                     r"payload and no room for an authentication tag", out), out
