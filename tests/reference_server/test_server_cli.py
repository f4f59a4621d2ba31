"""``python -m reference_server`` as a process: the embedded default, configuration errors and busy ports
(exit 2, no traceback), SIGTERM/SIGINT (exit within 2 s, ports free again); and the server's log lines."""

from __future__ import annotations

import logging
import resource
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ..addresses import exclusive, loopback
from .support import IDS, ServerRig, establish, retry_with_credentials, run

ROOT = Path(__file__).resolve().parents[2]
HOST = loopback(1)  # this test process's own address (tests/addresses.py)
DEFAULT = "127.0.0.1"  # the embedded default's address: shared, so taken in turns (exclusive)


def _free(port: int, host: str = HOST) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(family, kind) as sock:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def _free_port(host: str = HOST) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if _free(port, host):
            return port
    raise RuntimeError("no free port")


def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "reference_server", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _ready_line(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        proc.kill()
        proc.wait(5)
        raise AssertionError("the server printed no 'listening on' line")
    return proc.stdout.readline().decode().strip()


def _options(port: int, host: str = HOST) -> bytes:
    """An OPTIONS over UDP to host:port, and the answer (2 s at most)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    hostport = f"[{host}]" if ":" in host else host
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        sock.settimeout(2.0)
        local = sock.getsockname()[1]
        sock.sendto((f"OPTIONS sip:{hostport}:{port} SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP {hostport}:{local};branch={IDS.branch()};rport\r\n"
                     f"Max-Forwards: 70\r\nFrom: <sip:probe@{hostport}>;tag=1\r\nTo: <sip:{hostport}>\r\n"
                     f"Call-ID: {IDS.call_id()}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode(),
                    (host, port))
        return sock.recv(65535)


def _stop(proc: subprocess.Popen[bytes], signum: int) -> tuple[int, bytes]:
    """Exit status and stderr of the server after ``signum``; AssertionError if it has not exited 2 s later."""
    proc.send_signal(signum)
    try:
        code = proc.wait(timeout=2.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError("the server did not stop within 2 s") from None
    assert proc.stderr is not None
    return code, proc.stderr.read()


def test_default_config_serves_5060_and_sigterm_frees_it() -> None:
    with exclusive(f"{DEFAULT}:5060"):  # another test process may be running this test right now
        if not _free(5060, DEFAULT):
            pytest.skip("127.0.0.1:5060 is in use on this machine")
        proc = _start()
        try:
            assert _ready_line(proc) == "listening on udp:127.0.0.1:5060 tcp:127.0.0.1:5060"
            answer = _options(5060, DEFAULT)
            assert answer.startswith(b"SIP/2.0 200 OK\r\n") and b"Server: trunkcheck-reference/0.1" in answer
        finally:
            code, stderr = _stop(proc, signal.SIGTERM)
        assert code == 0
        assert b"Traceback" not in stderr
        assert _free(5060, DEFAULT)  # UDP and TCP released


@pytest.mark.parametrize("host", [HOST, "::1"], ids=["ipv4", "ipv6"])  # ids: one per test process
def test_listen_ip_port_without_a_transport_is_udp_as_in_the_config_file(host: str) -> None:
    """``--listen 127.0.0.1:5070`` (and ``[::1]:5070``) is UDP, as ``--destination ip:port`` and the files are."""
    port = _free_port(host)
    hostport = f"[{host}]" if ":" in host else host
    proc = _start("--listen", f"{hostport}:{port}", "--destination", f"{hostport}:5080", "--log-level", "warning")
    try:
        assert _ready_line(proc) == f"listening on udp:{hostport}:{port}"
        assert _options(port, host).startswith(b"SIP/2.0 200 OK")
    finally:
        code, stderr = _stop(proc, signal.SIGTERM)
    assert code == 0 and b"Traceback" not in stderr


def test_sigint_stops_within_2_s() -> None:
    port = _free_port()
    proc = _start("--listen", f"udp:{HOST}:{port}", "--destination", f"{HOST}:5080", "--log-level", "warning")
    try:
        assert _ready_line(proc) == f"listening on udp:{HOST}:{port}"
        assert _options(port).startswith(b"SIP/2.0 200 OK")
    finally:
        code, stderr = _stop(proc, signal.SIGINT)
    assert code == 0 and b"Traceback" not in stderr
    assert _free(port)


def _open_files_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no 'Max open files' line")


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="needs Linux /proc/PID/limits")
def test_a_low_soft_open_files_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard open-files limit here is {hard}: nothing to raise to")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reference_server", "--listen", f"udp:{HOST}:{port}", "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)))
    try:
        _ready_line(proc)
        limit = _open_files_limit(proc.pid)
    finally:
        _stop(proc, signal.SIGTERM)
    assert limit > 256
    assert limit == (hard if hard != resource.RLIM_INFINITY else 1 << 20)


def test_config_error_exits_2_with_file_line_and_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[server]\nlisten = ["udp:127.0.0.1:5099"]\nnonce_lifetme = 30\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "reference_server", "--config", str(config)], cwd=ROOT,
                          capture_output=True, timeout=10)
    assert proc.returncode == 2
    stderr = proc.stderr.decode()
    assert f"{config}:3: server.nonce_lifetme: unknown key" in stderr and "nonce_lifetime" in stderr
    assert "Traceback" not in stderr


def test_port_in_use_exits_2_with_a_clear_message() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind((HOST, 0))
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "reference_server", "--listen", f"udp:{HOST}:{port}"],
                              cwd=ROOT, capture_output=True, timeout=10)
    assert proc.returncode == 2
    stderr = proc.stderr.decode()
    assert f"cannot listen on udp:{HOST}:{port}: Address already in use" in stderr
    assert "Traceback" not in stderr


def test_one_log_line_per_call_and_registration_and_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = []

    async def main() -> None:
        async with ServerRig() as rig:
            call = await establish(rig)
            secrets.append(call.invite.headers.get("Proxy-Authorization") or "")
            bye = call.ua_request(rig, "BYE")
            rig.dest.respond(await rig.dest.next_request("BYE"), 200)
            await bye.final()
            aor = "sip:1001@example.registrar.voipbin.net"
            register = rig.ua.request("REGISTER", "sip:example.registrar.voipbin.net", from_uri=aor, to_uri=aor)
            challenge = await rig.ua.send(register, rig.addr).final()
            retry = retry_with_credentials(register, challenge, "1001", "pass1001")
            secrets.append(retry.headers.get("Authorization") or "")
            assert (await rig.ua.send(retry, rig.addr).final()).status == 200

    run(main())
    messages = [r.getMessage() for r in caplog.records]
    calls = [m for m in messages if m.startswith("call call-id=")]
    assert len(calls) == 1
    assert "trunk=example caller=alice callee=15551234 status=200 duration=" in calls[0]
    registrations = [m for m in messages if m.startswith("register aor=")]
    assert [m.split(" from=")[0] for m in registrations] == ["register aor=1001 contacts=- status=401",
                                                              "register aor=1001 contacts=1 status=200"]
    responses = [part.split("=", 1)[1].strip('"') for value in secrets for part in value.split(", ")
                 if part.startswith("response=")]
    assert len(responses) == 2
    for text in messages:
        assert "secret" not in text and "pass1001" not in text
        assert not any(r in text for r in responses)
