"""Equipment and the harness's roles on one IP, as on a laptop or with a single-address SBC: the reference
trunk as external equipment on 127.0.0.1:5070, its destination on 127.0.0.1:5090 and its RTP relay on
127.0.0.1 too (examples/equipment/reference-trunk-one-ip.toml); and SIPp as a UA under test on the harness
trunk's IP. The run passes its scenarios, and the ladders (text and JSON) draw each role in its own column,
RTP included; `trunkcheck ladder --roles IP:PORT=NAME` draws the same from the pcap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.adapters.sipp import SIPP_MISSING, find_sipp
from harness.cli.ladder import main as ladder_main
from harness.equipment import load_equipment
from harness.ladder import parse_ladder

from ..addresses import block
from .run_support import (
    EXAMPLES,
    FEATURES,
    applicable_scenarios,
    examples_in_block,
    needs_run,
    statuses,
    summary,
    trunkcheck_run,
)

pytestmark = [pytest.mark.interop, *needs_run]

NAME = "reference-trunk-one-ip.toml"
ONE_IP = block().ip(1)  # 127.0.0.1 of the example, moved into this test process's loopback block
ROLES = f"{ONE_IP}:5070=VoIPBin,{ONE_IP}:5090=Destination"
UA = block().ip(10)
CALL = Path("outgoing-call-with-basic-authentication") / "the-documented-call-flow-the-caller-hangs-up"
EARLY = Path("early-media") / "the-documented-early-media-flow"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    tmp = tmp_path_factory.mktemp("one-ip-run")
    folder = examples_in_block(tmp / "examples")
    return trunkcheck_run(tmp, "--equipment", str(folder / NAME)), tmp / "r"


def steps(ladder_text: str) -> list[tuple[str, str, str]]:
    return [(s.src, s.dst, s.label.split(" (")[0]) for s in parse_ladder(ladder_text).steps]


def test_a_trunk_and_its_destination_on_one_ip_pass_every_applicable_scenario(run) -> None:  # type: ignore[no-untyped-def]
    proc, run_dir = run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yes, no = applicable_scenarios(load_equipment(EXAMPLES / NAME))
    assert summary(proc) == {"total": len(yes), "passed": len(yes), "failed": 0, "na": len(no)}, proc.stdout
    seen = statuses(run_dir)
    for must in ("The documented call flow, the caller hangs up", "The documented early media flow",
                 "The caller cancels while the destination rings", "A call to a registered extension rings the UA"):
        assert seen[must] == "passed", must


def test_the_ladders_draw_trunk_and_destination_in_columns_of_their_own(run) -> None:  # type: ignore[no-untyped-def]
    _, run_dir = run
    text = (run_dir / CALL.with_suffix(".ladder.txt")).read_text()
    record = json.loads((run_dir / CALL.with_suffix(".json")).read_text())
    assert record["status"] == "passed" and record["observed"] == text
    assert parse_ladder(text).columns == ["UA", "VoIPBin", "Destination"], text
    flow = steps(text)
    assert ("VoIPBin", "Destination", "INVITE") in flow and ("Destination", "VoIPBin", "200 OK") in flow
    # RTP: the relay's ports are the trunk's, the destination's own port is the destination's
    for leg in (("UA", "VoIPBin"), ("VoIPBin", "UA"), ("VoIPBin", "Destination"), ("Destination", "VoIPBin")):
        assert (*leg, "RTP Media") in flow, (leg, text)
    early = steps((run_dir / EARLY.with_suffix(".ladder.txt")).read_text())
    ringing = early.index(("Destination", "VoIPBin", "183 Session Progress"))
    answer = early.index(("Destination", "VoIPBin", "200 OK"))
    assert ("Destination", "VoIPBin", "RTP Media") in early[ringing:answer], early
    assert ("VoIPBin", "UA", "RTP Media") in early[ringing:answer], early


def test_the_ladder_command_names_roles_by_ip_and_port(run, capsys) -> None:  # type: ignore[no-untyped-def]
    _, run_dir = run
    pcap = str(run_dir / CALL.with_suffix(".pcap"))
    ports = ["--sip-port", "5070", "--sip-port", "5090"]
    assert ladder_main([pcap, "--roles", ROLES, *ports]) == 0
    drawn = capsys.readouterr().out
    assert parse_ladder(drawn).columns == [UA, "VoIPBin", "Destination"], drawn
    flow = steps(drawn)
    assert ("VoIPBin", "Destination", "RTP Media") in flow and ("Destination", "VoIPBin", "RTP Media") in flow
    assert ("VoIPBin", UA, "RTP Media") in flow
    assert ladder_main([pcap, "--trunkcheck-roles", "--loopback", block().base, "--roles", ROLES,
                        *ports]) == 0
    assert capsys.readouterr().out == (run_dir / CALL.with_suffix(".ladder.txt")).read_text(), \
        "the command draws what the run drew"


@pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING)
def test_a_ua_under_test_on_the_harness_trunks_ip(tmp_path: Path) -> None:
    """SIPp on 127.0.0.1:5070, the harness's trunk on 127.0.0.1:5060: the UA scenarios pass and the UA and
    VoIPBin columns stay apart (the trunk's relay range is the trunk's)."""
    text = (examples_in_block(tmp_path / "examples") / "sipp-ua.toml").read_text()
    ua, trunk = f"{block().ip(10)}:5070", f"{block().ip(20)}:5060"
    assert f'address = "udp:{ua}"' in text and f'proxy = "udp:{trunk}"' in text
    text = text.replace(ua, f"{ONE_IP}:5070").replace(trunk, f"{ONE_IP}:5060")
    (tmp_path / "sipp-one-ip.toml").write_text(text)
    proc = trunkcheck_run(tmp_path, "--equipment", str(tmp_path / "sipp-one-ip.toml"),
                          "--features", str(FEATURES / "ua_equipment.feature"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary(proc) == {"total": 5, "passed": 5, "failed": 0, "na": 0}, proc.stdout
    folder = tmp_path / "r" / "the-ua-under-test-calls-through-the-trunk"
    answered = (folder / "the-ua-under-test-answers-a-call-for-its-extension.ladder.txt").read_text()
    assert parse_ladder(answered).columns == ["Carrier", "VoIPBin", "UA"], answered
    flow = steps(answered)
    assert ("VoIPBin", "UA", "INVITE") in flow and ("UA", "VoIPBin", "200 OK") in flow
    assert ("VoIPBin", "UA", "RTP Media") in flow, "relayed media reaches the UA from the trunk's column"
