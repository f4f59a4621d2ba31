"""Equipment shipped as a Docker image, without an engine: where the container goes and how it is checked,
what each failure says (image missing, early exit, unhealthy, never ready), that nothing is left behind,
and the docker topology's address plan, harness-container command and report attachment."""

from __future__ import annotations

import argparse
import io
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from harness.cli.run import build_parser as build_run_parser
from harness.docker import engine as de
from harness.docker.image import ImageEquipment, ImageStartError, equipment_subnet, health_for
from harness.docker.roles import StartedByHost, add_address, role_addresses
from harness.docker.tasks import copy_out, run_task
from harness.docker.topology import (
    DockerRun,
    add_cli_arguments,
    inner_command,
    load_for_docker,
    plan_roles,
    run_docker_topology,
    run_from_cli,
    wants_docker,
    write_host_reports,
)
from harness.equipment import EquipmentError, parse_equipment
from harness.reports.record import RunData, RunSummary, ScenarioRecord
from harness.settings import Condition
from harness.suite_root import SUITE_ENV, suite_root

from .fake_docker import HEALTHY, STARTING, FakeClient, FakeContainer, FakeNetwork

docker = pytest.importorskip("docker", reason="the docker extra is not installed: pip install -e '.[docker]'")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "equipment" / "reference-trunk-image.toml"

SBC = """
[equipment]
name = "Acme SBC"
role = "trunk"
address = "udp:198.18.40.20:5060"
features = ["basic-auth"]

[equipment.trunk]
domain = "acme.trunk.voipbin.net"
username = "alice"
password = "secret"
destination = "udp:198.18.40.30:5080"

[equipment.image]
name = "acme-sbc:4.2"
env = { SIP_PORT = "5060" }
ports = ["5060/udp"]
command = ["--sip-port", "5060"]
"""

HEALTH = """
[equipment.image.healthcheck]
test = ["CMD-SHELL", "sbc-ctl ping"]
interval = 0.05
timeout = 1
retries = 3
"""


def sbc(extra: str = "", **replace: str) -> Any:
    text = SBC + extra
    for old, new in replace.items():
        text = text.replace(old, new)
    return parse_equipment(text, "acme.toml")


def network_for(client: FakeClient, subnet: str = "198.18.40.0/24") -> tuple[de.DockerSession, FakeNetwork]:
    session = de.DockerSession(client, session_id="t1")
    return session, session.create_network("tc-t1", subnet)


# -- where it goes, and how it is checked ------------------------------------------------------------


def test_the_container_gets_the_equipment_address_image_env_command_and_health_check(tmp_path: Path) -> None:
    client = FakeClient(plans=[[STARTING, HEALTHY]], logs=b"sbc: listening on 198.18.40.20:5060\n")
    session, network = network_for(client)
    trunk = ImageEquipment(sbc(HEALTH), client, network, session=session, workdir=tmp_path).start()
    image, command, kwargs = client.created[0]
    assert image == "acme-sbc:4.2" and command == ["--sip-port", "5060"]
    assert kwargs["environment"] == {"SIP_PORT": "5060"}
    assert kwargs["networking_config"] == {"tc-t1": {"IPAMConfig": {"IPv4Address": "198.18.40.20"}}}
    assert kwargs["healthcheck"]["test"] == ["CMD-SHELL", "sbc-ctl ping"]  # Docker's own form kept
    assert kwargs["healthcheck"]["retries"] == 3 and kwargs["healthcheck"]["timeout"] == 1_000_000_000
    assert kwargs["labels"] == {de.LABEL: "t1"}
    assert trunk.address == ("198.18.40.20", 5060) and trunk.transport == "udp" and trunk.running()
    assert trunk.stop() == 0
    assert client.containers_made[0].stopped and client.containers_made[0].removed
    assert trunk.log_path.read_text() == "sbc: listening on 198.18.40.20:5060\n"
    assert "listening on 198.18.40.20" in trunk.log_tail()  # after the container is gone too
    assert session.cleanup() == [] and network.removed


def test_without_a_health_check_the_sip_address_is_probed_within_30_s() -> None:
    health = health_for(sbc())
    assert (health.udp_port, health.command, health.timeout) == (5060, None, 30.0)
    tcp = health_for(sbc(**{"udp:198.18.40.20:5060": "tcp:198.18.40.20:5060", '"5060/udp"': '"5060/tcp"'}))
    assert (tcp.tcp_port, tcp.udp_port) == (5060, None)


def test_the_wait_for_a_health_check_is_bounded_by_its_retries() -> None:
    health = health_for(sbc(HEALTH))
    assert health.command == ["CMD-SHELL", "sbc-ctl ping"] and health.retries == 3
    assert health.timeout == pytest.approx(0.05 + 3 * (0.05 + 1) + 10)
    assert health.describe("198.18.40.20") == "health command 'sbc-ctl ping'"


@pytest.mark.parametrize(("address", "problem"), [
    ("udp:127.0.0.55:5060", "is not inside 198.18.32.0/19"),
    ("udp:10.1.2.3:5060", "is not inside 198.18.32.0/19"),
    ("udp:198.18.0.20:5060", "is not inside 198.18.32.0/19"),  # dockerd's default bridge
])
def test_an_image_address_outside_the_harness_networks_is_refused_naming_the_line(address: str,
                                                                                 problem: str) -> None:
    eq = sbc(**{"udp:198.18.40.20:5060": address})
    with pytest.raises(EquipmentError, match=rf"acme.toml:\d+: equipment.address: .*{problem}"):
        equipment_subnet(eq)


def test_the_address_must_be_on_the_network_and_among_the_image_ports() -> None:
    client = FakeClient()
    session, network = network_for(client, "198.18.41.0/24")
    with pytest.raises(EquipmentError, match=r"acme.toml:\d+: equipment.address: .*not a container address of "
                                             r"198.18.41.0/24"):
        ImageEquipment(sbc(), client, network, session=session)
    session, network = network_for(client)
    with pytest.raises(EquipmentError, match=r"equipment.image.ports: .* needs 5060/tcp, which is not among"):
        ImageEquipment(sbc(**{"udp:198.18.40.20:5060": "tcp:198.18.40.20:5060"}), client, network, session=session)
    assert client.created == []


# -- failures: what happened, what to do, nothing left ---------------------------------------------


def test_a_missing_image_says_how_to_get_it_and_creates_nothing() -> None:
    client = FakeClient(images=())
    session, network = network_for(client)
    with pytest.raises(ImageStartError) as info:
        ImageEquipment(sbc(), client, network, session=session).start()
    message = str(info.value)
    assert message.startswith("acme.toml:") and "equipment.image.name" in message
    assert "image acme-sbc:4.2 is not in the Docker engine" in message and "docker load -i" in message
    assert client.created == []


def test_early_exit_reports_code_and_last_log_lines_and_removes_the_container() -> None:
    client = FakeClient(plans=[[{"Status": "exited", "ExitCode": 3}]], logs=b"sbc: no licence file\n")
    session, network = network_for(client)
    trunk = ImageEquipment(sbc(HEALTH), client, network, session=session)
    with pytest.raises(ImageStartError) as info:
        trunk.start()
    message = str(info.value)
    assert "Acme SBC: container tc-eq-acme-sbc-t1 (acme-sbc:4.2) exited with code 3" in message
    assert "sbc: no licence file" in message and info.value.exit_code == 3
    assert client.containers_made[0].removed and session.containers == []
    assert "no licence file" in trunk.log_tail()


def test_an_unhealthy_container_fails_at_once_with_the_health_output() -> None:
    unhealthy = {"Status": "running", "Health": {"Status": "unhealthy", "Log": [
        {"ExitCode": 1, "Output": "sbc-ctl: connection refused\n"}]}}
    client = FakeClient(plans=[[STARTING, unhealthy]], logs=b"sbc: booting\n")
    session, network = network_for(client)
    started = time.monotonic()
    with pytest.raises(ImageStartError) as info:
        ImageEquipment(sbc(HEALTH), client, network, session=session).start()
    assert time.monotonic() - started < 2
    message = str(info.value)
    assert "is unhealthy" in message and "failed 3 times in a row" in message
    assert "exit code 1, output 'sbc-ctl: connection refused'" in message and "sbc: booting" in message
    assert client.containers_made[0].removed


def test_a_health_check_that_never_passes_fails_within_its_bound() -> None:
    client = FakeClient(plans=[[STARTING] * 100_000])
    session, network = network_for(client)
    started = time.monotonic()
    with pytest.raises(ImageStartError, match=r"was not ready within 0.5 s \(health command 'sbc-ctl ping'"):
        ImageEquipment(sbc(HEALTH), client, network, session=session, start_timeout=0.5).start()
    assert time.monotonic() - started < 3
    assert client.containers_made[0].removed and session.cleanup() == []


def test_without_an_engine_the_run_says_how_to_start_one_within_its_bound(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/trunkcheck-test/docker.sock")
    out = io.StringIO()
    started = time.monotonic()
    result = run_docker_topology(DockerRun(image="trunkcheck", output=tmp_path, engine_timeout=3), io.StringIO(), out)
    assert time.monotonic() - started < 10
    assert result.exit_code == 2
    assert "no Docker engine at unix:///nonexistent/trunkcheck-test/docker.sock" in out.getvalue()
    assert "docker/engine.sh" in out.getvalue()
    assert list(tmp_path.iterdir()) == []


def test_a_missing_harness_image_is_refused_before_any_network_is_made(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    client = FakeClient(images=())
    monkeypatch.setattr(de, "connect", lambda timeout: client)
    out = io.StringIO()
    result = run_docker_topology(DockerRun(image="trunkcheck:missing", output=tmp_path), io.StringIO(), out)
    assert result.exit_code == 2
    assert "image trunkcheck:missing is not in the Docker engine" in out.getvalue()
    assert "docker build --build-arg BASE=trunkcheck-base:bookworm" in out.getvalue()
    assert client.networks_made == [] and client.closed


def test_equipment_that_fails_to_start_stops_the_run_and_leaves_no_network(monkeypatch: pytest.MonkeyPatch,
                                                                           tmp_path: Path) -> None:
    client = FakeClient(plans=[[{"Status": "exited", "ExitCode": 2}]], logs=b"reference_server: bad config\n")
    monkeypatch.setattr(de, "connect", lambda timeout: client)
    out = io.StringIO()
    result = run_docker_topology(DockerRun(image="trunkcheck", output=tmp_path), io.StringIO(), out)
    assert result.exit_code == 2
    assert out.getvalue().startswith("trunkcheck: the equipment under test did not start: ")
    assert "exited with code 2" in out.getvalue() and "bad config" in out.getvalue()
    assert [c.name.split("-")[1] for c in client.containers_made] == ["eq"]  # no harness container
    assert all(c.removed for c in client.containers_made)
    assert client.networks_made and all(n.removed for n in client.networks_made)


def test_a_full_run_starts_trunk_then_harness_copies_results_out_and_removes_everything(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    healthy = [STARTING, HEALTHY]
    finished = [{"Status": "running"}, {"Status": "exited", "ExitCode": 0}]
    client = FakeClient(plans=[healthy, finished], logs=b"listening on udp:198.18.60.20:5060\n",
                        images=("trunkcheck:t",),
                        files={"run-1/run.json": run_data(tmp_path), "run-1/x/s.pcap": b"pcap"})
    monkeypatch.setattr(de, "connect", lambda timeout: client)
    out = io.StringIO()
    result = run_docker_topology(DockerRun(image="trunkcheck:t", output=tmp_path, run_id="run-1",
                                           runner_args=("--tags", "not @wip")), out)
    assert result.exit_code == 0, out.getvalue()
    trunk, harness = client.containers_made
    assert client.created[0][0] == "trunkcheck:t"  # the reference server runs from the harness's image
    _, command, kwargs = client.created[1]
    assert kwargs["networking_config"]["tc-" + trunk.name.rsplit("-", 1)[1]]["IPAMConfig"]["IPv4Address"] == \
        "198.18.60.10"
    assert command[-4:] == ["--run-id", "run-1", "--tags", "not @wip"]
    assert kwargs["cap_add"] == ["NET_ADMIN", "NET_RAW"] and kwargs["entrypoint"] == []
    assert harness.archives and harness.archives[0][0] == "/"
    assert trunk.removed and harness.removed and all(n.removed for n in client.networks_made)
    report = (tmp_path / "run-1" / "report.html").read_text()
    assert "Equipment under test: trunkcheck reference trunk (image)" in report and "1 passed" in report
    assert "listening on udp:198.18.60.20:5060" in report
    validation = (tmp_path / "run-1" / "validation-report.md").read_text()
    assert "listening on udp:198.18.60.20:5060" in validation and "reference-trunk-image.toml (SHA-256" in validation
    assert (tmp_path / "run-1" / "equipment" / "equipment.log").read_text() == "listening on udp:198.18.60.20:5060\n"
    assert (tmp_path / "run-1" / "x" / "s.pcap").read_bytes() == b"pcap"


# -- the docker topology's plan ---------------------------------------------------------------------


def test_the_example_puts_each_role_on_its_own_address_of_the_equipment_network() -> None:
    eq, text = load_for_docker(None, "trunkcheck:test-1")
    assert eq.image is not None and eq.image.name == "trunkcheck:test-1"  # `--image` for "trunkcheck"
    assert text == EXAMPLE.read_bytes()
    plan = plan_roles(eq)
    assert plan.subnet == "198.18.60.0/24" and plan.trunk == "198.18.60.20"
    assert plan.roles == {"UA": "198.18.60.10", "UA2": "198.18.60.11", "Carrier": "198.18.60.12",
                          "Destination": "198.18.60.30"}
    assert plan.env() == "UA=198.18.60.10,UA2=198.18.60.11,Carrier=198.18.60.12,Destination=198.18.60.30"


def test_the_ua_takes_the_allowed_address_so_ip_auth_is_checked_across_hosts() -> None:
    eq = sbc(**{'password = "secret"\n': 'password = "secret"\nallowed_ips = ["198.18.40.15"]\n',
                '"basic-auth"]': '"basic-auth", "ip-auth"]'})
    assert plan_roles(eq).roles["UA"] == "198.18.40.15"
    eq = sbc(**{'password = "secret"\n': 'password = "secret"\nallowed_ips = ["198.18.40.11"]\n',
                '"basic-auth"]': '"basic-auth", "ip-auth"]'})
    with pytest.raises(EquipmentError, match="the harness's second UA, which must be a caller the trunk does not"):
        plan_roles(eq)


@pytest.mark.parametrize(("change", "problem"), [
    ({"udp:198.18.40.30:5080": "udp:198.18.41.30:5080"}, "is not on the equipment's network 198.18.40.0/24"),
    ({"udp:198.18.40.20:5060": "udp:198.18.40.10:5060"}, "the harness's UA would be at 198.18.40.10, which is "
                                                          "the equipment"),
    ({"udp:198.18.40.30:5080": "udp:198.18.40.1:5080"}, "198.18.40.1, which is the network's gateway"),
    ({"[equipment.image]": "[equipment.process]\ncommand = ['x']\n[equipment.nothing]"}, "unknown key|no "),
])
def test_plans_the_roles_cannot_have_are_refused(change: dict[str, str], problem: str) -> None:
    with pytest.raises(EquipmentError, match=problem):
        plan_roles(sbc(**change))


def test_the_harness_container_adds_the_other_role_addresses_then_runs_the_suite_on_the_equipment() -> None:
    plan = plan_roles(load_for_docker(None, "trunkcheck")[0])
    command = inner_command(plan, DockerRun(run_id="r1", runner_args=("-v",)))
    assert command[:5] == ["python", "-m", "harness.cli.container", "--interface", "eth0"]
    assert [command[i + 1] for i, a in enumerate(command) if a == "--address"] == [
        "198.18.60.11/24", "198.18.60.12/24", "198.18.60.30/24"]
    rest = command[command.index("--") + 1:]
    assert rest[:7] == ["run", "--topology", "local", "--equipment", "/run/trunkcheck/equipment.toml",
                        "--interface", "eth0"]
    assert rest[-3:] == ["--run-id", "r1", "-v"]


def test_role_addresses_are_parsed_and_kept_in_the_benchmarking_range() -> None:
    assert role_addresses("UA=198.18.60.10, Destination=198.18.60.30") == {"UA": "198.18.60.10",
                                                                         "Destination": "198.18.60.30"}
    assert role_addresses("") == {}
    for bad in ("UA=10.0.0.1", "UA", "UA=not-an-ip"):
        with pytest.raises(ValueError):
            role_addresses(bad)
    with pytest.raises(RuntimeError, match="only addresses inside 198.18.0.0/15"):
        add_address("eth0", "172.17.0.5/16")


def test_inside_the_harness_container_the_image_stands_for_equipment_the_host_started(tmp_path: Path) -> None:
    running = StartedByHost(sbc(), tmp_path / "equipment")
    assert running.name == "Acme SBC" and running.stop() is None
    assert "started and stopped by the host" in running.log_path.read_text()


def run_data(folder: Path) -> bytes:
    """The run.json the harness container leaves: one scenario passed, with the docker topology's conditions."""
    records = [ScenarioRecord("Outgoing call", "The documented call flow", "f:1", status="passed", seconds=0.4,
                              pcap="x/s.pcap", ladder="x/s.ladder.txt")]
    conditions = (Condition("--equipment", "/run/trunkcheck/equipment.toml", "the equipment took its role"),
                  Condition("--topology", "docker", "the trunk in a container of its own"))
    RunData(RunSummary("run-1", 1, 1, 0, 0, 2.5), records, conditions, 1.0e9, 1.0e9 + 2.5,
            "/run/trunkcheck/equipment.toml").save(folder)
    return (folder / "run.json").read_bytes()


def test_the_host_writes_the_reports_once_from_the_runs_data_with_the_equipment_log(tmp_path: Path) -> None:
    running = StartedByHost(sbc(), tmp_path / "equipment")  # what the harness container left
    run_data(tmp_path)
    lines = "".join(f"line {k} <'x'>\n" for k in range(300))
    eq = load_for_docker(None, "trunkcheck")[0]
    validation = write_host_reports(tmp_path, eq, EXAMPLE, lines)
    report = (tmp_path / "report.html").read_text()
    assert report.index("The documented call flow") < report.index("Equipment under test") < report.index("</body>")
    assert "line 299 &lt;&#x27;x&#x27;&gt;" in report and "line 99 " not in report and "the last 200 below" in report
    assert "--topology docker" in report and "--topology docker" in (tmp_path / "validation-report.md").read_text()
    assert running.log_path.read_text() == lines
    assert validation == tmp_path / "validation-report.html"
    assert "line 299 &lt;&#x27;x&#x27;&gt;</pre>" in validation.read_text()
    assert "started and stopped by the host" not in (tmp_path / "validation-report.md").read_text()
    assert "reference-trunk-image.toml (SHA-256" in validation.read_text()
    other = tmp_path / "ended-early"
    assert write_host_reports(other, eq, EXAMPLE, "log") is None and not (other / "report.html").exists()
    assert (other / "equipment" / "equipment.log").read_text() == "log"


def test_copy_out_refuses_members_that_would_escape_the_destination(tmp_path: Path) -> None:
    container = FakeContainer("c", "i", [], b"")
    container.files = {"../escape.txt": b"x"}
    with pytest.raises(de.DockerError, match="would land outside"):
        copy_out(container, "/work/captures/r", tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_a_task_that_does_not_finish_in_time_is_removed_with_its_last_lines() -> None:
    client = FakeClient(plans=[[{"Status": "running"}] * 100_000], logs=b"scenario 3 of 30\n")
    session, network = network_for(client)
    seen: list[str] = []
    with pytest.raises(de.ContainerFailed, match=r"(?s)did not finish within 0.3 s.*scenario 3 of 30"):
        run_task(session, "trunkcheck", name="h", network=network, address="198.18.40.10", timeout=0.3,
                         files={"/run/x.toml": b"a"}, on_output=seen.append)
    assert seen == ["scenario 3 of 30"]  # its output reached us as it came
    assert client.containers_made[0].removed and session.containers == []
    with tarfile.open(fileobj=io.BytesIO(client.containers_made[0].archives[0][1])) as archive:
        assert archive.getnames() == ["run/x.toml"]


# -- where the suite is -------------------------------------------------------------------------------


def test_the_suite_is_found_from_the_environment_then_the_checkout(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    monkeypatch.setenv(SUITE_ENV, str(tmp_path))
    assert suite_root() == tmp_path.resolve()
    monkeypatch.delenv(SUITE_ENV)
    assert (suite_root() / "features").is_dir() and (suite_root() / "environment.py").is_file()


def test_the_ip_auth_example_puts_the_ua_at_the_one_allowed_address() -> None:
    eq, _ = load_for_docker(EXAMPLE.with_name("reference-trunk-image-ip-auth.toml"), "trunkcheck:t")
    assert eq.features == frozenset({"ip-auth"}) and eq.image is not None and eq.image.name == "trunkcheck:t"
    assert plan_roles(eq).roles["UA"] == "198.18.60.10"


def cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--features", type=Path, action="append")
    parser.add_argument("--tags", action="append", default=[])
    parser.add_argument("--run-id")
    parser.add_argument("--output", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--equipment", type=Path)
    parser.add_argument("--decode", default="stream")
    parser.add_argument("--fault", action="append", default=[])
    add_cli_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_docker_topology_is_chosen_for_an_image_or_on_request_never_inside_the_harness_container(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert wants_docker(cli("--equipment", str(EXAMPLE)))
    assert not wants_docker(cli("--equipment", str(EXAMPLE), "--topology", "local"))
    assert wants_docker(cli("--topology", "docker")) and not wants_docker(cli())
    kamailio = EXAMPLE.with_name("kamailio-trunk.toml")
    assert not wants_docker(cli("--equipment", str(kamailio)))
    from harness.cli.run import settings_from  # the harness container's run: local, its roles given
    from harness.topology import LOOPBACK_ROLES

    inner = settings_from(build_run_parser().parse_args(["--equipment", str(EXAMPLE)]),
                          container_roles=LOOPBACK_ROLES.with_roles({"UA": "198.18.60.10"}))
    assert inner.topology == "docker" and inner.roles["UA"] == "198.18.60.10" and inner.roles["VoIPBin"] == "127.0.0.20"


def test_the_command_line_is_passed_on_to_the_harness_container(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    runs: list[DockerRun] = []
    monkeypatch.setattr("harness.docker.topology.run_docker_topology",
                        lambda run: runs.append(run) or type("R", (), {"exit_code": 0})())
    suite = EXAMPLE.parents[2]
    (tmp_path / "ci-1").mkdir()
    (tmp_path / "ci-1" / "old.txt").write_text("an earlier run")
    args = cli("--topology", "docker", "--image", "trunkcheck:t", "--tags", "not @wip", "-v", "--run-id", "ci-1",
               "--output", str(tmp_path), "--features", str(suite / "features" / "early_media.feature"))
    assert run_from_cli(args, suite, tmp_path) == 0
    run = runs[0]
    assert run.image == "trunkcheck:t" and run.equipment is None and run.output == tmp_path.resolve()
    assert run.run_id == "ci-1-2"  # never over an earlier run's results
    assert run.runner_args == ("--features", "features/early_media.feature", "--tags", "not @wip", "-v",
                               "--decode", "stream")
    outside = cli("--topology", "docker", "--features", str(tmp_path))
    assert run_from_cli(outside, suite, tmp_path) == 2 and len(runs) == 1
