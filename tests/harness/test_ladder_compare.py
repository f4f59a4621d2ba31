"""Observed flows against the spec's ladders: what passes, what diverges, and how it is reported."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.ladder import (
    KNOWN_METHODS,
    Matcher,
    ObservedStep,
    classify_label,
    compare,
    observed_from_ladder,
    parse_ladder,
    relay_pairs,
    render_observed,
)

from .test_ladder_format import _spec_ladders

UA, VB, DST = "UA", "VoIPBin", "Destination"


def flow(*lines: str) -> list[ObservedStep]:
    """'UA -> VoIPBin: INVITE with Authorization', '... (retransmission)', frames numbered 1, 2, ..."""
    out = []
    for k, line in enumerate(lines):
        route, label = line.split(":", 1)
        src, dst = (part.strip() for part in route.split("->"))
        m = classify_label(label)
        out.append(
            ObservedStep(
                src,
                dst,
                m.kind,
                method=m.method,
                status=m.status,
                reason=m.reason,
                has_authorization=m.with_authorization,
                time=k * 0.01,
                frame_no=k + 1,
                is_retransmission=label.strip().endswith("(retransmission)"),
            )
        )
    return out


AUTH_PREFIX = (
    "UA -> VoIPBin: INVITE",
    "VoIPBin -> UA: 407 Proxy Authentication Required",
    "UA -> VoIPBin: ACK",
    "UA -> VoIPBin: INVITE with Authorization",
)

# A real B2BUA: answers 100 at once, ACKs the B leg's 200 itself, answers the UA's BYE before the B leg does.
BASIC_CALL = AUTH_PREFIX + (
    "VoIPBin -> UA: 100 Trying",
    "VoIPBin -> Destination: INVITE",
    "Destination -> VoIPBin: 100 Trying",
    "Destination -> VoIPBin: 180 Ringing",
    "VoIPBin -> UA: 180 Ringing",
    "Destination -> VoIPBin: 200 OK",
    "VoIPBin -> Destination: ACK",
    "VoIPBin -> UA: 200 OK",
    "UA -> VoIPBin: ACK",
    "UA -> VoIPBin: BYE",
    "VoIPBin -> UA: 200 OK",
    "VoIPBin -> Destination: BYE",
    "Destination -> VoIPBin: 200 OK",
)

EARLY_MEDIA = AUTH_PREFIX + (
    "VoIPBin -> Destination: INVITE",
    "Destination -> VoIPBin: 100 Trying",
    "VoIPBin -> UA: 100 Trying",
    "Destination -> VoIPBin: 183 Ringing",
    "VoIPBin -> UA: 183 Ringing",
    "Destination -> VoIPBin: RTP Media",
    "VoIPBin -> UA: RTP Media",
)


@pytest.fixture(scope="module")
def ladders():
    basic, early, hangup = _spec_ladders()
    return {"basic": basic, "early": early, "hangup": hangup}


def test_labels_mean_what_the_spec_means():
    assert classify_label("INVITE with Authorization") == Matcher(
        "request", method="INVITE", with_authorization=True
    )
    assert classify_label("ACK") == Matcher("request", method="ACK")
    assert classify_label("407 Proxy Authentication Required") == Matcher(
        "response", status=407, reason="Proxy Authentication Required"
    )
    assert classify_label("404 NOT FOUND").status == 404
    assert classify_label("RTP Media").kind == "rtp"
    assert classify_label("RTP Media (120 packets)").kind == "rtp"
    assert classify_label("INVITE (retransmission)") == Matcher("request", method="INVITE")
    with pytest.raises(ValueError, match="neither a SIP method"):
        classify_label("Hangup")
    with pytest.raises(ValueError, match="unknown qualifier"):
        classify_label("INVITE with SDP")


def test_authorization_qualifier_requires_credentials_but_plain_invite_accepts_them():
    plain, with_auth = classify_label("INVITE"), classify_label("INVITE with Authorization")
    bare, authed = flow("UA -> VoIPBin: INVITE", "UA -> VoIPBin: INVITE with Authorization")
    assert plain.matches(bare) and plain.matches(authed)
    assert with_auth.matches(authed) and not with_auth.matches(bare)


def test_relayed_messages_in_the_basic_ladder(ladders):
    basic = ladders["basic"]
    pairs = [(basic.steps[a].line_no, basic.steps[b].line_no) for a, b in relay_pairs(basic)]
    # INVITE, 180, 200 (INVITE) and BYE are relayed; 100 Trying, ACKs and the 200 to BYE are per leg.
    assert pairs == [(56, 57), (62, 63), (65, 66), (71, 72)]
    early = ladders["early"]
    assert [(early.steps[a].line_no, early.steps[a].src, early.steps[b].src) for a, b in relay_pairs(early)][
        -1
    ] == (98, DST, VB)


def test_basic_call_of_a_real_b2bua_passes(ladders):
    result = compare(ladders["basic"], flow(*BASIC_CALL))
    assert result.ok, result.divergence
    assert result.divergence is None


def test_retransmissions_are_shown_but_not_counted(ladders):
    lines = list(BASIC_CALL)
    lines.insert(1, "UA -> VoIPBin: INVITE (retransmission)")
    lines.insert(12, "VoIPBin -> UA: 200 OK (retransmission)")
    observed = flow(*lines)
    result = compare(ladders["basic"], observed)
    assert result.ok, result.divergence
    assert "2 retransmission(s) shown but not counted" in result.notes
    assert "INVITE (retransmission)" in render_observed(observed, ladders["basic"].columns)


def test_trunk_answering_100_before_the_destination_is_not_a_divergence(ladders):
    observed = flow(
        *AUTH_PREFIX,
        "VoIPBin -> UA: 100 Trying",
        "VoIPBin -> Destination: INVITE",
        "Destination -> VoIPBin: 100 Trying",
        "Destination -> VoIPBin: 404 NOT FOUND",
        "VoIPBin -> UA: 404 NOT FOUND",
    )
    assert compare(ladders["hangup"], observed).ok


def test_elided_prefix_skips_the_authentication_exchange(ladders):
    result = compare(ladders["early"], flow(*EARLY_MEDIA))
    assert result.ok, result.divergence


def test_other_reason_phrase_is_a_note_not_a_failure(ladders):
    lines = [line.replace("183 Ringing", "183 Session Progress") for line in EARLY_MEDIA]
    result = compare(ladders["early"], flow(*lines))
    assert result.ok
    assert any(
        "'183 Ringing'" in n and "'183 Session Progress'" in n and "line 97" in n for n in result.notes
    )


def test_missing_407_challenge(ladders):
    observed = flow("UA -> VoIPBin: INVITE", "UA -> VoIPBin: INVITE with Authorization", *BASIC_CALL[4:])
    result = compare(ladders["basic"], observed)
    assert not result.ok
    assert result.divergence.startswith("step 2 (line 53: VoIPBin -> UA '407 Proxy Authentication Required')")
    assert (
        "expected 407 response VoIPBin -> UA, observed INVITE with Authorization UA -> VoIPBin (frame 2)"
        in (result.divergence)
    )


def test_ack_to_407_must_not_reach_the_destination(ladders):
    lines = list(BASIC_CALL)
    lines.insert(3, "VoIPBin -> Destination: ACK")
    result = compare(ladders["basic"], flow(*lines))
    assert not result.ok
    assert "line 57: VoIPBin -> Destination 'INVITE'" in result.divergence
    assert "observed ACK VoIPBin -> Destination (frame 4)" in result.divergence


def test_404_relayed_as_500(ladders):
    observed = flow(
        *AUTH_PREFIX,
        "VoIPBin -> Destination: INVITE",
        "Destination -> VoIPBin: 100 Trying",
        "VoIPBin -> UA: 100 Trying",
        "Destination -> VoIPBin: 404 Not Found",
        "VoIPBin -> UA: 500 Internal Server Error",
    )
    result = compare(ladders["hangup"], observed)
    assert not result.ok
    assert "line 113" in result.divergence
    assert "expected 404 response VoIPBin -> UA, observed 500 Internal Server Error" in result.divergence


def test_rtp_not_relayed_to_the_ua(ladders):
    result = compare(ladders["early"], flow(*EARLY_MEDIA[:-1]))
    assert not result.ok
    assert "line 98: VoIPBin -> UA 'RTP Media'" in result.divergence
    assert "expected RTP packets VoIPBin -> UA after frame 9, saw none" in result.divergence
    assert result.observed_index is None


def test_rtp_to_the_ua_before_any_came_from_the_destination_is_not_relayed(ladders):
    lines = list(EARLY_MEDIA)
    lines[-2], lines[-1] = lines[-1], lines[-2]
    result = compare(ladders["early"], flow(*lines))
    assert not result.ok
    assert "before the message it relays" in result.divergence


def test_order_swapped_on_one_leg(ladders):
    lines = list(BASIC_CALL)
    i, j = lines.index("VoIPBin -> UA: 100 Trying"), lines.index("VoIPBin -> UA: 180 Ringing")
    lines[i], lines[j] = lines[j], lines[i]
    result = compare(ladders["basic"], flow(*lines))
    assert not result.ok
    assert "line 60: VoIPBin -> UA '100 Trying'" in result.divergence
    assert "observed 180 Ringing VoIPBin -> UA (frame 5)" in result.divergence


def test_relayed_180_before_the_destination_rang(ladders):
    lines = list(BASIC_CALL)
    i, j = lines.index("Destination -> VoIPBin: 180 Ringing"), lines.index("VoIPBin -> UA: 180 Ringing")
    lines[i], lines[j] = lines[j], lines[i]
    result = compare(ladders["basic"], flow(*lines))
    assert not result.ok
    assert result.divergence.startswith("step 9 (line 63: VoIPBin -> UA '180 Ringing'): observed 180 Ringing")
    assert "before the message it relays, step 8 (line 62" in result.divergence


def test_trailing_messages_allowed_by_default_but_configurable(ladders):
    observed = flow(*EARLY_MEDIA, "UA -> VoIPBin: CANCEL")
    lenient = compare(ladders["early"], observed)
    assert lenient.ok
    assert any("1 message(s) after the documented flow" in n for n in lenient.notes)
    strict = compare(ladders["early"], observed, allow_trailing=False)
    assert not strict.ok and "CANCEL UA -> VoIPBin (frame 12)" in strict.divergence


def test_first_step_never_seen_on_an_elided_leg(ladders):
    result = compare(ladders["hangup"], flow(*AUTH_PREFIX[:3]))
    assert not result.ok
    assert (
        "line 108" in result.divergence
        and "nothing further was observed on leg UA<->VoIPBin" in result.divergence
    )


def test_role_names_can_be_mapped_to_columns(ladders):
    renamed = [line.replace("VoIPBin", "TRUNK").replace("Destination", "DESTINATION") for line in EARLY_MEDIA]
    assert compare(ladders["early"], flow(*renamed), roles={"TRUNK": VB, "DESTINATION": DST}).ok


def test_side_by_side_marks_the_divergent_line_on_both_sides(ladders):
    basic = ladders["basic"]
    observed = flow("UA -> VoIPBin: INVITE", "UA -> VoIPBin: INVITE with Authorization", *BASIC_CALL[4:])
    result = compare(basic, observed)
    observed_text = render_observed(observed, basic.columns)
    table = result.side_by_side(basic.text, observed_text)
    marked = [line for line in table.splitlines() if ">> |" in line]
    assert len(marked) == 1  # both divergent lines happen to be the fifth line of their drawing
    left, right = marked[0][3:].split(">> ")
    assert left.startswith("|<-- 407 Proxy Authentication Required --|")
    assert right.startswith("|------ INVITE with Authorization ------>|")
    assert table.rstrip().splitlines()[-1].startswith("divergence: step 2")
    assert parse_ladder(observed_text).steps[1].label == "INVITE with Authorization"


def test_side_by_side_marks_the_end_when_nothing_was_observed(ladders):
    early = ladders["early"]
    observed = flow(*EARLY_MEDIA[:-1])
    result = compare(early, observed)
    table = result.side_by_side(early.text, render_observed(observed, early.columns))
    assert ">> (no matching message observed)" in table
    assert any(line.startswith(">> |<") and "RTP Media" in line for line in table.splitlines())


_observed = st.builds(
    ObservedStep,
    src=st.sampled_from([UA, VB, DST]),
    dst=st.sampled_from(["to-left", "to-right"]),
    kind=st.sampled_from(["request", "response", "rtp"]),
    method=st.sampled_from(sorted(KNOWN_METHODS)),
    status=st.integers(100, 699),
    reason=st.text(max_size=60),
    has_authorization=st.booleans(),
    is_retransmission=st.booleans(),
    packet_count=st.integers(1, 500),
)


def _fix_route(o: ObservedStep) -> ObservedStep:
    cols = [UA, VB, DST]
    k = cols.index(o.src)
    dst = cols[k - 1] if (o.dst == "to-left" and k > 0) or k == 2 else cols[k + 1]
    return replace(o, dst=dst)


@settings(max_examples=200, deadline=None)
@given(st.lists(_observed.map(_fix_route), max_size=8))
def test_observed_flows_survive_rendering_whatever_the_wire_said(observed):
    drawn = render_observed(observed, [UA, VB, DST])
    back = observed_from_ladder(parse_ladder(drawn))
    assert [o.label for o in back] == [o.label for o in observed]
    for before, after in zip(observed, back, strict=True):
        assert (after.src, after.dst, after.kind, after.is_retransmission) == (
            before.src,
            before.dst,
            before.kind,
            before.is_retransmission,
        )
        if before.kind == "request":
            assert (after.method, after.has_authorization) == (before.method, before.has_authorization)
        elif before.kind == "response":
            assert after.status == before.status
        else:
            assert after.packet_count == before.packet_count


def test_early_media_that_only_flows_after_the_answer_is_a_divergence(ladders):
    """The spec draws RTP right after the 183: RTP that first reaches the UA after the 200 OK is not early
    media, even though the 200 OK itself lies beyond the documented flow."""
    healthy = flow(*EARLY_MEDIA, "VoIPBin -> UA: 200 OK", "Destination -> VoIPBin: 200 OK")
    assert compare(ladders["early"], healthy).ok
    late = list(EARLY_MEDIA[:-2]) + [
        "Destination -> VoIPBin: RTP Media",
        "Destination -> VoIPBin: 200 OK",
        "VoIPBin -> UA: 200 OK",
        "VoIPBin -> UA: RTP Media",
    ]
    result = compare(ladders["early"], flow(*late))
    assert not result.ok
    assert "line 98: VoIPBin -> UA 'RTP Media'" in result.divergence
    assert "after frame 9 and before 200 OK VoIPBin -> UA (frame 12), saw none" in result.divergence
