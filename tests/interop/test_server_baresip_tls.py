"""baresip over TLS (a ``;transport=tls`` account, ``sip_cafile``) calling through the reference trunk
server's TLS listener (run as ``python -m reference_server --tls-cert --tls-key``) to a SIPp destination:
an independent TLS client completing the documented call (407 challenge, then the call) over TLS. Every
wait is bounded; the server, baresip and SIPp are stopped whatever the outcome."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.adapters.baresip import BARESIP_MISSING, Baresip, BaresipAccount, find_baresip
from harness.adapters.server_process import ReferenceServerProcess, trunk_config
from harness.adapters.sipp import SIPP_MISSING, SippRun, find_sipp
from harness.suite.tls_certs import TestCA

from .conftest import loopback

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(find_baresip() is None, reason=BARESIP_MISSING),
              pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING)]

SERVER = (loopback(3, 20), 5061)
PHONE = (loopback(3, 21), 5062)
DESTINATION = (loopback(3, 22), 5080)
TRUNK = "example.trunk.voipbin.net"
REPO = Path(__file__).resolve().parents[2]


def test_baresip_calls_through_the_trunk_over_tls(tmp_path: Path) -> None:
    ca = TestCA.create(tmp_path)
    cert = ca.issue("trunk", dns=[TRUNK], ips=[SERVER[0]])
    keylog = tmp_path / "server-keys.txt"
    config = trunk_config(SERVER, DESTINATION, port_min=44100, port_max=44199, transports=("tls", "udp"))  # UDP to the SIPp destination
    config += f'\n[tls]\ncert = "{cert.cert}"\nkey = "{cert.key}"\nkeylog = "{keylog}"\n'
    account = BaresipAccount(f"sip:alice@{TRUNK}", password="secret",
                             outbound=f"sip:{SERVER[0]}:{SERVER[1]};transport=tls")
    with ReferenceServerProcess(config, log_level="INFO") as server, \
            Baresip(PHONE, rtp_ports=(45100, 45199), extra_config=f"sip_cafile\t\t{ca.ca_file}\n") as phone:
        phone.add_account(account)
        with SippRun.uas(DESTINATION, calls=1, timeout=20).start() as destination:
            destination.wait_ready()
            phone.dial(f"sip:15550100@{TRUNK}", account=account.aor)
            established = phone.wait_event({"CALL_ESTABLISHED", "CALL_CLOSED"}, timeout=10)
            assert established.type == "CALL_ESTABLISHED", f"{established}\n{server.stderr_tail()}\n{phone.log_tail()}"
            phone.hangup()
            closed = phone.wait_event("CALL_CLOSED", timeout=5)
            callee = destination.wait(timeout=10)
        log = server.stderr_tail(20_000)
        assert server.running(), log
    assert closed.call_id == established.call_id
    assert (callee.successful, callee.failed) == (1, 0), callee.describe()
    assert "CLIENT_TRAFFIC_SECRET_0" in keylog.read_text()  # the server's side of baresip's TLS session
    assert any(established.call_id in line and "407" in line for line in log.splitlines()), log


def test_baresip_over_tls_with_srtp_hears_the_destination_hang_up(tmp_path: Path) -> None:
    """baresip offering mandatory SRTP (RTP/SAVP, ``;mediaenc=srtp-mand``) over TLS; the server bridges it to
    the simulated destination's cleartext RTP; the destination hangs up and its BYE reaches baresip over the
    TLS connection baresip opened (it is not reachable at its Contact: RFC 3261 §18, RFC 5923)."""
    server_addr, phone_addr, dest_addr = (loopback(3, 23), 5061), (loopback(3, 24), 5062), (loopback(3, 25), 5080)
    ca = TestCA.create(tmp_path)
    cert = ca.issue("trunk", dns=[TRUNK], ips=[server_addr[0]])
    config = trunk_config(server_addr, dest_addr, port_min=44200, port_max=44299, transports=("tls", "udp"))
    config += f'\n[tls]\ncert = "{cert.cert}"\nkey = "{cert.key}"\n'
    account = BaresipAccount(f"sip:alice@{TRUNK}", password="secret", mediaenc="srtp-mand",
                             outbound=f"sip:{server_addr[0]}:{server_addr[1]};transport=tls")
    destination = subprocess.Popen([sys.executable, "-m", "simulator", "destination", "--listen",
                                    f"{dest_addr[0]}:{dest_addr[1]}", "--answer-after", "200", "--hangup-after", "1500",
                                    "--calls", "1", "--timeout", "20"], cwd=REPO, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
    try:
        with ReferenceServerProcess(config, log_level="INFO") as server, \
                Baresip(phone_addr, rtp_ports=(45200, 45299), extra_config=f"sip_cafile\t\t{ca.ca_file}\n") as phone:
            phone.add_account(account)
            phone.dial(f"sip:15550100@{TRUNK}", account=account.aor)
            established = phone.wait_event({"CALL_ESTABLISHED", "CALL_CLOSED"}, timeout=10)
            assert established.type == "CALL_ESTABLISHED", f"{established}\n{server.stderr_tail()}\n{phone.log_tail()}"
            closed = phone.wait_event("CALL_CLOSED", timeout=8)  # the destination's BYE, relayed over TLS
            out, _ = destination.communicate(timeout=20)
            log = server.stderr_tail(20_000)
            baresip_log = phone.log_tail(20_000)
    finally:
        if destination.poll() is None:
            destination.kill()
            destination.wait(timeout=5)
    assert closed.call_id == established.call_id
    assert "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)" in baresip_log, baresip_log
    assert "incoming rtp for 'audio' established" in baresip_log, baresip_log  # SRTP from the relay authenticated
    assert "session closed: Connection reset by peer" in baresip_log, baresip_log  # baresip's words for a BYE
    assert "final status: 200; ended by local-bye, BYE answered 200" in out, out  # baresip's 200, relayed back
    received = re.search(r"RTP: sent \d+, received (\d+)", out)
    assert received and int(received.group(1)) > 20, out  # baresip's SRTP, decrypted by the relay
    assert any(established.call_id in line and "status=200" in line for line in log.splitlines()), log
