"""harness.docker.engine without an engine: addresses it refuses, what its errors say, the probes (on
loopback only), and the health wait / cleanup logic against a fake SDK client."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from harness.docker import engine as de
from sipcore.message import Request
from sipcore.parser import parse_message

from .fake_docker import HEALTHY, STARTING, FakeClient

docker = pytest.importorskip("docker", reason="the docker extra is not installed: pip install -e '.[docker]'")


# -- subnets and addresses --------------------------------------------------------------------------


@pytest.mark.parametrize("subnet", [
    "10.0.0.0/24", "172.17.0.0/16", "192.168.1.0/24",  # private ranges: never
    "8.8.8.0/24", "203.0.113.0/24",                      # public / documentation: never
    "198.17.255.0/24", "198.20.0.0/24",                  # just outside the benchmarking range
    "198.16.0.0/14",                                     # contains 198.18.0.0/15 but reaches outside it
])
def test_subnets_outside_the_benchmarking_range_are_refused(subnet: str) -> None:
    with pytest.raises(de.SubnetRefused, match=r"outside 198\.18\.0\.0/15"):
        de.check_subnet(subnet)


@pytest.mark.parametrize("subnet", ["fd00::/64", "198.18.32.1/24", "not-a-subnet", "198.18.32.0"])
def test_malformed_or_ipv6_subnets_are_refused(subnet: str) -> None:
    with pytest.raises(de.SubnetRefused):
        de.check_subnet(subnet)


def test_a_subnet_too_small_for_gateway_and_container_is_refused() -> None:
    with pytest.raises(de.SubnetRefused, match="too small"):
        de.check_subnet("198.18.32.0/31")


@pytest.mark.parametrize("subnet", ["198.18.32.0/24", "198.19.255.0/24", "198.18.0.0/15", "198.18.40.8/29"])
def test_subnets_inside_the_benchmarking_range_are_accepted(subnet: str) -> None:
    assert str(de.check_subnet(subnet)) == subnet


def test_overlap_with_an_existing_engine_network_names_it_and_how_to_remove_it() -> None:
    existing = {"bridge": ["198.18.0.0/24"], "v6only": ["fd00::/64"], "old-run": ["198.18.33.0/24"]}
    assert de.overlap_message(de.check_subnet("198.18.32.0/24"), existing) is None
    message = de.overlap_message(de.check_subnet("198.18.32.0/23"), existing)
    assert message is not None and "'old-run'" in message and "docker network rm old-run" in message
    message = de.overlap_message(de.check_subnet("198.18.0.0/16"), existing)
    assert message is not None and "'bridge'" in message


@pytest.mark.parametrize("address", ["198.18.32.0", "198.18.32.1", "198.18.32.255", "198.18.33.5", "10.0.0.5"])
def test_container_addresses_exclude_network_gateway_broadcast_and_outside(address: str) -> None:
    with pytest.raises(de.SubnetRefused):
        de.check_address(address, de.check_subnet("198.18.32.0/24"))
    assert de.check_address("198.18.32.10", de.check_subnet("198.18.32.0/24")) == "198.18.32.10"


# -- errors: what happened and what to do -----------------------------------------------------------


def test_no_engine_error_names_the_url_and_how_to_start_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/trunkcheck-test/docker.sock")
    started = time.monotonic()
    with pytest.raises(de.EngineUnreachable) as info:
        de.connect(timeout=5)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert message.startswith("no Docker engine at unix:///nonexistent/trunkcheck-test/docker.sock: ")
    assert "docker/engine.sh" in message and "DOCKER_HOST" in message


def test_no_engine_on_a_closed_loopback_port_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port that was just free: nothing listens on it now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(de.EngineUnreachable, match=f"no Docker engine at tcp://127.0.0.1:{port}"):
        de.connect(timeout=3)
    assert time.monotonic() - started < 10


def test_permission_denied_on_the_socket_says_to_run_as_root_or_join_the_group() -> None:
    message = de.unreachable_message("unix:///var/run/docker.sock", "PermissionError(13, 'Permission denied')")
    assert "run as root or as a member of the docker group" in message


@pytest.mark.parametrize(("tag", "command"), [
    ("trunkcheck-base:bookworm", "docker/build-base.sh"),
    ("trunkcheck:latest", "docker build --build-arg BASE=trunkcheck-base:bookworm -t trunkcheck:latest ."),
    ("vendor-pbx:1.0", "docker load -i"),
])
def test_missing_image_error_says_which_command_builds_it(tag: str, command: str) -> None:
    client = FakeClient()
    with pytest.raises(de.ImageMissing) as info:
        de.ensure_image(client, tag)
    assert f"image {tag} is not in the Docker engine" in str(info.value)
    assert command in str(info.value)


# -- probes (loopback only) -------------------------------------------------------------------------


def test_the_udp_probe_is_a_well_formed_sip_options() -> None:
    request = parse_message(de.sip_options_probe("198.18.32.10", 5060, ("198.18.32.1", 40000)))
    assert isinstance(request, Request) and request.method == "OPTIONS"
    assert request.uri == "sip:198.18.32.10:5060"
    assert request.top_via.branch is not None and request.top_via.branch.startswith("z9hG4bK")
    assert request.from_.tag and request.to.tag is None
    assert str(request.cseq) == "1 OPTIONS"
    assert request.headers.get("Max-Forwards") == "70"


def test_udp_probe_returns_the_answer_of_a_loopback_responder() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        port = server.getsockname()[1]

        def answer() -> None:
            data, addr = server.recvfrom(65535)
            server.sendto(b"SIP/2.0 200 OK\r\n" + data.split(b"\r\n", 1)[1], addr)

        thread = threading.Thread(target=answer)
        thread.start()
        reply = de.probe_udp("127.0.0.1", port, None, timeout=5)
        thread.join(5)
    assert reply is not None and reply.startswith(b"SIP/2.0 200 OK") and b"CSeq: 1 OPTIONS" in reply


def test_udp_probe_of_a_closed_loopback_port_gives_none_within_its_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    assert de.probe_udp("127.0.0.1", port, b"ping", timeout=1) is None
    assert time.monotonic() - started < 2


def test_tcp_probe_tells_listening_from_closed() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert de.probe_tcp("127.0.0.1", port, timeout=2)
    assert not de.probe_tcp("127.0.0.1", port, timeout=2)


# -- DockerSession against a fake SDK client --------------------------------------------------------


def test_create_network_refuses_a_private_subnet_before_asking_the_engine() -> None:
    client = FakeClient()
    with pytest.raises(de.SubnetRefused, match="outside 198.18.0.0/15"):
        de.DockerSession(client).create_network("tc-net", "172.20.0.0/24")
    assert client.networks_made == []


def test_create_network_refuses_overlapping_the_default_bridge() -> None:
    client = FakeClient()
    with pytest.raises(de.SubnetRefused, match="overlaps network 'bridge'"):
        de.DockerSession(client).create_network("tc-net", "198.18.0.0/23")


def test_network_gets_its_first_address_as_gateway_and_the_session_label() -> None:
    client = FakeClient()
    session = de.DockerSession(client, session_id="s1")
    network = session.create_network("tc-net", "198.18.32.0/24")
    assert network.attrs["IPAM"]["Config"][0]["Subnet"] == "198.18.32.0/24"
    assert session.networks == [network]


def test_container_that_exits_early_fails_with_its_code_and_last_logs_and_is_removed() -> None:
    client = FakeClient(plans=[[{"Status": "exited", "ExitCode": 2}]], logs=b"reference_server: bad listen address")
    with de.DockerSession(client) as session:
        network = session.create_network("tc-net", "198.18.32.0/24")
        with pytest.raises(de.ContainerFailed) as info:
            session.run_container("acme-sbc:4.2", name="sbc", network=network, address="198.18.32.10",
                                  health=de.HealthCheck(command=["true"], timeout=5))
        assert client.container is not None and client.container.removed
        assert session.containers == []
    message = str(info.value)
    assert "container sbc (acme-sbc:4.2) exited with code 2" in message
    assert "bad listen address" in message and info.value.exit_code == 2
    assert session.final_logs["sbc"] == "reference_server: bad listen address"
    assert network.removed


def test_container_never_healthy_fails_within_its_bound_and_is_removed() -> None:
    client = FakeClient(plans=[[STARTING] * 10_000], logs=b"still booting")
    session = de.DockerSession(client)
    network = session.create_network("tc-net", "198.18.32.0/24")
    started = time.monotonic()
    with pytest.raises(de.ContainerFailed, match=r"was not ready within 0.3 s \(health command 'check-sip'"):
        session.run_container("acme-sbc:4.2", name="sbc", network=network, address="198.18.32.10",
                              health=de.HealthCheck(command=["check-sip"], timeout=0.3, interval=0.05))
    assert time.monotonic() - started < 3
    assert client.container is not None and client.container.removed
    assert session.cleanup() == [] and network.removed


def test_container_healthy_by_command_is_returned_with_the_health_check_and_fixed_address() -> None:
    client = FakeClient(plans=[[STARTING, HEALTHY]])
    session = de.DockerSession(client, session_id="s2")
    network = session.create_network("tc-net", "198.18.32.0/24")
    container = session.run_container("acme-sbc:4.2", name="sbc", network=network, address="198.18.32.10",
                                      environment={"SIP_PORT": "5060"},
                                      health=de.HealthCheck(command=["check-sip"], timeout=5, interval=0.01))
    image, _, kwargs = client.created[0]
    assert image == "acme-sbc:4.2" and container is client.container
    assert kwargs["healthcheck"]["test"] == ["CMD", "check-sip"]
    assert kwargs["networking_config"] == {"tc-net": {"IPAMConfig": {"IPv4Address": "198.18.32.10"}}}
    assert kwargs["labels"] == {de.LABEL: "s2"} and kwargs["environment"] == {"SIP_PORT": "5060"}
    assert session.cleanup() == []
    assert container.removed and network.removed


def test_cleanup_goes_on_after_a_failed_removal_and_reports_it() -> None:
    client = FakeClient(plans=[[{"Status": "running"}]])
    session = de.DockerSession(client)
    network = session.create_network("tc-net", "198.18.32.0/24")
    container = session.run_container("acme-sbc:4.2", name="sbc", network=network, address="198.18.32.10")
    container.fail_remove = True
    problems = session.cleanup()
    assert problems == ["container sbc: device or resource busy"]
    assert network.removed


def test_run_container_refuses_a_missing_image_before_creating_anything() -> None:
    client = FakeClient()
    session = de.DockerSession(client)
    network = session.create_network("tc-net", "198.18.32.0/24")
    with pytest.raises(de.ImageMissing, match="trunkcheck:test is not in the Docker engine"):
        session.run_container("trunkcheck:test", name="x", network=network, address="198.18.32.10")
    assert client.created == []
