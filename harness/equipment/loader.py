"""The equipment file's loader: TOML in, :class:`harness.equipment.model.Equipment` out, every mistake
naming the file and line: unknown keys (with a "did you mean"), wrong types, bad addresses, ports or
transports, unknown features, a basic-auth account without a password, settings of a role or an adapter
the file does not use.

    eq = load_equipment("examples/equipment/kamailio-trunk.toml")   # EquipmentError: FILE:LINE: key: problem

The schema is documented in ``examples/equipment/*.toml`` and the README.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from harness.equipment.harness_table import check_harness_table, read_harness_table
from harness.equipment.model import (
    ADAPTERS,
    FEATURE_ALIASES,
    FEATURES,
    ROLES,
    Equipment,
    EquipmentError,
    EquipmentTls,
    Extension,
    ImageSpec,
    ProcessSpec,
    SipAddress,
    TrunkAccount,
    expand_features,
    locate_address,
    needs_dns,
    parse_address,
)
from harness.equipment.numbers import REMOTE, read_numbers
from reference_server import tomlfile
from reference_server.tomlfile import KINDS, MISSING, KeyPath, Locator, TableReader
from sipcore.locate import parse_nameserver
from sipcore.transport_address import bracketed

__all__ = ["load_equipment", "parse_equipment"]

_EQUIPMENT = ("name", "vendor", "version", "role", "address", "media_addresses", "features", "adapter", "trunk",
              "registrar", "process", "image", "dns", "tls", *ADAPTERS)
_TLS = ("address", "ca_file", "server_name", "verify")
_TRUNK = ("domain", "realm", "username", "password", "destination", "allowed_ips", "proxy", "number",
          "options_interval", "options_timeout")
_ROLE_KEYS = {"destination": "trunk", "allowed_ips": "trunk", "proxy": "ua", "number": "trunk",
              "options_interval": "trunk", "options_timeout": "trunk"}
_ROLE_KEY_HELP = {"destination": "where the equipment sends outbound calls: the harness's destination listens "
                                 f"there; or \"{REMOTE}\" with [[equipment.trunk.number]]: the trunk's own far end",
                  "proxy": "where the UA sends its requests: the harness's trunk listens there"}
_REGISTRAR = ("domain", "trusted_peers", "extension")
_EXTENSION = ("extension", "password")
_ADDRESS = ("transport", "host", "port")
_PROCESS = ("command", "cwd", "env", "start_timeout", "stop_timeout")
_IMAGE = ("name", "env", "ports", "command", "healthcheck")
_HEALTHCHECK = ("test", "interval", "timeout", "retries")
MEDIAENC = ("srtp", "srtp-mand", "srtp-mandf")
_ADAPTER_KEYS = {"sipp": ("binary", "scenario", "register_scenario", "extra_args", "timeout"),
                 "baresip": ("binary", "ctrl", "tone_seconds", "regint", "timeout", "mediaenc"),
                 "manual": ("instructions", "dial", "wait")}
_PORT_RE = re.compile(r"(\d{1,5})(/(udp|tcp))?\Z")


# --- loading ----------------------------------------------------------------------------------------

def load_equipment(path: Path | str, *, dns: tuple[str, int] | None = None) -> Equipment:
    text = tomlfile.read_text(path, EquipmentError, "cannot read the equipment file")
    return parse_equipment(text, str(path), base_dir=Path(path).resolve().parent, dns=dns)


def parse_equipment(text: str, filename: str = "<string>", *, base_dir: Path | None = None,
                    dns: tuple[str, int] | None = None) -> Equipment:
    """The equipment ``text`` describes; ``base_dir`` (the file's directory) anchors a relative ``cwd``.
    ``dns`` (IP, port), `trunkcheck run --dns`: the DNS server that locates the addresses the file gives by
    name, in place of the file's own ``dns`` key (which is still checked)."""
    data = tomlfile.loads(text, filename, EquipmentError)
    return _Parser(data, filename, Locator(text), base_dir or Path.cwd(), dns).equipment()


class _Parser(TableReader):
    error_class = EquipmentError

    def __init__(self, data: dict[str, Any], filename: str, lines: Locator, base_dir: Path,
                 dns: tuple[str, int] | None = None) -> None:
        super().__init__(data, filename, lines)
        self.base_dir = base_dir
        self.given_dns = dns
        self.dns: tuple[str, int] | None = None
        self.located: dict[str, tuple[str, SipAddress]] = {}
        self.harness: dict[str, tuple[str, int]] = {}
        self.given_listener: SipAddress | None = None  # equipment.trunk.destination / proxy as the file gives it

    def describe(self, value: object) -> str:
        return tomlfile.describe(value, as_json=True)

    def expected(self, kinds: tuple[type, ...]) -> str:
        return KINDS[kinds[-1]]

    def get(self, tbl: dict[str, Any], path: KeyPath, key: str, kind: type | tuple[type, ...],
            default: Any = MISSING) -> Any:
        value = super().get(tbl, path, key, kind, default)
        if key in tbl and isinstance(value, str) and any(c in value for c in "\r\n\0") and key != "instructions":
            raise self.error((*path, key), "contains a line break or NUL")
        return value

    def text(self, tbl: dict[str, Any], path: KeyPath, key: str, default: Any = MISSING) -> Any:
        value = self.get(tbl, path, key, str, default)
        if value is not None and value is not default and not value.strip():
            raise self.error((*path, key), "must not be empty")
        return value

    def seconds(self, tbl: dict[str, Any], path: KeyPath, key: str, default: float, top: float) -> float:
        value = float(self.get(tbl, path, key, (int, float), default))
        if not 0 < value <= top:
            raise self.error((*path, key), f"{value:g} s is not above 0 and at most {top:g} s")
        return value

    def str_table(self, tbl: dict[str, Any], path: KeyPath, key: str) -> dict[str, str]:
        env = self.get(tbl, path, key, dict, {})
        for name, value in env.items():
            if not isinstance(value, str):
                raise self.error((*path, key, name), f"expected a string, got {self.describe(value)}")
        return dict(env)

    def address(self, tbl: dict[str, Any], path: KeyPath, key: str, default_transport: str = "udp", *,
                sip: bool = True) -> SipAddress:
        """An address of the file; a SIP one (``sip``) may name its host, or be a sip: URI: it is located
        through DNS now, as RFC 3263 says, and the run uses what DNS gave."""
        value = tbl[key]
        try:
            if isinstance(value, dict):
                t = self.table(value, (*path, key), _ADDRESS)
                host, port = self.get(t, (*path, key), "host", str), self.get(t, (*path, key), "port", int, 5060)
                transport = self.get(t, (*path, key), "transport", str, default_transport)
                text = f"{transport}:{bracketed(host)}:{port}"
            else:
                text = self.get(tbl, path, key, str)
            if sip and needs_dns(text):
                found = locate_address(text, self.dns, default_transport)
                self.located[tomlfile.fmt((*path, key))] = (text, found)
                return found
            return parse_address(text, default_transport)
        except ValueError as exc:
            if isinstance(exc, EquipmentError):
                raise
            raise self.error((*path, key), str(exc)) from None

    def hosts(self, tbl: dict[str, Any], path: KeyPath, key: str) -> tuple[str, ...]:
        out = []
        for i, item in enumerate(self.strings(tbl, path, key, [])):
            try:
                out.append(str(ipaddress.ip_address(item.strip())))
            except ValueError:
                raise self.error((*path, key, i), f"{json.dumps(item)} is not an IP address") from None
        return tuple(out)

    def ips(self, tbl: dict[str, Any], path: KeyPath, key: str) -> tuple[str, ...]:
        return tuple(str(net) for net in self.networks(tbl, path, key, reason=False))

    def equipment(self) -> Equipment:
        root = self.table(self.data, (), ("equipment", "harness"))
        if "equipment" not in root:
            raise self.error((), "missing the [equipment] table")
        p: KeyPath = ("equipment",)
        e = self.table(root["equipment"], p, _EQUIPMENT)
        role = self.text(e, p, "role")
        if role not in ROLES:
            raise self.error((*p, "role"), f"{json.dumps(role)} is not one of {', '.join(ROLES)}")
        if "dns" in e:
            try:
                self.dns = parse_nameserver(self.text(e, p, "dns"))
            except ValueError as exc:
                raise self.error((*p, "dns"), str(exc)) from None
        self.dns = self.given_dns or self.dns
        features = self.features(e, p)
        self.harness = read_harness_table(self, root, role)
        trunk = self.trunk(e, p, role, features)
        registrar_domain, trusted, extensions = self.registrar(e, p, role, features)
        address = self.address(e, p, "address") if "address" in e else self.trunk_address(trunk, p)
        check_harness_table(self, self.harness, role=role, address=address.addr, trusted_peers=trusted,
                            listen=self.given_listener.addr if self.given_listener else None)
        adapter, settings = self.adapter(e, p, role)
        if "process" in e and "image" in e:
            raise self.error((*p, "image"), "give [equipment.process] or [equipment.image], not both")
        if role == "trunk" and "destination-failover" in features and "destination2" not in self.harness:
            raise self.error((*p, "features"), 'claims destination-failover: add [harness] destination2, the '
                             "trunk's second destination (where it sends a call the first destination fails)")
        if role == "trunk" and not {"basic-auth", "ip-auth"} & features:
            raise self.error((*p, "features"), 'a trunk authenticates calls: claim "basic-auth", "ip-auth" or both')
        tls = self.tls(e, p, role, features)
        lines = {tomlfile.fmt(k): v for k, v in self.loc.lines.items()}
        return Equipment(
            name=self.text(e, p, "name"), vendor=self.get(e, p, "vendor", str, ""),
            version=self.get(e, p, "version", str, ""), role=role,
            address=address, features=features, harness=self.harness, trunk=trunk,
            registrar_domain=registrar_domain, trusted_peers=trusted, extensions=extensions, adapter=adapter,
            adapter_settings=settings, process=self.process(e, p), image=self.image(e, p),
            media_addresses=self.hosts(e, p, "media_addresses"), source=self.filename, lines=lines, dns=self.dns,
            located=self.located, tls=tls)

    def tls(self, e: dict[str, Any], p: KeyPath, role: str, features: frozenset[str]) -> EquipmentTls | None:
        """``[equipment.tls]``: required by a trunk claiming tls, meaningless otherwise."""
        tp = (*p, "tls")
        if "tls" not in e:
            if role == "trunk" and "tls" in features:
                raise self.error((*p, "features"), 'claims "tls": give [equipment.tls] address = "tls:IP:PORT" '
                                 "(and ca_file, the CA that issued its certificate)")
            return None
        if role != "trunk" or "tls" not in features:
            raise self.error(tp, 'is for a trunk claiming "tls"')
        t = self.table(e["tls"], tp, _TLS)
        address = self.address(t, tp, "address", "tls") if "address" in t else self.missing(tp, "address")
        if address.transport != "tls":
            raise self.error((*tp, "address"), f"{address} is not a tls: address")
        ca_text = self.get(t, tp, "ca_file", str, None)
        ca_file = None
        if ca_text is not None:
            ca_file = Path(ca_text).expanduser()
            if not ca_file.is_absolute() and not self.filename.startswith("<"):
                ca_file = Path(self.filename).parent / ca_file
            if not ca_file.is_file():
                raise self.error((*tp, "ca_file"), f"{ca_file}: no such file")
        return EquipmentTls(address, ca_file, self.get(t, tp, "server_name", str, None),
                            self.get(t, tp, "verify", bool, True))

    def trunk_address(self, trunk: TrunkAccount, p: KeyPath) -> SipAddress:
        """A remote trunk without ``address``: its server address ``sip:DOMAIN``, located through DNS."""
        if not trunk.destination_remote:
            self.missing(p, "address")
        text = f"sip:{trunk.domain}"
        try:
            found = locate_address(text, self.dns)
        except ValueError as exc:
            raise self.error((*p, "trunk", "domain"), f"no address given, and the trunk's server address "
                             f"{text} cannot be located: {exc}") from None
        self.located[tomlfile.fmt((*p, "address"))] = (text, found)
        return found

    def missing(self, path: KeyPath, key: str) -> Any:
        raise self.error(path, f"missing required key {json.dumps(key)}")

    def features(self, e: dict[str, Any], p: KeyPath) -> frozenset[str]:
        """The claims; a former name (FEATURE_ALIASES: ``reason-relay``) reads as the claims it became."""
        names = self.strings(e, p, "features")
        for i, name in enumerate(names):
            if name not in FEATURES and name not in FEATURE_ALIASES:
                close = difflib.get_close_matches(name, [*FEATURES, *FEATURE_ALIASES], n=1)
                hint = f"did you mean {json.dumps(close[0])}?" if close else f"known: {', '.join(FEATURES)}"
                raise self.error((*p, "features", i), f"{json.dumps(name)} is not a feature; {hint}")
            if name in names[:i]:
                raise self.error((*p, "features", i), f"{json.dumps(name)} is listed twice")
        return expand_features(names)

    def trunk(self, e: dict[str, Any], p: KeyPath, role: str, features: frozenset[str]) -> TrunkAccount:
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
        username = self.text(t, tp, "username", MISSING if basic else None)
        password = self.get(t, tp, "password", str, None)
        if basic and not password:
            where = (*tp, "password") if "password" in t else tp
            raise self.error(where, f"claims basic-auth but {'gives an empty' if 'password' in t else 'has no'} "
                             "password: give the digest password of the trunk account")
        key = "destination" if role == "trunk" else "proxy"
        own = self.harness.get("destination" if role == "trunk" else "trunk")
        remote = role == "trunk" and t.get(key) == REMOTE
        if remote and "number" not in t:
            raise self.error((*tp, key), f'"{REMOTE}": the trunk calls its own far end, so the harness needs '
                             "the numbers it answers, rejects ...: add [[equipment.trunk.number]] tables")
        if "number" in t and not remote:
            raise self.error((*tp, "number", 0), f'test numbers are for a trunk whose destination is "{REMOTE}" '
                             "(the harness's destination answers every number itself): set destination = "
                             f'"{REMOTE}" or remove the numbers')
        listen: SipAddress | None = None
        if remote:
            if own is not None:
                raise self.error(("harness", "destination"), f'the trunk\'s destination is "{REMOTE}": the '
                                 "harness plays no destination, so it needs no address")
        elif key in t:
            self.given_listener = listen = self.address(t, tp, key)
        elif own is not None:  # [harness] destination / trunk gives it
            listen = parse_address(f"{bracketed(own[0])}:{own[1]}")
        else:
            raise self.error(tp, f"missing required key {json.dumps(key)} ({_ROLE_KEY_HELP[key]}; or give "
                             f"harness.{'destination' if role == 'trunk' else 'trunk'})")
        numbers = read_numbers(self, t["number"], (*tp, "number")) if remote else ()
        allowed = self.ips(t, tp, "allowed_ips")
        if "ip-auth" in features and role == "trunk" and not allowed:
            raise self.error((*tp, "allowed_ips") if "allowed_ips" in t else tp,
                             "claims ip-auth: give allowed_ips (the source addresses it accepts unchallenged)")
        timing = {}
        for name, default, top in (("options_interval", 60.0, 3600.0), ("options_timeout", 32.0, 300.0)):
            value = self.get(t, tp, name, (int, float), default)
            if not 0 < value <= top:
                raise self.error((*tp, name), f"{value} is not a number of seconds above 0 and at most {top:g}")
            timing[name] = float(value)
        return TrunkAccount(domain, self.text(t, tp, "realm", domain), username, password,
                            destination=listen if role == "trunk" else None,
                            proxy=listen if role == "ua" else None, allowed_ips=allowed, numbers=numbers,
                            **timing)

    def registrar(self, e: dict[str, Any], p: KeyPath, role: str,
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

    def adapter(self, e: dict[str, Any], p: KeyPath, role: str) -> tuple[str | None, dict[str, Any]]:
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
                self.address(settings, sp, key, "tcp", sip=False)
            elif key == "mediaenc" and self.text(settings, sp, key) not in MEDIAENC:
                raise self.error((*sp, key), f"{json.dumps(settings[key])} is not one of {', '.join(MEDIAENC)} "
                                 "(baresip's SDES SRTP: best effort, RTP/SAVP, RTP/SAVPF)")
            else:
                self.text(settings, sp, key)
        return adapter, dict(settings)

    def process(self, e: dict[str, Any], p: KeyPath) -> ProcessSpec | None:
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

    def image(self, e: dict[str, Any], p: KeyPath) -> ImageSpec | None:
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
