"""`trunkcheck run --topology docker`: every role on its own host, the way SIPssert lays out its tasks.

    result = run_docker_topology(DockerRun(image="trunkcheck", equipment=Path("vendor-sbc.toml")))

On a user network inside 198.18.32.0/19 (the /24 of the equipment's address; never a private range):

    198.18.60.20   the trunk under test: the equipment's image ([equipment.image]; by default the reference
                   server packaged as one, examples/equipment/reference-trunk-image.toml), started and
                   health-checked by harness.docker.image.ImageEquipment
    198.18.60.10   the harness container (the trunkcheck image) running `trunkcheck run --equipment`: the UA
    198.18.60.11   ... UA2, a caller from another address (IP auth is checked across hosts)
    198.18.60.12   ... the carrier (the equipment's trusted peer)
    198.18.60.30   ... the destination (the equipment's `destination`)

The UA's address is the equipment's `allowed_ips` entry on the network when it gives one, the carrier's
its `trusted_peers` entry, the destination its `destination`; the others take the host numbers above.
The harness container holds the extra addresses on its one interface (it adds them with NET_ADMIN) and
captures there, so every scenario's pcap is what crossed the network between the hosts. Its results are
copied out into `<output>/<run-id>/`, where the host writes the run's reports from the data the harness
container left (`run.json`) and the equipment's log (`equipment/equipment.log`, also in the validation
report and at the end of report.html).

Every wait is bounded; the equipment's container, the harness container and the network are removed
whatever happens (labelled `trunkcheck.session=<id>`, swept at the end).
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness.docker import engine as de
from harness.docker.image import ImageEquipment, ImageStartError, equipment_subnet
from harness.docker.roles import ROLE_ADDRESSES_ENV
from harness.docker.tasks import copy_out, run_task
from harness.equipment import Equipment, EquipmentError, load_equipment
from harness.reports.record import RunData
from harness.reports.write import write_reports
from harness.settings import display_path, free_run_id, new_run_id
from harness.suite_root import suite_root

__all__ = [
    "DEFAULT_EQUIPMENT", "DockerRun", "DockerRunResult", "RolePlan", "add_cli_arguments", "plan_roles",
    "run_docker_topology", "run_from_cli", "wants_docker", "write_host_reports",
]

DEFAULT_EQUIPMENT = Path("examples/equipment/reference-trunk-image.toml")  # in the suite
REFERENCE_IMAGE = "trunkcheck"
IN_CONTAINER_EQUIPMENT = "/run/trunkcheck/equipment.toml"
IN_CONTAINER_OUTPUT = "/work/captures"
HOST_NUMBERS = {"UA": 10, "UA2": 11, "Carrier": 12, "Destination": 30}
TOPOLOGIES = ("local", "docker")


@dataclass(frozen=True)
class DockerRun:
    image: str = "trunkcheck"
    equipment: Path | None = None  # None: the reference server as an image (DEFAULT_EQUIPMENT)
    output: Path = Path("captures")
    run_id: str = field(default_factory=new_run_id)
    runner_args: tuple[str, ...] = ()  # passed on to `trunkcheck run` in the harness container (--tags, -v ...)
    timeout: float = 1200.0  # the whole suite in the harness container
    engine_timeout: float = 10.0


@dataclass
class DockerRunResult:
    exit_code: int
    run_dir: Path | None = None
    message: str = ""
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RolePlan:
    """Which address each role has on the network."""

    subnet: str
    trunk: str
    roles: dict[str, str]  # UA, UA2, Carrier, Destination -> IP

    @property
    def harness_address(self) -> str:
        return self.roles["UA"]

    def env(self) -> str:
        return ",".join(f"{role}={ip}" for role, ip in self.roles.items())


def _on(network: ipaddress.IPv4Network, entries: tuple[str, ...]) -> str | None:
    for entry in entries:
        net = ipaddress.ip_network(entry, strict=False)
        if net.num_addresses == 1 and net.network_address in network:
            return str(net.network_address)
    return None


def plan_roles(equipment: Equipment) -> RolePlan:
    """The harness's addresses around ``equipment`` (EquipmentError naming the line when they cannot be)."""
    eq = equipment
    if eq.role != "trunk":
        raise EquipmentError(f"{eq.where('equipment.role')}: the docker topology runs a trunk as an image (the "
                             f"harness plays UA and destination); this equipment plays {eq.role!r}",
                             filename=eq.source)
    if eq.image is None:
        raise EquipmentError(f"{eq.source}: equipment {eq.name!r} has no [equipment.image]: the docker topology "
                             "starts the trunk from its image (give name, env, ports, command, healthcheck)",
                             filename=eq.source)
    assert eq.trunk is not None
    if eq.trunk.destination is None:
        raise EquipmentError(f"{eq.where('equipment.trunk.destination')}: \"remote\": an image is a trunk the "
                             "harness starts, and its calls go to the harness's destination: give its address",
                             filename=eq.source)
    subnet = ipaddress.IPv4Network(equipment_subnet(eq))
    destination = eq.trunk.destination.host
    if ipaddress.ip_address(destination) not in subnet:
        raise EquipmentError(f"{eq.where('equipment.trunk.destination')}: {destination} is not on the equipment's "
                             f"network {subnet}: the harness's destination runs on that network",
                             filename=eq.source)
    base = int(subnet.network_address)
    roles = {role: str(ipaddress.ip_address(base + n)) for role, n in HOST_NUMBERS.items()}
    roles["Destination"] = destination
    allowed = _on(subnet, eq.trunk.allowed_ips)
    if allowed:
        roles["UA"] = allowed
        if roles["UA2"] in {str(ipaddress.ip_network(a, strict=False).network_address) for a in eq.trunk.allowed_ips}:
            raise EquipmentError(f"{eq.where('equipment.trunk.allowed_ips')}: {roles['UA2']} is the harness's second "
                                 "UA, which must be a caller the trunk does not allow", filename=eq.source)
    trusted = _on(subnet, eq.trusted_peers)
    if trusted:
        roles["Carrier"] = trusted
    gateway = str(next(subnet.hosts()))
    seen: dict[str, str] = {eq.address.host: "the equipment", gateway: "the network's gateway"}
    for role, ip in roles.items():
        if ip in seen:
            raise EquipmentError(f"{eq.where('equipment.address')}: the harness's {role} would be at {ip}, which is "
                                 f"{seen[ip]}: give the equipment (or its destination) another host number; the "
                                 f"harness uses .{', .'.join(str(n) for n in HOST_NUMBERS.values())}",
                                 filename=eq.source)
        seen[ip] = f"the harness's {role}"
    return RolePlan(str(subnet), eq.address.host, roles)


def load_for_docker(path: Path | None, image: str) -> tuple[Equipment, bytes]:
    """The equipment file at ``path`` (default: the reference server as an image) and the text the harness
    container gets. An ``[equipment.image]`` named just ``trunkcheck`` means the trunkcheck image: ``image``
    (`--image`) is run."""
    path = path or default_equipment()
    eq = load_equipment(path)
    if eq.image is not None and eq.image.name == REFERENCE_IMAGE:
        eq = dataclasses.replace(eq, image=dataclasses.replace(eq.image, name=image))
    return eq, path.read_bytes()


def default_equipment() -> Path:
    return suite_root() / DEFAULT_EQUIPMENT


def inner_command(plan: RolePlan, run: DockerRun) -> list[str]:
    """What the harness container runs: add the role addresses, then `trunkcheck run --equipment`."""
    prefix = ipaddress.ip_network(plan.subnet).prefixlen
    extra = sorted({ip for ip in plan.roles.values() if ip != plan.harness_address})
    command = ["python", "-m", "harness.cli.container", "--interface", "eth0"]
    for ip in extra:
        command += ["--address", f"{ip}/{prefix}"]
    return [*command, "--", "run", "--topology", "local", "--equipment", IN_CONTAINER_EQUIPMENT,
            "--interface", "eth0", "--output", IN_CONTAINER_OUTPUT, "--run-id", run.run_id, *run.runner_args]


# -- `trunkcheck run --topology docker`: the command line ---------------------------------------------


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """``--topology`` and ``--image`` for `trunkcheck run` (harness.cli.run)."""
    parser.add_argument("--topology", choices=TOPOLOGIES, default=None,
                        help="local: every role on this host (loopback, or --interface); docker: the trunk in its "
                        "own container, the harness's roles in another, on a Docker network in 198.18.32.0/19 "
                        "(default: docker when --equipment has [equipment.image], else local)")
    parser.add_argument("--image", default="trunkcheck", metavar="TAG",
                        help="the trunkcheck image the docker topology runs the harness from (and, without "
                        "--equipment, the reference server as the trunk); default trunkcheck")


def wants_docker(args: argparse.Namespace) -> bool:
    """Whether `trunkcheck run` ARGS ask for the docker topology: --topology docker, or an equipment file
    with [equipment.image] and no --topology (a mistake in the file: local, whose checks report it). The
    docker topology's harness container (harness.cli.container) does not ask: its run is local."""
    if args.topology is not None:
        return bool(args.topology == "docker")
    if not args.equipment:
        return False
    try:
        return load_equipment(args.equipment).image is not None
    except EquipmentError:
        return False


def run_from_cli(args: argparse.Namespace, suite: Path, default_output: Path) -> int:
    """`trunkcheck run --topology docker ...`: the options the harness container's run gets are passed on
    (feature paths must lie in the suite, which the image holds)."""
    passed: list[str] = []
    for path in args.features or []:
        try:
            relative = Path(path).resolve().relative_to(suite)
        except ValueError:
            print(f"trunkcheck run: {path}: in the docker topology features come from the suite in the image; "
                  f"give a path inside {suite}", file=sys.stderr)
            return 2
        passed += ["--features", str(relative)]
    for expr in args.tags:
        passed += ["--tags", expr]
    if getattr(args, "shard", None):
        passed += ["--shard", args.shard]
    if args.verbose:
        passed.append("-v")
    for name in ("decode", "destination", "response_timeout"):
        value = getattr(args, name, None)
        if value is not None:
            passed += [f"--{name.replace('_', '-')}", f"{value:g}" if isinstance(value, float) else str(value)]
    if getattr(args, "fault", None):
        print("trunkcheck run: --fault breaks the embedded reference server, which the docker topology does not "
              "use", file=sys.stderr)
        return 2
    output = (args.output or default_output).resolve()
    run_id = free_run_id(output, args.run_id or new_run_id())
    equipment = args.equipment.resolve() if args.equipment else None
    run = DockerRun(image=args.image, equipment=equipment, output=output, run_id=run_id, runner_args=tuple(passed))
    return run_docker_topology(run).exit_code


def run_docker_topology(run: DockerRun, out: TextIO | None = None, err: TextIO | None = None) -> DockerRunResult:
    """Runs the suite in the docker topology; exit code 0 (all passed), 1 (a scenario failed), 2 (could not
    run: no engine, image missing, equipment that does not start ...: the message, on ``err``, says which
    and what to do; nothing is left running)."""
    stream, errors = out or sys.stdout, err or sys.stderr

    def refuse(exc: Exception, timings: dict[str, float] | None = None) -> DockerRunResult:
        if isinstance(exc, ImageStartError):
            text = f"the equipment under test did not start: {exc}"
        elif isinstance(exc, EquipmentError):
            text = f"equipment refused before any scenario traffic: {exc}"
        else:
            text = str(exc)
        errors.write(f"trunkcheck: {text}\n")
        errors.flush()
        return DockerRunResult(2, message=text, timings=timings or {})

    timings: dict[str, float] = {}
    try:
        eq, equipment_text = load_for_docker(run.equipment, run.image)
        equipment_file = run.equipment or default_equipment()
        plan = plan_roles(eq)
        client = de.connect(timeout=run.engine_timeout)
    except (EquipmentError, de.DockerError) as exc:
        return refuse(exc)
    try:
        de.ensure_image(client, run.image)
        with de.DockerSession(client) as session:
            return _run(run, eq, (equipment_file, equipment_text), plan, client, session, stream, timings)
    except (EquipmentError, ImageStartError, de.DockerError) as exc:
        return refuse(exc, timings)
    finally:
        client.close()


def _run(run: DockerRun, eq: Equipment, equipment: tuple[Path, bytes], plan: RolePlan, client: Any,
         session: de.DockerSession, stream: TextIO, timings: dict[str, float]) -> DockerRunResult:
    equipment_file, equipment_text = equipment
    def say(text: str) -> None:
        stream.write(f"trunkcheck: {text}\n")
        stream.flush()

    def relay(line: str) -> None:  # the harness container's output, as it comes
        stream.write(line + "\n")
        stream.flush()

    sid = session.session_id
    started = time.monotonic()
    network = session.create_network(f"tc-{sid}", plan.subnet)
    say(f"docker topology on {network.name} ({plan.subnet}): trunk {eq.name} ({eq.image.name if eq.image else '?'}) "
        f"at {plan.trunk}; harness {', '.join(f'{r} {ip}' for r, ip in plan.roles.items())}")
    trunk = ImageEquipment(eq, client, network, session=session)
    t0 = time.monotonic()
    trunk.start()
    timings["equipment ready"] = time.monotonic() - t0
    say(f"{eq.name} ready at {trunk.transport}:{plan.trunk}:{trunk.address[1]} in {timings['equipment ready']:.1f} s")
    t0 = time.monotonic()
    run_dir: Path | None = run.output.resolve() / run.run_id
    try:
        container, code = run_task(
            session, run.image, name=f"tc-harness-{sid}", network=network, address=plan.harness_address,
            timeout=run.timeout, command=inner_command(plan, run), entrypoint=[],
            environment={ROLE_ADDRESSES_ENV: plan.env()},
            files={IN_CONTAINER_EQUIPMENT: equipment_text}, cap_add=["NET_ADMIN", "NET_RAW"],
            on_output=relay)
        timings["suite in the harness container"] = time.monotonic() - t0
        try:
            copy_out(container, f"{IN_CONTAINER_OUTPUT}/{run.run_id}", run.output.resolve())
        except Exception as exc:  # no run folder: the run failed before its first scenario
            say(f"no results to copy out of the harness container ({de.short_error(exc)})")
            run_dir = None
        session.remove_container(container)
    finally:
        trunk.stop()
        if run_dir is not None and run_dir.is_dir():
            write_host_reports(run_dir, eq, equipment_file, trunk.logs())
    timings["total"] = time.monotonic() - started
    where = f" — results in {display_path(run_dir)}" if run_dir is not None and run_dir.is_dir() else ""
    say("docker topology: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + where)
    return DockerRunResult(code if code in (0, 1, 2) else 1, run_dir, timings=timings)


def write_host_reports(run_dir: Path, eq: Equipment, equipment_file: Path, log_text: str) -> Path | None:
    """The run's reports, written on the host from the data the harness container left (``run.json``) and
    the equipment container's log, which goes to ``equipment/equipment.log`` (in place of the note the
    harness container left there), into the validation report and at the end of report.html. The
    validation report, or None when the harness container left no data (its run ended early)."""
    log = run_dir / "equipment" / "equipment.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(log_text, encoding="utf-8")
    data = RunData.load(run_dir)
    if data is None:
        return None
    _, validation = write_reports(run_dir, data, eq, equipment_file=equipment_file, equipment_log=log,
                                  log_in_run_report=True)
    return validation
