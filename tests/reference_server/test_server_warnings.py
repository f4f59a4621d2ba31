"""Every Warning the server sends names it as RFC 3261 §20.43 says a warn-agent must: by the host:port of
the endpoint the request came in on -- never by its User-Agent, whose ``/`` makes it neither a host:port
nor a token (``Warning: 399 trunkcheck-reference/0.1 "..."`` is a malformed header to any parser)."""

from __future__ import annotations

import asyncio
import re
import socket

from sipcore.message import Response
from sipcore.parser import parse_message

from ..addresses import loopback
from .support import IDS, WAIT, ServerRig, offer, run

# warning-value = warn-code SP warn-agent SP warn-text; warn-agent = hostport / pseudonym (a token)
_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_HOSTPORT = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?::[0-9]{1,5})?"
_WARNING = re.compile(rf'^[0-9]{{3}} (?P<agent>{_HOSTPORT}|{_TOKEN}) "(?:[^"\\]|\\.)*"$')


def _agents(response: Response) -> list[str]:
    agents = []
    for value in response.headers.get_all("Warning"):
        match = _WARNING.match(value)
        assert match is not None, f"{response.status}: Warning {value!r} is not code SP warn-agent SP quoted text"
        agents.append(match.group("agent"))
    return agents


def test_every_warning_names_the_server_by_host_port() -> None:
    async def main() -> list[tuple[int, list[str]]]:
        async with ServerRig() as rig:
            assert "/" in rig.config.user_agent  # the configured User-Agent is no warn-agent
            ua, seen = rig.ua, []
            publish = ua.request("PUBLISH", "sip:example.trunk.voipbin.net", from_uri=f"sip:p@{loopback(1)}",
                                 to_uri="sip:example.trunk.voipbin.net")
            bye = ua.request("BYE", "sip:15551234@example.trunk.voipbin.net", from_uri=f"sip:p@{loopback(1)}",
                             to_uri="sip:15551234@example.trunk.voipbin.net")
            bye.headers.set("To", "<sip:15551234@example.trunk.voipbin.net>;tag=nosuch")
            unknown_trunk = rig.invite(domain="nosuch.trunk.voipbin.net", body=offer(4000))
            picky = rig.invite(body=offer(4000), headers=[("Accept", "text/plain")])
            for request in (publish, bye, unknown_trunk, picky):  # 501, 481, 404 and 406 (sipcore.checks)
                response = await ua.send(request, rig.addr).final()
                seen.append((response.status, _agents(response)))

            raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a request that does not parse: 400
            raw.bind((loopback(1), 0))
            raw.setblocking(False)
            try:
                raw.sendto((f"OPTIONS sip:{rig.addr[0]} SIP/2.0\r\nVia: SIP/2.0/UDP {loopback(1)}:"
                            f"{raw.getsockname()[1]};branch={IDS.branch()}\r\nFrom: <sip:a@b>;tag=1\r\n"
                            f"To: <sip:{rig.addr[0]}>\r\nCall-ID: {IDS.call_id()}\r\nCSeq: 1 OPTIONS\r\n"
                            "Content-Length: 9999\r\n\r\nshort").encode(), rig.addr)
                data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(raw, 65535), WAIT)
            finally:
                raw.close()
            malformed = parse_message(data)
            assert isinstance(malformed, Response)
            seen.append((malformed.status, _agents(malformed)))
            return [(status, [agent.replace(f"{rig.addr[0]}:{rig.addr[1]}", "SERVER") for agent in agents])
                    for status, agents in seen]

    assert run(main()) == [(501, ["SERVER"]), (481, ["SERVER"]), (404, ["SERVER"]), (406, ["SERVER"]),
                           (400, ["SERVER"])]
