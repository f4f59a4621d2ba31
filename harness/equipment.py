"""The equipment file: SIP equipment under test, described the way an ETSI PIXIT describes an
implementation (role, address, domain and credentials, features claimed), as TOML.

    eq = load_equipment("examples/equipment/kamailio-trunk.toml")   # EquipmentError: FILE:LINE: key: problem
    ok, why = applicable({"early-media"}, eq)                       # scenarios for unclaimed features: N/A
    preflight(eq)                                                   # before any scenario traffic

Every mistake names the file and line: unknown keys (with a "did you mean"), wrong types, bad addresses,
ports or transports, unknown features, a basic-auth account without a password, settings of a role or an
adapter the file does not use. :func:`preflight` then checks what only the network can tell: the
equipment's address answers (UDP: any response to an OPTIONS; TCP: a connection), and the addresses the
harness must listen on are free. The schema is documented in ``examples/equipment/*.toml`` and the README.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import sys
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reference_server.config import _Locator as TomlLines  # line numbers of keys in TOML text

__all__ = [
    "ADAPTERS", "FEATURES", "ROLES", "Equipment", "EquipmentError", "Extension", "ImageSpec", "PingResult",
    "ProcessSpec", "SipAddress", "TrunkAccount", "applicable", "load_equipment", "parse_address",
    "parse_equipment", "preflight", "sip_ping",
]

ROLES = ("trunk", "ua")
FEATURES = ("basic-auth", "ip-auth", "early-media", "reason-relay", "registration", "cancel", "tcp")
ADAPTERS = ("sipp", "baresip", "manual")
REFERENCE_ONLY_TAG = "reference-only"
"""Scenarios that reconfigure the trunk as they run (nonce lifetime, digest algorithm, ring timeout): only
the embedded reference server can play them."""

_EQUIPMENT = ("name", "vendor", "version", "role", "address", "media_addresses", "features", "adapter", "trunk",
              "registrar", "process", "image", *ADAPTERS)
_TRUNK = ("domain", "realm", "username", "password", "destination", "allowed_ips", "proxy")
_ROLE_KEYS = {"destination": "trunk", "allowed_ips": "trunk", "proxy": "ua"}
_ROLE_KEY_HELP = {"destination": "where the equipment sends outbound calls: the harness's destination listens there",
                  "proxy": "where the UA sends its requests: the harness's trunk listens there"}
_REGISTRAR = ("domain", "trusted_peers", "extension")
_EXTENSION = ("extension", "password")
_ADDRESS = ("transport", "host", "port")
_PROCESS = ("command", "cwd", "env", "start_timeout", "stop_timeout")
_IMAGE = ("name", "env", "ports", "command", "healthcheck")
_HEALTHCHECK = ("test", "interval", "timeout", "retries")
_ADAPTER_KEYS = {"sipp": ("binary", "scenario", "register_scenario", "extra_args", "timeout"),
                 "baresip": ("binary", "ctrl", "tone_seconds", "regint", "timeout"),
                 "manual": ("instructions", "dial", "wait")}
_PORT_RE = re.compile(r"(\d{1,5})(/(udp|tcp))?\Z")
_MISSING: Any = object()
Path_ = tuple[str | int, ...]


class EquipmentError(ValueError):
    """A mistake in an equipment file (``FILE:LINE: key: problem``), or equipment not usable as described."""

    def __init__(self, message: str, *, filename: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        super().__init__(message)
        self.filename, self.line, self.key = filename, line, key


@dataclass(frozen=True)
class SipAddress:
    transport: str  # "udp" | "tcp"
    host: str  # an IP literal
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"

    @property
    def addr(self) -> tuple[str, int]:
        return self.host, self.port


@dataclass(frozen=True)
class TrunkAccount:
    """The trunk account: the one the equipment serves (role trunk) or uses (role ua)."""

    domain: str
    realm: str
    username: str | None
    password: str | None
    destination: SipAddress | None = None
    """Role trunk: where it sends outbound calls (the harness's destination listens there)."""
    proxy: SipAddress | None = None
    """Role ua: where it sends its requests (the harness's trunk listens there)."""
    allowed_ips: tuple[str, ...] = ()
    """Role trunk with ip-auth: source addresses it accepts without a challenge."""


@dataclass(frozen=True)
class Extension:
    extension: str
    password: str


@dataclass(frozen=True)
class ProcessSpec:
    command: tuple[str, ...]  # "{python}" already replaced by this interpreter
    cwd: Path
    env: dict[str, str]
    start_timeout: float = 10.0
    stop_timeout: float = 3.0


@dataclass(frozen=True)
class ImageSpec:
    name: str
    env: dict[str, str]
    ports: tuple[str, ...]
    command: tuple[str, ...] | None = None
    healthcheck: dict[str, Any] | None = None


@dataclass(frozen=True)
class Equipment:
    name: str
    role: str
    address: SipAddress
    features: frozenset[str]
    vendor: str = ""
    version: str = ""
    trunk: TrunkAccount | None = None
    """Always set by the loader; None only in an Equipment built by hand."""
    registrar_domain: str | None = None
    trusted_peers: tuple[str, ...] = ()
    extensions: tuple[Extension, ...] = ()
    adapter: str | None = None
    adapter_settings: dict[str, Any] = field(default_factory=dict)
    process: ProcessSpec | None = None
    image: ImageSpec | None = None
    media_addresses: tuple[str, ...] = ()
    """Other IP addresses its RTP uses (an SBC with a media address of its own): same ladder column."""
    source: str = "<string>"
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    """Line of each key given in the file (``"equipment.address"`` -> 6), for messages found later."""

    def where(self, key: str) -> str:
        """``FILE:LINE: key`` for a key of this file (its table's line when the key was left out)."""
        line = self.lines.get(key) or self.lines.get(key.rpartition(".")[0]) or 1
        return f"{self.source}:{line}: {key}"

    def claims(self, feature: str) -> bool:
        return feature in self.features


def parse_address(text: str, default_transport: str = "udp") -> SipAddress:
    """``udp:127.0.0.50:5060``, ``tcp:[::1]:5060``, ``127.0.0.30:5080`` (UDP), ``127.0.0.30`` (port 5060);
    ValueError saying what is wrong."""
    transport, rest = default_transport, text.strip()
    head, colon, tail = rest.partition(":")
    if colon and head.lower() in ("udp", "tcp", "tls", "sctp", "ws", "wss"):
        transport, rest = head.lower(), tail
        if transport not in ("udp", "tcp"):
            raise ValueError(f"{json.dumps(text)}: transport {head} is not supported (udp or tcp)")
    if rest.startswith("["):
        host, _, after = rest[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else after
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    else:
        host, port_text = rest, ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{json.dumps(text)}: {json.dumps(host)} is not an IP address (a host name would "
                         "need DNS; use the equipment's IP, IPv6 in brackets)") from None
    if port_text and (not port_text.isdigit() or not 0 < int(port_text) <= 65535):
        raise ValueError(f"{json.dumps(text)}: port {json.dumps(port_text)} is not 1-65535")
    return SipAddress(transport, str(ip), int(port_text) if port_text else 5060)


# --- loading ----------------------------------------------------------------------------------------

def load_equipment(path: Path | str) -> Equipment:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise EquipmentError(f"{path}: cannot read the equipment file: {exc.strerror or exc}",
                             filename=str(path)) from None
    except UnicodeDecodeError as exc:
        raise EquipmentError(f"{path}: not UTF-8 ({exc.reason})", filename=str(path)) from None
    return parse_equipment(text, str(path), base_dir=Path(path).resolve().parent)


def parse_equipment(text: str, filename: str = "<string>", *, base_dir: Path | None = None) -> Equipment:
    """The equipment ``text`` describes; ``base_dir`` (the file's directory) anchors a relative ``cwd``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        line = int(m.group(1)) if m else text.rstrip().count("\n") + 1
        raise EquipmentError(f"{filename}:{line}: TOML syntax error: {exc}", filename=filename, line=line) from None
    return _Parser(data, filename, TomlLines(text), base_dir or Path.cwd()).equipment()


def _fmt(path: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(path))


def _describe(value: object) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
             dict: "a table"}
    kind = kinds.get(type(value), type(value).__name__)
    return kind if isinstance(value, list | dict) else f"{kind} ({json.dumps(value, default=str)[:40]})"


class _Parser:
    def __init__(self, data: dict[str, Any], filename: str, lines: TomlLines, base_dir: Path) -> None:
        self.data, self.filename, self.loc, self.base_dir = data, filename, lines, base_dir

    def error(self, path: Path_, problem: str) -> EquipmentError:
        line = self.loc.locate(path)
        return EquipmentError(f"{self.filename}:{line}: {_fmt(path)}: {problem}", filename=self.filename,
                              line=line, key=_fmt(path))

    def table(self, value: object, path: Path_, allowed: Iterable[str]) -> dict[str, Any]:
        allowed = tuple(allowed)
        if not isinstance(value, dict):
            raise self.error(path, f"expected a table, got {_describe(value)}")
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"did you mean {json.dumps(close[0])}?" if close else f"known keys: {', '.join(allowed)}"
                raise self.error((*path, key), f"unknown key; {hint}")
        return value

    def get(self, tbl: dict[str, Any], path: Path_, key: str, kind: type | tuple[type, ...],
            default: Any = _MISSING) -> Any:
        if key not in tbl:
            if default is _MISSING:
                raise self.error(path, f"missing required key {json.dumps(key)}")
            return default
        value, kinds = tbl[key], (kind if isinstance(kind, tuple) else (kind,))
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            want = {str: "a string", int: "an integer", float: "a number", list: "an array", dict: "a table",
                    bool: "a boolean"}[kinds[-1]]
            raise self.error((*path, key), f"expected {want}, got {_describe(value)}")
        if isinstance(value, str) and any(c in value for c in "\r\n\0") and key != "instructions":
            raise self.error((*path, key), "contains a line break or NUL")
        return value

    def text(self, tbl: dict[str, Any], path: Path_, key: str, default: Any = _MISSING) -> Any:
        value = self.get(tbl, path, key, str, default)
        if value is not None and value is not default and not value.strip():
            raise self.error((*path, key), "must not be empty")
        return value

    def strings(self, tbl: dict[str, Any], path: Path_, key: str, default: Any = _MISSING) -> list[str]:
        values = self.get(tbl, path, key, list, default)
        for i, item in enumerate(values):
            if not isinstance(item, str):
                raise self.error((*path, key, i), f"expected a string, got {_describe(item)}")
        return list(values)

    def seconds(self, tbl: dict[str, Any], path: Path_, key: str, default: float, top: float) -> float:
        value = float(self.get(tbl, path, key, (int, float), default))
        if not 0 < value <= top:
            raise self.error((*path, key), f"{value:g} s is not above 0 and at most {top:g} s")
        return value

    def str_table(self, tbl: dict[str, Any], path: Path_, key: str) -> dict[str, str]:
        env = self.get(tbl, path, key, dict, {})
        for name, value in env.items():
            if not isinstance(value, str):
                raise self.error((*path, key, name), f"expected a string, got {_describe(value)}")
        return dict(env)

    def address(self, tbl: dict[str, Any], path: Path_, key: str, default_transport: str = "udp") -> SipAddress:
        value = tbl[key]
        try:
            if isinstance(value, dict):
                t = self.table(value, (*path, key), _ADDRESS)
                host, port = self.get(t, (*path, key), "host", str), self.get(t, (*path, key), "port", int, 5060)
                transport = self.get(t, (*path, key), "transport", str, default_transport)
                return parse_address(f"{transport}:{'[' + host + ']' if ':' in host else host}:{port}")
            return parse_address(self.get(tbl, path, key, str), default_transport)
        except ValueError as exc:
            if isinstance(exc, EquipmentError):
                raise
            raise self.error((*path, key), str(exc)) from None

    def hosts(self, tbl: dict[str, Any], path: Path_, key: str) -> tuple[str, ...]:
        out = []
        for i, item in enumerate(self.strings(tbl, path, key, [])):
            try:
                out.append(str(ipaddress.ip_address(item.strip())))
            except ValueError:
                raise self.error((*path, key, i), f"{json.dumps(item)} is not an IP address") from None
        return tuple(out)

    def ips(self, tbl: dict[str, Any], path: Path_, key: str) -> tuple[str, ...]:
        out = []
        for i, item in enumerate(self.strings(tbl, path, key, [])):
            try:
                out.append(str(ipaddress.ip_network(item.strip())))
            except ValueError:
                raise self.error((*path, key, i), f"{json.dumps(item)} is not an IP address or CIDR network") from None
        return tuple(out)

    def equipment(self) -> Equipment:
        root = self.table(self.data, (), ("equipment",))
        if "equipment" not in root:
            raise self.error((), "missing the [equipment] table")
        p: Path_ = ("equipment",)
        e = self.table(root["equipment"], p, _EQUIPMENT)
        role = self.text(e, p, "role")
        if role not in ROLES:
            raise self.error((*p, "role"), f"{json.dumps(role)} is not one of {', '.join(ROLES)}")
        features = self.features(e, p)
        trunk = self.trunk(e, p, role, features)
        registrar_domain, trusted, extensions = self.registrar(e, p, role, features)
        adapter, settings = self.adapter(e, p, role)
        if "process" in e and "image" in e:
            raise self.error((*p, "image"), "give [equipment.process] or [equipment.image], not both")
        if role == "trunk" and not {"basic-auth", "ip-auth"} & features:
            raise self.error((*p, "features"), 'a trunk authenticates calls: claim "basic-auth", "ip-auth" or both')
        lines = {_fmt(k): v for k, v in self.loc.lines.items()}
        return Equipment(
            name=self.text(e, p, "name"), vendor=self.get(e, p, "vendor", str, ""),
            version=self.get(e, p, "version", str, ""), role=role,
            address=self.address(e, p, "address") if "address" in e else self.missing(p, "address"),
            features=features, trunk=trunk,
            registrar_domain=registrar_domain, trusted_peers=trusted, extensions=extensions, adapter=adapter,
            adapter_settings=settings, process=self.process(e, p), image=self.image(e, p),
            media_addresses=self.hosts(e, p, "media_addresses"), source=self.filename, lines=lines)

    def missing(self, path: Path_, key: str) -> Any:
        raise self.error(path, f"missing required key {json.dumps(key)}")

    def features(self, e: dict[str, Any], p: Path_) -> frozenset[str]:
        names = self.strings(e, p, "features")
        for i, name in enumerate(names):
            if name not in FEATURES:
                close = difflib.get_close_matches(name, FEATURES, n=1)
                hint = f"did you mean {json.dumps(close[0])}?" if close else f"known: {', '.join(FEATURES)}"
                raise self.error((*p, "features", i), f"{json.dumps(name)} is not a feature; {hint}")
            if name in names[:i]:
                raise self.error((*p, "features", i), f"{json.dumps(name)} is listed twice")
        return frozenset(names)

    def trunk(self, e: dict[str, Any], p: Path_, role: str, features: frozenset[str]) -> TrunkAccount:
        if "trunk" not in e:
            raise self.error(p, "missing the [equipment.trunk] table (the trunk domain, credentials and "
                             f"{'destination' if role == 'trunk' else 'proxy'})")
        tp = (*p, "trunk")
        t = self.table(e["trunk"], tp, _TRUNK)
        for key, only in _ROLE_KEYS.items():
            if key in t and role != only:
                raise self.error((*tp, key), f"only for role {json.dumps(only)} (this equipment plays "
                                 f"{json.dumps(role)})")
        domain = self.text(t, tp, "domain")
        basic = "basic-auth" in features
        username = self.text(t, tp, "username", _MISSING if basic else None)
        password = self.get(t, tp, "password", str, None)
        if basic and not password:
            where = (*tp, "password") if "password" in t else tp
            raise self.error(where, f"claims basic-auth but {'gives an empty' if 'password' in t else 'has no'} "
                             "password: give the digest password of the trunk account")
        key = "destination" if role == "trunk" else "proxy"
        if key not in t:
            raise self.error(tp, f"missing required key {json.dumps(key)} ({_ROLE_KEY_HELP[key]})")
        allowed = self.ips(t, tp, "allowed_ips")
        if "ip-auth" in features and role == "trunk" and not allowed:
            raise self.error((*tp, "allowed_ips") if "allowed_ips" in t else tp,
                             "claims ip-auth: give allowed_ips (the source addresses it accepts unchallenged)")
        return TrunkAccount(domain, self.text(t, tp, "realm", domain), username, password,
                            destination=self.address(t, tp, key) if role == "trunk" else None,
                            proxy=self.address(t, tp, key) if role == "ua" else None, allowed_ips=allowed)

    def registrar(self, e: dict[str, Any], p: Path_, role: str,
                  features: frozenset[str]) -> tuple[str | None, tuple[str, ...], tuple[Extension, ...]]:
        if "registrar" not in e:
            if "registration" in features:
                raise self.error((*p, "features"), "claims registration: add [equipment.registrar] with its "
                                 "domain and [[equipment.registrar.extension]]")
            return None, (), ()
        rp = (*p, "registrar")
        r = self.table(e["registrar"], rp, _REGISTRAR)
        domain = self.text(r, rp, "domain")
        if "trusted_peers" in r and role != "trunk":
            raise self.error((*rp, "trusted_peers"), f'only for role "trunk" (this equipment plays "{role}")')
        raw = self.get(r, rp, "extension", list, [])
        out: list[Extension] = []
        for i, item in enumerate(raw):
            xp = (*rp, "extension", i)
            x = self.table(item, xp, _EXTENSION)
            ext, password = self.text(x, xp, "extension"), self.text(x, xp, "password")
            if any(o.extension == ext for o in out):
                raise self.error((*xp, "extension"), f"{json.dumps(ext)} is listed twice")
            out.append(Extension(ext, password))
        if "registration" in features and not out:
            raise self.error(rp, "claims registration: add a [[equipment.registrar.extension]] with its password")
        if role == "ua" and len(out) > 1:
            raise self.error((*rp, "extension", 1), "a UA registers one extension: give only one")
        return domain, self.ips(r, rp, "trusted_peers"), tuple(out)

    def adapter(self, e: dict[str, Any], p: Path_, role: str) -> tuple[str | None, dict[str, Any]]:
        adapter = self.get(e, p, "adapter", str, None)
        if role == "trunk" and adapter is not None:
            raise self.error((*p, "adapter"), 'only for role "ua" (how the harness drives the UA)')
        if role == "ua" and adapter is None:
            raise self.error(p, f'missing required key "adapter" for role "ua" (one of {", ".join(ADAPTERS)})')
        if adapter is not None and adapter not in ADAPTERS:
            raise self.error((*p, "adapter"), f"{json.dumps(adapter)} is not one of {', '.join(ADAPTERS)}")
        for other in ADAPTERS:
            if other in e and other != adapter:
                raise self.error((*p, other), f"settings for adapter {json.dumps(other)}, but the adapter is "
                                 f"{json.dumps(adapter)}")
        if adapter is None:
            return None, {}
        settings = self.table(e.get(adapter, {}), (*p, adapter), _ADAPTER_KEYS[adapter])
        sp = (*p, adapter)
        for key in settings:
            if key == "extra_args":
                self.strings(settings, sp, key)
            elif key in ("timeout", "wait", "tone_seconds", "regint"):
                self.seconds(settings, sp, key, 1.0, 86400.0)
            elif key == "ctrl":
                self.address(settings, sp, key, "tcp")
            else:
                self.text(settings, sp, key)
        return adapter, dict(settings)

    def process(self, e: dict[str, Any], p: Path_) -> ProcessSpec | None:
        if "process" not in e:
            return None
        pp = (*p, "process")
        t = self.table(e["process"], pp, _PROCESS)
        raw = self.get(t, pp, "command", (str, list))
        try:
            command = shlex.split(raw) if isinstance(raw, str) else self.strings(t, pp, "command")
        except ValueError as exc:
            raise self.error((*pp, "command"), f"cannot split the command line: {exc}") from None
        if not command or not command[0]:
            raise self.error((*pp, "command"), "is empty")
        command = [sys.executable if part == "{python}" else part for part in command]
        cwd = self.base_dir / self.text(t, pp, "cwd", ".")
        return ProcessSpec(tuple(command), cwd.resolve(), self.str_table(t, pp, "env"),
                           self.seconds(t, pp, "start_timeout", 10.0, 300.0),
                           self.seconds(t, pp, "stop_timeout", 3.0, 60.0))

    def image(self, e: dict[str, Any], p: Path_) -> ImageSpec | None:
        if "image" not in e:
            return None
        ip = (*p, "image")
        t = self.table(e["image"], ip, _IMAGE)
        ports = self.strings(t, ip, "ports", [])
        for i, port in enumerate(ports):
            m = _PORT_RE.match(port)
            if m is None or not 0 < int(m.group(1)) <= 65535:
                raise self.error((*ip, "ports", i), f"{json.dumps(port)} is not PORT or PORT/udp or PORT/tcp")
        health = None
        if "healthcheck" in t:
            hp = (*ip, "healthcheck")
            h = self.table(t["healthcheck"], hp, _HEALTHCHECK)
            test = self.strings(h, hp, "test")
            if not test:
                raise self.error((*hp, "test"), "is empty")
            retries = self.get(h, hp, "retries", int, 3)
            if not 0 < retries <= 100:
                raise self.error((*hp, "retries"), f"{retries} is not 1-100")
            health = {"test": test, "interval": self.seconds(h, hp, "interval", 1.0, 60.0),
                      "timeout": self.seconds(h, hp, "timeout", 3.0, 60.0), "retries": retries}
        command = tuple(self.strings(t, ip, "command")) if "command" in t else None
        return ImageSpec(self.text(t, ip, "name"), self.str_table(t, ip, "env"), tuple(ports), command, health)


# --- which scenarios apply --------------------------------------------------------------------------

def applicable(scenario_tags: Iterable[str], equipment: Equipment | None) -> tuple[bool, str]:
    """Whether a scenario with these tags (``@`` optional) runs against ``equipment`` (None: the embedded
    reference server, which implements everything), and why. A feature tag (``@early-media`` ...) needs
    the feature claimed; ``@role-trunk`` / ``@role-ua`` need that role; ``@reference-only`` never runs
    against equipment. Other tags (``@wip`` ...) do not matter."""
    tags = {t.lstrip("@").strip().lower() for t in scenario_tags}
    if equipment is None:
        return True, "the embedded reference server implements every feature"
    who = f"{equipment.name} ({equipment.role})"
    if REFERENCE_ONLY_TAG in tags:
        return False, "not applicable: the scenario reconfigures the trunk as it runs (reference server only)"
    roles = {t.removeprefix("role-") for t in tags if t.startswith("role-")}
    if roles and equipment.role not in roles:
        return False, f"not applicable: the scenario needs equipment in role {' or '.join(sorted(roles))}, {who} " \
                      f"plays {equipment.role}"
    needed = sorted(tags & set(FEATURES))
    missing = [f for f in needed if f not in equipment.features]
    if missing:
        claimed = ", ".join(sorted(equipment.features)) or "none"
        return False, f"not applicable: {who} does not claim {', '.join(missing)} (claims: {claimed})"
    return True, f"{who} claims {', '.join(needed)}" if needed else "no feature is needed beyond the basics"


# --- checks on the network, before any scenario traffic ---------------------------------------------

@dataclass(frozen=True)
class PingResult:
    answered: bool
    status: int | None  # the SIP status of the answer (UDP), None for TCP or no answer
    detail: str


def sip_ping(addr: tuple[str, int], transport: str = "udp", *, timeout: float = 2.0) -> PingResult:
    """UDP: send an OPTIONS (again after 0.5 s, then every 1 s) and wait up to ``timeout`` for any SIP
    response; TCP: connect within ``timeout``. Never raises for a network outcome."""
    host, port = addr
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if transport.lower() == "tcp":
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return PingResult(True, None, "accepted a TCP connection")
        except OSError as exc:
            return PingResult(False, None, f"TCP connection failed: {exc.strerror or exc}")
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((host, port))
            local_host, local_port = sock.getsockname()[:2]
            call_id = secrets.token_hex(8)
            lhost = f"[{local_host}]" if ":" in local_host else local_host
            rhost = f"[{host}]" if ":" in host else host
            message = (f"OPTIONS sip:{rhost}:{port} SIP/2.0\r\n"
                       f"Via: SIP/2.0/UDP {lhost}:{local_port};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
                       f"Max-Forwards: 70\r\nFrom: <sip:trunkcheck@{lhost}>;tag={secrets.token_hex(4)}\r\n"
                       f"To: <sip:{rhost}:{port}>\r\nCall-ID: {call_id}@trunkcheck\r\nCSeq: 1 OPTIONS\r\n"
                       "Accept: application/sdp\r\nContent-Length: 0\r\n\r\n").encode()
            deadline, next_send, interval = time.monotonic() + timeout, 0.0, 0.5
            while (now := time.monotonic()) < deadline:
                if now >= next_send:
                    sock.send(message)
                    next_send, interval = now + interval, 1.0
                sock.settimeout(max(0.001, min(deadline, next_send) - now))
                try:
                    data = sock.recv(65535)
                except TimeoutError:
                    continue
                m = re.match(rb"SIP/2\.0 (\d{3})", data)
                if m and call_id.encode() in data:
                    return PingResult(True, int(m.group(1)), f"answered the OPTIONS with {m.group(1).decode()}")
        except ConnectionRefusedError:
            return PingResult(False, None, "refused (ICMP port unreachable: nothing listens there)")
        except OSError as exc:
            return PingResult(False, None, f"cannot be reached: {exc.strerror or exc}")
    return PingResult(False, None, f"did not answer an OPTIONS within {timeout:g} s")


def _bindable(addr: SipAddress) -> str | None:
    """None when the harness can listen on ``addr``, else why not."""
    family = socket.AF_INET6 if ":" in addr.host else socket.AF_INET
    kind = socket.SOCK_STREAM if addr.transport == "tcp" else socket.SOCK_DGRAM
    with socket.socket(family, kind) as sock:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr.addr)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def preflight(equipment: Equipment, *, timeout: float = 2.0, started: bool = False) -> None:
    """Refuse, before any scenario traffic, equipment that cannot be tested as described (EquipmentError
    naming the line): an address that does not answer, a TCP claim without a TCP listener, a destination
    or UA address the harness cannot listen on, a process command that is not installed. With an
    ``[equipment.process]`` call it once before starting it (checks the command; ``started=False``) and
    once after (``started=True``)."""
    eq = equipment
    if eq.process is not None and not started:
        program = eq.process.command[0]
        path = program if os.sep in program else None
        found = (Path(eq.process.cwd, program).exists() if path else
                 shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/local/sbin:/sbin"))
        if not found:
            raise EquipmentError(f"{eq.where('equipment.process.command')}: {program!r} is not installed "
                                 "(not on PATH or in an sbin directory)", filename=eq.source)
    assert eq.trunk is not None
    for key, listen in (("destination", eq.trunk.destination), ("proxy", eq.trunk.proxy)):
        why = _bindable(listen) if listen is not None else None
        if why:
            what = "destination" if key == "destination" else "trunk"
            raise EquipmentError(f"{eq.where('equipment.trunk.' + key)}: the harness's {what} must listen on "
                                 f"{listen}, but it cannot: {why}", filename=eq.source)
    harness_drives = eq.role == "ua" and eq.adapter in ("sipp", "baresip")
    if harness_drives:
        why = _bindable(eq.address)
        if why:
            raise EquipmentError(f"{eq.where('equipment.address')}: the harness starts {eq.adapter} on "
                                 f"{eq.address}, but it cannot listen there: {why}", filename=eq.source)
        return
    if (eq.process is not None or eq.image is not None) and not started:
        return  # the harness starts it: pinged once it is up
    result = sip_ping(eq.address.addr, eq.address.transport, timeout=timeout)
    if not result.answered:
        raise EquipmentError(f"{eq.where('equipment.address')}: {eq.address} {result.detail}; is the equipment "
                             "running there?", filename=eq.source)
    if eq.claims("tcp") and eq.address.transport != "tcp":
        tcp = sip_ping(eq.address.addr, "tcp", timeout=timeout)
        if not tcp.answered:
            raise EquipmentError(f"{eq.where('equipment.features')}: claims tcp, but tcp:{eq.address.host}:"
                                 f"{eq.address.port}: {tcp.detail}", filename=eq.source)
