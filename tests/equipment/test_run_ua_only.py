"""A remote trunk checked by its name, the harness playing the UA only (``destination = "remote"``).

The trunk lives in a network namespace of its own (``t13-uaonly-PID-trunk``): the reference server on
198.18.13.2, its calls going to a simulated destination there that behaves per number (answers, early
media then answers, rejects with 404, early media then rejects with 486, never answers). The harness runs in
a second namespace (``t13-uaonly-PID-ua``) joined to it by a veth pair, and knows the trunk only by its
name: dnsmasq there serves NAPTR, SRV and A records for example.trunk.voipbin.net, and the equipment file
gives no address. ``trunkcheck run --equipment F --interface veth-ua`` (a subprocess) passes the scenarios
that can run on the UA leg and reports those needing trunkcheck's destination "not applicable", saying why.
Both namespaces are deleted at the end, whatever happens (their processes die with them).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.adapters.dnsmasq import Zone, find_dnsmasq

from ..dns_server import TRUNK, dnsmasq_missing
from .run_support import REPO, needs_run, statuses, summary

pytestmark = [pytest.mark.interop, *needs_run,
              pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and veth pairs need root"),
              pytest.mark.skipif(shutil.which("ip") is None, reason="ip not installed (Debian package iproute2)"),
              pytest.mark.skipif(dnsmasq_missing() is not None, reason=str(dnsmasq_missing()))]

UA_NS, TRUNK_NS = f"t13-uaonly-{os.getpid()}-ua", f"t13-uaonly-{os.getpid()}-trunk"
UA_IP, TRUNK_IP = "198.18.13.1", "198.18.13.2"
DNS = ("127.0.0.1", 5353)  # inside the harness's namespace
NUMBERS = {  # test number -> (the equipment file's behaviour, the simulated far end's --number behaviour)
    "+15550100": ('behaviour = "answers"', "answer-after=50"),
    "+15550183": ('behaviour = "early-media-then-answers"', "no-ringing,early-media,answer-after=300"),
    "+15550404": ('behaviour = "rejects"\nstatus = 404', "no-ringing,reject=404,reason=Not Found"),
    "+15550486": ('behaviour = "early-media-then-rejects"\nstatus = 486',
                  "no-ringing,early-media,reject=486,reason=Busy Here,reject-after=300"),
    "+15550999": ('behaviour = "never-answers"\ncancel_after = 3', "never-answer"),
}
SERVER_CONFIG = f"""
[server]
listen = ["udp:{TRUNK_IP}:5060"]
[media]
address = "{TRUNK_IP}"
port_min = 30000
port_max = 30999
[[trunk]]
name = "example"
domain_name = "example"
username = "alice"
password = "secret"
destination = "sip:{TRUNK_IP}:5080"
"""


def equipment_file() -> str:
    numbers = "".join(f'\n[[equipment.trunk.number]]\nnumber = "{n}"\n{b}\n' for n, (b, _) in NUMBERS.items())
    return f"""
[equipment]
name = "example trunk, reached by its name"
role = "trunk"
dns = "{DNS[0]}:{DNS[1]}"
features = ["basic-auth", "early-media", "status-relay", "q850-reason", "cancel"]

[equipment.trunk]
domain = "{TRUNK}"
username = "alice"
password = "secret"
destination = "remote"
{numbers}"""


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=10)


def in_ns(ns: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *command]


@contextlib.contextmanager
def namespaces() -> Iterator[None]:
    """The two namespaces joined by veth-ua (198.18.13.1) and veth-trunk (198.18.13.2)."""
    try:
        sh("ip", "netns", "add", UA_NS)
        sh("ip", "netns", "add", TRUNK_NS)
        sh("ip", "link", "add", "veth-ua", "netns", UA_NS, "type", "veth", "peer", "name", "veth-trunk",
           "netns", TRUNK_NS)
        for ns, dev, ip in ((UA_NS, "veth-ua", UA_IP), (TRUNK_NS, "veth-trunk", TRUNK_IP)):
            sh(*in_ns(ns, "ip", "link", "set", "lo", "up"))
            sh(*in_ns(ns, "ip", "addr", "add", f"{ip}/24", "dev", dev))
            sh(*in_ns(ns, "ip", "link", "set", dev, "up"))
        yield
    finally:
        for ns in (UA_NS, TRUNK_NS):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=10)


def start(ns: str, command: list[str], log: Path, ready: str, timeout: float = 10.0) -> subprocess.Popen[bytes]:
    """``command`` in namespace ``ns``, its output in ``log``; returns once ``ready`` is in the log."""
    with log.open("wb") as out:
        process = subprocess.Popen(in_ns(ns, *command), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while ready not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(5)
            raise RuntimeError(f"{' '.join(command)} did not get ready ({ready!r}):\n{log.read_text()}")
        time.sleep(0.05)
    return process


def zone() -> Zone:
    """example.trunk.voipbin.net as its provider publishes it: NAPTR to _sip._udp, SRV to sip1, A."""
    return (Zone("trunk.voipbin.net")
            .naptr(TRUNK, 10, 50, "SIP+D2U", f"_sip._udp.{TRUNK}")
            .srv(f"_sip._udp.{TRUNK}", f"sip1.{TRUNK}", 5060)
            .host(f"sip1.{TRUNK}", TRUNK_IP))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.CompletedProcess[str], Path]]:
    tmp = tmp_path_factory.mktemp("ua-only")
    (tmp / "server.toml").write_text(SERVER_CONFIG)
    (tmp / "remote-trunk.toml").write_text(equipment_file())
    py = sys.executable
    processes: list[subprocess.Popen[bytes]] = []
    with namespaces():
        try:
            processes.append(start(TRUNK_NS, [py, "-m", "reference_server", "--config", str(tmp / "server.toml")],
                                   tmp / "server.log", "listening"))
            numbers = [arg for n, (_, b) in NUMBERS.items() for arg in ("--number", f"{n}:{b}")]
            processes.append(start(TRUNK_NS, [py, "-m", "simulator", "destination", "--listen", f"{TRUNK_IP}:5080",
                                              "--timeout", "170", *numbers], tmp / "destination.log",
                                   "destination listening"))
            processes.append(start(UA_NS, [find_dnsmasq() or "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                                           "--no-hosts", "--pid-file=", "--user=root", "--group=root",
                                           "--bind-interfaces", f"--listen-address={DNS[0]}", f"--port={DNS[1]}",
                                           "--log-facility=-", f"--local=/{zone().local}/", *zone().options],
                                   tmp / "dnsmasq.log", "started"))
            proc = subprocess.run(in_ns(UA_NS, py, "-m", "harness.cli", "run", "--equipment",
                                        str(tmp / "remote-trunk.toml"), "--interface", "veth-ua", "--output",
                                        str(tmp), "--run-id", "r"),
                                  cwd=REPO, capture_output=True, text=True, timeout=180)
            yield proc, tmp / "r"
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)


def records(run_dir: Path) -> dict[str, dict[str, object]]:
    out = {}
    for path in run_dir.glob("*/*.json"):
        data = json.loads(path.read_text())
        out[data["scenario"]] = data
    return out


def test_the_trunk_is_found_by_its_name_and_the_ua_leg_passes(run) -> None:  # type: ignore[no-untyped-def]
    proc, run_dir = run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"sip:{TRUNK} is udp:{TRUNK_IP}:5060 (located through DNS, RFC 3263" in proc.stdout, proc.stdout
    counts = summary(proc)
    assert counts["failed"] == 0 and counts["passed"] == counts["total"] >= 6, proc.stdout
    seen = statuses(run_dir)
    for scenario in ("The documented call flow, the caller hangs up", "The documented early media flow",
                     "Early media, then the destination rejects the call",
                     "The documented flow, the destination answers 404 Not Found",
                     "The caller cancels while the destination rings"):
        assert seen[scenario] == "passed", (scenario, proc.stdout)


def test_the_capture_holds_only_the_ua_leg(run) -> None:  # type: ignore[no-untyped-def]
    """The harness started no destination: its ladders have the UA and VoIPBin columns only, and the
    scenario says which test number it called."""
    _, run_dir = run
    early = records(run_dir)["The documented early media flow"]
    header = str(early["observed"]).splitlines()[0].split()
    assert header == ["UA", "VoIPBin"], early["observed"]
    assert "RTP Media" in str(early["observed"])
    assert any("+15550183" in note for note in early["notes"]), early["notes"]  # type: ignore[attr-defined]
    flow = records(run_dir)["The documented call flow, the caller hangs up"]
    assert any(str(n).startswith("not checked: the ACK for the 407") for n in flow["notes"]), flow["notes"]  # type: ignore[attr-defined]
    heard = [n for n in flow["notes"] if "of the far end reached the UA after the answer" in str(n)]  # type: ignore[attr-defined]
    assert heard, flow["notes"]  # the two-way media check ran on the UA leg: the far end's audio came back


def test_scenarios_needing_the_harness_destination_are_not_applicable_with_the_reason(run) -> None:  # type: ignore[no-untyped-def]
    proc, run_dir = run
    found = records(run_dir)
    for scenario, why in (("A wrong password and an unknown user are never connected and cannot be told apart",
                           "reached the destination"),
                          ("The destination hangs up", "hang up"),
                          ("A call to sip:{number}@example.trunk.voipbin.net is accepted", "reached the destination")):
        record = found[scenario]
        assert record["status"] == "n/a", (scenario, record["status"])
        assert why in str(record["notes"]) and 'destination = "remote"' in str(record["notes"]), record["notes"]
    outline = [r for name, r in found.items() if name.startswith("The destination's 480")]
    assert outline and all(r["status"] == "n/a" and "status = 480" in str(r["notes"]) for r in outline), outline
    assert "not applicable" in (run_dir / "validation-report.md").read_text()
