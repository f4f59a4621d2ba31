"""How equipment under test takes its place in a run: which addresses it fixes, the trunk account the
scenarios use, checks only a run can make, and starting (and stopping) what the file says to start.

    eq = load_equipment("examples/equipment/kamailio-trunk.toml")
    check_usable(eq, roles)                # EquipmentError naming the line: address clashes, missing tools
    check_on_interface(eq, "eth1", ["192.0.2.1"], roles)   # --interface: the file's harness addresses are there
    plan = plan_for(eq, roles)             # PortPlan with the equipment's addresses fixed
    running = start_equipment(eq, run_dir / "equipment")   # [equipment.process] (or an image: image_starter)
    ...
    running.stop()

Role "trunk": the equipment replaces the reference server. Scenarios send to its `address`; the harness's
destination listens at its `destination`; the carrier calls from its first trusted peer. A trunk whose
destination is "remote" calls its own far end: the harness plays the UA only (harness.suite.ua_only). Role "ua": the
harness runs the reference trunk at the equipment's `proxy` and drives the UA at its `address` through
its adapter (harness.adapters.ua_driver).

Docker: ``[equipment.image]`` is started by the ``image_starter`` the run is given (in the docker
topology's harness container: harness.docker.roles.StartedByHost, for the container the host started);
without one the run is refused before any traffic.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from harness.equipment import Equipment, EquipmentError
from harness.equipment.harness_table import HARNESS_KEYS
from harness.suite.trunk import TrunkSettings
from harness.topology import (
    LOOPBACK_ROLES,
    RTP_BASE,
    RTP_STRIDE,
    SIP_BASE,
    SLOTS,
    Addr,
    PortPlan,
    RoleAddresses,
)
from sipcore.transport_address import bracketed as _bracketed

__all__ = [
    "TRUNK_SUFFIX", "ImageStarter", "RunningEquipment", "check_on_interface", "check_usable", "fixed_addresses",
    "plan_for",
    "sip_ports", "start_equipment", "trunk_settings",
]

TRUNK_SUFFIX = ".trunk.voipbin.net"
OWN_PORTS_END = RTP_BASE + SLOTS * RTP_STRIDE


class RunningEquipment(Protocol):
    """Equipment the harness started for the run (a process, or a container through the image hook)."""

    name: str

    @property
    def log_path(self) -> Path: ...
    def log_tail(self, max_chars: int = 4000) -> str: ...
    def running(self) -> bool: ...
    def stop(self) -> int | None: ...
    def close(self) -> None: ...


ImageStarter = Callable[[Equipment, Path], RunningEquipment]
"""Starts ``[equipment.image]`` (bounded, healthy once its address answers) with its log under the
given folder; raises on failure (the message is shown as is)."""


def _carrier_host(eq: Equipment, roles: RoleAddresses) -> str | None:
    """The address the harness's carrier calls from: its own (``roles``) when a trusted peer covers it,
    else the trunk's first trusted peer (a network: its first host); None without trusted peers."""
    if not eq.trusted_peers:
        return None
    nets = [ipaddress.ip_network(peer) for peer in eq.trusted_peers]
    if any(ipaddress.ip_address(roles["Carrier"]) in net for net in nets):
        return roles["Carrier"]
    return str(nets[0].network_address if nets[0].num_addresses == 1 else next(nets[0].hosts()))


def fixed_addresses(eq: Equipment, roles: RoleAddresses = LOOPBACK_ROLES) -> dict[str, Addr]:
    """Role -> address the equipment file fixes (port 0: the scenario's own port on that host): the
    equipment's own, where it sends (destination, proxy), the carrier's trusted peer, and ``[harness]``."""
    assert eq.trunk is not None
    fixed = {HARNESS_KEYS[key]: addr for key, addr in eq.harness.items()}
    if eq.role == "trunk":
        fixed["VoIPBin"] = eq.address.addr
        if eq.trunk.destination is not None:  # None: a remote trunk's own far end (ua-only)
            fixed["Destination"] = eq.trunk.destination.addr
        carrier = _carrier_host(eq, roles)
        if carrier is not None and "Carrier" not in fixed:
            fixed["Carrier"] = (carrier, 0)
        return fixed
    assert eq.trunk.proxy is not None
    return fixed | {"UA": eq.address.addr, "VoIPBin": eq.trunk.proxy.addr}


def plan_for(eq: Equipment, roles: RoleAddresses = LOOPBACK_ROLES) -> PortPlan:
    """The run's port plan: the harness's roles at ``roles``, the equipment's where its file says."""
    role = "VoIPBin" if eq.role == "trunk" else "UA"
    return PortPlan(fixed=fixed_addresses(eq, roles), external_trunk=eq.role == "trunk",
                    aliases={ip: role for ip in eq.media_addresses}, equipment_role=role, roles=roles)


def sip_ports(eq: Equipment) -> list[int]:
    """Ports that carry SIP in this run besides the harness's own range (for tshark's decode-as)."""
    return sorted({port for _, port in fixed_addresses(eq).values() if port})


def trunk_settings(eq: Equipment) -> TrunkSettings:
    """The trunk account of the scenarios: the one the equipment serves (trunk) or uses (ua)."""
    assert eq.trunk is not None
    t = eq.trunk
    domain_name = t.domain.removesuffix(TRUNK_SUFFIX) if t.domain.endswith(TRUNK_SUFFIX) else t.domain
    settings = TrunkSettings(
        domain_name=domain_name, server_host=t.domain, realm=t.realm, username=t.username or "alice",
        password=t.password or "", auth_types=("basic",) if eq.claims("basic-auth") else ("ip",),
        options_interval=t.options_interval, options_timeout=t.options_timeout,
    )
    if eq.registrar_domain:
        settings.registrar_domain = eq.registrar_domain
    if eq.extensions:
        settings.extensions = {x.extension: x.password for x in eq.extensions}
    if eq.role == "ua" and not eq.claims("basic-auth"):
        settings.allowed_roles = ("UA",)
    return settings


def _refuse(eq: Equipment, key: str, problem: str) -> EquipmentError:
    return EquipmentError(f"{eq.where(key)}: {problem}", filename=eq.source)


def check_usable(eq: Equipment, roles: RoleAddresses = LOOPBACK_ROLES,
                 image_starter: ImageStarter | None = None) -> None:
    """What the loader cannot know and pre-flight does not ask the network: the equipment's addresses
    must not be the harness's own (``roles``), two roles must not share one ip:port (ladder columns come
    from transport addresses: by IP, or by ip:port where roles share an IP), a UA under test must use a
    trunk domain the reference trunk can serve, the adapter's program must be installed, and an image
    needs an ``image_starter``."""
    assert eq.trunk is not None
    if eq.image is not None and image_starter is None:
        raise _refuse(eq, "equipment.image", "an image is started only in the docker topology: run with "
                      "--topology docker (the default for such a file), or start the equipment yourself and "
                      "remove [equipment.image]")
    own = roles.with_roles({HARNESS_KEYS[key]: host for key, (host, _) in eq.harness.items()})
    for key, (_, port) in eq.harness.items():
        if SIP_BASE <= port < OWN_PORTS_END:
            raise _refuse(eq, f"harness.{key}", f"port {port} is inside the ports the harness hands its other roles "
                          f"scenario by scenario ({SIP_BASE}-{OWN_PORTS_END - 1}): give a port outside them "
                          "(e.g. 5080)")
    shared = len(set(roles.values())) == 1  # --interface: every role on one IP, told apart by port
    if shared:
        _check_shared_ip(eq, roles["UA"])
    if eq.role == "trunk":
        clash = [r for r in ("UA", "UA2", "Carrier") if own[r] == eq.address.host and not shared]
        if clash:
            raise _refuse(eq, "equipment.address", f"{eq.address.host} is the harness's {clash[0]} address; "
                          "give the equipment an address of its own (e.g. 127.0.0.50)")
        dest = eq.trunk.destination
        if dest is None:  # a remote trunk calls its own far end: the harness plays the UA only
            return
        clash = [r for r in ("UA", "UA2") if own[r] == dest.host and not shared]
        if clash:
            raise _refuse(eq, "equipment.trunk.destination", f"{dest.host} is the harness's {clash[0]} address; "
                          "the destination needs an address of its own (e.g. 127.0.0.30)")
        if dest.addr == eq.address.addr:
            line = eq.lines.get("equipment.address", "?")
            raise _refuse(eq, "equipment.trunk.destination", f"{dest} is also the trunk's own address "
                          f"(equipment.address, line {line}): two roles cannot share one ip:port; give the "
                          f"destination a port of its own (e.g. {_bracketed(dest.host)}:5090) or an address of "
                          "its own (e.g. 127.0.0.30)")
        return
    assert eq.trunk.proxy is not None
    clash = [r for r in ("UA2", "Carrier", "Destination") if own[r] == eq.address.host and not shared]
    if clash:
        raise _refuse(eq, "equipment.address", f"{eq.address.host} is the harness's {clash[0]} address; give "
                      "the UA an address of its own (e.g. 127.0.0.10 or 127.0.0.40)")
    if eq.address.addr == eq.trunk.proxy.addr:
        line = eq.lines.get("equipment.trunk.proxy", "?")
        raise _refuse(eq, "equipment.address", f"{eq.address} is also the proxy's address (equipment.trunk."
                      f"proxy, line {line}): two roles cannot share one ip:port; give the UA a port of its own "
                      f"(e.g. {_bracketed(eq.address.host)}:5062) or an address of its own (e.g. 127.0.0.40)")
    if eq.trunk.proxy.host in (own["Destination"], own["Carrier"], own["UA2"]) and not shared:
        raise _refuse(eq, "equipment.trunk.proxy", f"{eq.trunk.proxy.host} is the address of another harness "
                      "role; the harness's trunk listens best on 127.0.0.20")
    if not eq.trunk.domain.endswith(TRUNK_SUFFIX) or len(eq.trunk.domain) <= len(TRUNK_SUFFIX):
        raise _refuse(eq, "equipment.trunk.domain", f"the harness's trunk serves NAME{TRUNK_SUFFIX} domains "
                      f"(VoIPBin's rule), not {eq.trunk.domain!r}")
    if eq.trunk.realm != eq.trunk.domain:
        raise _refuse(eq, "equipment.trunk.realm", "the harness's trunk challenges in the realm of its domain; "
                      "leave realm out")
    from harness.adapters.ua_driver import adapter_missing  # the drivers import this package's neighbours

    missing = adapter_missing(eq)
    if missing:
        raise _refuse(eq, "equipment.adapter", missing)


def check_on_interface(eq: Equipment, interface: str, addresses: Sequence[str], roles: RoleAddresses) -> None:
    """With ``--interface``: every address the file gives the harness (``[harness]``, where the trunk sends
    its calls, the carrier's trusted peer; a UA's proxy) is one of the interface's ``addresses``: the
    harness listens and captures there, so traffic on any other address would never be seen."""
    assert eq.trunk is not None
    named = [(f"harness.{key}", host) for key, (host, _) in eq.harness.items()]
    if eq.role == "trunk":
        if eq.trunk.destination is not None:  # None: a remote trunk's own far end (ua-only)
            named.append(("equipment.trunk.destination", eq.trunk.destination.host))
        carrier = fixed_addresses(eq, roles).get("Carrier")
        if carrier is not None and "carrier" not in eq.harness:
            named.append(("equipment.registrar.trusted_peers", carrier[0]))
    else:
        assert eq.trunk.proxy is not None
        named.append(("equipment.trunk.proxy", eq.trunk.proxy.host))
    for key, host in named:
        if host not in addresses:
            what = ("the harness's carrier would call from it (the first trusted peer): add "
                    f"{interface}'s address to trusted_peers" if key.endswith("trusted_peers") else
                    f"give an address of {interface}")
            raise _refuse(eq, key, f"{host} is not an address of {interface} ({', '.join(addresses)}): with "
                          f"--interface {interface} the harness's roles live and capture there; {what}")


def _check_shared_ip(eq: Equipment, ip: str) -> None:
    """With every harness role on ``ip``, an address of the file on ``ip`` needs a port outside the ports
    the harness hands its roles scenario by scenario."""
    assert eq.trunk is not None
    for key, addr in (("equipment.address", eq.address), ("equipment.trunk.destination", eq.trunk.destination),
                      ("equipment.trunk.proxy", eq.trunk.proxy)):
        if addr is not None and addr.host == ip and SIP_BASE <= addr.port < OWN_PORTS_END:
            raise _refuse(eq, key, f"{addr} is on the address of the harness's roles ({ip}), in the ports it "
                          f"hands them scenario by scenario ({SIP_BASE}-{OWN_PORTS_END - 1}): give a port outside "
                          "them (e.g. 5080)")


def start_equipment(eq: Equipment, workdir: Path, image_starter: ImageStarter | None = None) -> RunningEquipment | None:
    """Start ``[equipment.process]`` (or ``[equipment.image]`` through ``image_starter``) and wait,
    bounded, until its address answers; None when the file asks to start nothing. EquipmentStartError
    (with the end of its log) when it exits or stays silent; EquipmentError for an image without a starter."""
    from harness.adapters.kamailio import SipProcess

    workdir.mkdir(parents=True, exist_ok=True)
    if eq.process is not None:
        return SipProcess.for_equipment(eq, workdir=workdir).start()
    if eq.image is not None:
        if image_starter is None:
            raise _refuse(eq, "equipment.image", "an image is started only in the docker topology: run "
                          "with --topology docker, or start the equipment yourself and remove [equipment.image]")
        return image_starter(eq, workdir)
    return None
