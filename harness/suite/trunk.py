"""The trunk a scenario talks to: settings the Given steps change, and the embedded reference server they
configure (the embedded defaults with the scenario's addresses and the steps' changes). Its session timers
accept intervals down to 2 s (``allow_below_rfc_minimum``, test only: RFC 4028's floor is 90 s) so that the
session-timer and long-call scenarios see a refresh in seconds (harness.suite.durations).
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from dataclasses import dataclass, field

from harness.topology import Topology
from reference_server.config import (
    Destination,
    Extension,
    IPNetwork,
    ListenAddress,
    ServerConfig,
    TlsConfig,
    default_config_text,
    parse_config,
)
from reference_server.faults import NO_FAULTS, InjectedFaults
from reference_server.identity import IdentityPolicy
from reference_server.keepalive import KeepAliveSettings
from reference_server.server import ReferenceServer
from reference_server.session_config import TEST_MIN_SE, SessionTimerConfig
from sipcore.session_timer import RFC_MIN_SE

__all__ = ["TrunkSettings", "build_server_config", "start_reference_server"]


@dataclass
class TrunkSettings:
    """What the scenario's Given steps say about the trunk (defaults: the embedded configuration)."""

    domain_name: str = "example"
    username: str = "alice"
    password: str = "secret"
    auth_types: tuple[str, ...] = ("basic",)
    allowed_roles: tuple[str, ...] = ()  # IP auth: roles whose address is in allowed_ips
    algorithms: tuple[str, ...] = ("MD5",)
    nonce_lifetime: float | None = None  # seconds; None: the embedded default
    timer_c: float = 180.0  # how long the trunk lets a destination ring (RFC 3261 Timer C)
    registrar_domain: str = "example.registrar.voipbin.net"
    extensions: dict[str, str] = field(default_factory=lambda: {"1001": "pass1001", "1002": "pass1002"})
    trusted_roles: tuple[str, ...] = ("Carrier",)
    server_host: str | None = None  # equipment under test: its trunk domain as the equipment file gives it
    realm: str | None = None  # the digest realm; None: the trunk's domain
    keepalive: KeepAliveSettings = KeepAliveSettings()  # OPTIONS toward the destination (off by default)
    identity: IdentityPolicy = IdentityPolicy()  # P-Asserted-Identity, Privacy, E.164 (the defaults: none)
    options_interval: float = 60.0  # equipment under test: its OPTIONS interval, as its file declares
    options_timeout: float = 32.0  # equipment under test: how long before it marks a destination down
    min_se: int = TEST_MIN_SE  # session timers: below RFC 4028's 90 s for the suite (harness.suite.durations)
    srtp: bool = True  # [media] srtp: RTP/SAVP offers accepted (False: 488)
    destination_srtp: bool = False  # the destination is offered SRTP
    destinations: tuple[str, ...] = ("Destination",)  # the roles the trunk sends calls to, in failover order
    destination_timeout: float | None = None  # seconds without any response before the next destination

    @property
    def host(self) -> str:
        """The trunk's server address (its domain): ``{domain_name}.trunk.voipbin.net``."""
        return self.server_host or f"{self.domain_name}.trunk.voipbin.net"


@functools.lru_cache(maxsize=2)
def _parsed(text: str) -> ServerConfig:
    """A configuration text, parsed: once per process for each text (ServerConfig is immutable, and
    parsing checks the [tls] files, which loads the system's CA certificates: ~20 ms of CPU a scenario)."""
    return parse_config(text, "<defaults>")


def build_server_config(settings: TrunkSettings, topo: Topology, tls: TlsConfig | None = None) -> ServerConfig:
    """The embedded defaults, listening on the scenario's trunk address, relaying to its destination (over
    TLS both, with ``tls``)."""
    transport = "udp" if tls is None else "tls"
    base = _parsed(default_config_text())  # read each time: the parse is what is kept, keyed by the text

    def net(role: str) -> IPNetwork:
        return ipaddress.ip_network(topo.address_of(role)[0])

    def dest(role: str) -> Destination:
        host, port = topo.address_of(role)
        return Destination(host, port, transport)

    trunk = dataclasses.replace(
        base.trunks[0],
        name=settings.domain_name,
        domain_name=settings.domain_name,
        realm=settings.realm or settings.host,
        auth_types=settings.auth_types,
        username=settings.username,
        password=settings.password,
        allowed_ips=tuple(net(r) for r in settings.allowed_roles),
        destination=dest(settings.destinations[0]),
        fallback_destinations=tuple(dest(role) for role in settings.destinations[1:]),
        destination_timeout=settings.destination_timeout,
        destination_srtp=settings.destination_srtp,
        keepalive=settings.keepalive,
        identity=settings.identity,
    )
    return dataclasses.replace(
        base,
        listen=(ListenAddress(transport, topo.trunk[0], topo.trunk[1]),),
        tls=tls or base.tls,
        trunks=(trunk,),
        algorithms=settings.algorithms,
        nonce_lifetime=base.nonce_lifetime if settings.nonce_lifetime is None else settings.nonce_lifetime,
        media=dataclasses.replace(
            base.media, address=topo.trunk[0], port_min=topo.relay_ports[0], port_max=topo.relay_ports[1],
            srtp=settings.srtp,
        ),
        trusted_peers=tuple(net(r) for r in settings.trusted_roles),
        registrar=dataclasses.replace(base.registrar, domain=settings.registrar_domain),
        extensions=tuple(Extension(e, p) for e, p in settings.extensions.items()),
        session_timer=SessionTimerConfig(base.session_timer.session_expires, settings.min_se,
                                         allow_below_rfc_minimum=settings.min_se < RFC_MIN_SE),
    )


async def start_reference_server(
    settings: TrunkSettings, topo: Topology, faults: InjectedFaults = NO_FAULTS, tls: TlsConfig | None = None
) -> ReferenceServer:
    """The scenario's reference server, started; ``faults`` (test only) break it on purpose."""
    server = ReferenceServer(build_server_config(settings, topo, tls), media_policy=faults.media_policy,
                             hangup_policy=faults.hangup_policy, timer_c=settings.timer_c)
    await server.start()
    return server
