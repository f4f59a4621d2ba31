"""TLS for the scenarios tagged ``@tls``: the run's certificates, each scenario's key log, its decode.

A ``@tls`` scenario runs every SIP hop over TLS (RFC 3261 §26): the UA to the trunk, the trunk to the
destination. The run makes its own CA in ``<run>/tls/`` (harness.suite.tls_certs; nothing is committed) and a
certificate per role: the trunk's names its SIP domain (dNSName, what the UA checks, RFC 5922) and its IP
address; the UA's and the destination's name their IP address (what the trunk checks when it dials them).

Every TLS endpoint of the scenario appends its session secrets to ``<scenario>.keys`` (the SSLKEYLOGFILE
format) beside ``<scenario>.pcap``; the decode hands that file to tshark (``tls.keylog_file``), so ladders
and assertions read the decrypted SIP exactly as over UDP. With ``editcap`` installed the scenario also
gets ``<scenario>.pcapng`` with the secrets inside (``editcap --inject-secrets``): Wireshark opens it
decrypted with no setting at all.

The negative scenarios swap the trunk's certificate for one the UA must refuse (:meth:`ScenarioTls.
present`): for another name, expired, or issued by a CA the UA does not trust.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.capture.decode import Decoded, TlsDecode, decode_file
from harness.equipment.model import EquipmentTls
from reference_server.tls_config import TlsConfig
from sipcore.aio.tls import HANDSHAKE_TIMEOUT, TlsOptions

if TYPE_CHECKING:  # imported when a @tls scenario makes its CA: the cryptography package takes ~30 ms to import
    from harness.suite.tls_certs import CertFiles, TestCA

__all__ = ["BAD_CERTIFICATES", "TLS_HANDSHAKE_TIMEOUT", "ScenarioTls", "TlsRun", "check_capture", "decode_into", "run_tls"]

log = logging.getLogger(__name__)
BAD_CERTIFICATES = ("another name", "expired", "untrusted CA")
"""The certificates a UA must refuse, as the negative scenarios name them."""
EDITCAP_TIMEOUT = 20.0
TLS_HANDSHAKE_TIMEOUT = HANDSHAKE_TIMEOUT
"""How long a TLS connection may take to open (sipcore.aio.tls.HANDSHAKE_TIMEOUT)."""
SOCKET_CAPTURE = ("a @tls scenario needs raw capture (run as root or with CAP_NET_RAW, --capture raw): "
                  "capture from trunkcheck's sockets writes UDP only, and TLS is decoded from the wire with "
                  "the scenario's key log")


class TlsRun:
    """The run's CA and the certificates issued for each role (made once, on first use, thread-safe)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._ca: TestCA | None = None
        self._issued: dict[tuple[str, tuple[str, ...], tuple[str, ...], str], CertFiles] = {}

    @property
    def ca(self) -> TestCA:
        with self._lock:
            if self._ca is None:
                from harness.suite.tls_certs import TestCA

                self._ca = TestCA.create(self.folder)
            return self._ca

    def certificate(self, stem: str, *, dns: tuple[str, ...] = (), ips: tuple[str, ...] = (),
                    kind: str = "good") -> CertFiles:
        """The role's certificate (``kind``: good, or one of :data:`BAD_CERTIFICATES`)."""
        key = (stem, dns, ips, kind)
        ca = self.ca
        with self._lock:
            if key not in self._issued:
                name = f"{stem}-{len(self._issued)}"
                if kind == "another name":
                    files = ca.issue(name, dns=("other.invalid",), ips=("192.0.2.1",), common_name=dns[0] if dns else None)
                elif kind == "expired":
                    files = ca.issue(name, dns=dns, ips=ips, expired=True)
                elif kind == "untrusted CA":
                    from harness.suite.tls_certs import TestCA

                    files = TestCA.create(self.folder, "untrusted-ca").issue(name, dns=dns, ips=ips)
                else:
                    files = ca.issue(name, dns=dns, ips=ips)
                self._issued[key] = files
            return self._issued[key]


_RUNS: dict[Path, TlsRun] = {}
_RUNS_LOCK = threading.Lock()


def run_tls(session: Any) -> TlsRun:
    """The session's :class:`TlsRun` (``<run>/tls/``; a --jobs worker's ``<run>/tls/<worker>/``), one per folder."""
    own = getattr(session, "own_folder", None)
    folder = own("tls") if own is not None else Path(session.run_dir) / "tls"
    with _RUNS_LOCK:
        if folder not in _RUNS:
            _RUNS[folder] = TlsRun(folder)
        return _RUNS[folder]


@dataclass
class ScenarioTls:
    """One @tls scenario: its key log and the certificate each role presents."""

    run: TlsRun
    keylog: Path
    trunk_kind: str = "good"
    ua_listens: bool = True
    """False: the simulated UA takes no TLS connection (a softphone's way): the trunk must reach it over the
    connections it opened."""

    def check_reached(self, status: int | None, reason: str | None) -> None:
        """A call that could not reach the trunk over TLS (the UA's own 503 naming a TLS failure) fails the
        scenario with that cause, unless the scenario made the trunk present a certificate to refuse."""
        if self.trunk_kind == "good" and status == 503 and "transport error: TLS" in (reason or ""):
            raise AssertionError(f"the UA could not reach the trunk over TLS: {reason}")

    def present(self, kind: str) -> None:
        """Given the trunk presents a certificate for another name / expired / from an untrusted CA."""
        if kind not in BAD_CERTIFICATES:
            raise ValueError(f"unknown certificate {kind!r}: one of {', '.join(BAD_CERTIFICATES)}")
        self.trunk_kind = kind

    def server(self, trunk_ip: str, domain: str) -> TlsConfig:
        """The reference trunk's [tls]: a certificate for its SIP domain and address (or a bad one)."""
        files = self.run.certificate("trunk", dns=(domain,), ips=(trunk_ip,), kind=self.trunk_kind)
        return TlsConfig(cert=files.cert, key=files.key, ca_file=self.run.ca.ca_file, keylog=self.keylog)

    def options(self, role: str, ip: str, server_name: str | None = None,
                equipment: EquipmentTls | None = None) -> TlsOptions:
        """A simulated UA's or destination's options: its certificate, the run's CA (with a trunk under test:
        the CA, name and verify setting of its ``[equipment.tls]``), the key log."""
        files = self.run.certificate(role.lower(), ips=(ip,))
        accept = self.ua_listens or role != "UA"
        if equipment is not None:
            return TlsOptions(cert=files.cert, key=files.key, ca_file=equipment.ca_file, verify=equipment.verify,
                              server_name=equipment.server_name or server_name, keylog=self.keylog, accept=accept)
        return TlsOptions(cert=files.cert, key=files.key, ca_file=self.run.ca.ca_file, server_name=server_name,
                          keylog=self.keylog, accept=accept)

    def decode(self, pcap: Path, sip_ports: list[int]) -> list[Decoded]:
        """The capture decoded with the key log (an empty one when no handshake finished)."""
        self.keylog.touch(exist_ok=True)
        return decode_file(pcap, sip_ports=["16000-19999", *sip_ports], tls=TlsDecode(tuple(sip_ports), self.keylog))

    def keep_decryptable(self, pcap: Path) -> Path | None:
        """``<scenario>.pcapng``: the capture with its TLS secrets inside, when editcap is installed."""
        editcap = shutil.which("editcap")
        if editcap is None or not pcap.exists() or not self.keylog.exists() or not self.keylog.stat().st_size:
            return None
        out = pcap.with_suffix(".pcapng")
        try:
            subprocess.run([editcap, "--inject-secrets", f"tls,{self.keylog}", str(pcap), str(out)], check=True,
                           capture_output=True, timeout=EDITCAP_TIMEOUT)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("could not write %s with its TLS secrets: %s", out, exc)
            return None
        return out


def check_capture(capture: object, socket_capture: type) -> None:
    """A @tls scenario under socket capture fails at once (a failure, not an error: the run could not
    check it), saying what it needs."""
    if isinstance(capture, socket_capture):
        raise AssertionError(SOCKET_CAPTURE)


def decode_into(future: Future[list[Decoded]], pcap: Path, sip_ports: list[int], tls: ScenarioTls | None) -> None:
    """Decode a scenario's pcap (with its TLS keys when it has them) into ``future``, on a thread of its own:
    the result, or the exception to raise where the decode is awaited."""
    try:
        future.set_result(tls.decode(pcap, sip_ports) if tls is not None else decode_file(pcap, sip_ports=sip_ports))
    except Exception as err:  # noqa: BLE001 - raised where the decode is awaited
        future.set_exception(err)
