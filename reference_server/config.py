"""Reference server configuration: a TOML file (or the embedded ``defaults.toml``) to frozen dataclasses.

Every mistake is a :class:`ConfigError` saying ``FILE:LINE: key.path: what is wrong`` (found by
:mod:`reference_server.tomlfile`); a key that is absent is reported at its table's header line.

Merging: keys missing from ``[server]``, ``[security]``, ``[media]``, ``[registrar]`` and ``[session_timer]``
take the embedded defaults; ``[[trunk]]`` and ``[[extension]]`` come from the file alone. Index paths are 0-based
(``trunk[1]`` is the second ``[[trunk]]``).
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from reference_server import tomlfile
from reference_server.destination import Destination, parse_destination
from reference_server.identity import IdentityPolicy
from reference_server.keepalive import KeepAliveSettings
from reference_server.session_config import SESSION_TIMER_KEYS, SessionTimerConfig, parse_session_timer
from reference_server.tls_config import TLS_KEYS, TlsConfig, parse_tls
from reference_server.tomlfile import MISSING, FileError, IPNetwork, KeyPath, Locator, TableReader
from reference_server.trunk_options import OPTION_KEYS, read_destinations, read_trunk_options
from sipcore.locate import parse_nameserver
from sipcore.transport_address import (
    TransportAddress,
    parse_transport_address,
)

__all__ = [
    "ALGORITHMS", "AUTH_TYPES", "DOMAIN_NAME_RE", "TRUNK_DOMAIN_SUFFIX", "ConfigError", "Destination",
    "Extension", "IPNetwork", "ListenAddress", "MediaConfig", "Overrides", "RegistrarConfig",
    "SecurityConfig", "ServerConfig", "TlsConfig", "Trunk", "apply_overrides", "default_config_text", "ip_in",
    "load_config", "parse_config", "parse_destination", "parse_listen",
]

TRUNK_DOMAIN_SUFFIX = ".trunk.voipbin.net"
DOMAIN_NAME_RE = re.compile(r"^([a-zA-Z]{1})([a-zA-Z0-9\-\.]{1,30})$")  # VoIPBin's rule, verbatim
ALGORITHMS = ("MD5", "SHA-256", "SHA-512-256")
AUTH_TYPES = ("basic", "ip")
_HOSTNAME_RE = re.compile(r"(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                          r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
_EXTENSION_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()]+\Z")  # RFC 3261 unreserved: a plain URI user part


class ConfigError(FileError):
    """A configuration mistake; ``str()`` is ``FILE:LINE: key: problem`` (or ``--option: problem``)."""


# --- result dataclasses ------------------------------------------------------------------------------

ListenAddress = TransportAddress
"""An address the server listens on: ``udp:127.0.0.1:5060`` (transport, IP literal, port)."""


@dataclass(frozen=True)
class Trunk:
    name: str
    domain_name: str
    auth_types: tuple[str, ...]
    username: str | None
    password: str | None
    realm: str
    allowed_ips: tuple[IPNetwork, ...]
    destination: Destination
    destination_srtp: bool = False  # offer the destination RTP/SAVP (SDES keys) instead of RTP/AVP
    fallback_destinations: tuple[Destination, ...] = ()
    """More destinations (``destination`` as an array), tried in order after the first."""
    keepalive: KeepAliveSettings = KeepAliveSettings()
    identity: IdentityPolicy = IdentityPolicy()
    destination_timeout: float | None = None  # seconds without any response before the next; None: Timer B

    @property
    def destinations(self) -> tuple[Destination, ...]:
        return (self.destination, *self.fallback_destinations)

    @property
    def host(self) -> str:
        """The trunk server host name, ``{domain_name}.trunk.voipbin.net``."""
        return f"{self.domain_name}{TRUNK_DOMAIN_SUFFIX}"

    @property
    def address(self) -> str:
        return f"sip:{self.host}"

    def allows_ip(self, ip: str) -> bool:
        """Whether ``ip`` is in allowed_ips (regardless of whether "ip" is among the auth_types)."""
        return ip_in(ip, self.allowed_ips)


@dataclass(frozen=True)
class RegistrarConfig:
    domain: str
    min_expires: int
    default_expires: int
    max_expires: int
    max_contacts: int


@dataclass(frozen=True)
class Extension:
    """A registrar extension and its digest password (``[[extension]]``; an equipment file's
    ``[[equipment.registrar.extension]]`` is the same)."""

    extension: str
    password: str


@dataclass(frozen=True)
class MediaConfig:
    address: str
    port_min: int
    port_max: int
    srtp: bool = True  # accept RTP/SAVP offers (SDES-keyed SRTP); false: 488 Not Acceptable Here


@dataclass(frozen=True)
class SecurityConfig:
    max_failed_attempts: int
    failure_window: float
    block_duration: float


@dataclass(frozen=True)
class ServerConfig:
    listen: tuple[ListenAddress, ...]
    nonce_lifetime: float
    algorithms: tuple[str, ...]
    user_agent: str
    trusted_peers: tuple[IPNetwork, ...]
    security: SecurityConfig
    media: MediaConfig
    trunks: tuple[Trunk, ...]
    registrar: RegistrarConfig
    extensions: tuple[Extension, ...]
    source: str = "<defaults>"
    dns: tuple[str, int] | None = None
    """The DNS server (IP, port) for destinations named by host name; None: the system's resolver."""
    tls: TlsConfig = TlsConfig()
    """``[tls]``: the certificate of tls: listeners and how TLS destinations are checked."""
    session_timer: SessionTimerConfig = SessionTimerConfig()  # [session_timer]: RFC 4028

    def extension_password(self, extension: str) -> str | None:
        for ext in self.extensions:
            if ext.extension == extension:
                return ext.password
        return None


@dataclass(frozen=True)
class Overrides:
    """Command-line overrides: ``--listen`` (repeatable), ``--destination`` (every trunk), ``--dns`` and
    ``--tls-cert``/``--tls-key``/``--tls-ca`` (the ``[tls]`` files)."""

    listen: list[str] | None = None
    destination: str | None = None
    dns: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None


def ip_in(ip: str, networks: Iterable[IPNetwork]) -> bool:
    """Whether the address ``ip`` (IPv6 with or without brackets) is in any of ``networks``."""
    try:
        addr = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in networks)


# --- value parsers shared by the file and the command line (ValueError with the problem) ------------

def parse_listen(text: str) -> ListenAddress:
    """``udp:127.0.0.1:5060``, ``tcp:[::1]:5060``, ``127.0.0.1:5060`` (UDP); the port defaults to 5060
    (:func:`sipcore.transport_address.parse_transport_address`)."""
    return parse_transport_address(text)


# --- loading ----------------------------------------------------------------------------------------

def default_config_text() -> str:
    return resources.files(__package__ or "reference_server").joinpath("defaults.toml").read_text("utf-8")


def load_config(path: Path | None = None, *, overrides: Overrides | None = None) -> ServerConfig:
    """The configuration in ``path`` (the embedded defaults when None), with command-line overrides."""
    if path is None:
        config = parse_config(default_config_text(), "<defaults>")
    else:
        config = parse_config(tomlfile.read_text(path, ConfigError), str(path))
    if overrides is not None:
        config = apply_overrides(config, overrides.listen, overrides.destination, overrides.dns)
        config = _tls_overrides(config, overrides)
    return config


def _tls_overrides(config: ServerConfig, overrides: Overrides) -> ServerConfig:
    tls = config.tls.with_files(overrides.tls_cert, overrides.tls_key, overrides.tls_ca)
    problem = tls.problem()
    if problem is not None:
        option = {"cert": "--tls-cert", "key": "--tls-key", "ca_file": "--tls-ca"}[problem[0]]
        raise ConfigError(f"{option}: {problem[1]}", key=option)
    listen = config.listen
    if overrides.tls_cert and not overrides.listen and all(a.transport != "tls" for a in listen):
        listen = (*listen, ListenAddress("tls", listen[0].host, 5061))  # RFC 3261 §19.1.2: 5061 for TLS
    for addr in listen:
        if addr.transport == "tls" and not tls.can_listen:
            raise ConfigError(f"--listen: {addr} needs a certificate: give --tls-cert and --tls-key (or [tls] "
                              "cert and key)", key="--listen")
    return dataclasses.replace(config, tls=tls, listen=listen)


def parse_config(text: str, filename: str = "<string>") -> ServerConfig:
    return _Parser(tomlfile.loads(text, filename, ConfigError), _defaults(), filename, Locator(text)).config()


@functools.lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    """The embedded defaults as raw TOML data (shared: never mutated)."""
    return tomllib.loads(default_config_text())


def apply_overrides(config: ServerConfig, listen: list[str] | None,
                    destination: str | None, dns: str | None = None) -> ServerConfig:
    """``--listen`` replaces every listen address; ``--destination`` every trunk's destination; ``--dns``
    the DNS server."""
    changes: dict[str, Any] = {}
    if dns is not None:
        try:
            changes["dns"] = parse_nameserver(dns)
        except ValueError as exc:
            raise ConfigError(f"--dns: {exc}", key="--dns") from None
    if listen is not None:
        try:
            addresses = tuple(parse_listen(text) for text in listen)
        except ValueError as exc:
            raise ConfigError(f"--listen: {exc}", key="--listen") from None
        if not addresses or len(set(addresses)) != len(addresses):
            raise ConfigError("--listen: give one or more distinct addresses", key="--listen")
        changes["listen"] = addresses
    if destination is not None:
        try:
            dest = parse_destination(destination)
        except ValueError as exc:
            raise ConfigError(f"--destination: {exc}", key="--destination") from None
        changes["trunks"] = tuple(dataclasses.replace(t, destination=dest, fallback_destinations=())
                                  for t in config.trunks)
    return dataclasses.replace(config, **changes)


# --- validation -------------------------------------------------------------------------------------

_TOP = ("server", "security", "media", "trunk", "registrar", "extension", "tls", "session_timer")
_MERGED = ("server", "security", "media", "registrar", "session_timer")
_SERVER = ("listen", "nonce_lifetime", "algorithms", "user_agent", "trusted_peers", "dns")
_SECURITY = ("max_failed_attempts", "failure_window", "block_duration")
_MEDIA = ("address", "port_min", "port_max", "srtp")
_TRUNK = ("name", "domain_name", "auth_types", "username", "password", "realm", "allowed_ips",
          "destination", "destination_srtp", "destination_timeout", *OPTION_KEYS)
_REGISTRAR = ("domain", "min_expires", "default_expires", "max_expires", "max_contacts")
_EXTENSION = ("extension", "password")


class _Parser(TableReader):
    error_class = ConfigError

    def __init__(self, data: dict[str, Any], defaults: dict[str, Any], filename: str,
                 locator: Locator) -> None:
        super().__init__(data, filename, locator)
        self.defaults = defaults

    def section(self, name: str, allowed: Sequence[str]) -> dict[str, Any]:
        user = self.table(self.data.get(name, {}), (name,), allowed)
        return {**self.defaults.get(name, {}), **user}

    def config(self) -> ServerConfig:
        self.table(self.data, (), _TOP)
        base = None if self.filename.startswith("<") else Path(self.filename).parent
        tls = parse_tls(self, self.table(self.data.get("tls", {}), ("tls",), TLS_KEYS), base)
        server = self.server()
        for i, addr in enumerate(server["listen"]):
            if addr.transport == "tls" and not tls.can_listen:
                raise self.error(("server", "listen", i), f"{addr} needs a certificate: give [tls] cert and key")
        return ServerConfig(**server, security=self.security(), media=self.media(),
                            trunks=self.trunks(), registrar=self.registrar(), extensions=self.extensions(),
                            source=self.filename, tls=tls, session_timer=parse_session_timer(
                                self, self.section("session_timer", SESSION_TIMER_KEYS)))

    def server(self) -> dict[str, Any]:
        p: KeyPath = ("server",)
        s = self.section("server", _SERVER)
        listen: list[ListenAddress] = []
        for i, text in enumerate(self.strings(s, p, "listen")):
            try:
                addr = parse_listen(text)
            except ValueError as exc:
                raise self.error((*p, "listen", i), str(exc)) from None
            if addr in listen:
                raise self.error((*p, "listen", i), f"{json.dumps(text)} is listed twice")
            listen.append(addr)
        if not listen:
            raise self.error((*p, "listen"), "needs at least one address")
        algorithms: list[str] = []
        for i, name in enumerate(self.strings(s, p, "algorithms")):
            canonical = {a.upper(): a for a in ALGORITHMS}.get(name.upper())
            if canonical is None or canonical in algorithms:
                why = "is listed twice" if canonical else f"is not one of {', '.join(ALGORITHMS)}"
                raise self.error((*p, "algorithms", i), f"{json.dumps(name)} {why}")
            algorithms.append(canonical)
        if not algorithms:
            raise self.error((*p, "algorithms"), f"needs at least one of {', '.join(ALGORITHMS)}")
        dns_text = self.get(s, p, "dns", str, None)
        try:
            dns = parse_nameserver(dns_text) if dns_text is not None else None
        except ValueError as exc:
            raise self.error((*p, "dns"), str(exc)) from None
        return {"listen": tuple(listen), "algorithms": tuple(algorithms), "dns": dns,
                "nonce_lifetime": float(self.positive(s, p, "nonce_lifetime", (int, float))),
                "user_agent": self.get(s, p, "user_agent", str),
                "trusted_peers": self.networks(s, p, "trusted_peers")}

    def security(self) -> SecurityConfig:
        p: KeyPath = ("security",)
        s = self.section("security", _SECURITY)
        return SecurityConfig(self.positive(s, p, "max_failed_attempts", int),
                              float(self.positive(s, p, "failure_window", (int, float))),
                              float(self.positive(s, p, "block_duration", (int, float))))

    def media(self) -> MediaConfig:
        p: KeyPath = ("media",)
        s = self.section("media", _MEDIA)
        address = self.get(s, p, "address", str)
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise self.error((*p, "address"), f"{json.dumps(address)} is not an IP address") from None
        lo, hi = self.get(s, p, "port_min", int), self.get(s, p, "port_max", int)
        for key, port in (("port_min", lo), ("port_max", hi)):
            if not 1024 <= port <= 65535:
                raise self.error((*p, key), f"{port} is not 1024-65535")
        if lo > hi:
            raise self.error((*p, "port_min"), f"{lo} is above port_max {hi}")
        first_even = lo + lo % 2
        if (hi - first_even + 1) // 2 < 2:
            raise self.error((*p, "port_min"), f"{lo}-{hi} holds fewer than 2 RTP/RTCP port pairs "
                             "(an even port and the next odd one; a call relays two legs)")
        return MediaConfig(address, lo, hi, self.get(s, p, "srtp", bool))

    def trunks(self) -> tuple[Trunk, ...]:
        trunks: list[Trunk] = []
        seen: dict[str, int] = {}
        for i, raw in enumerate(self.array_of_tables("trunk")):
            p: KeyPath = ("trunk", i)
            t = self.table(raw, p, _TRUNK)
            domain = self.get(t, p, "domain_name", str)
            if not DOMAIN_NAME_RE.fullmatch(domain):
                raise self.error((*p, "domain_name"), f"{json.dumps(domain)} must start with a letter and be "
                                 "2-31 characters of letters, digits, '-' and '.'")
            if domain.lower() in seen:
                raise self.error((*p, "domain_name"),
                                 f"{json.dumps(domain)} is already used by trunk[{seen[domain.lower()]}]")
            seen[domain.lower()] = i
            auth_types = self.strings(t, p, "auth_types", ["basic"])
            for j, kind in enumerate(auth_types):
                if kind not in AUTH_TYPES or kind in auth_types[:j]:
                    why = "is listed twice" if kind in AUTH_TYPES else "is not \"basic\" or \"ip\""
                    raise self.error((*p, "auth_types", j), f"{json.dumps(kind)} {why}")
            if not auth_types:
                raise self.error((*p, "auth_types"), 'needs "basic", "ip" or both')
            required = "basic" in auth_types
            username = self.get(t, p, "username", str, MISSING if required else None)
            password = self.get(t, p, "password", str, MISSING if required else None)
            for key, val in (("username", username), ("password", password)):
                if required and not val:
                    raise self.error((*p, key), "must not be empty with basic auth")
            allowed_ips = self.networks(t, p, "allowed_ips")
            if "ip" in auth_types and not allowed_ips:
                raise self.error((*p, "allowed_ips") if "allowed_ips" in t else p,
                                 'ip auth needs allowed_ips (IP addresses or CIDR networks)')
            destinations = read_destinations(self, t, p)
            realm = self.get(t, p, "realm", str, f"{domain}{TRUNK_DOMAIN_SUFFIX}")
            if not realm:
                raise self.error((*p, "realm"), "must not be empty")
            options = read_trunk_options(self, t, p)
            timeout = self.positive(t, p, "destination_timeout", (int, float)) if "destination_timeout" in t else None
            trunks.append(Trunk(self.get(t, p, "name", str, domain), domain, tuple(auth_types), username,
                                password, realm, allowed_ips, destinations[0],
                                self.get(t, p, "destination_srtp", bool, False), destinations[1:],
                                options.keepalive, options.identity, None if timeout is None else float(timeout)))
        return tuple(trunks)

    def registrar(self) -> RegistrarConfig:
        p: KeyPath = ("registrar",)
        s = self.section("registrar", _REGISTRAR)
        domain = self.get(s, p, "domain", str)
        if not _HOSTNAME_RE.match(domain) or domain.lower().endswith(TRUNK_DOMAIN_SUFFIX):
            raise self.error((*p, "domain"), f"{json.dumps(domain)} is not a host name outside "
                             f"{TRUNK_DOMAIN_SUFFIX[1:]}")
        lo, mid, hi = (self.positive(s, p, k, int) for k in ("min_expires", "default_expires", "max_expires"))
        if lo > hi:
            raise self.error((*p, "min_expires"), f"{lo} is above max_expires {hi}")
        if not lo <= mid <= hi:
            raise self.error((*p, "default_expires"), f"{mid} is not within min_expires {lo} .. max_expires {hi}")
        return RegistrarConfig(domain, lo, mid, hi, self.positive(s, p, "max_contacts", int))

    def extensions(self) -> tuple[Extension, ...]:
        out: list[Extension] = []
        for i, raw in enumerate(self.array_of_tables("extension")):
            p: KeyPath = ("extension", i)
            e = self.table(raw, p, _EXTENSION)
            ext = self.get(e, p, "extension", str)
            if not _EXTENSION_RE.match(ext):
                raise self.error((*p, "extension"), f"{json.dumps(ext)} is not a plain SIP user part "
                                 "(letters, digits, -_.!~*'())")
            if any(x.extension == ext for x in out):
                raise self.error((*p, "extension"), f"{json.dumps(ext)} is defined twice")
            password = self.get(e, p, "password", str)
            if not password:
                raise self.error((*p, "password"), "must not be empty")
            out.append(Extension(ext, password))
        return tuple(out)
