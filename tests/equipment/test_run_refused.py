"""An equipment file with a mistake, or equipment that cannot be reached, is refused before any scenario
traffic: exit status 2, a message naming the file and line, no run folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ..addresses import block, loopback
from .run_support import trunkcheck_run

TRUNK = block().rewrite("""\
[equipment]
name = "SBC"
role = "trunk"
address = "udp:127.0.0.62:5060"
features = ["basic-auth"]

[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"
destination = "udp:127.0.0.30:5080"
""")


@pytest.mark.parametrize(("old", "new", "message"), [
    ('features = ["basic-auth"]', 'features = ["basic-auth"]\nfeature = ["tcp"]',
     r':6: equipment\.feature: unknown key; did you mean "features"\?'),
    ('password = "secret"\n', "", r":7: equipment\.trunk: claims basic-auth but has no password"),
    (f'address = "udp:{loopback(62)}:5060"', f'address = "udp:{loopback(10)}:5060"',
     rf":4: equipment\.address: {re.escape(loopback(10))} is the harness's UA address"),
    ("", '[equipment.image]\nname = "acme-sbc:4.2"\n',  # an image runs in the docker topology's range
     rf":4: equipment\.address: {re.escape(loopback(62))} is not inside 198\.18\.32\.0/19: equipment run as an image"),
    ("", "", rf":4: equipment\.address: udp:{re.escape(loopback(62))}:5060 refused \(ICMP port unreachable: nothing listens "
     r"there\); is the equipment running there\?"),
], ids=["misspelt-key", "no-password", "ua-address", "image-range", "nothing-listens"])  # not the block's addresses
def test_a_mistake_is_refused_before_any_traffic_naming_the_line(tmp_path: Path, old: str, new: str,
                                                                 message: str) -> None:
    text = TRUNK.replace(old, new, 1) if old else TRUNK + ("\n" + new if new else "")
    path = tmp_path / "sbc.toml"
    path.write_text(text)
    proc = trunkcheck_run(tmp_path, "--equipment", str(path), timeout=30)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert re.search(re.escape(str(path)) + message, proc.stderr), proc.stderr
    assert "trunkcheck: equipment refused before any scenario traffic: " in proc.stderr
    assert not (tmp_path / "r").exists(), "no run folder: nothing ran"


def test_a_ua_under_test_must_use_a_domain_the_harness_trunk_serves(tmp_path: Path) -> None:
    path = tmp_path / "phone.toml"
    path.write_text(block().rewrite("""\
[equipment]
name = "Phone"
role = "ua"
address = "udp:127.0.0.71:5060"
adapter = "manual"
features = ["basic-auth"]

[equipment.trunk]
domain = "pbx.example.com"
username = "alice"
password = "secret"
proxy = "udp:127.0.0.20:5060"
"""))
    proc = trunkcheck_run(tmp_path, "--equipment", str(path), timeout=30)
    assert proc.returncode == 2
    assert f"{path}:9: equipment.trunk.domain: the harness's trunk serves NAME.trunk.voipbin.net domains" in proc.stderr
