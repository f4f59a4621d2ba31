"""The single-fact assertions on a decoded capture: what passes, and what a failure says."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.capture.decode import DecodedMessage, DecodedRtp
from harness.capture.observation import Observation
from harness.suite import checks

UA, VB, DST = ("127.0.0.10", 16000), ("127.0.0.20", 16001), ("127.0.0.30", 16002)
RELAY_A = ("127.0.0.20", 20000)
ROLES = {"127.0.0.10": "UA", "127.0.0.20": "VoIPBin", "127.0.0.30": "Destination"}
CHALLENGE = 'Digest realm="example.trunk.voipbin.net", nonce="{nonce}", qop="auth", algorithm=MD5'


def msg(frame, src, dst, first, *, call="a", cseq=1, headers=None, sdp=None, branch=None) -> DecodedMessage:
    status = int(first) if first.isdigit() else None
    return DecodedMessage(
        frame_no=frame, time=frame / 100, src=src, dst=dst, transport="udp",
        kind="response" if status else "request", method=None if status else first, status=status,
        reason="Whatever" if status else None, call_id=call, cseq_num=cseq,
        cseq_method="INVITE" if status or first in ("INVITE", "ACK") else first,
        via_branch=branch or f"z9hG4bK{call}{cseq}", from_tag="f", to_tag=None,
        has_authorization=False, has_proxy_authorization="Proxy-Authorization" in (headers or {}),
        has_sdp=sdp is not None, sdp_connection_address=sdp[0] if sdp else None,
        sdp_media_port=sdp[1] if sdp else None, reason_header=None, user_agent=None,
        headers={k: [v] for k, v in (headers or {}).items()}, sdp_media_formats=(0, 101) if sdp else (),
    )


def rtp(frame, src, dst, pt=0) -> DecodedRtp:
    return DecodedRtp(frame, frame / 100, src, dst, ssrc=1, seq=frame, payload_type=pt)


def obs(*items) -> Observation:
    return Observation.build(Path("x.pcap"), list(items), ROLES)


def test_the_challenge_must_name_the_trunk_domain_and_offer_qop_auth():
    good = obs(msg(1, UA, VB, "INVITE"), msg(2, VB, UA, "407", headers={"Proxy-Authenticate": CHALLENGE.format(nonce="n")}))
    checks.check_challenge(good, status=407, realm="example.trunk.voipbin.net", qop="auth")
    bad = obs(msg(1, UA, VB, "INVITE"),
              msg(2, VB, UA, "407", headers={"Proxy-Authenticate": 'Digest realm="voipbin.net", nonce="n"'}))
    with pytest.raises(AssertionError, match="realm 'voipbin.net'; the trunk's domain 'example.trunk.voipbin.net'"):
        checks.check_challenge(bad, status=407, realm="example.trunk.voipbin.net", qop="auth")


def test_answers_that_differ_only_in_the_nonce_are_identical_and_a_stale_flag_is_not():
    same = obs(
        msg(1, VB, UA, "407", call="a", headers={"Proxy-Authenticate": CHALLENGE.format(nonce="n1")}),
        msg(2, VB, UA, "407", call="b", headers={"Proxy-Authenticate": CHALLENGE.format(nonce="n2")}),
    )
    checks.check_identical_challenges(same)
    differ = obs(
        msg(1, VB, UA, "407", call="a", headers={"Proxy-Authenticate": CHALLENGE.format(nonce="n1")}),
        msg(2, VB, UA, "407", call="b", headers={"Proxy-Authenticate": CHALLENGE.format(nonce="n2") + ", stale=TRUE"}),
    )
    with pytest.raises(AssertionError, match="can tell a wrong password from an unknown user"):
        checks.check_identical_challenges(differ)


def test_early_media_comes_from_the_183_s_sdp_before_the_answer():
    p183 = msg(3, VB, UA, "183", sdp=RELAY_A)
    ok = obs(msg(1, UA, VB, "INVITE"), p183, rtp(4, RELAY_A, UA), rtp(5, RELAY_A, UA), msg(6, VB, UA, "200"))
    assert checks.check_early_media(ok) == "2 RTP packets from 127.0.0.20:20000 (PT 0), 2 before the answer"
    wrong_port = obs(p183, rtp(4, ("127.0.0.20", 20002), UA))
    with pytest.raises(AssertionError, match="from 127.0.0.20:20002 .* not from 127.0.0.20:20000"):
        checks.check_early_media(wrong_port)
    late = obs(p183, msg(5, VB, UA, "200"), rtp(6, RELAY_A, UA))
    with pytest.raises(AssertionError, match="came after the 200 OK .*: no early media"):
        checks.check_early_media(late)
    checks.check_early_media(late, before_answer=False)
    bad_pt = obs(p183, rtp(4, RELAY_A, UA, pt=8))
    with pytest.raises(AssertionError, match="payload type 8"):
        checks.check_early_media(bad_pt)


def test_the_final_status_with_its_q850_cause():
    relayed = obs(msg(1, VB, UA, "486", headers={"Reason": 'Q.850;cause=17;text="User busy"'}))
    checks.check_final_status(relayed, status=486, cause=17)
    with pytest.raises(AssertionError, match="Q.850 cause 21 was expected"):
        checks.check_final_status(relayed, status=486, cause=21)
    with pytest.raises(AssertionError, match="received 486 .* 404 was expected"):
        checks.check_final_status(relayed, status=404)
    bare = obs(msg(1, VB, UA, "486"))
    with pytest.raises(AssertionError, match="carries no Q.850 Reason header"):
        checks.check_final_status(bare, status=486, cause=17)


def test_the_ack_for_the_407_must_not_be_relayed():
    base = [
        msg(1, UA, VB, "INVITE"), msg(2, VB, UA, "407", headers={"Proxy-Authenticate": CHALLENGE.format(nonce="n")}),
        msg(3, UA, VB, "ACK"), msg(4, UA, VB, "INVITE", cseq=2, headers={"Proxy-Authorization": "Digest x"}),
        msg(5, VB, DST, "INVITE", call="b"), msg(6, DST, VB, "200", call="b"),
    ]
    checks.check_ack_to_challenge_stays(obs(*base, msg(7, VB, DST, "ACK", call="b", branch="z9hG4bKack")))
    leaked = obs(*base[:3], msg(4, VB, DST, "ACK", call="b"), *base[3:])
    with pytest.raises(AssertionError, match="an ACK reached the Destination .* before it answered"):
        checks.check_ack_to_challenge_stays(leaked)


def test_nothing_may_reach_the_destination():
    with pytest.raises(AssertionError, match="the Destination received 1 INVITE request"):
        checks.check_no_request(obs(msg(1, VB, DST, "INVITE")), method="INVITE", dst="Destination")
    with pytest.raises(AssertionError, match="1 packet\\(s\\) to or from the Destination"):
        checks.check_nothing_reaches(obs(rtp(1, RELAY_A, DST)), "Destination")


def test_digest_parameters_are_read_quoted_or_not():
    assert checks.digest_params('Digest realm="a, b", nonce=xyz, qop="auth,auth-int"') == {
        "realm": "a, b", "nonce": "xyz", "qop": "auth,auth-int",
    }
