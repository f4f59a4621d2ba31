"""What the harness does with a Docker engine, through the ``docker`` Python SDK (``trunkcheck[docker]``).

- ``connect``: a client for the engine at ``DOCKER_HOST`` (default ``unix:///var/run/docker.sock``), or a
  clear ``EngineUnreachable`` within the timeout.
- ``ensure_image`` / ``build_image``: an image by tag, or ``ImageMissing`` saying which command builds it
  (no registry is assumed reachable, so nothing is ever pulled).
- ``DockerSession``: creates user networks (subnets only inside 198.18.0.0/15, the benchmarking range) and
  containers with a fixed address on them, waits for each container's health within a bound (a health
  command run by the engine, or a TCP or UDP probe from this host to the container's address), notices a
  container that exits early (its last log lines in the error), and removes everything it created, even
  on error: use it as a context manager.

Address plan inside 198.18.0.0/15: 198.18.0.0/24 is dockerd's default bridge and 198.18.64.0/18 its
pool for networks created without a subnet (both set by docker/engine.sh); the harness's own networks
take subnets from 198.18.32.0/19 (``HARNESS_SUBNETS``).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ALLOWED_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
HARNESS_SUBNETS = ipaddress.IPv4Network("198.18.32.0/19")
DEFAULT_ENGINE = "unix:///var/run/docker.sock"
LABEL = "trunkcheck.session"
LOG_TAIL = 20


class DockerError(RuntimeError):
    """Something the harness needed from the Docker engine did not happen; the message says what to do."""


class EngineUnreachable(DockerError):
    pass


class ImageMissing(DockerError):
    pass


class SubnetRefused(DockerError, ValueError):
    pass


class ContainerFailed(DockerError):
    """A container exited before it was healthy, or never became healthy within its bound."""

    def __init__(self, message: str, *, logs: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        self.logs = logs
        self.exit_code = exit_code


def engine_url() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE


def unreachable_message(url: str, detail: str) -> str:
    hint = "start one with docker/engine.sh (as root) or set DOCKER_HOST"
    if "ermission denied" in detail:
        hint = "run as root or as a member of the docker group, or set DOCKER_HOST"
    return f"no Docker engine at {url}: {hint} ({detail.strip() or 'no answer'})"


def connect(timeout: float = 10.0) -> Any:
    """A ``docker.DockerClient`` that has answered a ping, or ``EngineUnreachable`` within ``timeout``."""
    try:
        import docker
    except ImportError as exc:
        raise DockerError("the docker Python package is missing: pip install 'trunkcheck[docker]'") from exc
    url = engine_url()
    try:
        client = docker.from_env(timeout=max(1, round(timeout)))  # DOCKER_HOST, DOCKER_TLS_VERIFY, ...
        client.ping()
    except Exception as exc:  # DockerException, requests' ConnectionError/Timeout, OSError
        raise EngineUnreachable(unreachable_message(url, short_error(exc))) from exc
    return client


def build_hint(tag: str) -> str:
    name = tag.split(":", 1)[0]
    if name == "trunkcheck-base":
        return "docker/build-base.sh"
    if name == "trunkcheck":
        return f"docker/wheels.sh && docker build --build-arg BASE=trunkcheck-base:bookworm -t {tag} ."
    return f"docker build -t {tag} DIR, or docker load -i FILE.tar for an image handed over as a file"


def missing_image_message(tag: str, url: str) -> str:
    return (f"image {tag} is not in the Docker engine at {url} (no registry is pulled from): "
            f"build it with: {build_hint(tag)}")


def ensure_image(client: Any, tag: str) -> Any:
    """The image ``tag`` from the engine, or ``ImageMissing`` naming the command that builds it."""
    from docker.errors import ImageNotFound

    try:
        return client.images.get(tag)
    except ImageNotFound as exc:
        raise ImageMissing(missing_image_message(tag, engine_url())) from exc


def build_image(client: Any, path: str, tag: str, *, buildargs: Mapping[str, str] | None = None,
                timeout: float = 900.0) -> Any:
    """``docker build`` through the SDK (the engine's classic builder); its last log lines on failure.

    Dangling images of intermediate stages labelled ``trunkcheck.stage`` (the Dockerfile's ``suite``
    stage) are removed afterwards.
    """
    from docker.errors import BuildError

    started = time.monotonic()
    try:
        image, _ = client.images.build(path=path, tag=tag, buildargs=dict(buildargs or {}), rm=True,
                                       forcerm=True, timeout=max(1, round(timeout)))
    except BuildError as exc:
        lines = [str(chunk.get("stream") or chunk.get("error") or "").rstrip() for chunk in exc.build_log]
        tail = "\n".join(line for line in lines if line)[-3000:]
        raise DockerError(f"docker build of {tag} from {path} failed after "
                          f"{time.monotonic() - started:.0f} s: {exc.msg}\n{tail}") from exc
    finally:
        client.images.prune(filters={"dangling": True, "label": "trunkcheck.stage"})
    return image


def check_subnet(subnet: str) -> ipaddress.IPv4Network:
    """``subnet`` parsed, or ``SubnetRefused`` when it is not an IPv4 network inside 198.18.0.0/15."""
    try:
        network = ipaddress.ip_network(subnet, strict=True)
    except ValueError as exc:
        raise SubnetRefused(f"subnet {subnet!r} is not a network address with a prefix "
                            f"(for example 198.18.32.0/24): {exc}") from exc
    if not isinstance(network, ipaddress.IPv4Network) or not network.subnet_of(ALLOWED_RANGE):
        raise SubnetRefused(f"subnet {subnet} is outside {ALLOWED_RANGE}: trunkcheck puts test hosts only in "
                            f"the benchmarking range, never a private or public one; use one inside "
                            f"{HARNESS_SUBNETS} (for example 198.18.32.0/24)")
    if network.num_addresses < 4:
        raise SubnetRefused(f"subnet {subnet} is too small for a gateway and a container: use /29 or larger")
    return network


def overlap_message(subnet: ipaddress.IPv4Network, existing: Mapping[str, Iterable[str]]) -> str | None:
    """Which existing engine network (name -> its subnets) ``subnet`` overlaps, as an error, or None."""
    for name, subnets in existing.items():
        for other in subnets:
            try:
                if subnet.overlaps(ipaddress.ip_network(other, strict=False)):
                    return (f"subnet {subnet} overlaps network {name!r} ({other}) on this engine: choose another "
                            f"subnet inside {HARNESS_SUBNETS}, or remove a leftover with: docker network rm {name}")
            except ValueError:
                continue  # an IPv6 or malformed subnet cannot overlap an IPv4 one
    return None


def check_address(address: str, subnet: ipaddress.IPv4Network) -> str:
    ip = ipaddress.ip_address(address)
    if ip not in subnet or ip in (subnet.network_address, subnet.broadcast_address, next(subnet.hosts())):
        raise SubnetRefused(f"address {address} is not a container address of {subnet} "
                            f"(inside it, and not its network, broadcast or gateway {next(subnet.hosts())})")
    return str(ip)


@dataclass(frozen=True)
class HealthCheck:
    """How to know that a container is ready, bounded by ``timeout`` seconds.

    ``command``: run by the engine inside the container (Docker's HEALTHCHECK); ready when it exits 0.
    Given as an argument list, or in Docker's own form (``["CMD", ...]``, ``["CMD-SHELL", "..."]``); it
    runs every ``interval`` seconds, each run bounded by ``check_timeout``, and after ``retries`` failures
    in a row the engine calls the container unhealthy, which fails the wait at once.
    ``tcp_port``: ready when a TCP connection from this host to the container's address succeeds.
    ``udp_port``: ready when a datagram sent there (``udp_payload``; default a SIP OPTIONS) is answered.
    None of them: ready as soon as the container runs.
    """

    command: Sequence[str] | None = None
    tcp_port: int | None = None
    udp_port: int | None = None
    udp_payload: bytes | None = None
    timeout: float = 30.0
    interval: float = 0.5
    check_timeout: float = 5.0
    retries: int = 1_000_000

    def engine_test(self) -> list[str]:
        """The command in Docker's HEALTHCHECK form."""
        command = list(self.command or [])
        return command if command[:1] in (["CMD"], ["CMD-SHELL"]) else ["CMD", *command]

    def describe(self, address: str) -> str:
        if self.command:
            shown = self.engine_test()[1:]
            return f"health command {' '.join(shown)!r}"
        if self.tcp_port:
            return f"TCP connect to {address}:{self.tcp_port}"
        if self.udp_port:
            return f"UDP probe to {address}:{self.udp_port}"
        return "running state"


def sip_options_probe(address: str, port: int, local: tuple[str, int]) -> bytes:
    branch = "z9hG4bK" + uuid.uuid4().hex[:16]
    return (f"OPTIONS sip:{address}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {local[0]}:{local[1]};branch={branch};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:probe@{local[0]}>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:{address}:{port}>\r\nCall-ID: {uuid.uuid4().hex}@trunkcheck-probe\r\n"
            f"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


def probe_udp(address: str, port: int, payload: bytes | None, timeout: float) -> bytes | None:
    """The first datagram answering ``payload`` (default: a SIP OPTIONS), or None within ``timeout``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            sock.send(payload if payload is not None else sip_options_probe(address, port, sock.getsockname()))
            return sock.recv(65535)
        except OSError:  # timeout, or ICMP port unreachable as ConnectionRefusedError
            return None


def probe_tcp(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def container_logs(container: Any, tail: int = LOG_TAIL) -> str:
    try:
        return bytes(container.logs(tail=tail)).decode("utf-8", "replace").rstrip()
    except Exception as exc:  # the container may already be gone
        return f"(no logs: {short_error(exc)})"


class DockerSession:
    """Networks and containers made for one run, all labelled ``trunkcheck.session=<id>``, removed by
    ``cleanup()`` (or on leaving the ``with`` block), whatever happened."""

    def __init__(self, client: Any, session_id: str | None = None) -> None:
        self.client = client
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.networks: list[Any] = []
        self.containers: list[Any] = []
        self.final_logs: dict[str, str] = {}

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL: self.session_id}

    def __enter__(self) -> DockerSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()

    def create_network(self, name: str, subnet: str, *, internal: bool = True) -> Any:
        """A bridge network with ``subnet`` (inside 198.18.0.0/15); the host gets its first address.

        ``internal`` (default): no route from the network to anywhere but this host.
        """
        from docker.types import IPAMConfig, IPAMPool

        net = check_subnet(subnet)
        existing = {n.name: [c.get("Subnet", "") for c in (n.attrs.get("IPAM") or {}).get("Config") or []]
                    for n in self.client.networks.list()}
        problem = overlap_message(net, existing)
        if problem:
            raise SubnetRefused(problem)
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=str(net), gateway=str(next(net.hosts())))])
        network = self.client.networks.create(name, driver="bridge", ipam=ipam, internal=internal,
                                              labels=self.labels, check_duplicate=True)
        self.networks.append(network)
        return network

    def create_container(self, image: str, *, name: str, network: Any, ip: str,
                         command: Sequence[str] | None = None, environment: Mapping[str, str] | None = None,
                         **options: Any) -> Any:
        """Creates (does not start) ``image`` as ``name`` at ``ip`` on ``network``, labelled as this
        session's so that cleanup finds it; it is removed with the session's other containers."""
        endpoint = self.client.api.create_endpoint_config(ipv4_address=ip)
        container = self.client.containers.create(
            image, list(command) if command is not None else None, name=name, detach=True, init=True,
            environment=dict(environment or {}), labels=self.labels, hostname=name,
            network=network.name, networking_config={network.name: endpoint}, **options)
        self.containers.append(container)
        return container

    def run_container(self, image: str, *, name: str, network: Any, address: str,
                      command: Sequence[str] | None = None, environment: Mapping[str, str] | None = None,
                      health: HealthCheck | None = None, **options: Any) -> Any:
        """Starts ``image`` on ``network`` at ``address`` and waits until it is healthy.

        Raises ``ImageMissing``, or ``ContainerFailed`` when it exits first or is not healthy within
        ``health.timeout`` seconds; the failed container is removed before the error is raised. Extra
        ``options`` go to the SDK's ``containers.create`` (cap_add, volumes, ...).
        """
        health = health or HealthCheck()
        ensure_image(self.client, image)
        ip = check_address(address, check_subnet(network.attrs["IPAM"]["Config"][0]["Subnet"]))
        if health.command:
            options["healthcheck"] = {"test": health.engine_test(),
                                      "interval": int(health.interval * 1e9),
                                      "timeout": int(health.check_timeout * 1e9),
                                      "retries": health.retries, "start_period": 0}
        container = self.create_container(image, name=name, network=network, ip=ip, command=command,
                                          environment=environment, **options)
        try:
            container.start()
            self._wait_healthy(container, ip, health)
        except BaseException:
            self.remove_container(container)
            raise
        return container

    def _wait_healthy(self, container: Any, address: str, health: HealthCheck) -> None:
        started = time.monotonic()
        deadline = started + health.timeout
        what = health.describe(address)
        while True:
            container.reload()
            state = container.attrs["State"]
            if state["Status"] in ("exited", "dead"):
                logs = container_logs(container)
                raise ContainerFailed(
                    f"container {container.name} ({_image_name(container)}) exited with code {state['ExitCode']} "
                    f"{time.monotonic() - started:.1f} s after start, before it was ready ({what}); "
                    f"fix its command or environment and run again. Its last log lines:\n{logs}",
                    logs=logs, exit_code=state["ExitCode"])
            if (state.get("Health") or {}).get("Status") == "unhealthy":
                logs = container_logs(container)
                raise ContainerFailed(
                    f"container {container.name} ({_image_name(container)}) is unhealthy "
                    f"{time.monotonic() - started:.1f} s after start: its {what} failed {health.retries} times "
                    f"in a row (last result: {_last_health_output(state)}); it has been stopped and removed. "
                    f"Check the health command, or what the container logs:\n{logs}", logs=logs)
            remaining = deadline - time.monotonic()
            if self._healthy(state, address, health, min(max(remaining, 0.05), 2.0)):
                return
            if time.monotonic() >= deadline:
                logs = container_logs(container)
                raise ContainerFailed(
                    f"container {container.name} ({_image_name(container)}) was not ready within "
                    f"{health.timeout:g} s ({what} never succeeded); it has been stopped and removed. Check "
                    f"that it listens on that address and port, or give it a longer health timeout. "
                    f"Its last log lines:\n{logs}", logs=logs)
            time.sleep(min(health.interval, max(deadline - time.monotonic(), 0)))

    @staticmethod
    def _healthy(state: Mapping[str, Any], address: str, health: HealthCheck, wait: float) -> bool:
        if state["Status"] != "running":
            return False
        if health.command:
            return bool((state.get("Health") or {}).get("Status") == "healthy")
        if health.tcp_port:
            return probe_tcp(address, health.tcp_port, wait)
        if health.udp_port:
            return probe_udp(address, health.udp_port, health.udp_payload, wait) is not None
        return True

    def remove_container(self, container: Any) -> None:
        """Keeps its logs in ``final_logs`` (for the report), then stops and removes it."""
        from docker.errors import NotFound

        try:
            self.final_logs[container.name] = bytes(container.logs()).decode("utf-8", "replace")
        except Exception:
            pass
        try:
            container.remove(v=True, force=True)
        except NotFound:
            pass
        if container in self.containers:
            self.containers.remove(container)

    def cleanup(self) -> list[str]:
        """Removes this session's containers, then its networks, also any that carry its label but were
        not recorded; returns what could not be removed (also when the engine has gone away)."""
        problems: list[str] = []
        for container in list(self.containers):
            try:
                self.remove_container(container)
            except Exception as exc:
                problems.append(f"container {container.name}: {short_error(exc)}")
        for network in list(self.networks):
            try:
                network.remove()
                self.networks.remove(network)
            except Exception as exc:
                if "not found" not in str(exc).lower():
                    problems.append(f"network {network.name}: {short_error(exc)}")
                else:
                    self.networks.remove(network)
        try:
            selector = {"label": f"{LABEL}={self.session_id}"}
            for container in self.client.containers.list(all=True, filters=selector):
                self.remove_container(container)
            for network in self.client.networks.list(filters=selector):
                network.remove()
        except Exception as exc:
            problems.append(f"sweep of label {LABEL}={self.session_id}: {short_error(exc)}")
        return problems


def _last_health_output(state: Mapping[str, Any]) -> str:
    runs = (state.get("Health") or {}).get("Log") or []
    if not runs:
        return "none recorded"
    last = runs[-1]
    output = " ".join(str(last.get("Output") or "").split())[:300]
    return f"exit code {last.get('ExitCode')}" + (f", output {output!r}" if output else "")


def _image_name(container: Any) -> str:
    tags = getattr(container.image, "tags", None) or []
    return str(tags[0]) if tags else str(container.attrs.get("Config", {}).get("Image", "?"))


def short_error(exc: BaseException) -> str:
    """What went wrong, for a one-line message: the exception's text on one line, cut after 300 characters
    (the SDK's errors carry whole HTTP responses)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 300 else text[:300] + " ..."
