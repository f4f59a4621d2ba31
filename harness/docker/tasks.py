"""Containers that run to completion in a DockerSession (the docker topology's harness container), and
files in and out of them.

    container, code = run_task(session, "trunkcheck", name="tc-harness-1", network=net, address="198.18.60.10",
                               timeout=600, command=[...], files={"/run/x.toml": b"..."}, on_output=print)
    copy_out(container, "/work/captures/run-1", Path("captures"))
    session.remove_container(container)
"""

from __future__ import annotations

import io
import tarfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.docker.engine import (
    ContainerFailed,
    DockerError,
    DockerSession,
    check_address,
    check_subnet,
    container_logs,
    ensure_image,
)

__all__ = ["copy_out", "run_task"]


def run_task(session: DockerSession, image: str, *, name: str, network: Any, address: str, timeout: float,
             command: Sequence[str] | None = None, environment: Mapping[str, str] | None = None,
             files: Mapping[str, bytes] | None = None, on_output: Callable[[str], None] | None = None,
             **options: Any) -> tuple[Any, int]:
    """Runs ``image`` on ``network`` at ``address`` until it exits: ``(container, exit code)``.

    ``files`` (absolute path in the container -> content) are copied in before it starts; each line it
    writes goes to ``on_output`` as it comes. The container is left (stopped) for the caller to copy
    results out of, then ``remove_container``; ``ContainerFailed`` (the container removed) when it
    does not exit within ``timeout`` seconds.
    """
    ensure_image(session.client, image)
    ip = check_address(address, check_subnet(network.attrs["IPAM"]["Config"][0]["Subnet"]))
    container = session.create_container(image, name=name, network=network, ip=ip, command=command,
                                         environment=environment, **options)
    try:
        if files:
            container.put_archive("/", _tar(files))
        container.start()
        follower = None
        if on_output is not None:
            follower = threading.Thread(target=_follow, args=(container, on_output), daemon=True,
                                        name=f"logs of {name}")
            follower.start()
        deadline = time.monotonic() + timeout
        while True:
            container.reload()
            state = container.attrs["State"]
            if state["Status"] in ("exited", "dead"):
                break
            if time.monotonic() >= deadline:
                logs = container_logs(container)
                raise ContainerFailed(f"container {name} ({image}) did not finish within {timeout:g} s; it "
                                      f"has been stopped and removed. Its last log lines:\n{logs}", logs=logs)
            time.sleep(0.25)
        if follower is not None:
            follower.join(5)  # the log stream ends with the container
    except BaseException:
        session.remove_container(container)
        raise
    return container, int(state["ExitCode"])


def _tar(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, content in files.items():
            if not path.startswith("/"):
                raise ValueError(f"{path!r}: files are copied to absolute paths in the container")
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def copy_out(container: Any, path: str, destination: Path) -> list[Path]:
    """Copies ``path`` (a file or folder) out of ``container`` into the folder ``destination``; the files
    written. Members that would land outside ``destination`` are refused."""
    stream, _ = container.get_archive(path)
    buffer = io.BytesIO(b"".join(stream))
    destination.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tarfile.open(fileobj=buffer, mode="r") as archive:
        for member in archive.getmembers():
            target = (destination / member.name).resolve()
            if not target.is_relative_to(destination.resolve()) or member.issym() or member.islnk():
                raise DockerError(f"refusing {member.name!r} from {path} in container {container.name}: it "
                                  f"would land outside {destination} or is a link")
            if member.isfile():
                written.append(target)
        if hasattr(tarfile, "data_filter"):
            archive.extractall(destination, filter="data")
        else:  # Python 3.11 before 3.11.4 has no extraction filters: the members were checked above
            archive.extractall(destination)
    return written


def _follow(container: Any, on_output: Callable[[str], None]) -> None:
    pending = b""
    try:
        for chunk in container.logs(stream=True, follow=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                on_output(line.decode("utf-8", "replace"))
    except Exception:  # the container was removed under the stream: its end
        pass
    if pending:
        on_output(pending.decode("utf-8", "replace"))
