"""Reference server configuration: a TOML file (or the embedded ``defaults.toml``) to frozen dataclasses.

Every mistake is a :class:`ConfigError` saying ``FILE:LINE: key.path: what is wrong``. tomllib gives no
line numbers, so :class:`_Locator` finds them by scanning the source (tables, ``[[trunk]]`` occurrences in
order, keys, array elements); a key that is absent is reported at its table's header line.

Merging: keys missing from ``[server]``, ``[security]``, ``[media]`` and ``[registrar]`` take the embedded
defaults; ``[[trunk]]`` and ``[[extension]]`` come from the file alone. Index paths are 0-based
(``trunk[1]`` is the second ``[[trunk]]``).
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import functools
import ipaddress
import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

from sipcore.errors import SIPParseError
from sipcore.uri import parse_sip_uri

__all__ = [
    "ALGORITHMS", "AUTH_TYPES", "DOMAIN_NAME_RE", "TRUNK_DOMAIN_SUFFIX", "ConfigError", "Destination",
    "Extension", "IPNetwork", "ListenAddress", "MediaConfig", "Overrides", "RegistrarConfig",
    "SecurityConfig", "ServerConfig", "Trunk", "apply_overrides", "default_config_text", "ip_in",
    "load_config", "parse_config", "parse_destination", "parse_listen",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
TRUNK_DOMAIN_SUFFIX = ".trunk.voipbin.net"
DOMAIN_NAME_RE = re.compile(r"^([a-zA-Z]{1})([a-zA-Z0-9\-\.]{1,30})$")  # VoIPBin's rule, verbatim
ALGORITHMS = ("MD5", "SHA-256", "SHA-512-256")
AUTH_TYPES = ("basic", "ip")
TRANSPORTS = ("udp", "tcp")
_HOSTNAME_RE = re.compile(r"(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                          r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
_EXTENSION_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()]+\Z")  # RFC 3261 unreserved: a plain URI user part

Path_ = tuple[str | int, ...]


class ConfigError(ValueError):
    """A configuration mistake; ``str()`` is ``FILE:LINE: key: problem`` (or ``--option: problem``)."""

    def __init__(self, message: str, *, filename: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        super().__init__(message)
        self.filename, self.line, self.key = filename, line, key


# --- result dataclasses ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ListenAddress:
    transport: str  # "udp" | "tcp"
    host: str  # IP literal, IPv6 without brackets
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"


@dataclass(frozen=True)
class Destination:
    """Where a trunk's authenticated calls go."""

    host: str
    port: int = 5060
    transport: str = "udp"

    @property
    def uri(self) -> str:
        return f"sip:{self.host}:{self.port};transport={self.transport}"


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
    extension: str
    password: str


@dataclass(frozen=True)
class MediaConfig:
    address: str
    port_min: int
    port_max: int


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

    def extension_password(self, extension: str) -> str | None:
        for ext in self.extensions:
            if ext.extension == extension:
                return ext.password
        return None


@dataclass(frozen=True)
class Overrides:
    """Command-line overrides: ``--listen`` (repeatable) and ``--destination`` (every trunk)."""

    listen: list[str] | None = None
    destination: str | None = None


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
    """``udp:127.0.0.1:5060``, ``tcp:[::1]:5060``; the port defaults to 5060."""
    transport, colon, hostport = text.partition(":")
    if not colon or transport.lower() not in TRANSPORTS:
        raise ValueError(f"{json.dumps(text)} is not transport:host:port with transport udp or tcp")
    host, port_text = hostport, ""
    if hostport.startswith("["):
        end = hostport.find("]")
        host, rest = hostport[1:end], hostport[end + 1:]
        if end < 0 or (rest and not rest.startswith(":")):
            raise ValueError(f"{json.dumps(text)} has a malformed IPv6 reference")
        port_text = rest[1:]
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{json.dumps(text)}: {json.dumps(host)} is not an IP address "
                         f"(IPv6 goes in brackets)") from None
    return ListenAddress(transport.lower(), str(ip), _port(port_text, text) if port_text else 5060)


def _port(port_text: str, text: str) -> int:
    if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise ValueError(f"{json.dumps(text)}: port {json.dumps(port_text)} is not 1-65535")
    return int(port_text)


def parse_destination(text: str) -> Destination:
    """``sip:host[:port][;transport=udp|tcp]`` or ``host[:port]``."""
    uri_text = text if text.lower().startswith(("sip:", "sips:")) else f"sip:{text}"
    try:
        uri = parse_sip_uri(uri_text)
    except SIPParseError as exc:
        raise ValueError(f"{json.dumps(text)} is not a sip: URI or host:port ({exc.message})") from None
    if uri.scheme.lower() != "sip":
        raise ValueError(f"{json.dumps(text)}: sips (TLS) is not supported; use sip:")
    extra = [p for p in uri.params if p.lower() != "transport"]
    if uri.user is not None or extra or uri.headers:
        raise ValueError(f"{json.dumps(text)}: only host, port and ;transport= are allowed")
    transport = uri.transport or "udp"
    if transport not in TRANSPORTS:
        raise ValueError(f"{json.dumps(text)}: transport {transport!r} is not udp or tcp")
    return Destination(uri.host.strip("[]"), uri.port or 5060, transport)


def _network(text: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text.strip())
    except ValueError as exc:
        raise ValueError(f"{json.dumps(text)} is not an IP address or CIDR network ({exc})") from None


# --- loading ----------------------------------------------------------------------------------------

def default_config_text() -> str:
    return resources.files(__package__ or "reference_server").joinpath("defaults.toml").read_text("utf-8")


def load_config(path: Path | None = None, *, overrides: Overrides | None = None) -> ServerConfig:
    """The configuration in ``path`` (the embedded defaults when None), with command-line overrides."""
    if path is None:
        config = parse_config(default_config_text(), "<defaults>")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}", filename=str(path)) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 ({exc.reason})", filename=str(path)) from None
        config = parse_config(text, str(path))
    if overrides is not None:
        config = apply_overrides(config, overrides.listen, overrides.destination)
    return config


def parse_config(text: str, filename: str = "<string>") -> ServerConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        line = int(m.group(1)) if m else text.rstrip().count("\n") + 1  # "at end of document"
        raise ConfigError(f"{filename}:{line}: TOML syntax error: {exc}", filename=filename,
                          line=line) from None
    return _Parser(data, _defaults(), filename, _Locator(text)).config()


@functools.lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    """The embedded defaults as raw TOML data (shared: never mutated)."""
    return tomllib.loads(default_config_text())


def apply_overrides(config: ServerConfig, listen: list[str] | None,
                    destination: str | None) -> ServerConfig:
    """``--listen`` replaces every listen address; ``--destination`` every trunk's destination."""
    changes: dict[str, Any] = {}
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
        changes["trunks"] = tuple(dataclasses.replace(t, destination=dest) for t in config.trunks)
    return dataclasses.replace(config, **changes)


# --- validation -------------------------------------------------------------------------------------

_TOP = ("server", "security", "media", "trunk", "registrar", "extension")
_MERGED = ("server", "security", "media", "registrar")
_SERVER = ("listen", "nonce_lifetime", "algorithms", "user_agent", "trusted_peers")
_SECURITY = ("max_failed_attempts", "failure_window", "block_duration")
_MEDIA = ("address", "port_min", "port_max")
_TRUNK = ("name", "domain_name", "auth_types", "username", "password", "realm", "allowed_ips",
          "destination")
_REGISTRAR = ("domain", "min_expires", "default_expires", "max_expires", "max_contacts")
_EXTENSION = ("extension", "password")
_MISSING: Any = object()


def _fmt(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


_KINDS: dict[type, str] = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
                           list: "an array", dict: "a table"}


def _describe(value: object) -> str:
    kind = _KINDS.get(type(value), f"a {type(value).__name__}")
    if isinstance(value, dict | list):
        return kind
    text = json.dumps(value) if isinstance(value, str) else repr(value).lower()
    return f"{kind} ({text[:40]})"


class _Parser:
    def __init__(self, data: dict[str, Any], defaults: dict[str, Any], filename: str,
                 locator: _Locator) -> None:
        self.data, self.defaults, self.filename, self.loc = data, defaults, filename, locator

    def error(self, path: Path_, problem: str) -> ConfigError:
        line = self.loc.locate(path)
        return ConfigError(f"{self.filename}:{line}: {_fmt(path)}: {problem}", filename=self.filename,
                           line=line, key=_fmt(path))

    def table(self, value: object, path: Path_, allowed: Sequence[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(path, f"expected a table, got {_describe(value)}")
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {json.dumps(close[0])}?" if close else f"known keys: {', '.join(allowed)}"
                raise self.error((*path, key), f"unknown key; {hint}")
        return value

    def get(self, tbl: dict[str, Any], path: Path_, key: str, kind: type | tuple[type, ...],
            default: Any = _MISSING) -> Any:
        if key not in tbl:
            if default is _MISSING:
                raise self.error(path, f"missing required key {json.dumps(key)}")
            return default
        value = tbl[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            want = "a number" if float in kinds else _KINDS[kinds[0]]
            raise self.error((*path, key), f"expected {want}, got {_describe(value)}")
        return value

    def strings(self, tbl: dict[str, Any], path: Path_, key: str, default: Any = _MISSING) -> list[str]:
        values = self.get(tbl, path, key, list, default)
        for i, item in enumerate(values):
            if not isinstance(item, str):
                raise self.error((*path, key, i), f"expected a string, got {_describe(item)}")
        return list(values)

    def positive(self, tbl: dict[str, Any], path: Path_, key: str, kind: type | tuple[type, ...]) -> Any:
        value = self.get(tbl, path, key, kind)
        if value <= 0:
            raise self.error((*path, key), f"must be above 0, got {value}")
        return value

    def section(self, name: str, allowed: Sequence[str]) -> dict[str, Any]:
        user = self.table(self.data.get(name, {}), (name,), allowed)
        return {**self.defaults.get(name, {}), **user}

    def array_of_tables(self, name: str) -> list[Any]:
        value = self.data.get(name, [])
        if not isinstance(value, list):
            raise self.error((name,), f"expected an array of tables ([[{name}]]), got {_describe(value)}")
        return value

    def networks(self, tbl: dict[str, Any], path: Path_, key: str) -> tuple[IPNetwork, ...]:
        out = []
        for i, text in enumerate(self.strings(tbl, path, key, [])):
            try:
                out.append(_network(text))
            except ValueError as exc:
                raise self.error((*path, key, i), str(exc)) from None
        return tuple(out)

    def config(self) -> ServerConfig:
        self.table(self.data, (), _TOP)
        return ServerConfig(**self.server(), security=self.security(), media=self.media(),
                            trunks=self.trunks(), registrar=self.registrar(), extensions=self.extensions(),
                            source=self.filename)

    def server(self) -> dict[str, Any]:
        p: Path_ = ("server",)
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
        return {"listen": tuple(listen), "algorithms": tuple(algorithms),
                "nonce_lifetime": float(self.positive(s, p, "nonce_lifetime", (int, float))),
                "user_agent": self.get(s, p, "user_agent", str),
                "trusted_peers": self.networks(s, p, "trusted_peers")}

    def security(self) -> SecurityConfig:
        p: Path_ = ("security",)
        s = self.section("security", _SECURITY)
        return SecurityConfig(self.positive(s, p, "max_failed_attempts", int),
                              float(self.positive(s, p, "failure_window", (int, float))),
                              float(self.positive(s, p, "block_duration", (int, float))))

    def media(self) -> MediaConfig:
        p: Path_ = ("media",)
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
        return MediaConfig(address, lo, hi)

    def trunks(self) -> tuple[Trunk, ...]:
        trunks: list[Trunk] = []
        seen: dict[str, int] = {}
        for i, raw in enumerate(self.array_of_tables("trunk")):
            p: Path_ = ("trunk", i)
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
            username = self.get(t, p, "username", str, _MISSING if required else None)
            password = self.get(t, p, "password", str, _MISSING if required else None)
            for key, val in (("username", username), ("password", password)):
                if required and not val:
                    raise self.error((*p, key), "must not be empty with basic auth")
            allowed_ips = self.networks(t, p, "allowed_ips")
            if "ip" in auth_types and not allowed_ips:
                raise self.error((*p, "allowed_ips") if "allowed_ips" in t else p,
                                 'ip auth needs allowed_ips (IP addresses or CIDR networks)')
            dest_text = self.get(t, p, "destination", str)
            try:
                destination = parse_destination(dest_text)
            except ValueError as exc:
                raise self.error((*p, "destination"), str(exc)) from None
            realm = self.get(t, p, "realm", str, f"{domain}{TRUNK_DOMAIN_SUFFIX}")
            if not realm:
                raise self.error((*p, "realm"), "must not be empty")
            trunks.append(Trunk(self.get(t, p, "name", str, domain), domain, tuple(auth_types), username,
                                password, realm, allowed_ips, destination))
        return tuple(trunks)

    def registrar(self) -> RegistrarConfig:
        p: Path_ = ("registrar",)
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
            p: Path_ = ("extension", i)
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


# --- line locator -----------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class _Locator:
    """Lines of tables, keys and array elements in TOML text (best effort; the text already parsed)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: dict[Path_, int] = {}
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        self._aot: dict[Path_, int] = {}
        try:
            self._scan()
        except (IndexError, ValueError):
            pass

    def locate(self, path: Path_) -> int:
        for k in range(len(path), 0, -1):
            if path[:k] in self.lines:
                return self.lines[path[:k]]
        return 1

    def _line(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def _record(self, path: Path_, pos: int) -> None:
        self.lines.setdefault(path, self._line(pos))

    def _skip(self, i: int, newlines: bool = False) -> int:
        t = self.text
        while i < len(t):
            if t[i] in " \t\r" or (newlines and t[i] == "\n"):
                i += 1
            elif t[i] == "#":
                while i < len(t) and t[i] != "\n":
                    i += 1
            else:
                break
        return i

    def _key(self, i: int) -> tuple[int, list[str]]:
        parts: list[str] = []
        while True:
            i = self._skip(i)
            if self.text[i] in "\"'":
                end = self._string(i)
                parts.append(json.loads(self.text[i:end]) if self.text[i] == '"' else self.text[i + 1:end - 1])
                i = end
            else:
                m = _BARE_KEY.match(self.text, i)
                if m is None:
                    raise ValueError("no key")
                parts.append(m.group())
                i = m.end()
            i = self._skip(i)
            if self.text[i] != ".":
                return i, parts
            i += 1

    def _resolve(self, parts: list[str], upto: int) -> Path_:
        """Insert the current index after each array-of-tables prefix among the first ``upto`` parts."""
        out: list[str | int] = []
        for k, part in enumerate(parts):
            out.append(part)
            if k < upto and tuple(parts[:k + 1]) in self._aot:
                out.append(self._aot[tuple(parts[:k + 1])] - 1)
        return tuple(out)

    def _scan(self) -> None:
        t, i, prefix = self.text, 0, cast(Path_, ())
        while (i := self._skip(i, newlines=True)) < len(t):
            start = i
            if t[i] == "[":
                double = t.startswith("[[", i)
                i, parts = self._key(i + 1 + double)
                i += 1 + double
                if double:
                    self._aot[tuple(parts)] = self._aot.get(tuple(parts), 0) + 1
                prefix = self._resolve(parts, len(parts))
                self._record(prefix, start)
            else:
                i, parts = self._key(i)
                path = prefix + tuple(parts)
                self._record(path, start)
                i = self._value(self._skip(i + 1), path)  # skips the '='

    def _value(self, i: int, path: Path_) -> int:
        t = self.text
        if t[i] in "\"'":
            return self._string(i)
        if t[i] in "[{":
            close, n, i = "]" if t[i] == "[" else "}", 0, i + 1
            while (i := self._skip(i, newlines=True)) < len(t) and t[i] != close:
                if close == "]":
                    self._record((*path, n), i)
                    i = self._value(i, (*path, n))
                else:
                    key_start = i
                    i, parts = self._key(i)
                    self._record(path + tuple(parts), key_start)
                    i = self._value(self._skip(i + 1), path + tuple(parts))
                i = self._skip(i, newlines=True)
                if t[i] == ",":
                    i, n = i + 1, n + 1
            return i + 1
        while i < len(t) and t[i] not in ",]}\n#":
            i += 1
        return i

    def _string(self, i: int) -> int:
        t = self.text
        quote = t[i]
        if t.startswith(quote * 3, i):
            j = i + 3
            while not t.startswith(quote * 3, j):
                j += 2 if quote == '"' and t[j] == "\\" else 1
            j += 3
            for _ in range(2):  # up to two quotes of the content may precede the closing three
                if j < len(t) and t[j] == quote:
                    j += 1
            return j
        j = i + 1
        while t[j] != quote:
            j += 2 if quote == '"' and t[j] == "\\" else 1
        return j + 1
