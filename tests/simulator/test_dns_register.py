"""REGISTER located as RFC 3263 says, with the INVITE's failover: ``trunkcheck simulate ua --register`` with
neither --proxy nor --registrar finds the registrar of ``example.registrar.voipbin.net`` through dnsmasq
(NAPTR, SRV, A). When the first SRV target is silent (Timer F), unreachable (ICMP port unreachable) or
answers 503, the REGISTER goes to the second, ``trunkcheck serve``, as a new transaction; the registration
succeeds there and the de-registration goes straight to the registrar that answered."""

from __future__ import annotations

import contextlib
import io
import json
import select
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main
from sipcore import Request, make_response, parse_message

from ..dns_server import dnsmasq, dnsmasq_missing, trunk_zone
from .test_dns import SIP1, SIP2, TRUNKCHECK, UA, _free_port, _wait_line, processes  # noqa: F401 - a fixture

pytestmark = pytest.mark.skipif(dnsmasq_missing() is not None, reason=str(dnsmasq_missing()))

REGISTRAR = "example.registrar.voipbin.net"
ROOT = Path(__file__).resolve().parents[2]


def _serve_registrar(processes: list[Any], tmp_path: Path, host: str, port: int) -> None:  # noqa: F811
    config = tmp_path / "registrar.toml"
    config.write_text(f'[server]\nlisten = ["udp:{host}:{port}"]\n[media]\naddress = "{host}"\n'
                      f'port_min = 41100\nport_max = 41199\n[registrar]\ndomain = "{REGISTRAR}"\n'
                      '[[extension]]\nextension = "1001"\npassword = "pass1001"\n')
    process = subprocess.Popen([TRUNKCHECK, "serve", "--config", str(config)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    processes.append(process)
    _wait_line(process, process.stdout, f"listening on udp:{host}:{port}")


@contextlib.contextmanager
def _answering_503(host: str) -> Iterator[int]:
    """A UDP socket answering every request 503 Service Unavailable, on a thread (bounded); its port."""
    stop = threading.Event()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))

    def serve() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([sock], [], [], 0.05)
            if ready:
                data, peer = sock.recvfrom(65535)
                request = parse_message(data)
                if isinstance(request, Request):
                    sock.sendto(make_response(request, 503).to_bytes(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def _registers(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["detail"] for e in record["events"]
            if e["kind"] == "sip-sent" and e["detail"].get("method") == "REGISTER" and not e["detail"]["retransmission"]]


@pytest.mark.parametrize("first", ["silent", "unreachable", "503"])
def test_register_moves_to_the_next_srv_target(first: str, processes: list[Any], tmp_path: Path) -> None:  # noqa: F811
    port2 = _free_port(SIP2)
    _serve_registrar(processes, tmp_path, SIP2, port2)
    with contextlib.ExitStack() as stack:
        if first == "silent":
            silent = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            silent.bind((SIP1, 0))
            port1 = silent.getsockname()[1]
        elif first == "503":
            port1 = stack.enter_context(_answering_503(SIP1))
        else:
            port1 = _free_port(SIP1)  # nothing listens there
        dns_server = stack.enter_context(dnsmasq(trunk_zone((SIP1, port1), (SIP2, port2), domain=REGISTRAR)))
        out = io.StringIO()
        code = main(["ua", "--listen", f"{UA}:0", "--register", "--registrar-domain", REGISTRAR, "--domain", REGISTRAR,
                     "--dns", f"{dns_server[0]}:{dns_server[1]}", "--username", "1001", "--password", "pass1001",
                     "--expires", "60", "--t1", "20", "--json"], out=out)
        record = json.loads(out.getvalue())
    assert code == 0 and record["ok"], record["summary"]
    sent = _registers(record)
    assert sent[0]["peer"] == f"{SIP1}:{port1}" and sent[0]["cseq"] == "1 REGISTER"
    # the same REGISTER (CSeq) as a new transaction (branch) to sip2 (RFC 3263 §4.3), then its 401 answered
    assert sent[1]["peer"] == f"{SIP2}:{port2}" and sent[1]["cseq"] == "1 REGISTER"
    branches = [d["raw"].split("branch=", 1)[1].split(";", 1)[0].split("\r\n", 1)[0] for d in sent[:2]]
    assert branches[0] != branches[1]
    assert sent[0]["raw"].startswith(f"REGISTER sip:{REGISTRAR} SIP/2.0")
    why = {"silent": "no response within 1.28 s (Timer F)", "unreachable": "503 Service Unavailable (transport error",
           "503": "503 Service Unavailable"}[first]
    register_line = next(line for line in record["summary"] if line.startswith("Register:"))
    assert register_line.startswith("Register: 200 OK, challenged 401, expires 60 s"), register_line
    assert f"via {SIP2}:{port2}; {SIP1}:{port1} failed ({why}" in register_line, register_line
    # the de-registration: to the registrar that answered, not the failed target first
    unregister = [d for d in sent if "expires: 0" in d["raw"].lower()]
    assert unregister and {d["peer"] for d in unregister} == {f"{SIP2}:{port2}"}, [d["peer"] for d in sent]
    assert next(line for line in record["summary"] if line.startswith("Unregister:")).startswith("Unregister: 200 OK")


def test_registrar_alternates_need_a_registrar() -> None:
    from simulator.settings import SettingsError, UaSettings

    with pytest.raises(SettingsError, match="registrar_alternates: give a registrar first"):
        UaSettings(registrar_alternates=(("127.0.0.1", 5060),))
    with pytest.raises(SettingsError, match="registrar_alternates: 'x' is not an"):
        UaSettings(registrar=("127.0.0.1", 5060), registrar_alternates=("x",))  # type: ignore[arg-type]
