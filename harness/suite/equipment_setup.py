"""How equipment under test takes its place in a run: which addresses it fixes, the trunk account the
scenarios use, checks only a run can make, and starting (and stopping) what the file says to start.

    eq = load_equipment("examples/equipment/kamailio-trunk.toml")
    check_usable(eq, roles)                # EquipmentError naming the line: address clashes, missing tools
    plan = plan_for(eq, roles)             # PortPlan with the equipment's addresses fixed
    running = start_equipment(eq, run_dir / "equipment")   # [equipment.process] (or an image: image_starter)
    ...
    running.stop()

Role "trunk": the equipment replaces the reference server. Scenarios send to its `address`; the harness's
destination listens at its `destination`; the carrier calls from its first trusted peer. Role "ua": the
harness runs the reference trunk at the equipment's `proxy` and drives the UA at its `address` through
its adapter (harness.adapters.ua_driver).

Docker: ``[equipment.image]`` is started by the ``image_starter`` the run is given (in the docker
topology's harness container: harness.docker.roles.StartedByHost, for the container the host started);
without one the run is refused before any traffic.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from harness.equipment import Equipment, EquipmentError
from harness.suite.trunk import TrunkSettings
from harness.topology import LOOPBACK_ROLES, Addr, PortPlan, RoleAddresses
from sipcore.transport_address import bracketed as _bracketed

__all__ = [
    "TRUNK_SUFFIX", "ImageStarter", "RunningEquipment", "check_usable", "fixed_addresses", "plan_for",
    "sip_ports", "start_equipment", "trunk_settings",
]

TRUNK_SUFFIX = ".trunk.voipbin.net"


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


def _carrier_host(eq: Equipment) -> str | None:
    """The address the harness's carrier calls from: the trunk's first trusted peer (a network: its
    first host)."""
    if not eq.trusted_peers:
        return None
    net = ipaddress.ip_network(eq.trusted_peers[0])
    return str(net.network_address if net.num_addresses == 1 else next(net.hosts()))


def fixed_addresses(eq: Equipment) -> dict[str, Addr]:
    """Role -> address the equipment file fixes (port 0: the scenario's own port on that host)."""
    assert eq.trunk is not None
    if eq.role == "trunk":
        assert eq.trunk.destination is not None
        fixed = {"VoIPBin": eq.address.addr, "Destination": eq.trunk.destination.addr}
        carrier = _carrier_host(eq)
        if carrier is not None:
            fixed["Carrier"] = (carrier, 0)
        return fixed
    assert eq.trunk.proxy is not None
    return {"UA": eq.address.addr, "VoIPBin": eq.trunk.proxy.addr}


def plan_for(eq: Equipment, roles: RoleAddresses = LOOPBACK_ROLES) -> PortPlan:
    """The run's port plan: the harness's roles at ``roles``, the equipment's where its file says."""
    role = "VoIPBin" if eq.role == "trunk" else "UA"
    return PortPlan(fixed=fixed_addresses(eq), external_trunk=eq.role == "trunk",
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
    own = roles
    if eq.role == "trunk":
        assert eq.trunk.destination is not None
        clash = [r for r in ("UA", "UA2", "Carrier") if own[r] == eq.address.host]
        if clash:
            raise _refuse(eq, "equipment.address", f"{eq.address.host} is the harness's {clash[0]} address; "
                          "give the equipment an address of its own (e.g. 127.0.0.50)")
        dest = eq.trunk.destination
        clash = [r for r in ("UA", "UA2") if own[r] == dest.host]
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
    clash = [r for r in ("UA2", "Carrier", "Destination") if own[r] == eq.address.host]
    if clash:
        raise _refuse(eq, "equipment.address", f"{eq.address.host} is the harness's {clash[0]} address; give "
                      "the UA an address of its own (e.g. 127.0.0.10 or 127.0.0.40)")
    if eq.address.addr == eq.trunk.proxy.addr:
        line = eq.lines.get("equipment.trunk.proxy", "?")
        raise _refuse(eq, "equipment.address", f"{eq.address} is also the proxy's address (equipment.trunk."
                      f"proxy, line {line}): two roles cannot share one ip:port; give the UA a port of its own "
                      f"(e.g. {_bracketed(eq.address.host)}:5062) or an address of its own (e.g. 127.0.0.40)")
    if eq.trunk.proxy.host in (own["Destination"], own["Carrier"], own["UA2"]):
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
