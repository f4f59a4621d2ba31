"""What the scenario world reads back from the simulated UA's own record of a call (driving a scenario,
never asserting: assertions read the capture)."""

from __future__ import annotations

from simulator.ua import CallResult
from sipcore.digest import Challenge, parse_challenges
from sipcore.errors import SIPParseError
from sipcore.message import Response
from sipcore.parser import parse_message

__all__ = ["challenges_in"]


def challenges_in(result: CallResult) -> list[Challenge]:
    """The digest challenges of the last 407 the UA received in this call (from its own record)."""
    for event in reversed(result.events):
        if event.kind == "sip-received" and event.status == 407 and "raw" in event.detail:
            try:
                message = parse_message(event.detail["raw"].encode(), validate_headers=False)
            except SIPParseError:
                continue
            if isinstance(message, Response):
                return parse_challenges(message.headers.get_all("Proxy-Authenticate"), header="Proxy-Authenticate")
    return []
