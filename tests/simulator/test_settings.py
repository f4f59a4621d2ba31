"""Bad settings are refused with a message naming the setting, the value and what is expected."""

from __future__ import annotations

import json
import socket

import pytest

from simulator import record as record_module
from simulator.destination import Destination, script_for
from simulator.record import Record
from simulator.settings import (
    Answer,
    DestinationSettings,
    HangupAfter,
    Reject,
    Send180,
    SettingsError,
    UaSettings,
    Wait,
    parse_hostport,
)
from simulator.ua import UserAgent
from sipcore.message import Request

from .helpers import DEST_IP, UA_IP, run


@pytest.mark.parametrize("status", [99, 100, 200, 299, 700])
def test_reject_status_outside_300_699_is_refused(status: int) -> None:
    with pytest.raises(SettingsError, match=rf"Reject.status: {status} .*300\.\.699"):
        Reject(status)


@pytest.mark.parametrize(("script", "message"), [
    ([Send180()], "no final step"),
    ([Answer(), Send180()], "comes after the final step Answer"),
    ([Reject(404), Answer()], "already ended with Reject"),
    ([HangupAfter(10), Answer()], "HangupAfter needs an Answer before it"),
    ([Reject(486), HangupAfter(10)], "HangupAfter needs an Answer before it"),
])
def test_script_out_of_order_is_refused(script: list, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SettingsError, match=message):
        DestinationSettings(script=script)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"from_uri": "sip:alice@@example.com"}, "from_uri: 'sip:alice@@example.com' is not a valid SIP URI"),
    ({"from_uri": "alice@example.com"}, "is not a SIP URI"),
    ({"domain": "exa mple.com"}, "domain"),
    ({"listen": ("localhost", 5060)}, "listen: 'localhost' is not an IP address"),
    ({"listen": ("127.0.0.1", 70000)}, "port 70000 is not in 0..65535"),
    ({"target": ("127.0.0.1", 0)}, "target: port 0 is not in 1..65535"),
    ({"transport": "SCTP"}, "transport 'SCTP' is not supported"),
    ({"algorithms": ("SHA-1",)}, "unsupported digest algorithm 'SHA-1'"),
    ({"on_challenge": "maybe"}, "on_challenge: 'maybe' is not one of answer, wrong-password, give-up"),
    ({"hold_ms": -1}, "hold_ms: -1 is not a number of milliseconds"),
])
def test_bad_ua_settings_are_refused(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(".", r"\.")):
        UaSettings(**kwargs)


def test_wait_and_hostport_checks() -> None:
    with pytest.raises(SettingsError, match="Wait.ms: -5"):
        Wait(-5)
    assert parse_hostport("127.0.0.1:5080", "--listen") == ("127.0.0.1", 5080)
    assert parse_hostport("[::1]:5060", "--listen") == ("::1", 5060)
    with pytest.raises(SettingsError, match="has no port"):
        parse_hostport("127.0.0.1", "--listen")
    with pytest.raises(SettingsError, match='--listen: "127.0.0.1:x": port "x" is not 1-65535'):
        parse_hostport("127.0.0.1:x", "--listen")
    with pytest.raises(SettingsError, match="reject and never-answer"):
        script_for(reject=486, never_answer=True)


def test_port_in_use_is_refused_with_the_address() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind((DEST_IP, 0))
        port = taken.getsockname()[1]
        with pytest.raises(SettingsError, match=rf"listen address {DEST_IP}:{port} \(UDP\) cannot be bound: "
                                                r"Address already in use"):
            run(Destination.start(DestinationSettings(listen=(DEST_IP, port))))


def test_call_with_malformed_uri_or_no_target_is_refused() -> None:
    async def scenario() -> None:
        ua = await UserAgent.start(UaSettings(listen=(UA_IP, 0)))
        try:
            with pytest.raises(SettingsError, match="to: 'sip:bob@@x' is not a valid SIP URI"):
                await ua.call("sip:bob@@x")
            with pytest.raises(SettingsError, match="no target address for sip:\\+1555@example"):
                await ua.call("+1555")
            with pytest.raises(SettingsError, match="no registrar address for sip:example.trunk.voipbin.net: "):
                await ua.register()
        finally:
            await ua.stop()

    run(scenario())


def test_record_json_and_lines() -> None:
    record = Record("demo")
    invite = Request("INVITE", "sip:+1555@example.trunk.voipbin.net",
                     [("Via", "SIP/2.0/UDP 127.0.0.20:5060;branch=z9hG4bKabc"), ("From", "<sip:a@x>;tag=1"),
                      ("To", "<sip:+1555@x>"), ("Call-ID", "c1"), ("CSeq", "1 INVITE"), ("Max-Forwards", "70")])
    record.sip("sip-sent", invite, ("127.0.0.30", 5080), "UDP")
    record.sip("sip-sent", invite, ("127.0.0.30", 5080), "UDP")
    record.add("timeout", "no response", "c1")
    data = json.loads(record.to_json())
    assert data["name"] == "demo" and [e["kind"] for e in data["events"]] == ["sip-sent", "sip-sent", "timeout"]
    assert data["events"][0]["detail"]["cseq"] == "1 INVITE" and data["events"][0]["call_id"] == "c1"
    assert [e.detail["retransmission"] for e in record.select("sip-sent")] == [False, True]
    lines = record.lines()
    assert lines[0].endswith("-> INVITE sip:+1555@example.trunk.voipbin.net  (127.0.0.30:5080 UDP)")
    assert "retransmission" in lines[1] and "!! no response" in lines[2]
    with pytest.raises(ValueError, match="record event kind 'oops'"):
        record.add("oops", "x")


def test_a_long_running_record_forgets_what_was_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A destination answering calls for hours hands each finished call's events over (take_call) and keeps
    only a bounded memory of messages for spotting retransmissions."""
    monkeypatch.setattr(record_module, "SEEN_LIMIT", 2)
    record = Record("long")
    for n in range(3):
        bye = Request("BYE", "sip:a@x", [("Via", f"SIP/2.0/UDP 127.0.0.20:5060;branch=z9hG4bK{n}"),
                                         ("From", "<sip:a@x>;tag=1"), ("To", "<sip:b@x>;tag=2"),
                                         ("Call-ID", f"c{n}"), ("CSeq", "2 BYE"), ("Max-Forwards", "70")])
        record.sip("sip-received", bye, ("127.0.0.30", 5080), "UDP")
    assert [e.call_id for e in record.take_call("c1")] == ["c1"]
    assert [e.call_id for e in record.events] == ["c0", "c2"] and record.take_call("c1") == []
    assert len(record._seen["sip-received"]) == 2
