"""The equipment under test as the equipment file describes it (:mod:`harness.equipment` loads it): role,
address, trunk account, registrar extensions, features claimed, how the harness drives or starts it.

A registrar extension is the reference server's own :class:`reference_server.config.Extension`: an
``[[equipment.registrar.extension]]`` and a server's ``[[extension]]`` are the same thing."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.equipment.numbers import BEHAVIOURS, REMOTE, TestNumber
from reference_server.config import Extension
from reference_server.tomlfile import FileError
from sipcore.aio.resolver import locate_blocking
from sipcore.locate import parse_server
from sipcore.transport_address import TransportAddress, parse_transport_address

__all__ = [
    "ADAPTERS", "BEHAVIOURS", "FEATURES", "REMOTE", "TestNumber", "FEATURE_ALIASES", "REFERENCE_ONLY_TAG", "ROLES", "Equipment", "EquipmentError",
    "EquipmentTls",
    "Extension", "ImageSpec", "ProcessSpec", "SipAddress", "TrunkAccount", "expand_features", "locate_address", "needs_dns",
    "parse_address",
]

ROLES = ("trunk", "ua")
FEATURES = ("basic-auth", "ip-auth", "early-media", "status-relay", "q850-reason", "registration", "cancel",
            "tcp", "srtp", "tls", "options-keepalive", "caller-identity", "hold",
            "dtmf-rfc4733", "forking", "destination-failover",
            "session-timers", "100rel", "long-calls")
FEATURE_ALIASES = {"reason-relay": ("status-relay", "q850-reason")}
"""Former claim names, read as the claims they became: ``reason-relay`` (the hangup cause relayed: the
destination's status and a Q.850 Reason) was split in two, since a proxy relays the status but adds no
Reason."""
ADAPTERS = ("sipp", "baresip", "manual")
REFERENCE_ONLY_TAG = "reference-only"
"""Scenarios that reconfigure the trunk as they run (nonce lifetime, digest algorithm, ring timeout): only
the embedded reference server can play them."""


def expand_features(names: Iterable[str]) -> frozenset[str]:
    """The claims (or a scenario's feature tags) with former names replaced by what they became."""
    return frozenset(f for name in names for f in FEATURE_ALIASES.get(name, (name,)))


class EquipmentError(FileError):
    """A mistake in an equipment file (``FILE:LINE: key: problem``), or equipment not usable as described."""


SipAddress = TransportAddress
"""An address of the equipment: ``udp:127.0.0.50:5060`` (``.addr`` is ``(host, port)``)."""


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
    options_interval: float = 60.0
    """Role trunk with options-keepalive: the seconds between its OPTIONS to its destination, as configured
    (bounds how long the keep-alive scenarios wait)."""
    options_timeout: float = 32.0
    """Role trunk with options-keepalive: how long an OPTIONS may go unanswered before it marks the
    destination down (default Timer F)."""
    numbers: tuple[TestNumber, ...] = ()
    """Role trunk with ``destination = "remote"``: the numbers its own far end answers, rejects ..."""

    @property
    def destination_remote(self) -> bool:
        """The trunk's calls go to its own far end (a remote trunk): the harness plays the UA only."""
        return bool(self.numbers)


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
class EquipmentTls:
    """``[equipment.tls]`` of a trunk claiming ``tls``: where it takes SIP over TLS, the CA that issued its
    certificate, and the SIP domain that certificate must name (RFC 5922; None: the trunk domain)."""

    address: SipAddress
    ca_file: Path | None = None
    server_name: str | None = None
    verify: bool = True


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
    harness: dict[str, tuple[str, int]] = field(default_factory=dict)
    """The ``[harness]`` table: where the harness's own roles are (``"ua"`` -> ``("192.0.2.1", 5062)``; port
    0: the scenario's own), keys as in harness.equipment.harness_table.HARNESS_KEYS."""
    dns: tuple[str, int] | None = None
    """The DNS server (IP, port) that located the addresses given by name: `trunkcheck run --dns`, else the
    file's ``dns`` key; None: the system's resolver."""
    located: dict[str, tuple[str, SipAddress]] = field(default_factory=dict, compare=False)
    """Addresses the file gives by name: as written and where DNS (RFC 3263) located them when the file
    was loaded (``"equipment.address"`` -> ``("sip:sbc.example.net", udp:192.0.2.5:5060)``); the model
    holds the latter."""
    tls: EquipmentTls | None = None
    """Role trunk claiming tls: its TLS listener and certificate (the @tls scenarios' UA connects there)."""
    source: str = "<string>"
    lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    """Line of each key given in the file (``"equipment.address"`` -> 6), for messages found later."""

    def where(self, key: str) -> str:
        """``FILE:LINE: key`` for a key of this file (its table's line when the key was left out)."""
        line = self.lines.get(key) or self.lines.get(key.rpartition(".")[0]) or 1
        return f"{self.source}:{line}: {key}"

    def claims(self, feature: str) -> bool:
        return feature in self.features

    @property
    def ua_only(self) -> bool:
        """A trunk whose destination the harness cannot play (``destination = "remote"``): the harness
        plays the UA only, calling the file's test numbers."""
        return self.role == "trunk" and self.trunk is not None and self.trunk.destination_remote


def parse_address(text: str, default_transport: str = "udp") -> SipAddress:
    """``udp:127.0.0.50:5060``, ``tcp:[::1]:5060``, ``127.0.0.30:5080`` (UDP), ``127.0.0.30`` (port 5060);
    ValueError saying what is wrong (:func:`sipcore.transport_address.parse_transport_address`)."""
    return parse_transport_address(text, default_transport=default_transport,
                                   ip_hint="use an IP address, IPv6 in brackets")


def needs_dns(text: str) -> bool:
    """Whether a SIP address of the file names its host (or is a ``sip:`` URI with a name): the loader
    locates it through DNS."""
    try:
        return not parse_server(text).numeric
    except ValueError:
        return False


def locate_address(text: str, dns: tuple[str, int] | None, default_transport: str = "udp") -> SipAddress:
    """Where a SIP address given by name is, as RFC 3263 locates it (NAPTR, SRV, A/AAAA; the first target).
    The weighted choice among SRV records of one priority uses a fixed seed, so every process of a run
    that loads the file (the runner, behave) finds the same address. LocateError (a ValueError) otherwise."""
    server = parse_server(text)
    transports = (server.transport,) if server.transport else (default_transport, *(t for t in ("udp", "tcp")
                                                                                    if t != default_transport))
    return locate_blocking(server, nameserver=dns, rng=random.Random(0), transports=transports)[0]
