"""baresip with SRTP on its account (examples/equipment/baresip-srtp-ua.toml) as the UA under test, calling
through the reference trunk: RTP/SAVP (mediaenc=srtp-mand) and best-effort SRTP, RTP/AVP with a=crypto
(mediaenc=srtp). The @srtp scenario authenticates every RTP packet on its leg, both ways, with the keys
baresip and the trunk put in their SDP; the trunk's relay decrypts and re-encrypts towards a cleartext
destination."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.adapters.baresip import BARESIP_MISSING, find_baresip

from ..addresses import block
from .run_support import FEATURES, needs_run, statuses, summary, trunkcheck_run

pytestmark = [pytest.mark.interop, *needs_run, pytest.mark.skipif(find_baresip() is None, reason=BARESIP_MISSING)]

SCENARIO = "The UA under test calls with SRTP"


@pytest.mark.parametrize("mediaenc", ["srtp-mand", "srtp"])
def test_baresip_calls_with_srtp_through_the_reference_trunk(tmp_path: Path, examples: Path, mediaenc: str) -> None:
    text = (examples / "baresip-srtp-ua.toml").read_text()
    # its RTP leaves from the kernel's first loopback address, 127.0.0.1, wherever the block puts the rest
    text = text.replace(block().rewrite('media_addresses = ["127.0.0.1"]'), 'media_addresses = ["127.0.0.1"]')
    path = tmp_path / f"baresip-{mediaenc}.toml"
    path.write_text(text.replace('mediaenc = "srtp-mand"', f'mediaenc = "{mediaenc}"'))
    proc = trunkcheck_run(tmp_path, "--equipment", str(path), "--features", str(FEATURES / "srtp.feature"), "-v")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary(proc) == {"total": 1, "passed": 1, "failed": 0, "na": 4}
    assert statuses(tmp_path / "r")[SCENARIO] == "passed"
    found = re.search(r"note: UA and VoIPBin: \d+ SRTP/SRTCP packets \((\d+) from the UA, (\d+) from the VoIPBin\) "
                      r"authenticated with AES_CM_128_HMAC_SHA1_80 keys", proc.stdout)
    assert found and int(found[1]) >= 5 and int(found[2]) >= 5, proc.stdout
    folder = tmp_path / "r" / "srtp-keyed-by-sdes"
    log = (folder / "the-ua-under-test-calls-with-srtp.equipment.log").read_text()
    assert f"mediaenc={mediaenc}" in log and "SRTP is Enabled" in log
