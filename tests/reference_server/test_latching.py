"""The relay's latching policy, sans-IO: who may latch, when, and what a stranger's packets get."""

from __future__ import annotations

from reference_server.latching import (
    CONFIRM_PACKETS,
    FOREIGN_HOLD_SECONDS,
    LOGGED_STRANGERS,
    WINDOW_PACKETS,
    WINDOW_SECONDS,
    Latch,
    Verdict,
)

SDP = ("10.200.0.1", 40000)  # what a phone behind NAT announces
NAT = ("203.0.113.7", 61234)  # where its RTP really comes from (its SIP too)
NAT_OTHER_PORT = ("203.0.113.7", 61300)  # another flow on the same public IP
STRANGER = ("198.51.100.66", 5004)  # an RTP Bleed prober
R, L, S = Verdict.RELAY, Verdict.LEARNING, Verdict.STRANGER


def nat_latch() -> Latch:
    latch = Latch()
    latch.set_peers(["203.0.113.7"])
    latch.set_sdp(SDP)
    return latch


def test_a_caller_behind_nat_is_latched_after_two_packets_of_one_ssrc() -> None:
    latch = nat_latch()
    assert latch.remote == SDP and not latch.latched
    assert [latch.admit(NAT, 0x1111, 0.00), latch.admit(NAT, 0x1111, 0.02)] == [L, R]
    assert CONFIRM_PACKETS == 2
    assert latch.latched and latch.remote == NAT  # the other side's media now goes through the NAT binding
    assert latch.admit(NAT, 0x1111, 0.04) is R


def test_the_exact_sdp_address_latches_at_its_first_packet() -> None:
    latch = nat_latch()
    assert latch.admit(SDP, 0x1111, 0.0) is R and latch.latched and latch.remote == SDP
    assert latch.admit(NAT, 0x2222, 0.02) is S and latch.admit(NAT, 0x2222, 0.04) is S  # no re-latch


def test_a_stranger_ip_loses_to_the_announced_ips_early_and_never_latches_late() -> None:
    latch = nat_latch()
    assert [latch.admit(STRANGER, 0xBAD, t / 100) for t in range(5)] == [L] * 5  # first, consistent: held back
    assert [latch.admit(NAT, 0x1111, 0.1), latch.admit(NAT, 0x1111, 0.12)] == [L, R]
    assert latch.remote == NAT and not latch.foreign
    assert [latch.admit(STRANGER, 0xBAD, 0.6 + t / 50) for t in range(40)] == [S] * 40  # the hold is over: too late
    assert latch.admit(STRANGER, 0xBAD, 10.0) is S and latch.remote == NAT


def test_rtp_from_this_hosts_own_loopback_source_latches_like_an_announced_one() -> None:
    # baresip on a host with two interfaces: SDP and SIP say 10.200.0.1, its RTP to a relay on loopback
    # leaves from 127.0.0.1 (only a process on the relay's host can send from there)
    latch = Latch()
    latch.set_peers(["10.200.0.1"])
    latch.set_sdp(("10.200.0.1", 40000))
    assert [latch.admit(("127.0.0.1", 40000), 0x5150, 0.0), latch.admit(("127.0.0.1", 40000), 0x5150, 0.02)] == [L, R]
    assert latch.remote == ("127.0.0.1", 40000) and not latch.foreign


def test_an_unannounced_ip_latches_after_holding_one_ssrc_while_the_announced_ones_are_silent() -> None:
    # a multihomed caller: SDP and SIP say 10.200.0.1, its RTP leaves by another interface
    latch = Latch()
    latch.set_peers(["10.200.0.1"])
    latch.set_sdp(("10.200.0.1", 40000))
    route = ("192.0.2.77", 40000)
    ticks = [t * 0.02 for t in range(int(FOREIGN_HOLD_SECONDS / 0.02) + 2)]
    verdicts = [latch.admit(route, 0x5150, t) for t in ticks]
    assert verdicts[:-2] == [L] * (len(ticks) - 2) and verdicts[-1] is R  # held back for the hold, then relayed
    assert latch.latched and latch.foreign and latch.remote == route  # the answer goes back where RTP came from
    assert latch.admit(STRANGER, 0xBAD, 0.7) is S and latch.admit(STRANGER, 0xBAD, 0.72) is S


def test_an_unannounced_ip_is_held_back_for_good_once_an_announced_one_speaks() -> None:
    latch = nat_latch()
    assert latch.admit(STRANGER, 0xBAD, 0.0) is L
    assert latch.admit(NAT_OTHER_PORT, 0x1, 0.01) is L  # the caller's own IP: announced
    assert [latch.admit(STRANGER, 0xBAD, 0.02 + t / 50) for t in range(40)] == [S] * 40
    assert not latch.latched


def test_an_announced_source_displaces_an_unannounced_latch_within_the_window() -> None:
    latch = nat_latch()
    ticks = [t * 0.02 for t in range(int(FOREIGN_HOLD_SECONDS / 0.02) + 2)]
    assert [latch.admit(STRANGER, 0xBAD, t) for t in ticks][-1] is R and latch.foreign
    assert [latch.admit(NAT, 0x1111, 0.6), latch.admit(NAT, 0x1111, 0.62)] == [L, R]
    assert latch.remote == NAT and not latch.foreign
    assert latch.admit(STRANGER, 0xBAD, 0.64) is S


def test_a_stray_packet_with_another_ssrc_does_not_latch() -> None:
    latch = nat_latch()
    assert latch.admit(NAT_OTHER_PORT, 0xBAD, 0.0) is L  # a single probe on the NAT's IP
    assert latch.admit(NAT_OTHER_PORT, 0xBAD + 1, 0.01) is L  # another SSRC: not consistent
    assert [latch.admit(NAT, 0x1111, 0.02), latch.admit(NAT, 0x1111, 0.04)] == [L, R]
    assert latch.remote == NAT
    assert latch.admit(NAT_OTHER_PORT, 0xBAD, 0.06) is S and latch.remote == NAT  # latched: a stranger now


def test_once_latched_no_other_source_takes_over_mid_call() -> None:
    latch = nat_latch()
    latch.admit(NAT, 0x1111, 0.0)
    latch.admit(NAT, 0x1111, 0.02)
    for t in range(100):  # a steady, consistent stream from another port of the same public IP
        assert latch.admit(NAT_OTHER_PORT, 0x2222, 1.0 + t / 50) is S
    assert latch.remote == NAT


def test_a_new_ssrc_from_the_latched_source_is_relayed() -> None:
    latch = nat_latch()
    latch.admit(NAT, 0x1111, 0.0)
    latch.admit(NAT, 0x1111, 0.02)
    assert latch.admit(NAT, 0x9999, 30.0) is R and latch.remote == NAT  # the peer restarted its stream


def test_the_sdp_address_displaces_an_early_latch_only_within_the_window() -> None:
    early = nat_latch()
    early.admit(NAT, 0x1111, 0.0)
    early.admit(NAT, 0x1111, 0.02)
    assert early.admit(SDP, 0x3333, 0.5) is R and early.remote == SDP  # the SDP is preferred
    assert early.admit(NAT, 0x1111, 0.52) is S

    late = nat_latch()
    late.admit(NAT, 0x1111, 0.0)
    late.admit(NAT, 0x1111, 0.02)
    assert late.admit(SDP, 0x3333, WINDOW_SECONDS + 0.1) is S and late.remote == NAT


def test_learning_ends_after_the_window_without_a_latch() -> None:
    latch = nat_latch()
    assert latch.admit(NAT, 0x1111, 0.0) is L
    assert latch.admit(NAT, 0x1111, WINDOW_SECONDS + 0.5) is S  # too late to confirm
    assert not latch.latched and latch.remote == SDP
    assert latch.admit(SDP, 0x1111, 60.0) is R  # the SDP address may still latch: it was signalled

    flooded = nat_latch()
    for n in range(WINDOW_PACKETS):  # every packet from another source than the one before
        flooded.admit(("203.0.113.7", 20000 + n % 8), n, 0.001 * n)
    assert flooded.admit(NAT, 0x1111, 0.1) is S and flooded.admit(NAT, 0x1111, 0.12) is S


def test_a_new_sdp_address_starts_learning_over_and_a_refresh_keeps_the_latch() -> None:
    latch = nat_latch()
    latch.admit(NAT, 0x1111, 0.0)
    latch.admit(NAT, 0x1111, 0.02)
    latch.set_sdp(SDP)  # a re-INVITE refreshing the session, same address
    assert latch.latched and latch.remote == NAT
    moved = ("10.200.0.1", 40002)
    latch.set_sdp(moved)  # a re-INVITE moving the media
    assert not latch.latched and latch.remote == moved
    new_source = ("203.0.113.7", 61236)
    assert [latch.admit(new_source, 0x4444, 40.0), latch.admit(new_source, 0x4444, 40.02)] == [L, R]
    assert latch.remote == new_source


def test_hold_clears_the_remote() -> None:
    latch = nat_latch()
    latch.set_sdp(("0.0.0.0", 40000))
    assert latch.remote is None and not latch.latched
    latch.set_sdp(SDP)
    latch.set_sdp(("10.200.0.1", 0))
    assert latch.remote is None


def test_without_sdp_or_signalling_any_source_may_latch_once() -> None:
    latch = Latch()
    assert [latch.admit(STRANGER, 7, 0.0), latch.admit(STRANGER, 7, 0.02)] == [L, R]
    assert latch.remote == STRANGER and latch.admit(NAT, 8, 0.04) is S


def test_signalling_ip_alone_restricts_latching_when_the_sdp_is_not_known_yet() -> None:
    latch = Latch()
    latch.set_peers(["203.0.113.7"])
    assert latch.admit(STRANGER, 7, 0.0) is L and latch.admit(STRANGER, 7, 0.02) is L  # not at two packets
    assert [latch.admit(NAT, 1, 0.04), latch.admit(NAT, 1, 0.06)] == [L, R]
    assert latch.admit(STRANGER, 7, 0.6) is S and latch.remote == NAT


def test_strangers_are_logged_once_each_and_only_the_first_few() -> None:
    latch = nat_latch()
    latch.admit(SDP, 1, 0.0)
    lines = []
    for n in range(LOGGED_STRANGERS + 5):
        for _ in range(3):
            lines.append(latch.log_stranger(("198.51.100.66", 6000 + n)))
    logged = [line for line in lines if line is not None]
    assert len(logged) == LOGGED_STRANGERS
    assert logged[0] == "latched to 10.200.0.1:40000"
    assert logged[-1].endswith("further stranger sources are not logged")
