"""OPTIONS from the simulated UA or destination: one request (:func:`send_options`), or a keep-alive that
pings a peer every ``interval`` seconds (:class:`OptionsPinger`), as an SBC or PBX pings its trunk.

    response = await send_options(ua, "sip:example.trunk.voipbin.net", ("127.0.0.20", 5060))
    pinger = OptionsPinger(dest, "sip:127.0.0.20:5060", ("127.0.0.20", 5060), interval=30)
    pinger.start()            # the first ping now; pinger.results: (clock time, status or None)
    pinger.stop()

The answers are recorded in the agent's record like every message; a ping with no final response within
Timer F counts as unanswered (status None) and is noted.
"""

from __future__ import annotations

import asyncio

from sipcore.builders import new_request
from sipcore.message import Request, Response

from .agent import ALLOW, Agent
from .settings import Addr, SettingsError

__all__ = ["OptionsPinger", "options_request", "send_options"]


def options_request(agent: Agent, uri: str, *, from_uri: str, user_agent: str | None = None) -> Request:
    """An out-of-dialog OPTIONS for ``uri`` (RFC 3261 §11.1) from ``agent``'s endpoint."""
    ep = agent.ep
    return new_request("OPTIONS", uri, from_uri=from_uri, to_uri=uri, local_addr=ep.local_addr,
                       transport=ep.transport_name, from_tag=agent.ids.tag(), call_id=agent.ids.call_id(),
                       cseq=1, branch=agent.ids.branch(), extra_headers=[("Allow", ALLOW), ("Accept", "application/sdp")],
                       user_agent=user_agent)


async def send_options(agent: Agent, uri: str, target: Addr, *, from_uri: str | None = None,
                       user_agent: str | None = None) -> Response:
    """Send one OPTIONS to ``target`` and return its final response; TimeoutError after Timer F."""
    host = agent.local_addr[0]
    request = options_request(agent, uri, from_uri=from_uri or f"sip:keepalive@{host}", user_agent=user_agent)
    return await agent.ep.request(request, target, timeout=agent.transaction_bound)


class OptionsPinger:
    """Pings ``target`` with OPTIONS every ``interval`` seconds (the first at once) until stopped."""

    def __init__(self, agent: Agent, uri: str, target: Addr, *, interval: float, from_uri: str | None = None) -> None:
        if not 0.05 <= interval <= 3600:
            raise SettingsError(f"interval: {interval!r} is not in 0.05..3600 seconds")
        self.agent, self.uri, self.target, self.interval = agent, uri, target, interval
        self.from_uri = from_uri
        self.results: list[tuple[float, int | None]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = self.agent.spawn(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        clock = self.agent.clock
        while True:
            self.agent.spawn(self._ping(clock.time()))
            await clock.sleep(self.interval)

    async def _ping(self, at: float) -> None:
        try:
            response = await send_options(self.agent, self.uri, self.target, from_uri=self.from_uri)
        except TimeoutError:
            self.results.append((at, None))
            self.agent.record.add("note", f"OPTIONS to {self.uri} unanswered (Timer F)")
            return
        self.results.append((at, response.status))
