"""The settings of one conformance run (`trunkcheck run`'s options, typed) and the conditions of the run
that differ from trunkcheck's defaults, stated in every report of the run: the console summary,
report.html, the JUnit properties and the validation report. A verdict means little without them: a run
narrowed by --tags or --features is not the whole suite, a run with a test fault is not a test of any trunk.

    settings = RunSettings(tags=("not @wip",))      # harness.cli.run maps the command line to it, once
    for line in console_lines(settings.conditions): print(line)

Each condition is the option as it was given, its value and what it changed, written from the run's
settings when each report is generated. The defaults live here too: where the suite is (REPO, FEATURES),
the decode modes, the destinations and the response timeout.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.suite_root import default_output, suite_root
from harness.topology import LOOPBACK_ROLES, RoleAddresses
from reference_server.faults import NO_FAULTS, Fault, InjectedFaults
from sipcore.transport_address import bracketed

__all__ = ["CAPTURE_MODES", "DECODE_MODES", "DEFAULTS_TEXT", "DESTINATIONS", "FEATURES", "REPO", "RESPONSE_TIMEOUT",
           "Condition", "RunSettings", "console_lines", "display_path", "dns_text", "free_run_id", "is_test_only",
           "junit_properties", "narrowed", "new_run_id", "run_conditions"]

REPO = suite_root()  # features/, steps/, spec/: the checkout, $TRUNKCHECK_SUITE or the installed trunkcheck_suite
FEATURES = REPO / "features"
DECODE_MODES = ("stream", "file")
DESTINATIONS = ("simulator", "sipp")
CAPTURE_MODES = ("auto", "raw", "sockets")
SOCKETS_MEANING = ("captured from trunkcheck's own sockets, not a raw socket (no CAP_NET_RAW): the pcaps hold "
                   "what trunkcheck's UAs, destination, carrier and embedded reference trunk sent and received, "
                   "and cannot show packets that never reached those sockets (between equipment under test and "
                   "a peer that is not trunkcheck) nor SIP over TCP (needs raw capture)")
RESPONSE_TIMEOUT = 3.0
DEFAULTS_TEXT = (f"every option at its default (every feature file, no tag filter, trunkcheck's simulator as the "
                 f"destination, capture on lo, {RESPONSE_TIMEOUT:g} s response timeout, local topology)")


def new_run_id() -> str:
    """A run's id, when it started: ``20261126-074512``."""
    return time.strftime("%Y%m%d-%H%M%S")


def free_run_id(output: Path, run_id: str) -> str:
    """``run_id``, else ``run_id-2``, ``run_id-3`` ...: the first whose folder in ``output`` is absent or empty
    (two runs started in the same second, or a run id given twice, never mix their results)."""
    free, n = run_id, 2
    while (output / free).exists() and any((output / free).iterdir()):
        free, n = f"{run_id}-{n}", n + 1
    return free


def display_path(path: Path, base: Path | None = None) -> str:
    """``path`` as a message shows it: relative to ``base`` (the working directory) when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd() if base is None else base))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class RunSettings:
    run_id: str = field(default_factory=new_run_id)
    features: tuple[Path, ...] = (FEATURES,)
    tags: tuple[str, ...] = ()
    output: Path = field(default_factory=default_output)  # captures/: the checkout's, else the current directory's
    verbose: bool = False
    faults: InjectedFaults = NO_FAULTS  # test only: a deliberately broken reference server
    decode: str = "stream"
    equipment: Path | None = None  # an equipment file: run the scenarios that apply against it
    interface: str = "lo"  # where to capture; not loopback: where the harness's roles live too (`roles`)
    capture: str = "auto"  # raw (a packet socket), sockets (trunkcheck's own), auto: raw when permitted
    destination: str = "simulator"  # or "sipp": SIPp plays the destination
    response_timeout: float = RESPONSE_TIMEOUT
    topology: str = "local"  # "docker": this run is the harness container's, in the docker topology
    roles: RoleAddresses = LOOPBACK_ROLES  # where the harness's roles live (--loopback, the docker network)
    dns: tuple[str, int] | None = None  # --dns: locates the equipment file's names (else its dns key)
    jobs: int = 1  # --jobs: scenarios run by this many worker processes at once (harness.jobs)
    shard: tuple[int, int] | None = None  # --shard I/N: (I, N), only the I-th of N slices of the suite
    defines: tuple[tuple[str, str], ...] = ()  # -D NAME=VALUE: scenario durations (harness.suite.durations)

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """The options that differ from the defaults, as every report states them."""
        return run_conditions(self)


@dataclass(frozen=True)
class Condition:
    option: str  # as on the command line: "--tags"
    value: str
    meaning: str
    test_only: bool = False  # a test fault: the verdicts test the suite itself, not any trunk

    @property
    def name(self) -> str:
        """The option without its dashes (``tags``): a JUnit property's name."""
        return self.option.lstrip("-")

    def __str__(self) -> str:
        return f"{self.option} {shlex.quote(self.value)}"


def run_conditions(settings: RunSettings) -> tuple[Condition, ...]:
    """Every option of ``settings`` that differs from its default, in the order of the command line's help
    (the output folder, run id and verbosity change nothing about the verdicts and are left out)."""
    out: list[Condition] = []
    for name in settings.faults.names():
        out.append(Condition("--fault", name, f"TEST ONLY: trunkcheck's reference trunk broken on purpose "
                             f"({Fault(name).effect}); the verdicts test the suite, not any trunk", test_only=True))
    if settings.equipment is not None:
        out.append(Condition("--equipment", display_path(settings.equipment, REPO),
                             "the equipment this file describes took its role in place of trunkcheck's own"))
    if settings.dns is not None:
        out.append(Condition("--dns", dns_text(settings.dns), "this DNS server located the addresses the equipment "
                             "file gives by name (RFC 3263), in place of the file's dns key or the system's resolver"))
    if settings.topology != "local":
        out.append(Condition("--topology", settings.topology, "the trunk in a container of its own, the "
                             "harness's roles in another, on a Docker network between them"))
    if settings.features != (FEATURES,):
        for path in settings.features:
            out.append(Condition("--features", display_path(path, REPO), "only this feature file or folder ran (default: "
                                 "every feature in features/)"))
    for expr in settings.tags:
        out.append(Condition("--tags", expr, "only the scenarios matching this tag expression ran (default: all)"))
    if settings.shard is not None:
        index, count = settings.shard
        out.append(Condition("--shard", f"{index}/{count}", f"only shard {index} of {count} ran (the suite's "
                             f"scenarios in order, dealt out round-robin); trunkcheck merge joins the shards' reports"))
    if settings.destination != "simulator":
        who = "SIPp's UAS scenarios" if settings.destination == "sipp" else settings.destination
        out.append(Condition("--destination", settings.destination, f"{who} played the destination (default: "
                             "trunkcheck's simulator)"))
    if settings.capture == "sockets":
        out.append(Condition("--capture", "sockets", SOCKETS_MEANING))
    if settings.interface != "lo":
        ips = set(settings.roles.values())
        where = f"the harness's roles on {ips.pop()}, " if len(ips) == 1 and settings.topology == "local" else ""
        out.append(Condition("--interface", settings.interface, f"{where}captured on {settings.interface} "
                             "(default: loopback)"))
    if settings.response_timeout != RESPONSE_TIMEOUT:
        out.append(Condition("--response-timeout", f"{settings.response_timeout:g}",
                             f"equipment under test could leave a request unanswered {settings.response_timeout:g} s "
                             f"before its scenario failed (default {RESPONSE_TIMEOUT:g} s)"))
    for name, value in settings.defines:
        out.append(Condition("-D", f"{name}={value}", f"{name} set to {value} s (default: the short value for CI)"))
    if settings.decode != "stream":
        out.append(Condition("--decode", settings.decode, "a tshark per scenario decoded the captures (default: "
                             "one long-lived tshark for the run)"))
    return tuple(out)


def dns_text(server: tuple[str, int]) -> str:
    """``127.0.0.1:5353``, ``[::1]:53``: a DNS server as --dns takes it."""
    return f"{bracketed(server[0])}:{server[1]}"


def narrowed(conditions: Sequence[Condition]) -> bool:
    """Whether only part of the suite was selected (--features, --tags, --shard)."""
    return any(c.option in ("--features", "--tags", "--shard") for c in conditions)


def is_test_only(conditions: Sequence[Condition]) -> bool:
    return any(c.test_only for c in conditions)


def console_lines(conditions: Sequence[Condition]) -> list[str]:
    """The lines the console summary starts with (none when every option is at its default)."""
    if not conditions:
        return []
    width = max(len(str(c)) for c in conditions)
    return (["trunkcheck: this run's conditions that differ from the defaults:"]
            + [f"  {str(c):<{width}}  {c.meaning}" for c in conditions])


def junit_properties(conditions: Sequence[Condition]) -> list[tuple[str, str]]:
    """``(name, value)`` per condition (a repeated option gives repeated names); ``trunkcheck.conditions=defaults``
    when there is none."""
    if not conditions:
        return [("trunkcheck.conditions", "defaults")]
    return [(f"trunkcheck.{c.name}", c.value) for c in conditions]
