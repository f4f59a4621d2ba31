"""Throw-away certificates for TLS runs and tests: a CA made on the spot, and certificates it issues.

Nothing is committed: a run that needs TLS makes its CA and each role's certificate in the run folder
(``tls/``), with the SANs RFC 5922 looks at (the SIP domain as dNSName, the role's IP address as iPAddress).
The negative scenarios use the same calls for the certificates a UA must refuse: one for another name, an
expired one, one from a CA the UA does not trust.

    ca = TestCA.create(folder)                      # folder/ca.pem, folder/ca.key
    files = ca.issue("trunk", dns=["example.trunk.voipbin.net"], ips=["127.0.0.20"])
    files.cert, files.key                           # folder/trunk.pem, folder/trunk.key

Keys are ECDSA P-256 (cheap to make and to sign with). Requires the ``cryptography`` package.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertFiles", "TestCA"]

DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class CertFiles:
    """A certificate (PEM, with the issuing CA's certificate after it) and its private key (PEM)."""

    cert: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trunkcheck test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class TestCA:
    """A certificate authority for one run (or one test): its certificate is ``ca.pem`` in ``folder``."""

    __test__ = False  # not a pytest test class

    folder: Path
    name: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def ca_file(self) -> Path:
        return self.folder / f"{self.name}.pem"

    @classmethod
    def create(cls, folder: Path, name: str = "ca", *, now: datetime.datetime | None = None) -> TestCA:
        folder.mkdir(parents=True, exist_ok=True)
        now = now or datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(f"trunkcheck test CA ({name})")
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - DAY).not_valid_after(now + 30 * DAY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        ca = cls(folder, name, key, cert)
        ca.ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(folder / f"{name}.key", key)
        return ca

    def issue(self, stem: str, *, dns: Sequence[str] = (), ips: Sequence[str] = (), uris: Sequence[str] = (),
              common_name: str | None = None, expired: bool = False,
              now: datetime.datetime | None = None) -> CertFiles:
        """A certificate for a SIP server or client, written as ``stem.pem`` (with the CA's certificate
        after it) and ``stem.key``. SANs: ``dns`` (dNSName), ``ips`` (iPAddress), ``uris`` (sip: URIs);
        none of them: a certificate with only a CN (``common_name``). ``expired``: its validity ended
        yesterday."""
        now = now or datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        cn = common_name or (list(dns) + list(ips) + [stem])[0]
        start, end = (now - 10 * DAY, now - DAY) if expired else (now - DAY, now + 30 * DAY)
        builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.certificate.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                         ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        names += [x509.UniformResourceIdentifier(u) for u in uris]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        files = CertFiles(self.folder / f"{stem}.pem", self.folder / f"{stem}.key")
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                               + self.certificate.public_bytes(serialization.Encoding.PEM))
        _write_key(files.key, key)
        return files
