"""The shipped SIPp scenarios take the reorderings UDP allows and a proxy with several processes produces
(Kamailio's SIP workers relay two messages of one call in parallel): a 180 that arrives after the 200 at
the caller (uac_auth.xml ignores it, as a UA does) and a BYE that overtakes the ACK at the destination
(uas.xml answers it and still requires the ACK). Each side is played here by a script that sends those
orders on purpose."""

from __future__ import annotations

import re
import socket
import time

import pytest

from harness.adapters.sipp import SIPP_MISSING, SippResult, SippRun, find_sipp

from .conftest import loopback

pytestmark = [pytest.mark.interop, pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING)]

TRUNK = (loopback(6, 40), 5060)
SIPP = (loopback(6, 41), 5070)
SDP = "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"


def _header(message: str, name: str) -> str:
    found = re.search(rf"^{name}:[ \t]*(.*?)\r$", message, re.M | re.I)
    assert found, f"no {name} in {message!r}"
    return found.group(1)


def _response(request: str, status: str, *, to_tag: str = "", extra: str = "", body: str = "") -> bytes:
    to = _header(request, "To") + (f";tag={to_tag}" if to_tag and "tag=" not in _header(request, "To") else "")
    lines = [f"SIP/2.0 {status}", *(f"Via: {v}" for v in re.findall(r"^Via:[ \t]*(.*?)\r$", request, re.M)),
             f"From: {_header(request, 'From')}", f"To: {to}", f"Call-ID: {_header(request, 'Call-ID')}",
             f"CSeq: {_header(request, 'CSeq')}"]
    if extra:
        lines.append(extra)
    if body:
        lines.append("Content-Type: application/sdp")
    return ("\r\n".join([*lines, f"Content-Length: {len(body)}", "", body])).encode()


def _recv(sock: socket.socket, method: str) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        message = sock.recv(65535).decode()
        if message.startswith(method + " "):
            return message
    raise AssertionError(f"no {method} within 5 s")


def test_the_caller_scenario_ignores_a_180_that_arrives_after_the_200() -> None:
    contact = f"Contact: <sip:trunk@{TRUNK[0]}:{TRUNK[1]}>"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as trunk:
        trunk.bind(TRUNK)
        trunk.settimeout(5.0)
        run = SippRun.uac_auth(SIPP, TRUNK, user="alice", password="secret", domain="example.trunk.voipbin.net",
                               calls=1, hold_ms=0, timeout=20, recv_timeout_ms=5_000)
        with run.start() as caller:
            first = _recv(trunk, "INVITE")
            trunk.sendto(_response(first, "407 Proxy Authentication Required", to_tag="c1",
                                   extra='Proxy-Authenticate: Digest realm="trunk", nonce="n1", algorithm=MD5'), SIPP)
            _recv(trunk, "ACK")
            second = _recv(trunk, "INVITE")
            assert "Proxy-Authorization: Digest" in second
            trunk.sendto(_response(second, "100 Trying"), SIPP)
            trunk.sendto(_response(second, "200 OK", to_tag="t2", extra=contact, body=SDP.format(ip=TRUNK[0])), SIPP)
            time.sleep(0.05)  # the 200 is SIPp's before the 180 comes
            trunk.sendto(_response(second, "180 Ringing", to_tag="t2", extra=contact), SIPP)
            _recv(trunk, "ACK")
            bye = _recv(trunk, "BYE")
            trunk.sendto(_response(bye, "200 OK"), SIPP)
            result = caller.wait(timeout=15)
    assert (result.successful, result.failed) == (1, 0), result.describe()
    assert result.unexpected == 0, result.describe()


def _bye_first(*, then_ack: bool) -> SippResult:
    """A call to the shipped uas.xml in which the trunk's BYE comes before its ACK (or no ACK at all)."""
    peer, sipp = f"{TRUNK[0]}:{TRUNK[1]}", f"{SIPP[0]}:{SIPP[1]}"
    invite = (f"INVITE sip:15550100@{sipp} SIP/2.0\r\nVia: SIP/2.0/UDP {peer};branch=z9hG4bKreord1\r\n"
              f"From: <sip:trunk@{TRUNK[0]}>;tag=f1\r\nTo: <sip:15550100@{SIPP[0]}>\r\nCall-ID: reorder-1@{TRUNK[0]}\r\n"
              f"CSeq: 1 INVITE\r\nContact: <sip:trunk@{peer}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as trunk, \
            SippRun.uas(SIPP, calls=1, timeout=20, recv_timeout_ms=2_000).start() as dest:
        trunk.bind(TRUNK)
        trunk.settimeout(5.0)
        dest.wait_ready()
        trunk.sendto(invite.encode(), SIPP)
        answer = ""
        while not answer.startswith("SIP/2.0 200"):
            answer = trunk.recv(65535).decode()
        in_dialog = (f"Via: SIP/2.0/UDP {peer};branch=z9hG4bKreord{{n}}\r\nFrom: <sip:trunk@{TRUNK[0]}>;tag=f1\r\n"
                     f"To: {_header(answer, 'To')}\r\nCall-ID: reorder-1@{TRUNK[0]}\r\nMax-Forwards: 70\r\n")
        trunk.sendto((f"BYE sip:15550100@{sipp} SIP/2.0\r\n" + in_dialog.format(n=2)
                      + "CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n").encode(), SIPP)
        ok = ""
        while "CSeq: 2 BYE" not in ok:
            ok = trunk.recv(65535).decode()
        assert ok.startswith("SIP/2.0 200"), ok
        if then_ack:
            time.sleep(0.2)
            trunk.sendto((f"ACK sip:15550100@{sipp} SIP/2.0\r\n" + in_dialog.format(n=3)
                          + "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n").encode(), SIPP)
        return dest.wait(timeout=15)


def test_the_destination_scenario_answers_a_bye_that_overtook_the_ack() -> None:
    result = _bye_first(then_ack=True)
    assert (result.successful, result.failed) == (1, 0), result.describe()
    assert result.unexpected == 0, result.describe()


def test_the_destination_scenario_still_requires_the_ack_after_an_early_bye() -> None:
    result = _bye_first(then_ack=False)
    assert (result.successful, result.failed) == (0, 1), result.describe()
