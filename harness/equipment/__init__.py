"""The equipment under test: SIP equipment described the way an ETSI PIXIT describes an implementation
(role, address, domain and credentials, features claimed), in an equipment file (TOML).

    eq = load_equipment("examples/equipment/kamailio-trunk.toml")   # EquipmentError: FILE:LINE: key: problem
    ok, why = applicable({"early-media"}, eq)                       # scenarios for unclaimed features: N/A
    preflight(eq)                                                   # before any scenario traffic

- :mod:`~harness.equipment.model`: what the file describes (:class:`Equipment` and its parts);
- :mod:`~harness.equipment.loader`: reading the file, every mistake naming its file and line;
- :mod:`~harness.equipment.checks`: which scenarios apply (:func:`applicable`) and what only the network
  can tell before any scenario traffic (:func:`preflight`: the equipment's address answers, the addresses
  the harness must listen on are free).

How equipment takes its place in a run (addresses, starting it) is the suite's part:
:mod:`harness.suite.equipment_setup`.
"""

from __future__ import annotations

from harness.equipment.checks import PingResult, applicable, preflight, sip_ping
from harness.equipment.loader import load_equipment, parse_equipment
from harness.equipment.model import (
    ADAPTERS,
    FEATURE_ALIASES,
    FEATURES,
    REFERENCE_ONLY_TAG,
    ROLES,
    Equipment,
    EquipmentError,
    Extension,
    ImageSpec,
    ProcessSpec,
    SipAddress,
    TrunkAccount,
    expand_features,
    parse_address,
)

__all__ = [
    "ADAPTERS", "FEATURES", "FEATURE_ALIASES", "REFERENCE_ONLY_TAG", "ROLES", "Equipment", "EquipmentError",
    "Extension", "ImageSpec", "PingResult", "ProcessSpec", "SipAddress", "TrunkAccount", "applicable",
    "expand_features", "load_equipment", "parse_address", "parse_equipment", "preflight", "sip_ping",
]
