"""The equipment file's ``[harness]`` table: where the harness's own roles are, as the equipment's
configuration names them (an SBC's destination or trusted peer is a fixed address:port).

    [harness]
    ua = "192.0.2.1:5062"            # the harness's UA sends from here (and listens here)
    carrier = "192.0.2.1"            # an IP alone: the scenario's own port on it
    destination = "192.0.2.1:5080"   # role trunk: where the trunk sends its calls (= equipment.trunk.destination)
    destination2 = "192.0.2.1:5082"  # role trunk: its second destination (claim destination-failover)

Keys: ``ua``, ``ua2``, ``carrier``, ``destination``, ``destination2``, and ``trunk`` (role "ua": the harness's trunk, =
``equipment.trunk.proxy``); the equipment's own role is not the harness's to place. Values are ``IP`` or
``IP:PORT`` (IPv6 in brackets; an IP alone: port 5060 for ``destination``, ``destination2`` and ``trunk``, where the
equipment sends, the scenario's own port for the others), an IP of this host (checked before any traffic: harness.equipment.checks),
never a port of the harness's own ranges (harness.suite.equipment_setup.check_usable). Read by the loader (harness.equipment.loader), which checks them
against the rest of the file (:func:`check_harness_table`).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from reference_server.tomlfile import KeyPath, TableReader
from sipcore.transport_address import AddressError, bracketed, split_transport_address

__all__ = ["HARNESS_KEYS", "check_harness_table", "read_harness_table"]

HARNESS_KEYS = {"ua": "UA", "ua2": "UA2", "carrier": "Carrier", "destination": "Destination",
                "destination2": "Destination2", "trunk": "VoIPBin"}
"""``[harness]`` key -> the role it places (harness.topology's names)."""
_PATH: KeyPath = ("harness",)
_LISTENERS = ("destination", "destination2", "trunk")  # the equipment sends to them: an IP alone means port 5060


def _text(addr: tuple[str, int]) -> str:
    return f"{bracketed(addr[0])}:{addr[1]}" if addr[1] else addr[0]


def read_harness_table(reader: TableReader, data: dict[str, Any], role: str) -> dict[str, tuple[str, int]]:
    """``[harness]`` key -> (IP, port; 0: the scenario's own port), each checked on its own and against
    the others (two roles on one ip:port); none when the file has no such table."""
    if "harness" not in data:
        return {}
    tbl = reader.table(data["harness"], _PATH, HARNESS_KEYS)
    out: dict[str, tuple[str, int]] = {}
    for key in tbl:
        if key == role:
            where = "equipment.trunk.proxy" if role == "ua" else "equipment.address"
            raise reader.error((*_PATH, key), f"the equipment under test plays the {role}: its address is "
                               f"equipment.address, not the harness's (the harness's {'trunk' if role == 'ua' else 'UA'} "
                               f"is {'harness.trunk or ' + where if role == 'ua' else 'harness.ua'})")
        text = reader.get(tbl, _PATH, key, str)
        try:
            transport, host, port = split_transport_address(text)
        except AddressError as exc:
            raise reader.error((*_PATH, key), f"{exc}; give IP or IP:PORT (IPv6 in brackets)") from None
        if transport is not None:
            raise reader.error((*_PATH, key), f"{json.dumps(text)}: give IP or IP:PORT without a transport: the "
                               "harness's roles use each scenario's transport (UDP, or TCP for the TCP scenarios)")
        host = str(ipaddress.ip_address(host))
        addr = (host, port or (5060 if key in _LISTENERS else 0))
        for other, taken in out.items():
            if addr[1] and taken == addr:
                raise reader.error((*_PATH, key), f"{_text(addr)} is also harness.{other}: two roles cannot share "
                                   "one ip:port; give each a port of its own")
        out[key] = addr
    return out


def check_harness_table(reader: TableReader, harness: dict[str, tuple[str, int]], *, role: str,
                        address: tuple[str, int], listen: tuple[str, int] | None,
                        trusted_peers: tuple[str, ...]) -> None:
    """``[harness]`` against the rest of the file: no role on the equipment's own ip:port; ``destination``
    (role trunk) or ``trunk`` (role ua) where ``listen`` says (equipment.trunk.destination / proxy, when the
    file gives it); the carrier among the trusted peers when there are any (else its calls are challenged)."""
    for key, addr in harness.items():
        if addr == address:
            raise reader.error((*_PATH, key), f"{_text(addr)} is the equipment's own address (equipment.address): "
                               "two roles cannot share one ip:port")
    key = "destination" if role == "trunk" else "trunk"
    other = "destination" if role == "trunk" else "proxy"
    if key in harness and listen is not None and harness[key] != listen:
        raise reader.error((*_PATH, key), f"{_text(harness[key])} differs from equipment.trunk.{other} "
                           f"({_text(listen)}, line {reader.loc.locate(('equipment', 'trunk', other))}): the "
                           f"harness's {'destination' if role == 'trunk' else 'trunk'} listens where the equipment "
                           f"sends; give one of them, or the same address in both")
    if "carrier" in harness and trusted_peers:
        ip = ipaddress.ip_address(harness["carrier"][0])
        if not any(ip in ipaddress.ip_network(net) for net in trusted_peers):
            raise reader.error((*_PATH, "carrier"), f"{ip} is not among equipment.registrar.trusted_peers "
                               f"({', '.join(trusted_peers)}): the carrier's calls to extensions would be challenged")
