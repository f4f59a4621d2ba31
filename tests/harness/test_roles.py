"""Ladder columns from transport addresses: by IP where each role has its own, by ip:port where roles share
one, and RTP on a shared IP in the column of the role whose SDP announced the port."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.capture.observation import Observation
from harness.capture.roles import RoleMap, parse_address_key
from harness.ladder import render_observed

from .test_checks import msg, rtp

UA = ("127.0.0.10", 16000)
UA_MEDIA = ("127.0.0.10", 40000)
TRUNK, DEST = ("127.0.0.1", 5070), ("127.0.0.1", 5090)
RELAY_A, RELAY_B = ("127.0.0.1", 30000), ("127.0.0.1", 30002)  # the trunk's relay: UA side, destination side
DEST_MEDIA = ("127.0.0.1", 41000)
SHARED = {"127.0.0.10": "UA", TRUNK: "VoIPBin", DEST: "Destination", "127.0.0.1": "VoIPBin"}


def b2bua_call() -> list:
    """A B2BUA on 127.0.0.1:5070 relaying media from its own ports to a destination on 127.0.0.1:5090."""
    return [
        msg(1, UA, TRUNK, "INVITE", sdp=UA_MEDIA),
        msg(2, TRUNK, DEST, "INVITE", call="b", sdp=RELAY_B),
        msg(3, DEST, TRUNK, "200", call="b", sdp=DEST_MEDIA),
        msg(4, TRUNK, UA, "200", sdp=RELAY_A),
        rtp(5, UA_MEDIA, RELAY_A), rtp(6, RELAY_B, DEST_MEDIA), rtp(7, DEST_MEDIA, RELAY_B), rtp(8, RELAY_A, UA_MEDIA),
    ]


def test_sip_by_port_and_rtp_by_the_ports_each_role_announced():
    obs = Observation.build(Path("x.pcap"), b2bua_call(), SHARED)
    flow = [(s.src, s.dst, s.label) for s in obs.observed]
    assert flow == [
        ("UA", "VoIPBin", "INVITE"), ("VoIPBin", "Destination", "INVITE"), ("Destination", "VoIPBin", "200 Whatever"),
        ("VoIPBin", "UA", "200 Whatever"), ("UA", "VoIPBin", "RTP Media"), ("VoIPBin", "Destination", "RTP Media"),
        ("Destination", "VoIPBin", "RTP Media"), ("VoIPBin", "UA", "RTP Media"),
    ]
    assert [len(obs.rtp(src="Destination")), len(obs.rtp(dst="Destination"))] == [1, 1]
    assert render_observed(obs.observed, ["UA", "VoIPBin", "Destination"]).splitlines()[0].split() == [
        "UA", "VoIPBin", "Destination"]


def test_without_a_default_the_relay_is_still_the_trunks_from_its_sdp_and_rtcp_follows_rtp():
    roles = RoleMap({k: v for k, v in SHARED.items() if k != "127.0.0.1"}, b2bua_call())
    assert roles.role(RELAY_A) == roles.role(RELAY_B) == "VoIPBin"
    assert roles.role(DEST_MEDIA) == roles.role((DEST_MEDIA[0], DEST_MEDIA[1] + 1)) == "Destination"
    assert roles.role(("127.0.0.1", 31000)) == "127.0.0.1:31000", "announced by nobody: a column of its own"


def test_a_proxy_forwarding_the_destinations_sdp_does_not_take_its_media():
    """A proxy (no relay) forwards the destination's SDP to the UA: the port is the destination's, which
    announced it first, and its RTP to the UA goes straight from the Destination column."""
    decoded = [
        msg(1, UA, TRUNK, "INVITE", sdp=UA_MEDIA),
        msg(2, TRUNK, DEST, "INVITE", sdp=UA_MEDIA),
        msg(3, DEST, TRUNK, "200", sdp=DEST_MEDIA),
        msg(4, TRUNK, UA, "200", sdp=DEST_MEDIA),
        rtp(5, DEST_MEDIA, UA_MEDIA),
    ]
    obs = Observation.build(Path("x.pcap"), decoded, SHARED)
    assert (obs.observed[-1].src, obs.observed[-1].dst) == ("Destination", "UA")


def test_an_ip_of_its_own_never_moves_column_whatever_an_sdp_claims():
    roles = RoleMap({"127.0.0.10": "UA", "127.0.0.20": "VoIPBin"},
                    [msg(1, ("127.0.0.20", 5060), UA, "200", sdp=("127.0.0.10", 40000))])
    assert roles.role(("127.0.0.10", 40000)) == "UA" and not roles.media


def test_a_sip_port_given_outranks_what_an_sdp_announces():
    roles = RoleMap(SHARED, [msg(1, TRUNK, UA, "200", sdp=DEST)])
    assert roles.role(DEST) == "Destination"


@pytest.mark.parametrize(("text", "key"), [
    ("127.0.0.1", "127.0.0.1"), (" 127.0.0.1:5070 ", ("127.0.0.1", 5070)), ("::0001", "::1"),
    ("[::1]:5060", ("::1", 5060)), ("[::1]", "::1"),
])
def test_address_keys(text, key):
    assert parse_address_key(text) == key


@pytest.mark.parametrize(("text", "why"), [
    ("pbx.example", '"pbx.example" is not an IP address .a column is named by IP or IP:PORT'),
    ("127.0.0.1:sip", 'port "sip" is not 1-65535'), ("127.0.0.1:70000", 'port "70000" is not 1-65535'),
    ("127.0.0.1:0", 'port "0" is not 1-65535'), ("[::1]5060", "malformed IPv6 reference"),
    ("sctp:127.0.0.1:5061", "transport sctp is not supported"),
])
def test_bad_address_keys_say_what_is_wrong(text, why):
    with pytest.raises(ValueError, match=why):
        parse_address_key(text)
