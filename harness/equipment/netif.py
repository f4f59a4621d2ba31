"""The addresses of a network interface of this host: where the harness's roles live with ``--interface``.

    interface_addresses("eth1")      # ["192.0.2.1", "2001:db8::1"]: IPv4 first, then global IPv6
    interface_address("eth1")        # "192.0.2.1": the roles' address (IPv6 when that is all there is)
    is_loopback("lo")                # True
    local_address_problem("10.9.9.9")   # "10.9.9.9 is not an address of this host (...)", or None

Errors (:class:`InterfaceError`, a ValueError) say what is wrong: no interface of that name (and which
exist), or no usable address on it. IPv6 link-local addresses (fe80::/10) are not used: binding them needs
a scope, and a SIP URI cannot carry one. The addresses come from ``ip -json addr`` (iproute2); without it,
the interface's primary IPv4 address (SIOCGIFADDR).
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import json
import socket
import struct
import subprocess
from pathlib import Path

__all__ = ["InterfaceError", "interface_address", "interface_addresses", "is_loopback", "local_address_problem"]

ARPHRD_LOOPBACK = 772
_SIOCGIFADDR = 0x8915


class InterfaceError(ValueError):
    """An interface that does not exist, or has no address the harness can use."""


def is_loopback(name: str) -> bool:
    """Whether ``name`` is a loopback interface (its link type; ``lo`` when sysfs cannot tell)."""
    try:
        return Path(f"/sys/class/net/{name}/type").read_text().strip() == str(ARPHRD_LOOPBACK)
    except OSError:
        return name == "lo"


def _names() -> list[str]:
    return [name for _, name in socket.if_nameindex()]


def _check_exists(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        raise InterfaceError(f"{name!r} is not an interface name")
    try:
        socket.if_nametoindex(name)
    except OSError:
        raise InterfaceError(f"this host has no interface {name!r} (it has: {', '.join(_names()) or 'none'})") from None


def _from_iproute(name: str) -> list[str] | None:
    """The addresses ``ip -json addr show dev NAME`` lists, None when iproute2 cannot say."""
    try:
        done = subprocess.run(["ip", "-json", "addr", "show", "dev", name], capture_output=True, text=True,
                              timeout=5, stdin=subprocess.DEVNULL)
        links = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if not isinstance(links, list):
        return None
    return [str(info.get("local")) for link in links for info in link.get("addr_info", [])
            if info.get("family") in ("inet", "inet6") and info.get("local")]


def _primary_ipv4(name: str) -> list[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return []
    return [socket.inet_ntoa(packed[20:24])]


def interface_addresses(name: str) -> list[str]:
    """Every usable address of interface ``name``: IPv4 first, then IPv6 (not link-local), each in the
    order the kernel lists them; InterfaceError when there is no such interface."""
    _check_exists(name)
    found = _from_iproute(name)
    if found is None:
        found = _primary_ipv4(name)
    ips = [ipaddress.ip_address(a) for a in found]
    v4 = [str(ip) for ip in ips if ip.version == 4]
    v6 = [str(ip) for ip in ips if ip.version == 6 and not ip.is_link_local]
    return v4 + v6


def interface_address(name: str) -> str:
    """The address the harness's roles take on ``name``: its first IPv4 address, else its first IPv6
    (not link-local); InterfaceError saying why there is none."""
    addresses = interface_addresses(name)
    if not addresses:
        raise InterfaceError(f"interface {name!r} has no IPv4 address and no IPv6 address other than link-local: "
                             f"give it one (e.g. `ip addr add 192.0.2.1/24 dev {name}`)")
    return addresses[0]


def local_address_problem(host: str) -> str | None:
    """None when this host can bind ``host`` (one of its addresses), else why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, 0))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"{host} is not an address of this host (no interface has it)"
            return f"cannot bind {host}: {exc.strerror or exc}"
    return None
