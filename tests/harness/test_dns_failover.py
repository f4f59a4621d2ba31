"""The DNS failover scenario (features/dns_failover.feature; harness.suite.dns_failover): the harness starts
dnsmasq, the UA locates the trunk through it, its INVITE to the silent first SRV target is retransmitted
until Timer B and then goes to the trunk; what the check of that schedule accepts and refuses; and the
scenario reported not applicable, never passed, without dnsmasq."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.capture.decode import DecodedMessage
from harness.capture.observation import Observation
from harness.settings import RunSettings
from harness.suite import dns_failover
from harness.suite.dns_failover import check_failover, not_applicable
from harness.suite.runner import run_suite
from harness.topology import RoleAddresses

from ..addresses import block
from ..dns_server import dnsmasq_missing
from .test_capture import needs_capture

REPO = Path(__file__).resolve().parents[2]
FEATURE = REPO / "features" / "dns_failover.feature"
UA, SILENT, VB = ("127.0.0.10", 16000), ("127.0.0.21", 16001), ("127.0.0.20", 16001)
ROLES = {"127.0.0.10": "UA", "127.0.0.21": "Silent", "127.0.0.20": "VoIPBin"}
T1 = 0.04
RFC_SENDS = [0.0, 0.04, 0.12, 0.28, 0.60, 1.24, 2.52]  # 0, 1, 3, 7, 15, 31, 63 T1


def invite(frame: int, t: float, dst: tuple[str, int], branch: str = "z9hG4bKfirst", cseq: int = 1) -> DecodedMessage:
    return DecodedMessage(
        frame_no=frame, time=t, src=UA, dst=dst, transport="udp", kind="request", method="INVITE", status=None,
        reason=None, call_id="call-1", cseq_num=cseq, cseq_method="INVITE", via_branch=branch, from_tag="f",
        to_tag=None, has_authorization=False, has_proxy_authorization=False, has_sdp=True,
        sdp_connection_address=UA[0], sdp_media_port=40000, reason_header=None, user_agent=None)


def observed(sends: list[float], moved_at: float, *, moved_branch: str = "z9hG4bKnext",
             late: float | None = None) -> Observation:
    items = [invite(k + 1, t, SILENT) for k, t in enumerate(sends)]
    items.append(invite(len(items) + 1, moved_at, VB, moved_branch))
    if late is not None:
        items.append(invite(len(items) + 1, late, SILENT))
    return Observation.build(Path("x.pcap"), items, ROLES)


FAILOVER = SimpleNamespace(t1=T1, timer_b=64 * T1, first=SILENT, second=VB)


def test_the_rfc_schedule_passes_and_is_described() -> None:
    note = check_failover(observed(RFC_SENDS, 2.561), FAILOVER)  # type: ignore[arg-type]
    assert note == ("failover: 7 INVITEs to Silent (frames 1-7; retransmitted after 40, 80, 160, 320, 640, 1280 ms), "
                    "then the INVITE to VoIPBin 2.561 s after the first (Timer B 2.56 s = 64 x T1 40 ms)")
    # the last retransmission (1 T1 before Timer B) may lose the race to it on a busy machine
    check_failover(observed(RFC_SENDS[:-1], 2.58), FAILOVER)  # type: ignore[arg-type]


@pytest.mark.parametrize(("sends", "moved_at", "extra", "message"), [
    (RFC_SENDS[:3], 1.0, {}, "sent the INVITE 3 times to Silent before moving on; Timer A retransmits it 6 times"),
    (RFC_SENDS[:-1], 2.2, {}, r"moved on to VoIPBin \(frame 7, UA -> VoIPBin\) 2.200 s after its first INVITE, "
                              r"before Timer B \(2.56 s\)"),
    (RFC_SENDS, 4.0, {}, r"only 4.000 s after its first INVITE; Timer B fired at 2.56 s"),
    ([0.0, 0.04, 0.08, 0.12, 0.16, 0.20, 0.24], 2.561, {}, "retransmission 2 of the INVITE .* came 40 ms after the "
                                                           "previous send; Timer A is due after 80 ms"),
    (RFC_SENDS, 2.561, {"moved_branch": "z9hG4bKfirst"}, "is not the same request as a new transaction"),
    (RFC_SENDS, 2.561, {"late": 2.7}, r"sent the INVITE to Silent again after moving on \(frame 9"),
])
def test_a_ua_that_does_not_wait_for_timer_b_or_retransmit_fails(sends: list[float], moved_at: float,
                                                                  extra: dict[str, object], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_failover(observed(sends, moved_at, **extra), FAILOVER)  # type: ignore[arg-type]


def test_not_applicable_without_dnsmasq_or_off_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    roles = RoleAddresses.loopback("127.42.0.0")
    assert not_applicable(["@role-trunk"], roles) is None  # not a DNS scenario
    assert not_applicable(["@dns"], roles, "eth1") == ("not applicable: the silent SRV target is on loopback, which "
                                                       "a capture on eth1 does not see")
    off = roles.with_roles({"UA": "198.18.32.10"})
    assert "the harness's UA is at 198.18.32.10" in str(not_applicable(["dns"], off))
    monkeypatch.setattr(dns_failover, "find_dnsmasq", lambda: None)
    assert str(not_applicable(["@dns"], roles)).startswith("not applicable: the scenario's DNS server cannot start: "
                                                           "dnsmasq is missing")


def test_the_scenario_is_not_applicable_never_passed_without_dnsmasq(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dns_failover, "find_dnsmasq", lambda: None)
    settings = RunSettings(run_id="na", features=(FEATURE,), output=tmp_path, capture="sockets",
                           roles=RoleAddresses.loopback(block().base))
    out = tmp_path / "out.txt"
    with out.open("w") as stream:
        result = run_suite(settings, stream, stream)
    assert [(r.status, r.notes[0]) for r in result.records] == [
        ("n/a", "not applicable: the scenario's DNS server cannot start: dnsmasq is missing (not on PATH nor in "
                "/usr/sbin: install the Debian package dnsmasq-base)")]
    assert result.summary.passed == 0 and result.summary.not_applicable == 1
    assert "0 scenarios, 0 passed, 0 failed, 1 not applicable" in out.read_text()


@needs_capture
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed (Debian package tshark)")
@pytest.mark.skipif(dnsmasq_missing() is not None, reason=str(dnsmasq_missing()))
@pytest.mark.parametrize("capture", ["raw", "sockets"])
def test_the_ladder_shows_the_ua_moving_to_the_second_srv_target(tmp_path: Path, capture: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--output", str(tmp_path), "--run-id", "t",
                           "--loopback", block().base, "--features", str(FEATURE), "--capture", capture],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 scenarios, 1 passed, 0 failed" in proc.stdout
    folder = tmp_path / "t" / "the-trunk-located-through-dns"
    ladder = next(folder.glob("*.ladder.txt")).read_text().splitlines()
    assert ladder[0].split() == ["UA", "Silent", "VoIPBin", "Destination"]
    arrows = [line for line in ladder if "-->|" in line or "|<--" in line]
    to_silent = [line for line in arrows[:8] if line.index(">|") < len(ladder[0]) // 3]
    assert len(to_silent) >= 6 and all("INVITE" in line for line in to_silent), "\n".join(ladder)
    assert sum("INVITE (retransmission)" in line for line in to_silent) == len(to_silent) - 1
    after = arrows[len(to_silent):]
    assert "INVITE" in after[0] and "407 Proxy Authentication Required" in after[1], "\n".join(ladder)
    assert any("BYE" in line for line in after)
    record = json.loads(next(folder.glob("*.json")).read_text())
    notes = "\n".join(record["notes"])
    base = block().base.rsplit(".", 1)[0]
    assert ("DNS queries: NAPTR example.trunk.voipbin.net, SRV _sip._udp.example.trunk.voipbin.net, "
            "A sip1.example.trunk.voipbin.net, A sip2.example.trunk.voipbin.net") in notes
    assert f"A/AAAA sip1.example.trunk.voipbin.net: {base}.21" in notes
    assert "then the INVITE to VoIPBin 2.5" in notes or "then the INVITE to VoIPBin 2.6" in notes, notes
    assert "query[NAPTR] example.trunk.voipbin.net" in next(folder.glob("*.dnsmasq.log")).read_text()
    drawn = subprocess.run([sys.executable, "-m", "harness.cli", "ladder", "--trunkcheck-roles", "--loopback",
                            block().base, str(next(folder.glob("*.pcap")))], cwd=REPO, capture_output=True, text=True,
                           timeout=60)
    assert drawn.stdout.splitlines()[0].split() == ["UA", "Silent", "VoIPBin", "Destination"], drawn.stdout
