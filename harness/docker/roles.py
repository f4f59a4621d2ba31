"""The harness container's entry in the docker topology (harness/docker/topology.py): give this container
the addresses of the roles it plays, then run a trunkcheck command.

    python -m harness.docker.roles --interface eth0 --address 198.18.60.11/24 --address 198.18.60.30/24 \
        -- run --equipment /run/trunkcheck/equipment.toml

Docker gives a container one address per network; the UA2, the carrier and the destination need their
own, so they are added to the interface here (`ip addr add`, which needs NET_ADMIN in the container). Only
addresses inside 198.18.0.0/15 are accepted. ``$TRUNKCHECK_ROLE_ADDRESSES`` (``UA=198.18.60.10,UA2=...``)
says which role has which of them (harness.topology.ADDRESSES for this run).

The equipment's own container was started by the host (harness.docker.topology), which also stops it and
puts its log in the report: here its ``[equipment.image]`` stands for equipment that is already running
(:class:`StartedByHost`, registered with harness.suite.equipment_setup's image hook).

Exit status: the command's, or 2 when an address cannot be added (the reason on stderr).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import subprocess
import sys
from pathlib import Path

from harness.docker.engine import ALLOWED_RANGE
from harness.equipment import Equipment, sip_ping

__all__ = ["ROLE_ADDRESSES_ENV", "StartedByHost", "add_address", "main", "role_addresses"]

ROLE_ADDRESSES_ENV = "TRUNKCHECK_ROLE_ADDRESSES"
HOST_LOG_NOTE = ("(the equipment runs in a container of its own, started and stopped by the host; its log is "
                 "added to this run's folder as equipment.log when it stops)")


def role_addresses(text: str) -> dict[str, str]:
    """``UA=198.18.60.10,UA2=198.18.60.11`` -> {"UA": "198.18.60.10", ...}; ValueError saying what is wrong."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        role, eq, ip = item.partition("=")
        if not eq:
            raise ValueError(f"{item!r} is not ROLE=IP")
        address = ipaddress.ip_address(ip.strip())
        if address not in ALLOWED_RANGE:
            raise ValueError(f"{item!r}: role addresses are inside {ALLOWED_RANGE}")
        out[role.strip()] = str(address)
    return out


class StartedByHost:
    """``[equipment.image]`` seen from the harness container: equipment the host already started."""

    def __init__(self, equipment: Equipment, workdir: Path) -> None:
        self.equipment = equipment
        self.name = equipment.name
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text(HOST_LOG_NOTE + "\n", encoding="utf-8")

    @property
    def log_path(self) -> Path:
        return self.workdir / "equipment.log"

    def log_tail(self, max_chars: int = 4000) -> str:
        return HOST_LOG_NOTE[-max_chars:]

    def running(self) -> bool:
        address = self.equipment.address
        return sip_ping(address.addr, address.transport, timeout=1.0).answered

    def stop(self) -> int | None:
        return None  # the host stops it

    def close(self) -> None:
        pass


def add_address(interface: str, address: str, timeout: float = 10.0) -> None:
    """Adds ``address`` (IP/prefix, inside 198.18.0.0/15) to ``interface``; RuntimeError saying why not."""
    iface = ipaddress.ip_interface(address)
    if not isinstance(iface, ipaddress.IPv4Interface) or iface.ip not in ALLOWED_RANGE:
        raise RuntimeError(f"{address}: only addresses inside {ALLOWED_RANGE} are given to the harness container")
    try:
        done = subprocess.run(["ip", "addr", "add", str(iface), "dev", interface], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"cannot run `ip addr add {iface} dev {interface}`: {exc}") from exc
    if done.returncode != 0 and "File exists" not in done.stderr:
        hint = " (the container needs --cap-add NET_ADMIN)" if "ermitted" in done.stderr else ""
        raise RuntimeError(f"`ip addr add {iface} dev {interface}` failed: {done.stderr.strip()}{hint}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    split = args.index("--") if "--" in args else len(args)
    parser = argparse.ArgumentParser(prog="python -m harness.docker.roles",
                                     description="Add role addresses to this container, then run trunkcheck.")
    parser.add_argument("--interface", default="eth0")
    parser.add_argument("--address", action="append", default=[], metavar="IP/PREFIX")
    options = parser.parse_args(args[:split])
    command = args[split + 1:]
    try:
        roles = role_addresses(os.environ.get(ROLE_ADDRESSES_ENV, ""))
        for address in options.address:
            add_address(options.interface, address)
    except (RuntimeError, ValueError) as exc:
        print(f"trunkcheck: {exc}", file=sys.stderr)
        return 2
    from harness import topology
    from harness.cli import main as trunkcheck
    from harness.suite import equipment_setup

    topology.ADDRESSES.update(roles)  # this run's roles live on this container's interface, not on loopback
    equipment_setup.register_image_starter(StartedByHost)
    return trunkcheck(command)


if __name__ == "__main__":
    sys.exit(main())
