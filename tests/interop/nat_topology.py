"""A real NAT between a UA and the trunk: three network namespaces joined by veth pairs, the middle one
masquerading (iptables), for tests/interop/test_nat.py.

    LAN 10.13.0.2 (the UA) --- 10.13.0.1 NAT 203.0.113.2 --- 203.0.113.1 WAN (trunk; .30 destination;
                                MASQUERADE, UDP source ports                 .66 a stranger)
                                remapped into 20000-29999

The namespaces are anonymous: each is held by a ``sleep`` started under ``unshare -n``, and reached with
``nsenter -t PID -n``. Every interface is created inside them, so nothing is added to the namespace the
tests run in, no name is global, and killing the holders (``close``, also when set-up fails) removes it
all. Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN), ``unshare``, ``nsenter``, ``ip`` and ``iptables``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["NatTopology", "missing_requirements"]

UA_IP, NAT_INSIDE, NAT_PUBLIC = "10.13.0.2", "10.13.0.1", "203.0.113.2"
TRUNK_IP, DESTINATION_IP, STRANGER_IP = "203.0.113.1", "203.0.113.30", "203.0.113.66"
NAT_PORTS = "20000-29999"  # where the NAT maps UDP sources: never the port the UA bound
HOLD_SECONDS = 600  # the namespace holders' own bound, should a test process die without its teardown
COMMAND_TIMEOUT = 20.0


def missing_requirements() -> str | None:
    """Why this machine cannot build the topology (None: it can)."""
    if os.geteuid() != 0:
        return "network namespaces, veth pairs and iptables need root"
    for tool in ("unshare", "nsenter", "ip", "iptables", "tcpdump"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: util-linux, iproute2, iptables, tcpdump)"
    return None


class NatTopology:
    """The three namespaces; ``run``/``popen`` a command inside one of them ("lan", "nat", "wan")."""

    def __init__(self) -> None:
        self.holders: dict[str, subprocess.Popen[bytes]] = {}
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> NatTopology:
        try:
            for name in ("lan", "nat", "wan"):
                self.holders[name] = subprocess.Popen(["unshare", "-n", "sleep", str(HOLD_SECONDS)])
                self._await_own_namespace(name)
            self._wire()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _await_own_namespace(self, ns: str, timeout: float = 5.0) -> None:
        """Until the holder of ``ns`` has left this network namespace: nsenter into it before `unshare`
        has run would wire veths and NAT rules into the caller's namespace instead."""
        ours, pid = os.readlink("/proc/self/ns/net"), self.holders[ns].pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if os.readlink(f"/proc/{pid}/ns/net") != ours:
                    return
            except FileNotFoundError:
                break
            time.sleep(0.01)
        raise RuntimeError(f"the {ns} namespace's holder (pid {pid}) did not enter a network namespace of its own "
                           f"within {timeout:.0f} s")

    def _prefix(self, ns: str) -> list[str]:
        return ["nsenter", "-t", str(self.holders[ns].pid), "-n", "--"]

    def run(self, ns: str, *args: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """Run a command in namespace ``ns``; its stdout. RuntimeError with its stderr when it fails."""
        proc = subprocess.run([*self._prefix(ns), *args], capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"in the {ns} namespace, {' '.join(args)} failed ({proc.returncode}): "
                               f"{proc.stderr.strip()}\n{proc.stdout.strip()}")
        return proc.stdout

    def popen(self, ns: str, args: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        """Start a long-running command in ``ns``; stopped by ``close`` if still running."""
        proc = subprocess.Popen([*self._prefix(ns), *args], **kwargs)  # type: ignore[call-overload]
        self.processes.append(proc)
        return proc

    def _wire(self) -> None:
        lan, wan = str(self.holders["lan"].pid), str(self.holders["wan"].pid)
        self.run("nat", "ip", "link", "add", "in0", "type", "veth", "peer", "name", "lan0", "netns", lan)
        self.run("nat", "ip", "link", "add", "out0", "type", "veth", "peer", "name", "wan0", "netns", wan)
        for ns, dev, cidrs in (("nat", "in0", [f"{NAT_INSIDE}/24"]), ("nat", "out0", [f"{NAT_PUBLIC}/24"]),
                               ("lan", "lan0", [f"{UA_IP}/24"]),
                               ("wan", "wan0", [f"{ip}/24" for ip in (TRUNK_IP, DESTINATION_IP, STRANGER_IP)])):
            for cidr in cidrs:
                self.run(ns, "ip", "addr", "add", cidr, "dev", dev)
            self.run(ns, "ip", "link", "set", dev, "up")
            self.run(ns, "ip", "link", "set", "lo", "up")
        self.run("lan", "ip", "route", "add", "default", "via", NAT_INSIDE)
        self.run("nat", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        self.run("nat", "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "out0", "-p", "udp", "-j", "MASQUERADE",
                 "--to-ports", NAT_PORTS)
        self.run("nat", "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "out0", "-j", "MASQUERADE")

    def wait_bound(self, ns: str, ip: str, port: int, timeout: float = 10.0) -> None:
        """Until a UDP socket is bound to ip:port in ``ns`` (a server started in the background is up)."""
        deadline = time.monotonic() + timeout
        while not self.run(ns, "ss", "-H", "-u", "-l", "-n", "src", f"{ip}:{port}").strip():
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on udp {ip}:{port} in the {ns} namespace after {timeout} s")
            time.sleep(0.05)

    def capture(self, ns: str, iface: str, path: Path) -> subprocess.Popen[bytes]:
        """tcpdump writing ``path`` in ``ns``; returns once it is listening (bounded)."""
        proc = self.popen(ns, ["tcpdump", "-i", iface, "--immediate-mode", "-U", "-n", "-w", str(path), "udp"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        deadline = time.monotonic() + 10
        os.set_blocking(proc.stderr.fileno(), False)
        seen = b""
        while b"listening on" not in seen:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tcpdump in {ns} did not start: {seen.decode(errors='replace')}")
            seen += proc.stderr.read() or b""
            time.sleep(0.02)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
        """SIGINT (tcpdump flushes), then SIGKILL if it does not end in time."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)

    def close(self) -> None:
        for proc in reversed(self.processes):
            self.stop(proc)
        for holder in self.holders.values():
            if holder.poll() is None:
                holder.kill()
            holder.wait(5)
        self.processes.clear()
        self.holders.clear()
