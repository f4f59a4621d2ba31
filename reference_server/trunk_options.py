"""A trunk's destinations and the per-trunk options of ``[[trunk]]`` beyond its account: the OPTIONS
keep-alive toward its destinations (:mod:`reference_server.keepalive`) and its caller-identity policy
(:mod:`reference_server.identity`). :mod:`reference_server.config` reads the rest of the file.

``destination`` is one address or an array of them, tried in order: a destination marked down by the
keep-alive is skipped, and a call that meets a timeout, a transport error or a 503 moves on to the next.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from reference_server.tomlfile import KeyPath, TableReader
from sipcore.errors import SIPParseError
from sipcore.transport_address import TRANSPORTS, bracketed, is_ip_address, split_transport_address
from sipcore.uri import parse_sip_uri

from .identity import NUMBER_FORMATS, PAI_POLICIES, IdentityPolicy
from .keepalive import KeepAliveSettings

__all__ = ["OPTION_KEYS", "Destination", "TrunkOptions", "parse_destination", "read_destinations",
           "read_trunk_options"]

OPTION_KEYS = ("options_interval", "options_timeout", "pai", "destination_trusted", "number_format",
               "country_code", "national_prefix", "international_prefix")
MAX_OPTIONS_TIMEOUT = 32.0  # Timer F with the RFC's T1: a ping's transaction gives up then anyway


@dataclass(frozen=True)
class Destination:
    """Where a trunk's authenticated calls go: an IP address (port and transport always set), or a host
    name located for each call as RFC 3263 says (NAPTR, SRV, A/AAAA; port and transport None where DNS
    decides), the next target tried on a timeout, a transport error or a 503."""

    host: str
    port: int | None = 5060
    transport: str | None = "udp"

    @property
    def by_dns(self) -> bool:
        """The host is a name: located through DNS for each call."""
        return not is_ip_address(self.host)

    @property
    def uri(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        transport = "" if self.transport is None else f";transport={self.transport}"
        return f"sip:{bracketed(self.host)}{port}{transport}"


@dataclass(frozen=True)
class TrunkOptions:
    keepalive: KeepAliveSettings = KeepAliveSettings()
    identity: IdentityPolicy = IdentityPolicy()


def parse_destination(text: str) -> Destination:
    """``sip:host[:port][;transport=udp|tcp]``, or a transport address: ``[udp:|tcp:]host[:port]``. An IP
    address gets UDP and port 5060 when left out; a host name keeps them unset for DNS to decide (RFC
    3263: NAPTR and SRV unless the port is written)."""
    if not text.lower().startswith(("sip:", "sips:")):
        transport, host, port = split_transport_address(text, names_ok=True,
                                                        ip_hint="expected an IP address or a host name")
        return _destination(host, port, transport)
    try:
        uri = parse_sip_uri(text)
    except SIPParseError as exc:
        raise ValueError(f"{json.dumps(text)} is not a valid sip: URI ({exc.message})") from None
    if uri.scheme.lower() != "sip":
        raise ValueError(f"{json.dumps(text)}: sips (TLS) is not supported; use sip:")
    extra = [p for p in uri.params if p.lower() != "transport"]
    if uri.user is not None or extra or uri.headers:
        raise ValueError(f"{json.dumps(text)}: only host, port and ;transport= are allowed")
    transport = uri.transport
    if transport is not None and transport not in TRANSPORTS:
        raise ValueError(f"{json.dumps(text)}: transport {transport!r} is not udp or tcp")
    host = uri.host.strip("[]")
    if not is_ip_address(host):
        try:
            split_transport_address(host, names_ok=True)
        except ValueError:
            raise ValueError(f"{json.dumps(text)}: {json.dumps(host)} is not an IP address or a host name") from None
    return _destination(host, uri.port, transport)


def _destination(host: str, port: int | None, transport: str | None) -> Destination:
    if is_ip_address(host):
        return Destination(host, port or 5060, transport or "udp")
    return Destination(host.lower().rstrip("."), port, transport)


def read_destinations(reader: TableReader, t: dict[str, Any], p: KeyPath) -> tuple[Destination, ...]:
    """``destination``: one address, or a non-empty array of distinct ones (IP addresses only, when more
    than one: a host name is a list of its own, located through DNS)."""
    raw = t.get("destination")
    texts = reader.strings(t, p, "destination") if isinstance(raw, list) else [reader.get(t, p, "destination", str)]
    if not texts:
        raise reader.error((*p, "destination"), "give at least one destination")
    out: list[Destination] = []
    for i, text in enumerate(texts):
        where = (*p, "destination", i) if isinstance(raw, list) else (*p, "destination")
        try:
            dest = parse_destination(text)
        except ValueError as exc:
            raise reader.error(where, str(exc)) from None
        if dest in out:
            raise reader.error(where, f"{json.dumps(text)} is listed twice")
        if dest.by_dns and len(texts) > 1:
            raise reader.error(where, f"{json.dumps(text)}: a host name stands alone (DNS gives its list); "
                               "list IP addresses only")
        out.append(dest)
    return tuple(out)


def read_trunk_options(reader: TableReader, t: dict[str, Any], p: KeyPath) -> TrunkOptions:
    """The keep-alive and identity keys of one ``[[trunk]]`` (all optional)."""
    interval = reader.get(t, p, "options_interval", (int, float), 0)
    if interval < 0:
        raise reader.error((*p, "options_interval"), f"must be 0 (no pings) or above, got {interval}")
    timeout = reader.get(t, p, "options_timeout", (int, float), 5)
    if not 0 < timeout <= MAX_OPTIONS_TIMEOUT:
        raise reader.error((*p, "options_timeout"), f"must be above 0 and at most {MAX_OPTIONS_TIMEOUT:g} "
                           f"(Timer F), got {timeout}")
    pai = reader.get(t, p, "pai", str, "strip")
    if pai not in PAI_POLICIES:
        raise reader.error((*p, "pai"), f"{json.dumps(pai)} is not one of {', '.join(PAI_POLICIES)}")
    number_format = reader.get(t, p, "number_format", str, "as-is")
    if number_format not in NUMBER_FORMATS:
        raise reader.error((*p, "number_format"),
                           f"{json.dumps(number_format)} is not one of {', '.join(NUMBER_FORMATS)}")
    prefixes = {}
    for key, default in (("country_code", None), ("national_prefix", "0"), ("international_prefix", "00")):
        value = reader.get(t, p, key, str, default)
        if value is not None and not (value.isdigit() or (value == "" and key != "country_code")):
            raise reader.error((*p, key), f"{json.dumps(value)} is not a string of digits")
        prefixes[key] = value
    identity = IdentityPolicy(pai, reader.get(t, p, "destination_trusted", bool, True), number_format,
                              prefixes["country_code"], prefixes["national_prefix"] or "",
                              prefixes["international_prefix"] or "")
    return TrunkOptions(KeepAliveSettings(float(interval), float(timeout)), identity)
