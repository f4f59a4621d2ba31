"""Two network namespaces joined by a veth pair, as two hosts on one link: the harness on the near side,
equipment under test on the far side. Each namespace is held by a ``sleep`` started with ``unshare -n``
(bounded); commands run in it through ``nsenter``. Killing the two sleeps removes both namespaces and the
veth pair with them, so nothing is left on the machine even when a test fails (no global names are made).

    with Link() as link:            # near 192.0.2.1/24 on t13if-near, far 192.0.2.2/24 on t13if-far
        link.far.popen([...])       # a process in the far namespace
        link.near.run([...])        # a command in the near namespace (bounded)

``why_no_netns()`` says why namespaces cannot be made here (not root, no unshare/nsenter/ip), or None.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

__all__ = ["FAR_IP", "FAR_IF", "NEAR_IF", "NEAR_IP", "Link", "Namespace", "why_no_netns"]

NEAR_IF, FAR_IF = "t13if-near", "t13if-far"
NEAR_IP, FAR_IP = "192.0.2.1", "192.0.2.2"  # TEST-NET-1 (RFC 5737), only ever inside these namespaces
_HOLD_SECONDS = 900


def why_no_netns() -> str | None:
    """Why this test process cannot create network namespaces, or None when it can."""
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian packages util-linux, iproute2)"
    if os.geteuid() != 0:
        return "creating network namespaces and a veth pair needs root"
    try:
        done = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare -n failed: {exc}"
    if done.returncode != 0:
        return f"unshare -n failed (a container without CAP_SYS_ADMIN?): {done.stderr.strip()}"
    return None


@dataclass
class Namespace:
    """A network namespace held by a sleeping process."""

    holder: subprocess.Popen[bytes]
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.holder.pid

    def command(self, argv: list[str]) -> list[str]:
        return ["nsenter", "-t", str(self.pid), "-n", *argv]

    def run(self, argv: list[str], timeout: float = 30, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, **kw)

    def sh(self, script: str) -> None:
        done = self.run(["sh", "-ec", script])
        assert done.returncode == 0, f"{script}: {done.stderr}"

    def popen(self, argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
        proc = subprocess.Popen(self.command(argv), stdin=subprocess.DEVNULL, **kw)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in [*self.procs, self.holder]:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def _namespace() -> Namespace:
    holder = subprocess.Popen(["unshare", "-n", "sleep", str(_HOLD_SECONDS)], stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    mine = os.readlink("/proc/self/ns/net")
    while time.monotonic() < deadline:  # until the sleep runs in a namespace of its own
        try:
            if os.readlink(f"/proc/{holder.pid}/ns/net") != mine:
                return Namespace(holder)
        except OSError:
            pass
        time.sleep(0.02)
    holder.kill()
    raise RuntimeError("unshare -n did not give the process a namespace of its own within 5 s")


class Link:
    """Near and far namespaces, a veth pair between them, loopback up on both."""

    def __init__(self) -> None:
        self.near: Namespace | Any = None
        self.far: Namespace | Any = None

    def __enter__(self) -> Link:
        try:
            self.near, self.far = _namespace(), _namespace()
            done = subprocess.run(["ip", "link", "add", NEAR_IF, "netns", str(self.near.pid), "type", "veth",
                                   "peer", "name", FAR_IF, "netns", str(self.far.pid)],
                                  capture_output=True, text=True, timeout=10)
            assert done.returncode == 0, done.stderr
            for ns, name, ip in ((self.near, NEAR_IF, NEAR_IP), (self.far, FAR_IF, FAR_IP)):
                ns.sh(f"ip link set lo up; ip addr add {ip}/24 dev {name}; ip link set {name} up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        for ns in (self.near, self.far):
            if ns is not None:
                ns.close()
