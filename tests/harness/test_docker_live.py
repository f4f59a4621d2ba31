"""trunkcheck in a real Docker engine: docker/engine.sh starts one (as root; installing docker.io if
needed), docker/build-base.sh and the Dockerfile build the images offline, and containers of the image run
the reference server on a user network in 198.18.0.0/15, reached from this host. The conformance suite
runs twice: inside the image against its embedded server (`docker run IMAGE run`), and in the docker
topology, the reference server shipped as an equipment image in one container and the harness's roles in
another (`trunkcheck run --topology docker`).

Traffic goes only to containers on networks this test creates (addresses in 198.18.32.0/19). Everything
the test made is removed at the end: containers, networks, the images it built, and the engine when it
was the one that started it. Skipped only where no engine answers and this is not root (then dockerd can
be neither installed nor started).
"""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.docker import engine as de
from harness.docker.image import ImageEquipment, ImageStartError
from harness.docker.topology import DockerRun, run_docker_topology
from harness.equipment import parse_equipment
from sipcore.message import Response
from sipcore.parser import parse_message

pytest.importorskip("docker", reason="the docker extra is not installed: pip install -e '.[docker]'")

ROOT = Path(__file__).resolve().parents[2]
BASE = "trunkcheck-base:bookworm"
RUN_ID = uuid.uuid4().hex[:8]
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]


def _sh(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _timed(what: str, started: float) -> None:
    print(f"docker timing: {what} {time.monotonic() - started:.1f} s")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    started_here = False
    try:
        engine = de.connect(timeout=5)
    except de.EngineUnreachable as exc:
        if os.geteuid() != 0:
            pytest.skip(f"{exc}; and this is not root, so docker.io can be neither installed nor started here")
        started = time.monotonic()
        result = _sh(["docker/engine.sh", "start"], timeout=900)
        if result.returncode != 0:
            pytest.fail(f"docker/engine.sh could not start a Docker engine:\n{result.stdout}{result.stderr}")
        _timed("engine start (install if missing, dockerd, docker info)", started)
        started_here = True
        engine = de.connect(timeout=10)
    yield engine
    engine.close()
    if started_here:  # refused (and left running) if containers of someone else's still run in it
        print(_sh(["docker/engine.sh", "stop"], timeout=120).stdout.strip())


@pytest.fixture(scope="module")
def image(client: Any) -> Iterator[str]:
    created: list[str] = []
    tag = f"trunkcheck:test-{RUN_ID}"
    try:
        try:
            client.images.get(BASE)
        except Exception:
            created.append(BASE)
        started = time.monotonic()
        result = _sh(["docker/build-base.sh"], timeout=1500)
        assert result.returncode == 0, f"docker/build-base.sh failed:\n{result.stdout}{result.stderr}"
        _timed(f"base image ({result.stdout.strip().splitlines()[-1]})", started)
        started = time.monotonic()
        result = _sh(["docker/wheels.sh"], timeout=700)
        assert result.returncode == 0, f"docker/wheels.sh failed:\n{result.stdout}{result.stderr}"
        _timed("wheels", started)
        started = time.monotonic()
        built = de.build_image(client, str(ROOT), tag, buildargs={"BASE": BASE}, timeout=900)
        created.append(tag)
        _timed(f"trunkcheck image ({built.attrs['Size'] / 1e6:.0f} MB)", started)
        yield tag
    finally:
        for name in reversed(created):
            try:
                client.images.remove(name, force=True)
            except Exception as exc:
                print(f"could not remove image {name}: {exc}")


def _free_subnet(client: Any) -> str:
    taken = [ipaddress.ip_network(c["Subnet"]) for n in client.networks.list()
             for c in (n.attrs.get("IPAM") or {}).get("Config") or [] if "." in c.get("Subnet", "")]
    for candidate in de.HARNESS_SUBNETS.subnets(new_prefix=24):
        if not any(candidate.overlaps(other) for other in taken):
            return str(candidate)
    raise AssertionError(f"no free /24 left in {de.HARNESS_SUBNETS} on this engine: remove leftover networks")


def _gone(client: Any, session_id: str) -> bool:
    selector = {"label": f"{de.LABEL}={session_id}"}
    return not client.containers.list(all=True, filters=selector) and not client.networks.list(filters=selector)


def test_serve_help_runs_in_the_image(client: Any, image: str) -> None:
    container = client.containers.create(image, ["serve", "--help"], network_mode="none",
                                         labels={de.LABEL: f"help-{RUN_ID}"})
    try:
        container.start()
        status = container.wait(timeout=60)["StatusCode"]
        output = container.logs().decode()
    finally:
        container.remove(v=True, force=True)
    assert status == 0, output
    assert "--listen" in output and "--destination" in output


def test_image_has_tshark_and_sipp_for_the_suite(client: Any, image: str) -> None:
    container = client.containers.create(image, ["-c", "tshark -v | head -n 1; sipp -v | grep SIPp; ls /work"],
                                         entrypoint=["/bin/sh"], network_mode="none",
                                         labels={de.LABEL: f"tools-{RUN_ID}"})
    try:
        container.start()
        status = container.wait(timeout=60)["StatusCode"]
        output = container.logs().decode()
    finally:
        container.remove(v=True, force=True)
    assert status == 0, output
    assert "TShark (Wireshark)" in output and "SIPp v3" in output and "captures" in output


def test_serve_container_answers_options_from_the_host_over_a_user_network(client: Any, image: str) -> None:
    with de.DockerSession(client) as session:
        subnet = ipaddress.ip_network(_free_subnet(client))
        network = session.create_network(f"tc-test-{session.session_id}", str(subnet))
        hosts = list(subnet.hosts())
        gateway, address = str(hosts[0]), str(hosts[9])
        started = time.monotonic()
        container = session.run_container(
            image, name=f"tc-serve-{session.session_id}", network=network, address=address,
            command=["serve", "--listen", f"udp:{address}:5060"],
            health=de.HealthCheck(udp_port=5060, timeout=30))
        _timed("serve container ready (start + UDP OPTIONS probe)", started)

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.connect((address, 5060))
            local = sock.getsockname()
            payload = de.sip_options_probe(address, 5060, local)
            sock.send(payload)
            response = parse_message(sock.recv(65535))
        request = parse_message(payload)
        assert local[0] == gateway, "the host reaches the container through the network's bridge"
        assert isinstance(response, Response) and response.status == 200
        assert response.call_id == request.call_id and response.cseq.method == "OPTIONS"
        assert response.top_via.branch == request.top_via.branch and response.to.tag
        assert network.name in {n.name for n in client.networks.list()}
        container.reload()
        assert container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"] == address
        session_id = session.session_id
    assert f"listening on udp:{address}:5060" in session.final_logs[f"tc-serve-{session_id}"]
    assert _gone(client, session_id)


def test_early_exit_and_failed_health_are_reported_within_their_bounds_and_removed(
        client: Any, image: str) -> None:
    with de.DockerSession(client) as session:
        subnet = ipaddress.ip_network(_free_subnet(client))
        network = session.create_network(f"tc-test-{session.session_id}", str(subnet))
        address = str(list(subnet.hosts())[9])

        with pytest.raises(de.ContainerFailed) as exited:
            session.run_container(image, name=f"tc-bad-{session.session_id}", network=network, address=address,
                                  command=["serve", "--listen", "bogus"], health=de.HealthCheck(udp_port=5060))
        assert "exited with code 2" in str(exited.value)
        assert '--listen: "bogus": "bogus" is not an IP address' in str(exited.value)

        started = time.monotonic()
        with pytest.raises(de.ContainerFailed, match=r"was not ready within 3 s \(UDP probe to .*:5070"):
            session.run_container(image, name=f"tc-deaf-{session.session_id}", network=network,
                                  address=address, command=["serve", "--listen", f"udp:{address}:5060"],
                                  health=de.HealthCheck(udp_port=5070, timeout=3))
        assert time.monotonic() - started < 20
        assert session.containers == []
        session_id = session.session_id
    assert _gone(client, session_id)


def test_a_private_subnet_is_refused_by_the_live_engine_session(client: Any) -> None:
    with de.DockerSession(client) as session, pytest.raises(de.SubnetRefused):
        session.create_network(f"tc-test-{session.session_id}", "172.18.0.0/24")
    assert _gone(client, session.session_id)


# -- the conformance suite in Docker ------------------------------------------------------------------


SUMMARY = re.compile(r"trunkcheck: (\d+) scenarios, (\d+) passed, (\d+) failed")


def test_docker_run_image_run_is_the_green_suite_against_the_embedded_server(client: Any, image: str) -> None:
    """`docker run --rm IMAGE run`: the suite inside the container, captures on its loopback (the default
    capabilities include NET_RAW), decoded by the image's tshark."""
    name = f"tc-suite-{RUN_ID}"
    started = time.monotonic()
    try:
        result = _sh(["docker", "run", "--rm", "--name", name, "--label", f"{de.LABEL}=suite-{RUN_ID}",
                      "--network", "none", image, "run"], timeout=600)
    finally:
        _sh(["docker", "rm", "-f", name], timeout=60)  # left by a timeout only; --rm removed it otherwise
    _timed("docker run IMAGE run (the suite against the embedded server)", started)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    total, passed, failed = map(int, SUMMARY.search(output).groups())  # type: ignore[union-attr]
    assert total >= 25 and passed == total and failed == 0, output[-3000:]
    assert "captures/" in output and "report.html" in output


def _topology(client: Any, image: str, output: Path, run_id: str, equipment: Path | None = None) -> str:
    """One docker topology run, green; its output. Leaves no container or network behind."""
    containers = {c.id for c in client.containers.list(all=True)}
    networks = {n.id for n in client.networks.list()}
    out = io.StringIO()
    started = time.monotonic()
    result = run_docker_topology(DockerRun(image=image, equipment=equipment, output=output, run_id=run_id,
                                           timeout=600), out, out)
    _timed(f"docker topology {run_id} (equipment image + harness container)", started)
    log = out.getvalue()
    assert result.exit_code == 0, log[-6000:]
    assert {c.id for c in client.containers.list(all=True)} <= containers, "a container was left behind"
    assert {n.id for n in client.networks.list()} <= networks, "a network was left behind"
    return log


def _carried(run_dir: Path, *addresses: str) -> bytes:
    pcaps = sorted(run_dir.glob("*/*.pcap"))
    assert pcaps, f"no pcap in {run_dir}"
    raw = b"".join(p.read_bytes() for p in pcaps)
    for address in addresses:
        assert socket.inet_aton(address) in raw, f"no packet of {address} in the captures"
    return raw


def test_the_docker_topology_runs_the_suite_against_the_reference_server_shipped_as_an_image(
        client: Any, image: str, tmp_path: Path) -> None:
    """`trunkcheck run --topology docker`: the reference server as equipment in its own container
    (examples/equipment/reference-trunk-image.toml), the UA, UA2, carrier and destination in a harness
    container with their own addresses, every scenario captured on the network between them."""
    log = _topology(client, image, tmp_path, "topology")
    total, passed, failed = map(int, SUMMARY.search(log).groups())  # type: ignore[union-attr]
    assert total >= 15 and passed == total and failed == 0, log[-3000:]
    assert "not applicable" in log  # the scenarios that reconfigure the trunk as they run
    run_dir = tmp_path / "topology"
    report = (run_dir / "report.html").read_text()
    assert "Equipment under test: trunkcheck reference trunk (image)" in report
    assert "listening on udp:198.18.60.20:5060" in (run_dir / "equipment" / "equipment.log").read_text()
    assert (run_dir / "validation-report.html").is_file()
    # separate hosts: trunk, UA, carrier and destination each at its own address of the network
    raw = _carried(run_dir, "198.18.60.20", "198.18.60.10", "198.18.60.12", "198.18.60.30")
    assert socket.inet_aton("127.0.0.20") not in raw


def test_ip_auth_is_checked_across_hosts_in_the_docker_topology(client: Any, image: str, tmp_path: Path) -> None:
    """The trunk account that allows only 198.18.60.10 (reference-trunk-image-ip-auth.toml): the harness's
    UA calls from that address in its own container and is let through without a challenge."""
    equipment = ROOT / "examples" / "equipment" / "reference-trunk-image-ip-auth.toml"
    log = _topology(client, image, tmp_path, "ip-auth", equipment)
    assert "passed" in log and "A call from an allowed address is connected without a challenge" in log
    total, passed, _ = map(int, SUMMARY.search(log).groups())  # type: ignore[union-attr]
    assert total == passed >= 1
    _carried(tmp_path / "ip-auth", "198.18.60.10", "198.18.60.20")


def test_equipment_whose_health_check_fails_is_reported_unhealthy_and_removed(client: Any, image: str) -> None:
    text = (ROOT / "examples" / "equipment" / "reference-trunk-image.toml").read_text()
    subnet = ipaddress.ip_network(_free_subnet(client))
    prefix = ".".join(str(subnet.network_address).split(".")[:3])
    text = text.replace("198.18.60.", prefix + ".").replace(
        'test = ["CMD", "python", "-c",', 'test = ["CMD", "sh", "-c", "echo not yet; exit 1", "--",').replace(
        "interval = 0.5", "interval = 0.2").replace("retries = 30", "retries = 2").replace(
        '"--config", "examples/equipment/reference-trunk-image.server.toml", "--log-level", "INFO"',
        f'"--listen", "udp:{prefix}.20:5060"')
    assert f"udp:{prefix}.20:5060" in text and "exit 1" in text
    eq = parse_equipment(text, "unhealthy.toml")
    assert eq.image is not None
    eq = dataclasses.replace(eq, image=dataclasses.replace(eq.image, name=image))
    with de.DockerSession(client) as session:
        network = session.create_network(f"tc-test-{session.session_id}", str(subnet))
        started = time.monotonic()
        with pytest.raises(ImageStartError) as info:
            ImageEquipment(eq, client, network, session=session).start()
        assert time.monotonic() - started < 15
        assert "is unhealthy" in str(info.value) and "output 'not yet'" in str(info.value)
        assert session.containers == []
        session_id = session.session_id
    assert _gone(client, session_id)
