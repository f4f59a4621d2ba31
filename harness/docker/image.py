"""SIP equipment shipped as a Docker image (``[equipment.image]`` in the equipment file), run as a container
on a Docker network the harness created, with the lifecycle of :class:`harness.adapters.kamailio.SipProcess`:

    eq = load_equipment("examples/equipment/reference-trunk-image.toml")
    with DockerSession(connect()) as session:
        network = session.create_network("tc-net", equipment_subnet(eq))
        trunk = ImageEquipment(eq, session.client, network, session=session).start()   # bounded
        trunk.address, trunk.transport      # ("198.18.60.20", 5060), "udp": where it answers SIP
        ...
        trunk.stop()                        # stopped (its STOPSIGNAL, then SIGKILL) and removed
        trunk.log_tail()                    # still there after stop(): for the report

The container gets the equipment's ``address`` as its fixed address on the network, the image's ``env``
and ``command``. It is ready when its health check passes (``[equipment.image.healthcheck]``, run by the
engine inside the container with the file's interval, timeout and retries), or, without one, once its SIP
address answers from this host (UDP: any response to an OPTIONS; TCP: a connection). Every failure to
start (no engine, image missing, early exit, unhealthy, not ready in time) raises
:class:`ImageStartError` (an ``EquipmentStartError``, like a process that fails to start) saying what
happened and what to do, with the container's last log lines; the container is removed by then.

``ports`` (``"5060/udp"``) lists what the image serves: the equipment's address must be one of them. They
are not published on this host: the harness reaches the container on the network directly.
"""

from __future__ import annotations

import ipaddress
import re
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.adapters.kamailio import EquipmentStartError
from harness.adapters.process import workdir_or_temporary
from harness.docker import engine as de
from harness.equipment import Equipment, EquipmentError

__all__ = ["DEFAULT_START_TIMEOUT", "ImageEquipment", "ImageStartError", "equipment_subnet", "health_for"]

DEFAULT_START_TIMEOUT = 30.0  # without a health check: how long the SIP address may stay silent
MAX_START_TIMEOUT = 600.0


class ImageStartError(EquipmentStartError):
    """The equipment's container could not be started, or did not become ready; nothing is left running."""

    def __init__(self, message: str, *, logs: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        self.logs = logs
        self.exit_code = exit_code


def equipment_subnet(equipment: Equipment, prefix: int = 24) -> str:
    """The network (a /``prefix``) the equipment's address lives in: the one the docker topology creates.

    EquipmentError naming the line when the address is not inside 198.18.32.0/19, where the harness
    creates its networks (never a private range; 198.18.0.0/24 and 198.18.64.0/18 belong to dockerd).
    """
    ip = ipaddress.ip_address(equipment.address.host)
    if not isinstance(ip, ipaddress.IPv4Address) or ip not in de.HARNESS_SUBNETS:
        raise EquipmentError(
            f"{equipment.where('equipment.address')}: {equipment.address.host} is not inside "
            f"{de.HARNESS_SUBNETS}: equipment run as an image gets its address on a Docker network the harness "
            f"creates there (for example udp:198.18.60.20:5060, on 198.18.60.0/24)", filename=equipment.source)
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def health_for(equipment: Equipment, start_timeout: float | None = None) -> de.HealthCheck:
    """How to know the equipment's container is ready, and the bound on waiting for it.

    With ``[equipment.image.healthcheck]``: the engine runs its ``test`` every ``interval`` s (each run
    bounded by ``timeout``) and calls it unhealthy after ``retries`` failures in a row; the wait is bounded
    by that many rounds plus 10 s. Without: an OPTIONS to (or a TCP connection with) the equipment's
    address from this host, for up to ``start_timeout`` s (default 30).
    """
    spec = equipment.image
    if spec is None:
        raise EquipmentError(f"{equipment.source}: equipment {equipment.name!r} has no [equipment.image]",
                             filename=equipment.source)
    check = spec.healthcheck
    if check:
        interval, each, retries = float(check["interval"]), float(check["timeout"]), int(check["retries"])
        bound = start_timeout or min(MAX_START_TIMEOUT, interval + retries * (interval + each) + 10.0)
        return de.HealthCheck(command=list(check["test"]), interval=interval, check_timeout=each,
                              retries=retries, timeout=bound)
    bound = start_timeout or DEFAULT_START_TIMEOUT
    if equipment.address.transport == "tcp":
        return de.HealthCheck(tcp_port=equipment.address.port, timeout=bound)
    return de.HealthCheck(udp_port=equipment.address.port, timeout=bound)


def _container_name(equipment: Equipment, session_id: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", equipment.name.lower()).strip("-")[:30].rstrip("-") or "equipment"
    return f"tc-eq-{slug}-{session_id}"


class ImageEquipment:
    """The equipment's image running on ``network`` (a network of ``session``, or of a session of its own
    when none is given) at the equipment's address."""

    def __init__(self, equipment: Equipment, client: Any, network: Any, *, session: de.DockerSession | None = None,
                 start_timeout: float | None = None, stop_timeout: float = 10.0, name: str | None = None,
                 workdir: Path | None = None) -> None:
        if equipment.image is None:
            raise EquipmentError(f"{equipment.source}: equipment {equipment.name!r} has no [equipment.image] to "
                                 "start", filename=equipment.source)
        self.equipment = equipment
        self.spec = equipment.image
        self.client = client
        self.network = network
        self._own_session = session is None
        self.session = session or de.DockerSession(client)
        self.name = name or _container_name(equipment, self.session.session_id)
        self.health = health_for(equipment, start_timeout)
        self.stop_timeout = stop_timeout
        self.container: Any = None
        self.returncode: int | None = None
        self._logs = ""
        self.workdir, self._tmp = workdir_or_temporary(workdir, "trunkcheck-equipment-")
        self._check_address()

    # -- what the runner needs ---------------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        return self.equipment.address.addr

    @property
    def transport(self) -> str:
        return self.equipment.address.transport

    @property
    def image(self) -> str:
        return self.spec.name

    @property
    def log_path(self) -> Path:
        """The container's whole log, written when it stops (or by ``write_log``)."""
        return self.workdir / "equipment.log"

    def _check_address(self) -> None:
        eq = self.equipment
        subnet = self.network.attrs["IPAM"]["Config"][0]["Subnet"]
        try:
            de.check_address(eq.address.host, de.check_subnet(subnet))
        except de.SubnetRefused as exc:
            raise EquipmentError(f"{eq.where('equipment.address')}: cannot put the equipment's container at "
                                 f"{eq.address.host} on network {self.network.name}: {exc}",
                                 filename=eq.source) from None
        served = {p if "/" in p else f"{p}/udp" for p in self.spec.ports}
        wanted = f"{eq.address.port}/{eq.address.transport}"
        if served and wanted not in served:
            raise EquipmentError(f"{eq.where('equipment.image.ports')}: the equipment's address {eq.address} needs "
                                 f"{wanted}, which is not among the image's ports ({', '.join(self.spec.ports)})",
                                 filename=eq.source)

    def start(self) -> ImageEquipment:
        """Create and start the container, and wait (bounded) until it is ready; ImageStartError if not."""
        if self.container is not None:
            raise RuntimeError(f"{self.name} is already started")
        eq, where = self.equipment, self.equipment.where("equipment.image.name")
        started = time.monotonic()
        try:
            self.container = self.session.run_container(
                self.spec.name, name=self.name, network=self.network, address=eq.address.host,
                command=list(self.spec.command) if self.spec.command is not None else None,
                environment=self.spec.env, health=self.health)
        except de.ImageMissing as exc:
            raise ImageStartError(f"{where}: {exc}") from exc
        except de.ContainerFailed as exc:
            self._logs = self.session.final_logs.get(self.name, exc.logs)
            self.returncode = exc.exit_code
            raise ImageStartError(f"{eq.name}: {exc}", logs=exc.logs, exit_code=exc.exit_code) from exc
        except de.DockerError as exc:
            raise ImageStartError(f"{eq.name}: {exc}") from exc
        except Exception as exc:  # the engine refused the container (bad command, address in use ...)
            self._logs = self.session.final_logs.get(self.name, "")
            if self._own_session:
                self.session.cleanup()
            raise ImageStartError(f"{eq.name}: the Docker engine could not run image {self.spec.name} at "
                                  f"{eq.address.host} on network {self.network.name}: {de.short_error(exc)}") from exc
        self.ready_after = time.monotonic() - started
        return self

    def running(self) -> bool:
        if self.container is None:
            return False
        try:
            self.container.reload()
        except Exception:
            return False
        return bool(self.container.attrs["State"]["Status"] == "running")

    def logs(self) -> str:
        """Everything the container wrote (stdout and stderr), also after it was removed."""
        if self.container is not None:
            try:
                return bytes(self.container.logs()).decode("utf-8", "replace")
            except Exception:
                pass
        return self._logs

    def log_tail(self, max_chars: int = 4000) -> str:
        return self.logs()[-max_chars:].strip()

    def write_log(self, path: Path | None = None) -> Path:
        path = path or self.log_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.logs(), encoding="utf-8")
        return path

    def stop(self) -> int | None:
        """Stop the container (its STOPSIGNAL, SIGKILL ``stop_timeout`` s later) and remove it, keeping its
        logs; the exit status (None if it never started)."""
        container = self.container
        if container is None:
            return self.returncode
        try:
            container.stop(timeout=max(1, round(self.stop_timeout)))
            container.reload()
            self.returncode = container.attrs["State"].get("ExitCode")
        except Exception:  # already gone, or the engine went away: removal below says what is left
            pass
        self._logs = self.logs()
        self.session.remove_container(container)
        self._logs = self.session.final_logs.get(container.name, self._logs)
        self.container = None
        try:
            self.write_log()
        except OSError:
            pass
        return self.returncode

    def close(self) -> None:
        self.stop()
        if self._own_session:
            self.session.cleanup()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ImageEquipment:
        return self.start() if self.container is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
