"""The far ends of a scenario beyond the harness's one simulated destination: the trunk's second destination
(role ``Destination2``, @destination-failover scenarios), destinations that do not answer, and how the
phones of a forked call (the UA and the UA2 registered for one extension, @forking) answer it.

A role is played by the simulator (a script, as the ``Destination`` is), by a UDP socket that takes every
datagram and answers none ("silent": no ICMP error either, so only a timer ends the trunk's wait), or by
nothing at all ("unreachable": the kernel answers ICMP port unreachable, a transport error for the trunk).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.topology import Topology
from simulator.destination import Destination
from simulator.settings import DestinationSettings, Step

__all__ = ["FarEnds", "Mode"]

Mode = Literal["silent", "unreachable"]
Run = Callable[[Coroutine[Any, Any, Any], float, str], Any]
MAX_WAIT = 5.0
"""The longest the harness waits out a Retry-After a scenario's destination sent."""


@dataclass
class FarEnds:
    """How each extra far end of one scenario is played; :meth:`start` once traffic begins, :meth:`close`."""

    scripts: dict[str, tuple[Step, ...]] = field(default_factory=dict)  # role -> the simulator's script
    modes: dict[str, Mode] = field(default_factory=dict)  # role -> silent / unreachable
    phones: dict[str, tuple[Step, ...]] = field(default_factory=dict)  # UA role -> how it answers a call
    running: dict[str, Destination] = field(default_factory=dict)
    sockets: list[socket.socket] = field(default_factory=list)
    held_until: float = 0.0  # time.monotonic() until which a Retry-After the destination sent may hold

    def plays(self, role: str) -> bool:
        """Whether this object plays ``role`` (else the world's own destination does)."""
        return role in self.modes or (role != "Destination" and role in self.scripts)

    def start(self, topo: Topology, run: Run, timeout: float) -> None:
        for role, mode in self.modes.items():
            if mode == "silent":
                host, port = topo.address_of(role)
                sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    sock.bind((host, port))
                except OSError as exc:
                    sock.close()
                    raise RuntimeError(f"the silent {role} cannot bind {host}:{port}: {exc.strerror}") from None
                self.sockets.append(sock)
        for role, script in self.scripts.items():
            if role == "Destination" or role in self.modes:
                continue
            listen = topo.address_of(role)
            self.running[role] = run(Destination.start(DestinationSettings(listen=listen, script=script)), timeout,
                                     f"{role} start-up on {listen[0]}:{listen[1]}")

    def explain(self) -> list[str]:
        lines = []
        for role, destination in self.running.items():
            lines.append(f"-- what the simulated {role} recorded:")
            lines += destination.record.lines()
        return lines

    def hold(self, seconds: int) -> None:
        """A destination answers with Retry-After ``seconds``: a trunk that outlives the scenario (equipment
        under test) may keep it down that long, so :meth:`close` waits it out (at most ``MAX_WAIT``)."""
        self.held_until = max(self.held_until, time.monotonic() + seconds)

    def close(self, stop: Callable[[Coroutine[Any, Any, None], str], None], *, trunk_outlives: bool = False) -> None:
        if trunk_outlives and self.held_until:
            time.sleep(min(MAX_WAIT, max(0.0, self.held_until - time.monotonic())))
        for role, destination in self.running.items():
            stop(destination.stop(), f"stopping the {role}")
        self.running.clear()
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()
