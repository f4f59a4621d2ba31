"""What one conformance run shares across its scenarios: the output folder, the event loop the servers and
simulators run on, the port plan and the long-lived decoder.

behave's `-D` user data configures it (`trunkcheck run` sets them; a plain `behave` run gets defaults):

    run_dir=captures/20261126-074512     where pcaps, ladders and per-scenario results go
    faults=no-early-media,status-rewrite  TEST ONLY: a deliberately broken reference server (trunkcheck run
                                          puts reference_server.faults.InjectedFaults here, typed)
    decode=stream|file                    one long-lived tshark (default) or a tshark per scenario
    equipment=examples/equipment/x.toml   equipment under test (harness.equipment); the run's start-up
                                          (pre-flight, starting its process) is trunkcheck run's job
    dns=127.0.0.1:5353                    the DNS server locating the equipment file's names (trunkcheck
                                          run --dns; default: the file's dns key, else the system's)
    interface=eth1                        capture there instead of on loopback
    capture=raw|sockets|auto              a packet socket, or trunkcheck's own sockets (no CAP_NET_RAW needed)
    destination=simulator|sipp            who plays the destination
    response_timeout=3                    seconds equipment under test may stay silent before a scenario fails
    worker=w1                             this process is worker 1 of a --jobs run: what it makes for the
                                          whole run goes to a folder of its own (Session.own_folder)
    decoder                               a worker of a --jobs run decodes with the run's tshark: its
                                          harness.capture.decode_relay.RemoteDecoder (typed, by the worker)
    stems                                 behave location -> file stem in run_dir, planned by the run when
                                          its workers share run_dir (harness.jobs; typed, by trunkcheck run)
    roles                                 where the harness's roles live (trunkcheck run puts the run's
                                          harness.topology.RoleAddresses here, typed; a plain behave run
                                          takes $TRUNKCHECK_LOOPBACK, else 127.0.0.0)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.capture.decode_relay import RemoteDecoder
from harness.capture.decode_stream import StreamDecoder
from harness.equipment import Equipment, load_equipment
from harness.settings import DECODE_MODES, DESTINATIONS, RESPONSE_TIMEOUT, new_run_id
from harness.suite.equipment_setup import plan_for, sip_ports
from harness.suite.loop import LoopThread
from harness.suite_root import default_output
from harness.topology import LOOPBACK_ROLES, SIP_PORT_RANGE, Addr, PortPlan, RoleAddresses
from reference_server.faults import NO_FAULTS, InjectedFaults
from sipcore.locate import LocateError, parse_nameserver

__all__ = ["RunOptions", "Session", "slug"]



def slug(text: str, limit: int = 80) -> str:
    """A file name from a feature or scenario name: lower case, [a-z0-9-] only."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (out[:limit].rstrip("-") or "unnamed")


@dataclass(frozen=True)
class RunOptions:
    run_dir: Path
    faults: InjectedFaults = NO_FAULTS
    trunk: Addr | None = None  # external equipment under test; None: the embedded reference server
    decode: str = "stream"
    equipment: Path | None = None  # an equipment file: the equipment under test takes its role
    interface: str = "lo"
    destination: str = "simulator"
    response_timeout: float = RESPONSE_TIMEOUT
    roles: RoleAddresses = LOOPBACK_ROLES
    capture: str = "auto"  # raw, sockets (trunkcheck's own: harness.capture.socket_capture), auto
    dns: tuple[str, int] | None = None  # locates the equipment file's names, in place of its dns key
    stems: Mapping[str, str] = field(default_factory=dict, hash=False)  # behave location -> file stem (harness.jobs)
    worker: str = ""  # "w1": this process is worker 1 of a --jobs run sharing run_dir (harness.suite.jobs)
    decoder: RemoteDecoder | None = field(default=None, hash=False, compare=False)  # the run's (harness.suite.jobs)

    @classmethod
    def from_userdata(cls, userdata: Mapping[str, Any]) -> RunOptions:
        """The options behave's user data gives; ValueError saying which is wrong."""
        run_dir = userdata.get("run_dir") or str(default_output() / f"behave-{new_run_id()}")
        faults = userdata.get("faults") or NO_FAULTS
        if isinstance(faults, str):  # a plain `behave -D faults=...`
            faults = InjectedFaults.parse(f for f in faults.split(",") if f.strip())
        trunk = None
        if userdata.get("trunk"):
            host, _, port = userdata["trunk"].rpartition(":")
            trunk = (host, int(port))
        decode = userdata.get("decode") or "stream"
        if decode not in DECODE_MODES:
            raise ValueError(f"decode={decode!r}: use one of {', '.join(DECODE_MODES)}")
        destination = userdata.get("destination") or "simulator"
        if destination not in DESTINATIONS:
            raise ValueError(f"destination={destination!r}: use one of {', '.join(DESTINATIONS)}")
        equipment = Path(userdata["equipment"]) if userdata.get("equipment") else None
        roles = userdata.get("roles")
        if not isinstance(roles, RoleAddresses):  # a plain `behave` run
            roles = RoleAddresses.from_environment()
        try:
            dns = parse_nameserver(userdata["dns"]) if userdata.get("dns") else None
        except LocateError as exc:
            raise ValueError(f"dns={userdata['dns']!r}: {exc}") from None
        stems = userdata.get("stems")
        return cls(Path(run_dir), faults, trunk, decode, equipment, userdata.get("interface") or "lo",
                   destination, float(userdata.get("response_timeout") or RESPONSE_TIMEOUT), roles,
                   userdata.get("capture") or "auto", dns, dict(stems) if isinstance(stems, Mapping) else {},
                   str(userdata.get("worker") or ""),
                   decoder if isinstance(decoder := userdata.get("decoder"), RemoteDecoder) else None)


@dataclass
class Session:
    options: RunOptions
    loop: LoopThread = field(default_factory=LoopThread)
    plan: PortPlan = field(init=False)
    decoder: StreamDecoder | RemoteDecoder = field(init=False)
    equipment: Equipment | None = None
    _stems: set[Path] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.options.equipment is not None and self.equipment is None:
            self.equipment = load_equipment(self.options.equipment, dns=self.options.dns)
        extra: list[int] = []
        if self.equipment is not None:
            self.plan, extra = plan_for(self.equipment, self.options.roles), sip_ports(self.equipment)
        else:
            self.plan = PortPlan(trunk=self.options.trunk, roles=self.options.roles)
        if self.options.decoder is not None:  # a worker of a --jobs run: the run's tshark
            self.decoder = self.options.decoder
        else:
            self.decoder = StreamDecoder(sip_ports=[SIP_PORT_RANGE, *sorted(set(extra))])
            if self.options.decode == "stream":
                self.decoder.warm_up()
        self.options.run_dir.mkdir(parents=True, exist_ok=True)

    @property
    def run_dir(self) -> Path:
        return self.options.run_dir

    def own_folder(self, name: str) -> Path:
        """``run_dir/<name>``: a folder for what this process makes for the whole run (the TLS CA ...); a
        worker of a --jobs run gets ``run_dir/<name>/<worker>``, as the workers share run_dir."""
        folder = self.run_dir / name
        return folder / self.options.worker if self.options.worker else folder

    def artifact_stem(self, feature: str, scenario: str, location: str = "") -> Path:
        """`run_dir/<feature>/<scenario>` (without suffix), unique within the run; where the run's workers
        share the folder (harness.jobs), the stem the run planned for the scenario at ``location``."""
        planned = self.options.stems.get(location)
        if planned is not None:
            stem = self.run_dir / planned
            stem.parent.mkdir(parents=True, exist_ok=True)
            return stem
        base = self.run_dir / slug(feature, 60) / slug(scenario)
        stem, n = base, 2
        while stem in self._stems:
            stem = base.with_name(f"{base.name}-{n}")
            n += 1
        self._stems.add(stem)
        stem.parent.mkdir(parents=True, exist_ok=True)
        return stem

    def close(self) -> None:
        self.decoder.close()
        self.loop.close()
