"""Where each role of a scenario lives: one loopback address per role, ports unique per scenario.

    plan = PortPlan(roles=RoleAddresses.loopback("127.0.0.0"))   # one per run (process)
    topo = plan.allocate()                  # a fresh Topology: UA 127.0.0.10:16000, trunk 127.0.0.20:16001 ...
    topo.roles()                            # {"127.0.0.10": "UA", "127.0.0.20": "VoIPBin", ...}

Roles and addresses (the last octet names the role, so a capture reads like a ladder):

    UA           127.0.0.10   the calling UA (and the phone that registers)
    UA2          127.0.0.11   a second UA: a caller from another address (IP auth), or a second phone
                              registering the same extension (forking)
    Carrier      127.0.0.12   a carrier peer calling a registered extension
    VoIPBin      127.0.0.20   the trunk under test (embedded reference server by default)
    Destination  127.0.0.30   the far end the trunk relays calls to
    Destination2 127.0.0.31   the trunk's second destination (failover), tried after the first

Those are in the loopback block 127.0.0.0/24 (`LOOPBACK_ROLES`); `RoleAddresses.loopback("127.42.0.0")`
(`trunkcheck run --loopback`, or $TRUNKCHECK_LOOPBACK: `RoleAddresses.from_environment`) puts every role in
another /24 of 127.0.0.0/8 (127.42.0.10, .11, .12, .20, .30, .31), so that runs sharing a machine can also keep
apart by address; `RoleAddresses.at("192.0.2.1")` (`trunkcheck run --interface eth1`: equipment on another
host) puts every role on one address of this host, told apart by port; the docker topology gives the roles
addresses on its network (`with_roles`). A run's
role addresses are built once, from its command line or environment, and handed to its port plan: they
never change while it runs.

Ports: scenario slot k uses SIP ports SIP_BASE + k*SIP_STRIDE + 0..SIP_STRIDE-1 (UA, trunk, destination,
UA2, carrier, a second UA socket, the second destination) and the trunk's RTP relay range RTP_BASE + k*RTP_STRIDE .. +RTP_STRIDE-1.
The two ranges are disjoint, so no port ever carries SIP in one scenario and RTP in another (the stream
decoder relies on it), and `SIP_PORT_RANGE` is the one decode-as rule tshark needs. Slots start at a
per-process offset and every port is checked free (bound and released) before use, so concurrent runs
and concurrent scenarios never collide. Simulator RTP uses ephemeral ports (above 32767).

The trunk's address is a parameter: `PortPlan(trunk=("192.0.2.1", 5060))` targets equipment that is
already running (the harness then starts no reference server). Equipment under test fixes more addresses:
`PortPlan(fixed={"VoIPBin": ("127.0.0.50", 5060), "Destination": ("127.0.0.30", 5080)}, external_trunk=True)`
(a trunk under test: the harness's destination listens where the trunk sends its calls), or
`PortPlan(fixed={"UA": ("127.0.0.40", 5062), "VoIPBin": ("127.0.0.20", 5060)})` (a UA under test: the
reference trunk listens where the UA sends its requests). A fixed port 0 means "this host, the scenario's
own port" (the carrier calling from a trunk's trusted peer address). Fixed addresses are not checked free
(the equipment may hold them), and a scenario with fixed addresses is captured by address only, so the
equipment's traffic on ports the harness does not choose (its RTP) is in the pcap.

Roles may share an IP (equipment on a laptop: trunk 127.0.0.1:5070, its destination 127.0.0.1:5090). Then
`roles()` keys each of them by (ip, port), and the IP itself names the equipment's role (`equipment_role`),
whose media ports the harness cannot know; harness.capture.roles attributes RTP on such an IP by SDP.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

__all__ = [
    "LOOPBACK_ENV",
    "LOOPBACK_ROLES",
    "ROLES",
    "RTP_BASE",
    "SIP_BASE",
    "SIP_PORT_RANGE",
    "Addr",
    "PortPlan",
    "RoleAddresses",
    "Topology",
    "TopologyError",
]

Addr = tuple[str, int]

ROLE_HOSTS = {"UA": 10, "UA2": 11, "Carrier": 12, "VoIPBin": 20, "Destination": 30, "Destination2": 31}
"""The last octet of each role's address, whatever the block."""
ROLES = tuple(ROLE_HOSTS)
LOOPBACK_ENV = "TRUNKCHECK_LOOPBACK"
DEFAULT_LOOPBACK = "127.0.0.0"
_LOOPBACK_NET = ipaddress.IPv4Network("127.0.0.0/8")


class RoleAddresses(Mapping[str, str]):
    """Role -> IP address of one run, for every role (``ROLES``); immutable. Built once from the command
    line or the environment and handed to the run's port plan (and its checks of equipment addresses)."""

    __slots__ = ("_table",)

    def __init__(self, table: Mapping[str, str]) -> None:
        unknown, missing = set(table) - set(ROLES), [r for r in ROLES if r not in table]
        if unknown or missing:
            raise ValueError(f"role addresses name {', '.join(ROLES)}" +
                             (f"; unknown: {', '.join(sorted(unknown))}" if unknown else "") +
                             (f"; missing: {', '.join(missing)}" if missing else ""))
        self._table = {role: str(ipaddress.ip_address(table[role])) for role in ROLES}

    @classmethod
    def loopback(cls, base: str = DEFAULT_LOOPBACK) -> RoleAddresses:
        """Each role's address in the /24 loopback block starting at ``base`` (``127.42.0.0`` -> UA
        127.42.0.10 ...); ValueError saying what is wrong with ``base``."""
        try:
            net = ipaddress.IPv4Network(f"{base.strip()}/24")
        except ValueError:
            raise ValueError(f"{base!r} is not the first address of a /24 inside 127.0.0.0/8 (e.g. 127.42.0.0)") from None
        if not net.subnet_of(_LOOPBACK_NET):
            raise ValueError(f"{base!r} is not inside 127.0.0.0/8: the roles live on loopback")
        return cls({role: str(net.network_address + host) for role, host in ROLE_HOSTS.items()})

    @classmethod
    def at(cls, ip: str) -> RoleAddresses:
        """Every role at one IP (`trunkcheck run --interface eth1`: the interface's address), told apart by
        port."""
        return cls({role: ip for role in ROLES})

    @classmethod
    def from_environment(cls, base: str | None = None, environ: Mapping[str, str] = os.environ) -> RoleAddresses:
        """The roles in the loopback block at ``base`` (`--loopback`; None: ``$TRUNKCHECK_LOOPBACK``, else
        127.0.0.0); ValueError, naming where the value came from, when it is not a /24 of 127.0.0.0/8."""
        where = "--loopback"
        if base is None:
            base, where = environ.get(LOOPBACK_ENV) or DEFAULT_LOOPBACK, f"${LOOPBACK_ENV}"
        try:
            return cls.loopback(base)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    def with_roles(self, changes: Mapping[str, str]) -> RoleAddresses:
        """These addresses with some roles elsewhere (the docker topology's network)."""
        return RoleAddresses({**self._table, **changes})

    def __getitem__(self, role: str) -> str:
        return self._table[role]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __hash__(self) -> int:
        return hash(tuple(self._table.items()))

    def __repr__(self) -> str:
        return f"RoleAddresses({self._table!r})"


LOOPBACK_ROLES = RoleAddresses.loopback()
"""The roles' default addresses: 127.0.0.10, .11, .12, .20, .30, .31."""

SIP_BASE, SIP_STRIDE = 16000, 8
RTP_BASE, RTP_STRIDE = 20000, 20
SLOTS = 500  # SIP 16000-19999, RTP relay 20000-29999
SIP_PORT_RANGE = f"{SIP_BASE}-{SIP_BASE + SLOTS * SIP_STRIDE - 1}"
RTP_PORT_RANGE = f"{RTP_BASE}-{RTP_BASE + SLOTS * RTP_STRIDE - 1}"


class TopologyError(RuntimeError):
    """No free slot of ports: something else holds them."""


@dataclass(frozen=True)
class Topology:
    """One scenario's addresses. `external_trunk` is True when the trunk is not ours to start."""

    slot: int
    ua: Addr
    ua_alt: Addr  # a second socket of the UA role (a second simulated phone on the same host)
    ua2: Addr
    carrier: Addr
    trunk: Addr
    destination: Addr
    relay_ports: tuple[int, int]
    destination2: Addr = ("127.0.0.31", 0)  # the trunk's second destination (failover scenarios)
    external_trunk: bool = False
    fixed_roles: frozenset[str] = frozenset()  # roles whose address the equipment file gives
    aliases: tuple[tuple[str, str], ...] = ()  # (IP, role): more addresses of a role (equipment media)
    equipment_role: str | None = None  # the role equipment under test plays (a trunk under test: VoIPBin)

    def roles(self) -> dict[str | Addr, str]:
        """Who is where, for decode.to_observed and the ladder columns (harness.capture.roles.RoleMap): IP ->
        role where each role has an IP of its own; where roles share an IP, (ip, port) -> role for each of them
        and the IP itself -> the equipment under test (its media ports are not known up front, while the
        harness's roles announce every media port they use; the harness's own trunk: its relay range)."""
        placed = [(self.ua, "UA"), (self.ua_alt, "UA"), (self.ua2, "UA2"), (self.carrier, "Carrier"),
                  (self.trunk, "VoIPBin"), (self.destination, "Destination"), (self.destination2, "Destination2")]
        owners: dict[str, set[str]] = {}
        for ip, role in [(addr[0], role) for addr, role in placed] + list(self.aliases):
            owners.setdefault(ip, set()).add(role)
        out: dict[str | Addr, str] = {ip: role for ip, role in self.aliases if len(owners[ip]) == 1}
        for addr, role in placed:
            out[addr if len(owners[addr[0]]) > 1 else addr[0]] = role
        for ip, roles in owners.items():
            if len(roles) > 1 and self.equipment_role in roles:
                out[ip] = self.equipment_role
        if not self.external_trunk and len(owners[self.trunk[0]]) > 1:
            for port in range(self.relay_ports[0], self.relay_ports[1] + 1):
                out[(self.trunk[0], port)] = "VoIPBin"
        return out

    def addresses(self) -> list[str]:
        """Every address that may carry the scenario's traffic (the capture filter)."""
        own = {a[0] for a in (self.ua, self.ua2, self.carrier, self.trunk, self.destination, self.destination2)}
        return sorted(own | {ip for ip, _ in self.aliases})

    def capture_filter(self) -> str:
        """BPF for the scenario's own traffic: every SIP message has one end on one of its SIP ports and
        every RTP packet one end in its relay range, so traffic of anything else using the same loopback
        addresses (another run, another test) stays out. Equipment's RTP ports are unknown (and the
        simulators' RTP goes straight from UA to destination around a proxy): then everything between the
        scenario's addresses is kept, except what has an end on another scenario's ports."""
        ours = " or ".join(f"port {p}" for p in self.sip_ports())
        ours += f" or portrange {self.relay_ports[0]}-{self.relay_ports[1]}"
        if self.external_trunk or self.fixed_roles:
            return f"(udp or tcp) and not ((portrange {SIP_PORT_RANGE} or portrange {RTP_PORT_RANGE}) and not ({ours}))"
        return f"(udp or tcp) and ({ours})"

    def sip_ports(self) -> list[int]:
        return sorted({a[1] for a in (self.ua, self.ua_alt, self.ua2, self.carrier, self.trunk, self.destination,
                                      self.destination2)})

    def address_of(self, role: str) -> Addr:
        table = {
            "UA": self.ua,
            "UA2": self.ua2,
            "Carrier": self.carrier,
            "VoIPBin": self.trunk,
            "Destination": self.destination,
            "Destination2": self.destination2,
        }
        if role not in table:
            raise KeyError(f"unknown role {role!r}: known roles are {', '.join(table)}")
        return table[role]


def _free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


class PortPlan:
    """Hands out topologies with ports no other scenario (of this or a concurrent run) is using."""

    def __init__(self, *, trunk: Addr | None = None, first_slot: int | None = None,
                 fixed: dict[str, Addr] | None = None, external_trunk: bool | None = None,
                 aliases: dict[str, str] | None = None, equipment_role: str | None = None,
                 roles: RoleAddresses = LOOPBACK_ROLES) -> None:
        self.roles = roles
        self.fixed = dict(fixed or {})
        self.aliases = tuple(sorted((aliases or {}).items()))
        if trunk is not None:
            self.fixed["VoIPBin"] = trunk
        unknown = set(self.fixed) - set(ROLES)
        if unknown:
            raise KeyError(f"unknown role(s) {', '.join(sorted(unknown))}: known roles are {', '.join(ROLES)}")
        self.external_trunk = trunk is not None if external_trunk is None else external_trunk
        self.equipment_role = equipment_role or ("VoIPBin" if self.external_trunk else None)
        start = (os.getpid() * 7) % SLOTS if first_slot is None else first_slot % SLOTS
        self._slots = itertools.islice(itertools.cycle(range(SLOTS)), start, None)
        self._lock = threading.Lock()

    def allocate(self) -> Topology:
        with self._lock:
            for _ in range(SLOTS):
                topo = self._topology(next(self._slots))
                if self._all_free(topo):
                    return topo
        raise TopologyError(
            f"no free slot of ports in {SIP_PORT_RANGE} (SIP) and {RTP_BASE}-{RTP_BASE + SLOTS * RTP_STRIDE - 1} "
            f"(RTP relay) on {', '.join(sorted(set(self.roles.values())))}: something else is bound to all of them"
        )

    def _topology(self, slot: int) -> Topology:
        sip = SIP_BASE + slot * SIP_STRIDE
        rtp = RTP_BASE + slot * RTP_STRIDE

        def addr(role: str, port: int) -> Addr:
            host, fixed_port = self.fixed.get(role, (self.roles[role], 0))
            return host, fixed_port or port

        return Topology(
            slot=slot,
            ua=addr("UA", sip),
            trunk=addr("VoIPBin", sip + 1),
            destination=addr("Destination", sip + 2),
            ua2=addr("UA2", sip + 3),
            carrier=addr("Carrier", sip + 4),
            ua_alt=(self.fixed.get("UA", (self.roles["UA"], 0))[0], sip + 5),
            destination2=addr("Destination2", sip + 6),
            relay_ports=(rtp, rtp + RTP_STRIDE - 1),
            external_trunk=self.external_trunk,
            fixed_roles=frozenset(role for role, (_, port) in self.fixed.items() if port),
            aliases=self.aliases,
            equipment_role=self.equipment_role,
        )

    def _all_free(self, topo: Topology) -> bool:
        """The scenario's own ports are free (not the fixed addresses: the equipment may hold those)."""
        roles = {"UA": topo.ua, "UA2": topo.ua2, "Carrier": topo.carrier, "Destination": topo.destination,
                 "Destination2": topo.destination2}
        sockets = [a for role, a in roles.items() if role not in topo.fixed_roles] + [topo.ua_alt]
        if not topo.external_trunk:
            if "VoIPBin" not in topo.fixed_roles:
                sockets.append(topo.trunk)
            sockets += [(topo.trunk[0], p) for p in range(topo.relay_ports[0], topo.relay_ports[1] + 1)]
        return all(_free(host, port) for host, port in sockets)
