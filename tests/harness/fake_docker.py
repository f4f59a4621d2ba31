"""A fake Docker SDK client for the tests of harness.docker without an engine: images that are there or not,
networks and containers created, each container going through the states a test plans, its logs, files in
and out, and what was removed.

    client = FakeClient(plans=[[STARTING, HEALTHY]], logs=b"listening")   # the first container's states
    session = DockerSession(client)
    ...
    client.created            # [(image, command, kwargs)] as the SDK was asked
    client.containers_made    # FakeContainer: .removed, .stopped, .archives (put_archive), .files (get_archive)
"""

from __future__ import annotations

import io
import tarfile
from typing import Any

__all__ = ["HEALTHY", "STARTING", "FakeClient", "FakeContainer", "FakeNetwork"]

HEALTHY = {"Status": "running", "Health": {"Status": "healthy"}}
STARTING = {"Status": "running", "Health": {"Status": "starting"}}


class FakeContainer:
    """Each ``reload()`` takes the next of ``states``; ``files`` is what ``get_archive`` hands out."""

    def __init__(self, name: str, image: str, states: list[dict[str, Any]], logs: bytes,
                 files: dict[str, bytes] | None = None) -> None:
        self.name, self.id = name, f"id-{name}"
        self._states = states
        self._logs = logs
        self.files = dict(files or {})
        self.attrs: dict[str, Any] = {"State": {"Status": "created"}, "Config": {"Image": image}}
        self.image = type("Img", (), {"tags": [image]})()
        self.removed = self.stopped = False
        self.fail_remove = False
        self.archives: list[tuple[str, bytes]] = []
        self.stop_timeout: int | None = None

    def start(self) -> None:
        self.attrs["State"] = {"Status": "running"}

    def reload(self) -> None:
        if self._states:
            self.attrs["State"] = self._states.pop(0)

    def logs(self, tail: Any = "all", stream: bool = False, follow: bool = False) -> Any:
        return iter([self._logs]) if stream else self._logs

    def stop(self, timeout: int = 10) -> None:
        self.stopped, self.stop_timeout = True, timeout
        self.attrs["State"] = {"Status": "exited", "ExitCode": 0}
        self._states = []

    def remove(self, v: bool = False, force: bool = False) -> None:
        if self.fail_remove:
            raise RuntimeError("device or resource busy")
        self.removed = True

    def put_archive(self, path: str, data: bytes) -> bool:
        self.archives.append((path, data))
        return True

    def get_archive(self, path: str) -> tuple[Any, dict[str, Any]]:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for name, content in self.files.items():
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
        return iter([buffer.getvalue()]), {}


class FakeNetwork:
    def __init__(self, name: str, subnet: str) -> None:
        self.name = name
        self.attrs = {"IPAM": {"Config": [{"Subnet": subnet}]}}
        self.removed = False

    def remove(self) -> None:
        self.removed = True


class FakeClient:
    """Images present: ``images``; each container created takes the next list of states from ``plans`` (then
    just "running"), the client's ``logs`` and ``files``; the engine has its default bridge on 198.18.0.0/24."""

    def __init__(self, plans: list[list[dict[str, Any]]] | None = None, logs: bytes = b"",
                 images: tuple[str, ...] = ("acme-sbc:4.2", "trunkcheck"),
                 files: dict[str, bytes] | None = None) -> None:
        self.created: list[tuple[str, Any, dict[str, Any]]] = []
        self.containers_made: list[FakeContainer] = []
        self.networks_made: list[FakeNetwork] = []
        self.existing = [FakeNetwork("bridge", "198.18.0.0/24")]
        self.plans = list(plans or [])
        self.files = dict(files or {})
        self.closed = False
        client = self

        class Images:
            def get(self, tag: str) -> object:
                from docker.errors import ImageNotFound

                if tag in images:
                    return object()
                raise ImageNotFound(f"No such image: {tag}")

        class Containers:
            def create(self, image: str, command: Any = None, **kwargs: Any) -> FakeContainer:
                client.created.append((image, command, kwargs))
                states = client.plans.pop(0) if client.plans else [{"Status": "running"}]
                container = FakeContainer(kwargs["name"], image, states, logs, client.files)
                client.containers_made.append(container)
                return container

            def list(self, **kwargs: Any) -> list[FakeContainer]:
                return []

        class Networks:
            def list(self, **kwargs: Any) -> list[FakeNetwork]:
                return [] if "filters" in kwargs else client.existing

            def create(self, name: str, **kwargs: Any) -> FakeNetwork:
                network = FakeNetwork(name, kwargs["ipam"]["Config"][0]["Subnet"])
                client.networks_made.append(network)
                return network

        class Api:
            def create_endpoint_config(self, **kwargs: Any) -> dict[str, Any]:
                return {"IPAMConfig": {"IPv4Address": kwargs["ipv4_address"]}}

        self.images, self.containers, self.networks, self.api = Images(), Containers(), Networks(), Api()

    @property
    def container(self) -> FakeContainer | None:
        """The last container created."""
        return self.containers_made[-1] if self.containers_made else None

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True
