"""Equipment that cannot be tested as described is refused before any scenario traffic, with the line of
the file to fix: an address where nothing answers, a TCP claim without a TCP listener, a harness address
that is taken, a start command that is not installed."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.equipment import EquipmentError, parse_equipment, preflight, sip_ping

from ..addresses import block, loopback

ADDRESS = (loopback(60, 5), 5060)
DESTINATION = (loopback(61, 5), 5080)

TRUNK = f"""\
[equipment]
name = "SBC"
role = "trunk"
address = "udp:{ADDRESS[0]}:{ADDRESS[1]}"
features = ["basic-auth", "tcp"]

[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"
destination = "{DESTINATION[0]}:{DESTINATION[1]}"
"""


class OptionsResponder:
    """A UDP socket answering every OPTIONS 200 (copying Via, From, To, Call-ID, CSeq), or never."""

    def __init__(self, addr: tuple[str, int], *, answer: bool = True) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(addr)
        self.sock.settimeout(0.05)
        self.answer, self.received, self.running = answer, 0, True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.received += 1
            if self.answer:
                head = data.decode().split("\r\n\r\n")[0].split("\r\n")[1:]
                copied = [h for h in head if re.match(r"(Via|From|To|Call-ID|CSeq):", h)]
                self.sock.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(copied) + "\r\nContent-Length: 0\r\n\r\n")
                                 .encode(), peer)

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def responder() -> Iterator[OptionsResponder]:
    r = OptionsResponder(ADDRESS)
    yield r
    r.close()


@pytest.fixture
def tcp_listener() -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(ADDRESS)
    s.listen(4)
    yield s
    s.close()


def test_equipment_that_answers_passes(responder: OptionsResponder, tcp_listener: socket.socket) -> None:
    preflight(parse_equipment(TRUNK, "sbc.toml"), timeout=1.0)
    assert responder.received >= 1
    assert sip_ping(ADDRESS, timeout=1.0).status == 200


def test_nothing_listening_is_refused_at_once_naming_the_address_line() -> None:
    start = time.monotonic()
    with pytest.raises(EquipmentError) as info:
        preflight(parse_equipment(TRUNK, "sbc.toml"), timeout=2.0)
    assert time.monotonic() - start < 1.5, "an ICMP port unreachable needs no waiting for the timeout"
    assert str(info.value) == (f"sbc.toml:4: equipment.address: udp:{ADDRESS[0]}:{ADDRESS[1]} refused (ICMP port "
                               "unreachable: nothing listens there); is the equipment running there?")


def test_silence_is_refused_after_the_bound() -> None:
    silent = OptionsResponder(ADDRESS, answer=False)
    try:
        start = time.monotonic()
        with pytest.raises(EquipmentError, match=r"sbc\.toml:4: equipment\.address: .* did not answer an OPTIONS "
                                                 r"within 0\.6 s"):
            preflight(parse_equipment(TRUNK, "sbc.toml"), timeout=0.6)
        assert 0.55 < time.monotonic() - start < 1.5
        assert silent.received == 2, "sent again after 0.5 s, like Timer E"
    finally:
        silent.close()


def test_a_tcp_claim_needs_a_tcp_listener(responder: OptionsResponder) -> None:
    with pytest.raises(EquipmentError, match=r"sbc\.toml:5: equipment\.features: claims tcp, but "
                                             rf"tcp:{re.escape(loopback(60, 5))}:5060: TCP connection failed"):
        preflight(parse_equipment(TRUNK, "sbc.toml"), timeout=0.5)


def test_the_destination_must_be_free_for_the_harness(responder: OptionsResponder) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(DESTINATION)
    try:
        with pytest.raises(EquipmentError, match=r"sbc\.toml:11: equipment\.trunk\.destination: the harness's "
                                                 rf"destination must listen on udp:{re.escape(loopback(61, 5))}:5080, but it "
                                                 r"cannot: Address already in use"):
            preflight(parse_equipment(TRUNK, "sbc.toml"), timeout=0.5)
    finally:
        taken.close()


def test_a_start_command_that_is_not_installed_is_refused(tmp_path: Path) -> None:
    text = TRUNK + '\n[equipment.process]\ncommand = ["no-such-sbc-binary", "--foreground"]\n'
    with pytest.raises(EquipmentError, match=r"sbc\.toml:14: equipment\.process\.command: 'no-such-sbc-binary' "
                                             r"is not installed"):
        preflight(parse_equipment(text, "sbc.toml", base_dir=tmp_path))


def test_a_ua_the_harness_starts_needs_its_address_free() -> None:
    text = block().rewrite("""\
[equipment]
name = "SIPp"
role = "ua"
address = "udp:127.0.5.62:5070"
adapter = "sipp"
features = ["basic-auth"]
[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"
proxy = "127.0.5.63:5060"
""")
    eq = parse_equipment(text, "ua.toml")
    preflight(eq)  # nothing is pinged: the harness starts SIPp there itself
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind((loopback(62, 5), 5070))
    try:
        with pytest.raises(EquipmentError, match=r"ua\.toml:4: equipment\.address: the harness starts sipp on "
                                                 rf"udp:{re.escape(loopback(62, 5))}:5070, but it cannot listen there"):
            preflight(eq)
    finally:
        taken.close()
