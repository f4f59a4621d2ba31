"""The ``[tls]`` table of the server's configuration, and ``--tls-cert``/``--tls-key``/``--tls-ca``.

    [tls]
    cert = "server.pem"      # the certificate chain the server presents on its tls: listen addresses (PEM)
    key = "server.key"       # its private key (PEM, unencrypted)
    ca_file = "ca.pem"       # CAs that TLS destinations' certificates must chain to (default: the system's)
    verify = true            # check destinations' certificates (chain, expiry, IP address / RFC 5922)
    keylog = "tls-keys.txt"  # append TLS session secrets (SSLKEYLOGFILE format) for Wireshark
    session_tickets = false  # TLS 1.3 session tickets for callers to resume with (off: sipsak 0.9.8 and
                             # other GnuTLS clients of its age take the ticket for the answer and give up)

Relative paths are relative to the configuration file's folder (to the working directory on the command
line). Every file is checked when the configuration is loaded: a missing file, a key that does not match
its certificate, or a ``tls:`` listen address without a certificate is a mistake naming the line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sipcore.aio.tls import TlsError, TlsOptions, client_context, server_context

__all__ = ["TLS_KEYS", "TlsConfig", "parse_tls"]

TLS_KEYS = ("cert", "key", "ca_file", "verify", "keylog", "session_tickets")


@dataclass(frozen=True)
class TlsConfig:
    cert: Path | None = None
    key: Path | None = None
    ca_file: Path | None = None
    verify: bool = True
    keylog: Path | None = None
    session_tickets: bool = False

    @property
    def can_listen(self) -> bool:
        return self.cert is not None and self.key is not None

    def options(self) -> TlsOptions:
        """The options of the server's TLS endpoints: its certificate, and how destinations are checked
        (each against the IP address it was dialled at)."""
        return TlsOptions(cert=self.cert, key=self.key, ca_file=self.ca_file, verify=self.verify,
                          keylog=self.keylog, session_tickets=self.session_tickets)

    def with_files(self, cert: Path | None, key: Path | None, ca_file: Path | None) -> TlsConfig:
        """Command-line files replacing the configuration's."""
        return dataclasses.replace(self, cert=cert or self.cert, key=key or self.key,
                                   ca_file=ca_file or self.ca_file)

    def problem(self) -> tuple[str, str] | None:
        """(key, what is wrong) when the files cannot be used; None when they load."""
        if (self.cert is None) != (self.key is None):
            return ("cert" if self.cert is None else "key"), "cert and key go together: give both"
        try:
            if self.cert is not None:
                server_context(self.options())
            client_context(self.options())
        except TlsError as exc:
            text = str(exc)
            return ("ca_file" if "CA file" in text else "key" if "key" in text and "certificate" not in text
                    else "cert"), text
        return None


def parse_tls(reader: Any, section: dict[str, Any], base: Path | None) -> TlsConfig:
    """``[tls]`` through the config's TableReader (``reader.get``, ``reader.error``); paths relative to
    ``base`` (the config file's folder)."""
    p = ("tls",)

    def path(key: str) -> Path | None:
        text = reader.get(section, p, key, str, None)
        if text is None:
            return None
        if not text:
            raise reader.error((*p, key), "is empty: give a file name or leave the key out")
        value = Path(text).expanduser()
        return value if value.is_absolute() or base is None else base / value

    config = TlsConfig(path("cert"), path("key"), path("ca_file"), reader.get(section, p, "verify", bool, True),
                       path("keylog"), reader.get(section, p, "session_tickets", bool, False))
    problem = config.problem()
    if problem is not None:
        raise reader.error((*p, problem[0]), problem[1])
    return config
