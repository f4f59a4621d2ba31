"""`trunkcheck run`: the conformance suite against the embedded reference server.

    trunkcheck run                               every feature; output in captures/<timestamp>/
    trunkcheck run --tags '@wip'                 behave tag expression
    trunkcheck run --features features/early_media.feature --run-id ci-42 -v
    trunkcheck run --equipment examples/equipment/kamailio-trunk.toml   equipment under test
    trunkcheck run --equipment my-sbc.toml --interface eth1              equipment on another host: every
                                                                         role on eth1's address, captured there
    trunkcheck run --equipment by-name.toml --dns 192.0.2.53             its names located by that DNS server
    trunkcheck run --topology docker --image trunkcheck                   every role a container of its own
    trunkcheck run --equipment vendor-sbc-image.toml                     [equipment.image]: docker topology
    trunkcheck run --loopback 127.42.0.0                                 roles on 127.42.0.10, .11, .12, .20, .30
    trunkcheck run --jobs 4                                              4 worker processes, one run folder
    trunkcheck run --shard 2/4 --run-id ci-2                             a CI matrix job: every 4th scenario

Exit status: 0 when every selected scenario that applies passed, 1 when one failed (or none was selected
or applied), 2 when the run could not start (no permission to capture, bad arguments, an equipment file
with a mistake, equipment that does not answer or does not start): nothing was sent then.

The hidden `--fault NAME` (reference_server.faults) breaks the embedded reference trunk on purpose, to see
the suite catch it: a test of the suite itself, refused with --equipment (a validation run) and stated as
TEST ONLY in every report. Every report states the options that differ from the defaults.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from harness.docker.topology import add_cli_arguments, run_from_cli, wants_docker
from harness.equipment.netif import InterfaceError, interface_address, is_loopback
from harness.jobs.selection import parse_shard
from harness.settings import (
    CAPTURE_MODES,
    DECODE_MODES,
    DESTINATIONS,
    FEATURES,
    REPO,
    RESPONSE_TIMEOUT,
    RunSettings,
)
from harness.suite.durations import parse_define
from harness.suite.equipment_setup import ImageStarter
from harness.suite.runner import run_suite
from harness.topology import LOOPBACK_ENV, RoleAddresses
from reference_server.faults import Fault, InjectedFaults
from sipcore.locate import LocateError, parse_nameserver

__all__ = ["build_parser", "main", "settings_from"]


def _fault(name: str) -> Fault:
    try:
        return Fault(name)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown fault {name!r}; known: {', '.join(f.value for f in Fault)}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trunkcheck run",
        description="Run the conformance suite (behave features taken from the spec's ladders) against the "
        "embedded reference trunk; capture every scenario and assert it from tshark's decode.",
    )
    parser.add_argument("--features", type=Path, action="append", metavar="PATH",
                        help=f"feature file or folder (repeatable; default {FEATURES})")
    parser.add_argument("--tags", action="append", metavar="EXPR", default=[],
                        help="behave tag expression selecting scenarios, e.g. 'not @wip' (repeatable: AND)")
    parser.add_argument("--run-id", metavar="ID", help="name of the output folder (default: a timestamp)")
    parser.add_argument("--output", type=Path, default=None, metavar="DIR",
                        help="where run folders go (default: captures/ in the checkout; with trunkcheck installed from a "
                        "wheel, captures/ in the current directory)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print every scenario's notes (reason phrases differing from the spec ...)")
    parser.add_argument("--decode", choices=DECODE_MODES, default="stream",
                        help="stream: one long-lived tshark for the run (default); file: a tshark per scenario")
    parser.add_argument("--equipment", type=Path, metavar="FILE",
                        help="an equipment file (TOML, see examples/equipment/): run the scenarios that apply "
                        "against that equipment; the others are reported not applicable")
    parser.add_argument("--dns", metavar="IP[:PORT]",
                        help="the DNS server that locates the addresses the equipment file gives by host name or "
                        "sip: URI, as RFC 3263 says (NAPTR, SRV, A/AAAA), in place of the file's dns key "
                        "(default: that key, else the system's resolver; port 53)")
    parser.add_argument("--interface", default="lo", metavar="IFACE",
                        help="equipment on another host: the harness's roles (UA, second UA, carrier, destination) "
                        "take IFACE's address (IPv4, else IPv6), each on a port of its own, and the capture is on "
                        "IFACE; addresses the equipment file names ([harness], the trunk's destination) must be "
                        "IFACE's (default lo: the roles on loopback, see --loopback)")
    parser.add_argument("--capture", choices=CAPTURE_MODES, default="auto",
                        help="raw: a packet socket on --interface (root or CAP_NET_RAW); sockets: what trunkcheck's "
                        "own sockets send and receive (no privilege; blind to packets that never reach them, "
                        "UDP only); auto (default): raw when permitted, else sockets")
    parser.add_argument("--destination", choices=DESTINATIONS, default="simulator",
                        help="who plays the destination: the simulator (default) or SIPp's UAS scenarios")
    parser.add_argument("--response-timeout", type=float, default=RESPONSE_TIMEOUT, metavar="SECONDS",
                        help="how long equipment under test may leave a request without any answer before "
                        f"the scenario fails (default {RESPONSE_TIMEOUT:g})")
    # TEST ONLY, hence hidden: the embedded reference trunk broken on purpose, to see the suite fail
    parser.add_argument("-D", "--define", action="append", default=[], metavar="NAME=VALUE",
                        help="a scenario duration: session_interval=SECONDS (default 4; 90 for a trunk keeping "
                             "RFC 4028's floor), long_call_seconds=SECONDS (default 6)")
    parser.add_argument("--fault", action="append", type=_fault, default=[], help=argparse.SUPPRESS)
    parser.add_argument("--loopback", metavar="BASE",
                        help="the loopback /24 the harness's roles live in: UA BASE+10, second UA +11, carrier "
                        f"+12, trunk +20, destination +30 (default ${LOOPBACK_ENV}, else 127.0.0.0); lets runs "
                        "that share a machine keep apart by address")
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                        help="run the scenarios on N worker processes at once, each with its roles in a loopback /24 "
                        "of its own (the run's block, then the next ones: 127.0.1.x, 127.0.2.x ...); one run folder "
                        "with the reports of a sequential run (default 1: in this process; not with --equipment)")
    parser.add_argument("--shard", metavar="I/N",
                        help="run only shard I of N: the selected scenarios in the suite's order, dealt out "
                        "round-robin (the k-th, from 0, to shard k%%N+1); the N shards make up the run, and "
                        "`trunkcheck merge` joins their run folders")
    add_cli_arguments(parser)  # --topology, --image (harness.docker.topology)
    return parser


def main(argv: list[str] | None = None, *, container_roles: RoleAddresses | None = None,
         image_starter: ImageStarter | None = None) -> int:
    """`trunkcheck run ARGV`; the docker topology's harness container (harness.cli.container) gives the
    addresses of its roles and the starter of its ``[equipment.image]`` (the container the host started)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.fault and args.equipment:
        print("trunkcheck run: --fault cannot be combined with --equipment: a fault breaks trunkcheck's own "
              "reference trunk on purpose to test the suite itself, and a run against equipment validates that "
              "equipment (its validation report must not rest on a broken trunk). Leave out --fault.",
              file=sys.stderr)
        return 2
    if args.dns is not None and not args.equipment:
        print("trunkcheck run: --dns locates the addresses an equipment file gives by name: give --equipment "
              "too (the harness's own roles have IP addresses)", file=sys.stderr)
        return 2
    if args.shard is not None:
        try:
            parse_shard(args.shard)
        except ValueError as exc:
            print(f"trunkcheck run: {exc}", file=sys.stderr)
            return 2
    if container_roles is None and wants_docker(args):
        if args.jobs != 1:
            print("trunkcheck run: --jobs is for a local run: in the docker topology leave out --jobs",
                  file=sys.stderr)
            return 2
        if args.dns is not None:
            print("trunkcheck run: --dns is for a local run: in the docker topology the equipment's address is "
                  "an IP of the Docker network; leave out --dns", file=sys.stderr)
            return 2
        return run_from_cli(args, REPO, RunSettings().output)
    try:
        settings = settings_from(args, container_roles=container_roles)
    except ValueError as exc:
        print(f"trunkcheck run: {exc}", file=sys.stderr)
        return 2
    for path in settings.features:
        if not path.exists():
            print(f"trunkcheck run: {path}: no such feature file or folder", file=sys.stderr)
            return 2
    if not 0 < settings.response_timeout <= 60:
        print("trunkcheck run: --response-timeout: give 0 < SECONDS <= 60", file=sys.stderr)
        return 2
    return run_suite(settings, image_starter=image_starter).exit_code


def _local_roles(args: argparse.Namespace) -> RoleAddresses:
    """The roles on loopback (--loopback, $TRUNKCHECK_LOOPBACK), or on --interface's address when that is not
    a loopback interface: equipment on another host (ValueError saying why not)."""
    if is_loopback(args.interface):
        return RoleAddresses.from_environment(args.loopback)
    if args.loopback:
        raise ValueError(f"--loopback {args.loopback} and --interface {args.interface}: the harness's roles live on "
                         f"loopback or on {args.interface}'s address, not both; leave one out")
    if not args.equipment:
        raise ValueError(f"--interface {args.interface} without --equipment: the harness's UA, its reference trunk "
                         f"and destination would all be on this host, and their traffic never crosses "
                         f"{args.interface} (it goes over loopback); --interface is for equipment on another host")
    try:
        return RoleAddresses.at(interface_address(args.interface))
    except InterfaceError as exc:
        raise ValueError(f"--interface: {exc}") from None


def settings_from(args: argparse.Namespace, *, container_roles: RoleAddresses | None = None) -> RunSettings:
    """The run's settings from `trunkcheck run` ARGS, mapped once here: faults to their type, the roles to
    the loopback block of --loopback (else $TRUNKCHECK_LOOPBACK, else 127.0.0.0; ValueError naming which is
    wrong; --dns likewise), to the address of a --interface that is not loopback, or, in the docker
    topology's harness container, to ``container_roles`` (topology "docker")."""
    roles = container_roles if container_roles is not None else _local_roles(args)
    try:
        dns = parse_nameserver(args.dns) if args.dns is not None else None
    except LocateError as exc:
        raise ValueError(f"--dns: {exc}") from None
    defines = tuple(parse_define(text) for text in args.define)
    settings = RunSettings(
        features=tuple(p.resolve() for p in (args.features or [FEATURES])),
        tags=tuple(args.tags),
        verbose=args.verbose,
        faults=InjectedFaults(frozenset(args.fault)),
        decode=args.decode,
        equipment=args.equipment.resolve() if args.equipment else None,
        interface=args.interface,
        capture=args.capture,
        destination=args.destination,
        response_timeout=args.response_timeout,
        topology="docker" if container_roles is not None else "local",
        roles=roles,
        dns=dns,
        jobs=args.jobs,
        shard=parse_shard(args.shard) if args.shard is not None else None,
        defines=defines,
    )
    if args.run_id:
        settings = replace(settings, run_id=args.run_id)
    if args.output:
        settings = replace(settings, output=args.output.resolve())
    return settings
