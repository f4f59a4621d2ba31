"""Independent SIP implementations the harness runs as peers or as equipment under test, and the child
processes it starts: each module drives one program and bounds every wait.

- SIPp: :mod:`~harness.adapters.sipp` (a run: command line, presets for the shipped scenarios in
  ``sipp_scenarios/``), :mod:`~harness.adapters.sipp_process` (the running process),
  :mod:`~harness.adapters.sipp_stats` and :mod:`~harness.adapters.sipp_rows` (what it wrote),
  :mod:`~harness.adapters.sipp_destination` (SIPp as a scenario's destination);
- baresip: :mod:`~harness.adapters.baresip`;
- Kamailio and any equipment command: :mod:`~harness.adapters.kamailio`; the reference server as a child
  process: :mod:`~harness.adapters.server_process`; their shared lifecycle: :mod:`~harness.adapters.process`;
- dnsmasq, a DNS server for the scenarios that locate the trunk through DNS: :mod:`~harness.adapters.dnsmasq`;
- the UA under test: :mod:`~harness.adapters.ua_driver` picks the driver for an equipment file (SIPp,
  baresip or a person), all of them a :class:`UaDriver` (:mod:`~harness.adapters.ua_driver_base`).
"""

from __future__ import annotations

from harness.adapters.baresip import Baresip, BaresipAccount, BaresipError
from harness.adapters.kamailio import EquipmentStartError, KamailioProcess, SipProcess
from harness.adapters.server_process import ReferenceServerProcess, ServerStartError
from harness.adapters.sipp import SippError, SippNotFound, SippProcess, SippResult, SippRun
from harness.adapters.sipp_destination import SippDestination
from harness.adapters.ua_driver import DriverOutcome, ManualDriver, UaDriver, adapter_missing, make_driver

__all__ = [
    "Baresip",
    "BaresipAccount",
    "BaresipError",
    "DriverOutcome",
    "EquipmentStartError",
    "KamailioProcess",
    "ManualDriver",
    "ReferenceServerProcess",
    "ServerStartError",
    "SipProcess",
    "SippDestination",
    "SippError",
    "SippNotFound",
    "SippProcess",
    "SippResult",
    "SippRun",
    "UaDriver",
    "adapter_missing",
    "make_driver",
]
