"""`trunkcheck run --jobs N` and `--shard I/N` end to end, against a sequential run of the same features:
the same scenarios with the same statuses (a test fault makes some fail), the same report files, JUnit
with the same testcases and counts, each pcap holding its own calls only (no other scenario's Call-ID),
each worker on its own loopback /24; and the shards joined by `trunkcheck merge` make up the whole run."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import combinations
from pathlib import Path

import pytest

from ..addresses import block
from .test_capture import needs_capture

REPO = Path(__file__).resolve().parents[2]
SUBSET = ["registration.feature", "ip_auth.feature", "early_media.feature", "domains.feature", "tls.feature"]
FAULT = "no-early-media"  # the early media scenarios fail: failures must come through --jobs the same
pytestmark = [
    needs_capture,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed"),
    pytest.mark.slow,
]
CALL_ID = re.compile(rb"\r\n(?:Call-ID|i)[ \t]*:[ \t]*([^\r\n]+)", re.I)


def run(out: Path, run_id: str, *args: str, command: str = "run") -> subprocess.CompletedProcess[str]:
    features = [a for f in SUBSET for a in ("--features", str(REPO / "features" / f))]
    argv = ([command, "--output", str(out), "--run-id", run_id, "--loopback", block().base, "--fault", FAULT,
             *features, *args] if command == "run" else [command, *args])
    return subprocess.run([sys.executable, "-m", "harness.cli", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=180)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("jobs")
    for run_id, args in [("seq", ()), ("jobs", ("--jobs", "3")), ("s1", ("--shard", "1/2")),
                         ("s2", ("--shard", "2/2", "--jobs", "2"))]:
        proc = run(out, run_id, *args)
        assert proc.returncode == 1, f"{run_id}: the fault fails some scenarios\n{proc.stdout}{proc.stderr}"
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return {name: out / name for name in ("seq", "jobs", "s1", "s2")}


def records(run_dir: Path) -> list[tuple[str, str, str, str]]:
    data = json.loads((run_dir / "run.json").read_text())
    return [(r["feature"], r["scenario"], r["status"], r["pcap"]) for r in data["records"]]


def files(run_dir: Path) -> list[str]:
    """The run's files, but the TLS material each process makes for itself (its CA: <run>/tls/)."""
    return sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()
                  and p.relative_to(run_dir).parts[0] != "tls")


def junit(run_dir: Path) -> dict[str, tuple[list[tuple[str | None, ...]], tuple[str | None, ...]]]:
    """Per JUnit file: its testcases (classname, name, status) in order, and its counts."""
    out = {}
    for path in sorted((run_dir / "junit").glob("*.xml")):
        root = ET.parse(path).getroot()
        cases = [(c.get("classname"), c.get("name"), c.get("status")) for c in root.iter("testcase")]
        out[path.name] = (cases, tuple(root.get(k) for k in ("tests", "failures", "errors", "skipped")))
    return out


def test_jobs_give_the_statuses_and_reports_of_a_sequential_run(runs):
    seq, jobs = runs["seq"], runs["jobs"]
    assert records(jobs) == records(seq)
    statuses = {status for *_, status, _ in records(seq)}
    assert statuses == {"passed", "failed"}, "the fault makes some scenarios fail, the others pass"
    assert files(jobs) == files(seq), "the same pcaps, ladders, records and reports, nothing else"
    assert junit(jobs) == junit(seq)
    report = (jobs / "report.html").read_text()
    assert report.count('class="scenario"') == len(records(seq))


def ipv4_addresses(pcap: Path) -> set[str]:
    """Every IPv4 source and destination address of a pcap's packets."""
    raw = pcap.read_bytes()
    endian = "<" if raw[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    link = struct.unpack(endian + "I", raw[20:24])[0]
    offset = {1: 14, 101: 0, 228: 0, 113: 16}[link]
    found, at = set(), 24
    while at + 16 <= len(raw):
        length = struct.unpack(endian + "I", raw[at + 8:at + 12])[0]
        packet = raw[at + 16:at + 16 + length]
        ip = packet[offset:]
        if len(ip) >= 20 and ip[0] >> 4 == 4:
            found |= {".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))}
        at += 16 + length
    return found


def test_each_pcap_holds_its_own_calls_and_each_worker_its_own_block(runs):
    jobs = runs["jobs"]
    data = json.loads((jobs / "run.json").read_text())
    call_ids: dict[str, set[bytes]] = {}
    blocks: dict[str, set[str]] = {}
    prefix = block().base.rsplit(".", 2)[0] + "."  # 127.N.
    for rec in data["records"]:
        pcap = jobs / rec["pcap"]
        call_ids[pcap.name] = {m.strip() for m in CALL_ID.findall(pcap.read_bytes())}
        if "tls" not in rec["tags"]:  # SIP over TLS is encrypted in the pcap
            assert call_ids[pcap.name], f"{pcap}: no SIP captured"
        blocks[pcap.name] = {a.split(".")[2] for a in ipv4_addresses(pcap) if a.startswith(prefix)}
        assert len(blocks[pcap.name]) == 1, f"{pcap}: addresses of several workers' blocks {blocks[pcap.name]}"
    for (a, ids_a), (b, ids_b) in combinations(call_ids.items(), 2):
        assert not ids_a & ids_b, f"{a} and {b} share the calls {ids_a & ids_b}"
    assert set().union(*blocks.values()) == {"0", "1", "2"}, "three workers, each in a /24 of its own"


def test_the_shards_make_up_the_run_and_merge_into_it(runs, tmp_path):
    seq, s1, s2 = runs["seq"], runs["s1"], runs["s2"]
    one, two = records(s1), records(s2)
    assert one and two and not set(one) & set(two)
    assert sorted(one + two) == sorted(records(seq))
    assert [r[1] for r in records(seq)][0::2] == [r[1] for r in one], "round-robin in the suite's order"
    merged = tmp_path / "merged"
    proc = run(tmp_path, "", str(s2), str(s1), "-o", str(merged), command="merge")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the merged run has the fault's failures
    assert "Traceback" not in proc.stderr
    assert records(merged) == records(seq)
    assert files(merged) == files(seq)
    assert {k: v[0] for k, v in junit(merged).items()} == {k: v[0] for k, v in junit(seq).items()}
    assert {k: v[1] for k, v in junit(merged).items()} == {k: v[1] for k, v in junit(seq).items()}
    data = json.loads((merged / "run.json").read_text())
    assert not any(c["option"] == "--shard" for c in data["conditions"])
    assert data["summary"]["total"] == len(records(seq))
