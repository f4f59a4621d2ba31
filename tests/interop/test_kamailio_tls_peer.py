"""Kamailio (with its tls module) and the reference server as TLS peers of each other: a TLS UA calls
through Kamailio (examples/kamailio/kamailio.cfg -A WITH_TLS, DEST_TRANSPORT=tls), which relays over TLS to
the reference server's TLS listener (Kamailio checking the server's certificate against its CA list; the
server taking Kamailio's calls by source address), then on to a simulated destination over UDP that hangs
up: its BYE crosses both TLS hops back to the UA, over the connections each caller opened."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.adapters.kamailio import KAMAILIO_MISSING, KamailioProcess, find_kamailio
from harness.adapters.server_process import ReferenceServerProcess
from harness.suite.tls_certs import TestCA

from .conftest import loopback

REPO = Path(__file__).resolve().parents[2]
TLS_MODULES = list(Path("/usr/lib").glob("*/kamailio/modules/tls.so"))
pytestmark = [pytest.mark.interop, pytest.mark.skipif(find_kamailio() is None, reason=KAMAILIO_MISSING),
              pytest.mark.skipif(bool(shutil.which("kamailio")) and not TLS_MODULES,
                                 reason="Kamailio's tls module is missing (Debian package kamailio-tls-modules)")]

DOMAIN = "example.trunk.voipbin.net"
KAM, SERVER, UA, DEST = loopback(4, 50), loopback(4, 20), loopback(4, 10), loopback(4, 30)


def _server_config(cert: Path, key: Path) -> str:
    return f"""[server]
listen = ["tls:{SERVER}:5061", "udp:{SERVER}:5060"]
[media]
address = "{SERVER}"
port_min = 44300
port_max = 44399
[tls]
cert = "{cert}"
key = "{key}"
[[trunk]]
name = "example"
domain_name = "example"
auth_types = ["ip"]
allowed_ips = ["{KAM}"]
destination = "udp:{DEST}:5080"
"""


def test_a_call_crosses_kamailio_and_the_reference_server_over_tls(tmp_path: Path) -> None:
    ca = TestCA.create(tmp_path)
    kam_cert = ca.issue("kamailio", dns=[DOMAIN], ips=[KAM])
    server_cert = ca.issue("server", ips=[SERVER])
    cfg_dir = tmp_path / "kamailio"
    cfg_dir.mkdir()
    shutil.copy(REPO / "examples" / "kamailio" / "kamailio.cfg", cfg_dir / "kamailio.cfg")
    tls_cfg = (REPO / "examples" / "kamailio" / "tls.cfg").read_text()
    (cfg_dir / "tls.cfg").write_text(tls_cfg.replace("tls/trunk.pem", str(kam_cert.cert))
                                     .replace("tls/trunk.key", str(kam_cert.key)).replace("tls/ca.pem", str(ca.ca_file)))
    destination = subprocess.Popen([sys.executable, "-m", "simulator", "destination", "--listen", f"{DEST}:5080",
                                    "--hangup-after", "800", "--calls", "1", "--timeout", "25"], cwd=REPO,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with ReferenceServerProcess(_server_config(server_cert.cert, server_cert.key), log_level="INFO") as server, \
                KamailioProcess(cfg_dir / "kamailio.cfg", listen=(KAM, 5060), destination=(SERVER, 5061),
                                defines={"WITH_TLS": 1, "DEST_TRANSPORT": "tls", "TRUSTED_PEER": UA},
                                workdir=cfg_dir) as kamailio:
            ua = subprocess.run([sys.executable, "-m", "simulator", "ua", "--listen", f"tls:{UA}:5062",
                                 "--tls-ca", str(ca.ca_file), "--tls-no-listen", "--target",
                                 f"sip:+15550100@{DOMAIN}", "--proxy", f"tls:{KAM}:5061", "--username", "alice",
                                 "--password", "secret", "--expect-remote-bye"], cwd=REPO, capture_output=True,
                                text=True, timeout=30)
            dest_out, _ = destination.communicate(timeout=25)
            server_log = server.stderr_tail(20_000)
            kam_log = kamailio.log_tail(20_000)
    finally:
        if destination.poll() is None:
            destination.kill()
            destination.wait(timeout=5)
    assert ua.returncode == 0, ua.stdout + ua.stderr + kam_log + server_log
    assert "final status: 200 OK" in ua.stdout and "ended by remote-bye" in ua.stdout, ua.stdout
    assert f"<- BYE sip:alice@{UA}:5062;transport=tls  ({KAM}:5061 TLS)" in ua.stdout, ua.stdout
    assert f"relayed to sip:+15550100@{SERVER}:5061 via sip:{SERVER}:5061;transport=tls" in kam_log, kam_log
    assert "trunk=example" in server_log and "status=200" in server_log, server_log
    assert "ended by local-bye, BYE answered 200" in dest_out, dest_out
