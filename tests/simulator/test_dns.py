"""``trunkcheck simulate ua --target sip:...@example.trunk.voipbin.net --dns IP:PORT`` with no --proxy: the UA
finds the trunk as RFC 3263 says (NAPTR, SRV, A from dnsmasq), calls through ``trunkcheck serve`` listening
at the SRV target, and moves to the next SRV target when the first is silent, unreachable or answers 503."""

from __future__ import annotations

import asyncio
import io
import json
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main
from simulator.destination import Destination
from simulator.settings import DestinationSettings, UaSettings
from simulator.ua import UserAgent

from ..addresses import block
from ..dns_server import TRUNK, Zone, dnsmasq, dnsmasq_missing, trunk_zone

pytestmark = pytest.mark.skipif(dnsmasq_missing() is not None, reason=str(dnsmasq_missing()))

ROOT = Path(__file__).resolve().parents[2]
SIP1, SIP2 = block().ip(61, subnet=54), block().ip(62, subnet=54)  # the SRV targets: priority 10, then 20
DEST, UA = block().ip(30, subnet=54), block().ip(10, subnet=54)
START = 10.0  # seconds a process may take to start listening
TRUNKCHECK = str(Path(sys.executable).with_name("trunkcheck"))  # the venv's console script


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_line(process: subprocess.Popen[str], stream: Any, expected: str) -> None:
    ready, _, _ = select.select([stream], [], [], START)
    line = stream.readline() if ready else f"(nothing within {START:g} s)"
    if expected not in line:
        process.kill()
        pytest.fail(f"{process.args!r} did not start: {line}")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _serve(processes: list[subprocess.Popen[str]], tmp_path: Path, host: str, port: int, dest: tuple[str, int]) -> None:
    """``trunkcheck serve`` at host:port (UDP), trunk ``example`` (alice/secret) calling ``dest``."""
    config = tmp_path / f"trunk-{host}.toml"
    config.write_text(f'[server]\nlisten = ["udp:{host}:{port}"]\n[media]\naddress = "{host}"\n'
                      f'port_min = 41000\nport_max = 41099\n[[trunk]]\ndomain_name = "example"\nusername = "alice"\n'
                      f'password = "secret"\ndestination = "udp:{dest[0]}:{dest[1]}"\n')
    process = subprocess.Popen([TRUNKCHECK, "serve", "--config", str(config)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    processes.append(process)
    _wait_line(process, process.stdout, f"listening on udp:{host}:{port}")


def _destination(processes: list[subprocess.Popen[str]], host: str, *options: str) -> int:
    port = _free_port(host)
    process = subprocess.Popen([sys.executable, "-m", "simulator", "destination", "--listen", f"{host}:{port}",
                                "--timeout", "20", *options], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    processes.append(process)
    _wait_line(process, process.stderr, "destination listening on")
    return port


def _ua(dns_server: tuple[str, int], *options: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    code = main(["ua", "--listen", f"{UA}:0", "--target", f"sip:+15550100@{TRUNK}", "--dns",
                 f"{dns_server[0]}:{dns_server[1]}", "--username", "alice", "--password", "secret", "--hold", "200",
                 "--json", *options], out=out)
    return code, json.loads(out.getvalue())


def _invites(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["detail"] for e in record["events"]
            if e["kind"] == "sip-sent" and e["detail"].get("method") == "INVITE" and not e["detail"]["retransmission"]]


def test_the_ua_finds_the_trunk_through_dns(processes: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    dest_port = _destination(processes, DEST, "--calls", "1")
    port1, port2 = _free_port(SIP1), _free_port(SIP2)
    _serve(processes, tmp_path, SIP1, port1, (DEST, dest_port))
    with dnsmasq(trunk_zone((SIP1, port1), (SIP2, port2))) as dns_server:
        code, record = _ua(dns_server)
    assert code == 0 and record["ok"], record["summary"]
    assert "  final status: 200 OK (expected 200)" in record["summary"]
    invites = _invites(record)
    assert [i["peer"] for i in invites] == [f"{SIP1}:{port1}"] * 2  # 407, then the authenticated INVITE
    assert "proxy-authorization" in invites[1]
    assert record["summary"][0].endswith(f"via {SIP1}:{port1}")


@pytest.mark.parametrize("first", ["silent", "unreachable", "503"])
def test_the_next_srv_target_when_the_first_fails(first: str, processes: list[subprocess.Popen[str]],
                                                  tmp_path: Path) -> None:
    """RFC 3263 §4.3: a timeout (Timer B, fast with --t1 20) or a transport error (ICMP port unreachable)
    moves the INVITE to the next SRV target; so does a 503 (RFC 3261 §21.5.4)."""
    dest_port = _destination(processes, DEST, "--calls", "1")
    port2 = _free_port(SIP2)
    _serve(processes, tmp_path, SIP2, port2, (DEST, dest_port))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        if first == "silent":
            silent.bind((SIP1, 0))
            port1 = silent.getsockname()[1]
        elif first == "503":
            port1 = _destination(processes, SIP1, "--reject", "503", "--no-ringing")
        else:
            port1 = _free_port(SIP1)  # nothing listens there
        with dnsmasq(trunk_zone((SIP1, port1), (SIP2, port2))) as dns_server:
            code, record = _ua(dns_server, "--t1", "20")
    assert code == 0 and record["ok"], record["summary"]
    invites = _invites(record)
    assert invites[0]["peer"] == f"{SIP1}:{port1}"
    assert [i["peer"] for i in invites[1:]] == [f"{SIP2}:{port2}"] * 2  # then 407 and the authenticated INVITE
    # a new transaction (branch) for the same request (CSeq): RFC 3263 §4.3
    assert invites[1]["cseq"] == invites[0]["cseq"] == "1 INVITE"
    branch = [i["raw"].split("branch=", 1)[1].split(";", 1)[0] for i in invites[:2]]
    assert branch[0] != branch[1]
    why = {"silent": "no response within", "unreachable": "503 Service Unavailable (transport error",
           "503": "503 Service Unavailable"}[first]
    failed = [line for line in record["summary"] if "failed (" in line]
    assert len(failed) == 1 and f"target {SIP1}:{port1} failed ({why}" in failed[0], record["summary"]
    assert record["summary"][0].endswith(f"via {SIP2}:{port2}")


def test_a_name_dns_does_not_know_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with dnsmasq(trunk_zone((SIP1, 5070), (SIP2, 5071))) as dns_server:
        code = main(["ua", "--listen", f"{UA}:0", "--target", f"sip:+15550100@nowhere.{TRUNK}", "--dns",
                     f"{dns_server[0]}:{dns_server[1]}"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"--target: cannot locate sip:+15550100@nowhere.{TRUNK}: NAPTR nowhere.{TRUNK}: no records" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--target", f"sips:+1@{TRUNK}", "--transport", "UDP"], "reached over TLS, but this client speaks UDP"),
    (["--target", "sip:+1@x.example", "--dns", "dns.example.org"], "--dns: DNS server"),
])
def test_tls_and_bad_dns_servers_are_refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ua", "--listen", f"{UA}:0", *argv]) == 2
    assert message in capsys.readouterr().err


def test_the_library_ua_locates_the_request_uri_itself() -> None:
    """``UaSettings(dns=...)`` without a target: each call's Request-URI is located as RFC 3263 says."""
    port1, port2 = _free_port(SIP1), _free_port(SIP2)

    async def scenario(dns_server: tuple[str, int]) -> tuple[int | None, tuple[str, int]]:
        dest = await Destination.start(DestinationSettings(listen=(SIP1, port1)))
        try:
            async with await UserAgent.start(UaSettings(listen=(UA, 0), dns=dns_server, hold_ms=100)) as ua:
                result = await ua.call(f"sip:+15550100@{TRUNK}")
                return result.status, result.target
        finally:
            await dest.stop()

    with dnsmasq(trunk_zone((SIP1, port1), (SIP2, port2))) as dns_server:
        assert asyncio.run(asyncio.wait_for(scenario(dns_server), 20)) == (200, (SIP1, port1))


@pytest.mark.parametrize("named", ["domain", "srv target"])
def test_the_ua_finds_a_tls_trunk_from_a_sips_uri_and_checks_its_domain(named: str, tmp_path: Path,
                                                                      processes: list[subprocess.Popen[str]]) -> None:
    """sips: -> NAPTR (none) -> SRV _sips._tcp -> A, over TLS (a UA that accepts no connections); the trunk's
    certificate must name the trunk's domain: one naming only the SRV target is refused (RFC 5922 §4)."""
    from harness.suite.tls_certs import TestCA

    ca = TestCA.create(tmp_path)
    cert = ca.issue("trunk", dns=[TRUNK] if named == "domain" else [f"sip1.{TRUNK}"], ips=[SIP1])
    port = _destination(processes, SIP1, "--calls", "1", "--transport", "TLS", "--tls-cert", str(cert.cert),
                        "--tls-key", str(cert.key))
    zone = Zone(TRUNK).srv(f"_sips._tcp.{TRUNK}", f"sip1.{TRUNK}", port, priority=10).host(f"sip1.{TRUNK}", SIP1)
    with dnsmasq(zone) as dns_server:
        out = io.StringIO()
        code = main(["ua", "--listen", f"{UA}:0", "--target", f"sips:+15550100@{TRUNK}", "--dns",
                     f"{dns_server[0]}:{dns_server[1]}", "--tls-ca", str(ca.ca_file), "--tls-no-listen", "--hold", "200",
                     "--json"], out=out)
    record = json.loads(out.getvalue())
    if named == "domain":
        assert code == 0 and record["ok"], record["summary"]
        assert [i["peer"] for i in _invites(record)] == [f"{SIP1}:{port}"]
    else:
        assert code != 0
        assert any(f"names DNS:sip1.{TRUNK}, IP:{SIP1}, not {TRUNK} (RFC 5922)" in line for line in record["summary"]), \
            record["summary"]
