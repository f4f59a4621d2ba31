"""``trunkcheck simulate``: a destination in its own process, the UA in this one, both from the command line."""

from __future__ import annotations

import io
import json
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.cli import main

from ..addresses import loopback
from .helpers import UA_IP

ROOT = Path(__file__).resolve().parents[2]
CLI_DEST_IP = loopback(32)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _start_destination(*options: str) -> tuple[subprocess.Popen[str], int]:
    port = _free_port(CLI_DEST_IP)
    process = subprocess.Popen([sys.executable, "-m", "simulator", "destination", "--listen",
                                f"{CLI_DEST_IP}:{port}", "--timeout", "15", *options],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    ready, _, _ = select.select([process.stderr], [], [], 10.0)
    first = process.stderr.readline() if ready else "(nothing within 10 s)"
    if not first.startswith("destination listening on"):  # printed once the socket is bound
        process.kill()
        pytest.fail(f"the destination did not start: {first}")
    return process, port


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


def _ua(*options: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["ua", "--listen", f"{UA_IP}:0", "--username", "alice", "--password", "secret", *options], out=out)
    return code, out.getvalue()


def test_early_media_call_from_the_command_line(processes: list[subprocess.Popen[str]]) -> None:
    dest, port = _start_destination("--early-media", "--answer-after", "300", "--calls", "1")
    processes.append(dest)
    code, text = _ua("--target", f"sip:+15551234567@{CLI_DEST_IP}:{port}", "--hold", "200")
    assert code == 0, text
    assert "final status: 200 OK (expected 200)" in text and "provisional: 100, 180, 183" in text
    assert "-> INVITE sip:+15551234567@" in text and "<- 183 Session Progress" in text
    early = int(text.split(" before the answer")[0].rsplit("(", 1)[1])
    assert early >= 5, text
    dest_out, _ = dest.communicate(timeout=10)
    assert dest.returncode == 0, dest_out
    assert "sent: 100, 180, 183, 200" in dest_out and "ended by remote-bye" in dest_out


def test_reject_with_reason_header_json_and_exit_status(processes: list[subprocess.Popen[str]]) -> None:
    dest, port = _start_destination("--reject", "404", "--reason", "Not Here", "--q850", "1", "--calls", "2",
                                    "--json")
    processes.append(dest)
    target = f"sip:+15550000000@{CLI_DEST_IP}:{port}"
    code, text = _ua("--target", target, "--expect-status", "404", "--json")
    assert code == 0, text
    data = json.loads(text)
    assert data["ok"] and "  final status: 404 Not Here (expected 404)" in data["summary"]
    assert any(e["summary"] == "404 Not Here" and "Q.850;cause=1" in e["detail"]["reason"]
               for e in data["events"] if e["kind"] == "sip-received")
    code, text = _ua("--target", target)  # expects 200 by default
    assert code == 1 and "final status: 404 Not Here (expected 200)" in text
    dest_out, _ = dest.communicate(timeout=10)
    dest_json = json.loads(dest_out)
    assert dest.returncode == 0 and dest_json["ok"]
    sent = [e["summary"] for e in dest_json["events"] if e["kind"] == "sip-sent" and not e["detail"]["retransmission"]]
    assert sent == ["100 Trying", "180 Ringing", "404 Not Here"] * 2


@pytest.mark.parametrize(("argv", "message"), [
    (["destination", "--reject", "99"], "Reject.status: 99"),
    (["destination", "--listen", loopback(1)], "has no port"),
    (["destination", "--hangup-after", "10", "--never-answer"], "hangup-after needs the call to be answered"),
    (["destination", "--q850", "200", "--reject", "404"], "--q850: Q.850 cause 200 is outside 0..127"),
    (["ua", "--target", "sip:bob@@example.com"], "is not a valid SIP URI"),
    (["ua"], "give --target"),
    (["ua", "--target", f"sip:1@{loopback(1)}:5", "--expect-status", "99"], "--expect-status: '99'"),
    (["phone"], "unknown role 'phone'"),
    (["destination", "--listen", "sctp:127.0.0.1:5061"], '--listen: "sctp:127.0.0.1:5061": transport sctp is not supported'),
    (["destination", "--listen", "tls:127.0.0.1:5061"], "transport TLS needs tls=TlsOptions(cert=..., key=...)"),
    (["destination", "--tls-cert", "x.pem"], "--tls-cert needs transport TLS"),
    (["destination", "--listen", "tcp:127.0.0.1:5080", "--transport", "udp"],
     "--listen is TCP but --transport is UDP: give one transport"),
    (["ua", "--listen", "udp:127.0.0.1:0", "--proxy", "tcp:127.0.0.1:5060", "--target", "sip:1@x.example"],
     "--proxy is TCP but --listen is UDP: give one transport"),
])
def test_bad_settings_exit_2_with_a_clear_message(argv: list[str], message: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_tcp_prefix_on_listen_makes_a_tcp_destination(processes: list[subprocess.Popen[str]]) -> None:
    """``--listen tcp:IP:PORT`` is the destination on TCP, as ``tcp:IP:PORT`` is everywhere else."""
    port = _free_port(CLI_DEST_IP)
    dest = subprocess.Popen([sys.executable, "-m", "simulator", "destination", "--listen",
                             f"tcp:{CLI_DEST_IP}:{port}", "--calls", "1", "--timeout", "15"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    processes.append(dest)
    assert dest.stderr is not None
    ready, _, _ = select.select([dest.stderr], [], [], 10.0)
    assert ready and f"listening on {CLI_DEST_IP}:{port} (TCP)" in dest.stderr.readline()
    code, text = _ua("--transport", "TCP", "--target", f"sip:+15551234567@{CLI_DEST_IP}:{port}", "--hold", "100")
    assert code == 0, text
    out, _ = dest.communicate(timeout=10)
    assert dest.returncode == 0 and "calls handled: 1 (final status 200: 1;" in out


def test_port_in_use_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind((CLI_DEST_IP, 0))
        port = taken.getsockname()[1]
        assert main(["destination", "--listen", f"{CLI_DEST_IP}:{port}", "--timeout", "1"]) == 2
    assert f"{CLI_DEST_IP}:{port} (UDP) cannot be bound: Address already in use" in capsys.readouterr().err
