"""The connection-reuse check: a trunk reaching a UA that takes no connections only over the UA's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.capture.datagrams import Datagram
from harness.capture.observation import Observation
from harness.suite.flow_checks import check_reached_over_own_connections

from .test_checks import ROLES, msg

UA_OWN = ("127.0.0.10", 41000)  # the UA's connection, from an ephemeral port
UA_CONTACT = ("127.0.0.10", 5062)  # where its Contact says it listens (nothing does)
VB = ("127.0.0.20", 5061)


def syn(frame: int, src: tuple[str, int], dst: tuple[str, int]) -> Datagram:
    return Datagram(frame, frame / 100, src, dst, b"")


def observation(bye_to: tuple[str, int]) -> Observation:
    items = [msg(2, UA_OWN, VB, "INVITE"), msg(3, VB, UA_OWN, "200"), msg(9, VB, bye_to, "BYE", cseq=2),
             msg(10, bye_to, VB, "200", cseq=2)]
    return Observation.build(Path("x.pcap"), items, ROLES)


def test_requests_over_the_uas_connection_pass_with_a_summary() -> None:
    summary = check_reached_over_own_connections(observation(UA_OWN), trunk="VoIPBin", ua="UA",
                                                 opens=[syn(1, UA_OWN, VB)])
    assert summary == ("VoIPBin reached the UA only over the connection(s) the UA opened (its port(s) 41000): "
                       "BYE (frame 9) and 1 response(s); no connection opened to it")


def test_a_connection_opened_to_the_ua_fails_naming_its_syn() -> None:
    with pytest.raises(AssertionError, match=r"frame 8: VoIPBin opened a connection to the UA \(127.0.0.20:40999 -> "
                                             r"127.0.0.10:5062\), which takes none"):
        check_reached_over_own_connections(observation(UA_CONTACT), trunk="VoIPBin", ua="UA",
                                           opens=[syn(1, UA_OWN, VB), syn(8, ("127.0.0.20", 40999), UA_CONTACT)])


def test_a_request_to_another_port_of_the_ua_fails() -> None:
    with pytest.raises(AssertionError, match=r"the BYE \(frame 9, VoIPBin -> UA\) went to 127.0.0.10:5062, not over "
                                             r"a connection the UA opened \(from 127.0.0.10:41000\)"):
        check_reached_over_own_connections(observation(UA_CONTACT), trunk="VoIPBin", ua="UA", opens=[syn(1, UA_OWN, VB)])
    with pytest.raises(AssertionError, match="no request from VoIPBin reached the UA"):
        check_reached_over_own_connections(Observation.build(Path("x.pcap"), [msg(2, UA_OWN, VB, "INVITE")], ROLES),
                                           trunk="VoIPBin", ua="UA", opens=[syn(1, UA_OWN, VB)])
