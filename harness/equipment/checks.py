"""Checks of the equipment under test: which scenarios apply to it (:func:`applicable`), and what only the
network can tell before any scenario traffic (:func:`preflight`: the equipment's address answers, the
addresses the harness must listen on are free). Importable from :mod:`harness.equipment` too."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.equipment.model import (
    FEATURES,
    REFERENCE_ONLY_TAG,
    Equipment,
    EquipmentError,
    SipAddress,
    expand_features,
)
from harness.equipment.netif import local_address_problem
from sipcore.transport_address import bracketed

__all__ = ["PingResult", "applicable", "preflight", "sip_ping"]


# --- which scenarios apply --------------------------------------------------------------------------

def applicable(scenario_tags: Iterable[str], equipment: Equipment | None) -> tuple[bool, str]:
    """Whether a scenario with these tags (``@`` optional) runs against ``equipment`` (None: the embedded
    reference server, which implements everything), and why. A feature tag (``@early-media`` ...) needs
    the feature claimed; ``@role-trunk`` / ``@role-ua`` need that role; ``@reference-only`` never runs
    against equipment. Other tags (``@wip`` ...) do not matter."""
    tags = set(expand_features(t.lstrip("@").strip().lower() for t in scenario_tags))
    if equipment is None:
        return True, "the embedded reference server implements every feature"
    who = f"{equipment.name} ({equipment.role})"
    if REFERENCE_ONLY_TAG in tags:
        return False, "not applicable: the scenario reconfigures the trunk as it runs (reference server only)"
    roles = {t.removeprefix("role-") for t in tags if t.startswith("role-")}
    if roles and equipment.role not in roles:
        return False, f"not applicable: the scenario needs equipment in role {' or '.join(sorted(roles))}, {who} " \
                      f"plays {equipment.role}"
    needed = sorted(tags & set(FEATURES))
    missing = [f for f in needed if f not in equipment.features]
    if missing:
        claimed = ", ".join(sorted(equipment.features)) or "none"
        return False, f"not applicable: {who} does not claim {', '.join(missing)} (claims: {claimed})"
    return True, f"{who} claims {', '.join(needed)}" if needed else "no feature is needed beyond the basics"


# --- checks on the network, before any scenario traffic ---------------------------------------------

@dataclass(frozen=True)
class PingResult:
    answered: bool
    status: int | None  # the SIP status of the answer (UDP), None for TCP or no answer
    detail: str


def sip_ping(addr: tuple[str, int], transport: str = "udp", *, timeout: float = 2.0) -> PingResult:
    """UDP: send an OPTIONS (again after 0.5 s, then every 1 s) and wait up to ``timeout`` for any SIP
    response; TCP: connect within ``timeout``. Never raises for a network outcome."""
    host, port = addr
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if transport.lower() == "tcp":
        deadline = time.monotonic() + timeout
        while True:  # a refusal is retried: equipment just started may bind its TCP listener after UDP
            try:
                with socket.create_connection((host, port), timeout=max(0.1, deadline - time.monotonic())):
                    return PingResult(True, None, "accepted a TCP connection")
            except ConnectionRefusedError as exc:
                if time.monotonic() + 0.1 >= deadline:
                    return PingResult(False, None, f"TCP connection failed: {exc.strerror or exc}")
                time.sleep(0.1)
            except OSError as exc:
                return PingResult(False, None, f"TCP connection failed: {exc.strerror or exc}")
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((host, port))
            local_host, local_port = sock.getsockname()[:2]
            call_id = secrets.token_hex(8)
            lhost = f"[{local_host}]" if ":" in local_host else local_host
            rhost = f"[{host}]" if ":" in host else host
            message = (f"OPTIONS sip:{rhost}:{port} SIP/2.0\r\n"
                       f"Via: SIP/2.0/UDP {lhost}:{local_port};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
                       f"Max-Forwards: 70\r\nFrom: <sip:trunkcheck@{lhost}>;tag={secrets.token_hex(4)}\r\n"
                       f"To: <sip:{rhost}:{port}>\r\nCall-ID: {call_id}@trunkcheck\r\nCSeq: 1 OPTIONS\r\n"
                       "Accept: application/sdp\r\nContent-Length: 0\r\n\r\n").encode()
            deadline, next_send, interval = time.monotonic() + timeout, 0.0, 0.5
            while (now := time.monotonic()) < deadline:
                if now >= next_send:
                    sock.send(message)
                    next_send, interval = now + interval, 1.0
                sock.settimeout(max(0.001, min(deadline, next_send) - now))
                try:
                    data = sock.recv(65535)
                except TimeoutError:
                    continue
                m = re.match(rb"SIP/2\.0 (\d{3})", data)
                if m and call_id.encode() in data:
                    return PingResult(True, int(m.group(1)), f"answered the OPTIONS with {m.group(1).decode()}")
        except ConnectionRefusedError:
            return PingResult(False, None, "refused (ICMP port unreachable: nothing listens there)")
        except OSError as exc:
            return PingResult(False, None, f"cannot be reached: {exc.strerror or exc}")
    return PingResult(False, None, f"did not answer an OPTIONS within {timeout:g} s")


def _bindable(addr: SipAddress) -> str | None:
    """None when the harness can listen on ``addr``, else why not."""
    family = socket.AF_INET6 if ":" in addr.host else socket.AF_INET
    kind = socket.SOCK_STREAM if addr.transport == "tcp" else socket.SOCK_DGRAM
    with socket.socket(family, kind) as sock:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr.addr)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def preflight(equipment: Equipment, *, timeout: float = 2.0, started: bool = False) -> None:
    """Refuse, before any scenario traffic, equipment that cannot be tested as described (EquipmentError
    naming the line): an address that does not answer, a TCP claim without a TCP listener, a destination
    or UA address the harness cannot listen on, a process command that is not installed. With an
    ``[equipment.process]`` call it once before starting it (checks the command; ``started=False``) and
    once after (``started=True``)."""
    eq = equipment
    if eq.process is not None and not started:
        program = eq.process.command[0]
        path = program if os.sep in program else None
        found = (Path(eq.process.cwd, program).exists() if path else
                 shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/local/sbin:/sbin"))
        if not found:
            raise EquipmentError(f"{eq.where('equipment.process.command')}: {program!r} is not installed "
                                 "(not on PATH or in an sbin directory)", filename=eq.source)
    assert eq.trunk is not None
    for key, (host, port) in eq.harness.items():
        why = local_address_problem(host) or (_bindable(SipAddress("udp", host, port)) if port else None)
        if why:
            raise EquipmentError(f"{eq.where('harness.' + key)}: the harness's {key} must be at "
                                 f"{bracketed(host)}{f':{port}' if port else ''}, but {why}", filename=eq.source)
    for key, listen in (("destination", eq.trunk.destination), ("proxy", eq.trunk.proxy)):
        why = _bindable(listen) if listen is not None else None
        if why:
            what = "destination" if key == "destination" else "trunk"
            raise EquipmentError(f"{eq.where('equipment.trunk.' + key)}: the harness's {what} must listen on "
                                 f"{listen}, but it cannot: {why}", filename=eq.source)
    harness_drives = eq.role == "ua" and eq.adapter in ("sipp", "baresip")
    if harness_drives:
        why = _bindable(eq.address)
        if why:
            raise EquipmentError(f"{eq.where('equipment.address')}: the harness starts {eq.adapter} on "
                                 f"{eq.address}, but it cannot listen there: {why}", filename=eq.source)
        return
    if (eq.process is not None or eq.image is not None) and not started:
        return  # the harness starts it: pinged once it is up
    result = sip_ping(eq.address.addr, eq.address.transport, timeout=timeout)
    if not result.answered:
        raise EquipmentError(f"{eq.where('equipment.address')}: {eq.address} {result.detail}; is the equipment "
                             "running there?", filename=eq.source)
    if eq.claims("tcp") and eq.address.transport != "tcp":
        tcp = sip_ping(eq.address.addr, "tcp", timeout=timeout)
        if not tcp.answered:
            raise EquipmentError(f"{eq.where('equipment.features')}: claims tcp, but tcp:{eq.address.host}:"
                                 f"{eq.address.port}: {tcp.detail}", filename=eq.source)
