"""The harness container's side of the docker topology (harness.docker.topology): the addresses of the roles
it plays, and the equipment the host started.

Docker gives a container one address per network; the UA2, the carrier and the destination need their
own, so they are added to the interface (:func:`add_address`, ``ip addr add``, which needs NET_ADMIN in the
container). Only addresses inside 198.18.0.0/15 are accepted. ``$TRUNKCHECK_ROLE_ADDRESSES``
(``UA=198.18.60.10,UA2=...``, :func:`role_addresses`) says which role has which of them.

The equipment's own container was started by the host, which also stops it and puts its log in the
reports: in the harness container its ``[equipment.image]`` stands for equipment that is already running
(:class:`StartedByHost`). The container's entry point, which puts these together, is
:mod:`harness.cli.container`.
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

from harness.docker.engine import ALLOWED_RANGE
from harness.equipment import Equipment, sip_ping

__all__ = ["HOST_LOG_NOTE", "ROLE_ADDRESSES_ENV", "StartedByHost", "add_address", "role_addresses"]

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
