"""Shared pieces of the Kamailio tests: addresses, fast timers, one call through the trunk, record queries."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from simulator.destination import Destination
from simulator.record import Record, RecordEvent
from simulator.settings import DestinationSettings, SettingsError, Step, UaSettings
from simulator.ua import CallResult, UserAgent
from simulator.uas import IncomingCall
from sipcore.timers import TimerConfig

from ..addresses import loopback

T = TypeVar("T")

CFG = Path(__file__).resolve().parents[2] / "examples" / "kamailio" / "kamailio.cfg"
KAMAILIO = (loopback(50, 5), 5060)
DESTINATION = (loopback(30, 5), 5080)
UA_IP = loopback(10, 5)
CARRIER_IP = loopback(12, 5)  # TRUSTED_PEER: calls extensions without a challenge
STRANGER_IP = loopback(13, 5)
TRUNK = "example.trunk.voipbin.net"
REGISTRAR = "example.registrar.voipbin.net"
FAST = TimerConfig(t1=0.05, t2=0.2, t4=0.25)  # Timer B/F = 3.2 s


def run(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def ua_settings(**overrides: Any) -> UaSettings:
    values: dict[str, Any] = {"listen": (UA_IP, 0), "username": "alice", "password": "secret", "domain": TRUNK,
                              "target": KAMAILIO, "timers": FAST}
    return UaSettings(**{**values, **overrides})


async def start_destination(script: Sequence[Step], **settings: Any) -> Destination:
    """The destination on DESTINATION; retried for up to 1 s while the previous test's socket closes."""
    for _ in range(20):
        try:
            return await Destination.start(DestinationSettings(listen=DESTINATION, script=script, timers=FAST,
                                                               **settings))
        except SettingsError:
            await asyncio.sleep(0.05)
    return await Destination.start(DestinationSettings(listen=DESTINATION, script=script, timers=FAST, **settings))


@dataclass
class Outcome:
    call: CallResult
    ua: Record
    destination: Record
    received: list[IncomingCall]  # the INVITEs that reached the destination


async def call_through(script: Sequence[Step], to: str = "+15550100", *, ua: dict[str, Any] | None = None,
                       **call_options: Any) -> Outcome:
    """One call from a simulated UA through Kamailio to a simulated destination playing ``script``."""
    dest = await start_destination(script)
    agent = await UserAgent.start(ua_settings(**(ua or {})))
    try:
        call = await agent.call(to, **{"hold_ms": 200, **call_options})
        await dest.wait_for_calls(len(dest.calls), 3.0)
    finally:
        await agent.stop()
        await dest.stop()
    return Outcome(call, agent.record, dest.record, list(dest.calls))


def sip(record: Record, kind: str, summary: str) -> list[RecordEvent]:
    """First transmissions of the messages sent/received whose summary starts with ``summary``."""
    return record.select(kind, summary=summary, retransmissions=False)


def header(event: RecordEvent, name: str) -> list[str]:
    """Values of header ``name`` (full name, case-insensitive) in a recorded message."""
    head = str(event.detail["raw"]).split("\r\n\r\n", 1)[0].split("\r\n")[1:]
    return [line.split(":", 1)[1].strip() for line in head if line.split(":", 1)[0].strip().lower() == name.lower()]


def digest_params(challenge: str) -> dict[str, str]:
    return {k.lower(): v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^\s,]+)', challenge)}
