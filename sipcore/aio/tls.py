"""SIP over TLS (RFC 3261 §26, RFC 5630): the TCP transport of :mod:`.transport` with asyncio's ssl support.

    options = TlsOptions(cert=Path("server.pem"), key=Path("server.key"), ca_file=Path("ca.pem"))
    transport = await TlsTransport.listen("127.0.0.1", 5061, on_message, options=options)

Framing, the incomplete-message limit and connection reuse are the TCP transport's: a response goes back on
the connection its request came in on, and a request to an address already connected reuses that
connection (RFC 3261 §18; RFC 5923 in spirit). Only the sockets differ:

- a listener presents ``cert`` (a PEM chain) and ``key``; it asks no certificate of its clients;
- a connection it opens verifies the server's certificate chain against ``ca_file`` (the system's CAs
  when None; expiry and trust as OpenSSL checks them), then the identity as RFC 5922 §7 says
  (:func:`sipcore.tls_identity.identity_problem`): the SIP domain ``server_name`` (for a UA: its trunk's
  domain), else the IP address dialled, against the certificate's SANs. A peer that fails either check
  gets no message: the connection is closed and every transaction waiting on that address ends with a 503
  whose reason names the problem ("certificate has expired", "certificate names DNS:other.example, not
  ...");
- ``verify=False`` skips both checks (a lab peer with a throw-away certificate), and says so in a log line
  per connection;
- ``keylog``: every side writes its TLS session secrets there (NSS key log format, the SSLKEYLOGFILE of
  browsers), so Wireshark and tshark decrypt a capture given ``tls.keylog_file``;
- a listener sends no TLS 1.3 session ticket unless ``session_tickets`` (resumption is rare in SIP, and
  sipsak 0.9.8 with GnuTLS reads the post-handshake ticket as the answer and gives up);
- ``accept=False``: an endpoint that opens connections but takes none (like most softphones over TLS): it
  binds no listener, its connections leave from ephemeral ports, and its peers can reach it only over the
  connections it opened (RFC 3261 §18, RFC 5923, RFC 5626 flows).
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..tls_identity import identity_problem
from ..transport_address import is_ip_address
from .clock import LOOP_CLOCK, Clock
from .transport import (
    CONNECT_TIMEOUT,
    INCOMPLETE_TIMEOUT,
    Addr,
    ErrorHandler,
    MessageHandler,
    TcpConnection,
    TcpTransport,
    UnreachableHandler,
)

__all__ = ["HANDSHAKE_TIMEOUT", "TlsError", "TlsOptions", "TlsTransport", "client_context", "server_context"]

log = logging.getLogger(__name__)
HANDSHAKE_TIMEOUT = CONNECT_TIMEOUT
"""How long opening a TLS connection (TCP connect and handshake) may take before it is a transport error."""


class TlsError(ValueError):
    """TLS options that cannot be used (a certificate or key that does not load); says which file and why."""


@dataclass(frozen=True)
class TlsOptions:
    """What one TLS endpoint needs. ``cert``/``key``: its own certificate chain and private key (PEM),
    required to listen. ``ca_file``: the CAs its peers' certificates must chain to (None: the system's).
    ``verify``: check peers' certificates (chain, expiry, RFC 5922 identity). ``server_name``: the SIP
    domain the servers it connects to must be certified for (None: the IP address dialled). ``keylog``:
    where TLS session secrets are appended (NSS key log format), for decrypting captures. ``accept``:
    False for an endpoint that listens for no connection (it only opens its own; no certificate needed).
    ``session_tickets``: a listener sends TLS 1.3 session tickets (for resumption)."""

    cert: Path | None = None
    key: Path | None = None
    ca_file: Path | None = None
    verify: bool = True
    server_name: str | None = None
    keylog: Path | None = None
    accept: bool = True
    session_tickets: bool = False


def _load_chain(ctx: ssl.SSLContext, options: TlsOptions) -> None:
    if options.cert is None:
        return
    try:
        ctx.load_cert_chain(str(options.cert), str(options.key) if options.key else None)
    except FileNotFoundError as exc:
        raise TlsError(f"TLS certificate or key {exc.filename or options.cert}: no such file") from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(f"TLS certificate {options.cert} with key {options.key}: cannot be loaded "
                       f"({getattr(exc, 'reason', None) or exc}); expected PEM files, the key matching the "
                       "certificate") from None


def _base(purpose: ssl.Purpose, options: TlsOptions) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if purpose is ssl.Purpose.CLIENT_AUTH else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 8996: no TLS 1.0 or 1.1
    if options.keylog is not None:
        ctx.keylog_filename = str(options.keylog)
    return ctx


def server_context(options: TlsOptions) -> ssl.SSLContext:
    """The context of a listener: its certificate and key (TlsError when missing or unusable)."""
    if options.cert is None or options.key is None:
        raise TlsError("a TLS listener needs a certificate and a key (PEM files)")
    ctx = _base(ssl.Purpose.CLIENT_AUTH, options)
    ctx.num_tickets = 2 if options.session_tickets else 0
    _load_chain(ctx, options)
    return ctx


def client_context(options: TlsOptions) -> ssl.SSLContext:
    """The context of connections this endpoint opens: chain verification against ``ca_file`` unless
    ``verify`` is off (the name is checked by :class:`TlsTransport`, RFC 5922, not by OpenSSL)."""
    ctx = _base(ssl.Purpose.SERVER_AUTH, options)
    ctx.check_hostname = False
    if options.verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        try:
            if options.ca_file is not None:
                ctx.load_verify_locations(cafile=str(options.ca_file))
            else:
                ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
        except FileNotFoundError:
            raise TlsError(f"TLS CA file {options.ca_file}: no such file") from None
        except (ssl.SSLError, OSError) as exc:
            raise TlsError(f"TLS CA file {options.ca_file}: cannot be loaded ({exc}); expected PEM "
                           "certificates") from None
    else:
        ctx.verify_mode = ssl.CERT_NONE
    _load_chain(ctx, options)  # a client certificate, offered when the server asks for one
    return ctx


_UNTRUSTED = " (not issued by a CA of the CA file: an untrusted CA)"
_VERIFY_HINTS = {18: _UNTRUSTED, 19: _UNTRUSTED, 20: _UNTRUSTED, 21: _UNTRUSTED,
                 9: " (not valid yet: check the clocks)", 10: " (past its notAfter date)"}
"""OpenSSL's X509_V_ERR codes a user may not read at a glance: self-signed certificate in chain, unable
to get local issuer certificate ... all mean the issuer is not trusted here."""


def describe_failure(addr: Addr, exc: BaseException) -> OSError:
    """A failed TLS connection as a user reads it: what the certificate check said, or what went wrong."""
    where = f"{addr[0]}:{addr[1]}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or exc.reason or str(exc)
        hint = _VERIFY_HINTS.get(exc.verify_code, "")
        return OSError(f"TLS: certificate of {where} rejected: {why}{hint}")
    if isinstance(exc, ssl.SSLError):
        why = exc.reason or str(exc)
        hint = " (is it listening for TLS, or for cleartext SIP?)" if "WRONG_VERSION" in str(why).upper() else ""
        return OSError(f"TLS handshake with {where} failed: {why}{hint}")
    if isinstance(exc, TimeoutError):
        return OSError(f"TLS handshake with {where} failed: no answer to the ClientHello within "
                       f"{CONNECT_TIMEOUT:g} s (is it listening for TLS, or for cleartext SIP?)")
    if isinstance(exc, ConnectionResetError | BrokenPipeError) or "EOF" in str(exc):
        return OSError(f"TLS handshake with {where} failed: the peer closed the connection (is it "
                       "listening for TLS?)")
    if isinstance(exc, OSError):
        return exc
    return OSError(f"TLS connection to {where} failed: {exc}")


class TlsTransport(TcpTransport):
    """A TLS listener (when it has a certificate) and the TLS connections it accepted or opened."""

    name = "TLS"

    def __init__(self, on_message: MessageHandler, on_error: ErrorHandler | None = None,
                 on_unreachable: UnreachableHandler | None = None, *, options: TlsOptions = TlsOptions(),
                 clock: Clock = LOOP_CLOCK, incomplete_timeout: float = INCOMPLETE_TIMEOUT,
                 idle_timeout: float | None = None) -> None:
        super().__init__(on_message, on_error, on_unreachable, clock=clock, incomplete_timeout=incomplete_timeout,
                         idle_timeout=idle_timeout)
        self.options = options
        self._names: dict[Addr, str] = {}
        self._client = client_context(options)
        self._server_ctx = server_context(options) if options.cert is not None else None

    @classmethod
    async def listen(cls, host: str, port: int, on_message: MessageHandler,
                     on_error: ErrorHandler | None = None,
                     on_unreachable: UnreachableHandler | None = None, *, options: TlsOptions = TlsOptions(),
                     clock: Clock = LOOP_CLOCK, incomplete_timeout: float = INCOMPLETE_TIMEOUT,
                     idle_timeout: float | None = None) -> TlsTransport:
        """Listen on host:port (with ``options.cert``): TlsError when the certificate is missing or unusable."""
        self = cls(on_message, on_error, on_unreachable, options=options, clock=clock,
                   incomplete_timeout=incomplete_timeout, idle_timeout=idle_timeout)
        if self._server_ctx is None:
            raise TlsError("a TLS listener needs a certificate and a key (PEM files)")
        await self._bind(host, port)
        return self

    @classmethod
    def connect_only(cls, host: str, port: int, on_message: MessageHandler, on_error: ErrorHandler | None = None,
                     on_unreachable: UnreachableHandler | None = None, *, options: TlsOptions = TlsOptions(),
                     clock: Clock = LOOP_CLOCK) -> TlsTransport:
        """A transport that accepts no connection (``options.accept`` False): its connections leave from
        ``host`` on ephemeral ports; ``host:port`` is only what its Via and Contact say (a port nothing
        listens on, as with a softphone that opens its own TLS connections only; port 0: 5061, TLS's default)."""
        self = cls(on_message, on_error, on_unreachable, options=options, clock=clock)
        self.local_addr = (host, port or 5061)
        return self

    def expect_name(self, addr: Addr, name: str) -> None:
        """Connections to ``addr`` must present a certificate for ``name``: the SIP domain that DNS located
        at that address (RFC 5922 §4), not the SRV target's host name nor the address."""
        self._names[addr] = name

    def expected_name(self, addr: Addr) -> str:
        """Whose certificate a connection to ``addr`` must present: the name :meth:`expect_name` gave it,
        else ``server_name``, else the address."""
        return self._names.get(addr) or self.options.server_name or addr[0]

    def _server_options(self) -> dict[str, Any]:
        return {"ssl": self._server_ctx, "ssl_handshake_timeout": CONNECT_TIMEOUT}

    def _client_options(self, addr: Addr) -> dict[str, Any]:
        name = self.expected_name(addr)
        return {"ssl": self._client, "server_hostname": None if is_ip_address(name) else name,
                "ssl_handshake_timeout": CONNECT_TIMEOUT}

    def _check_connection(self, conn: TcpConnection, addr: Addr) -> OSError | None:
        if conn.transport is None:
            return OSError(f"TLS connection to {addr[0]}:{addr[1]} closed during the handshake")
        if not self.options.verify:
            log.info("TLS connection to %s:%d: certificate not verified (verify is off)", *addr)
            return None
        cert: dict[str, Any] | None = conn.transport.get_extra_info("peercert")
        expected = self.expected_name(addr)
        problem = identity_problem(cert or {}, expected)
        if problem is None:
            return None
        return OSError(f"TLS: certificate of {addr[0]}:{addr[1]} rejected: {problem} (RFC 5922)")

    def _connect_failure(self, addr: Addr, exc: BaseException) -> OSError:
        return describe_failure(addr, exc)
