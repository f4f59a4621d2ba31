"""Parsing the spec's ladders exactly, clear errors, and render/parse round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.ladder import (
    LadderParseError,
    Step,
    extract_ladders,
    observed_from_ladder,
    parse_ladder,
    render_ladder,
    render_observed,
)

# The document under test travels with the repository (spec/), so the line numbers below hold in any
# checkout; where the shared original exists it is compared byte for byte.
SPEC = Path(__file__).resolve().parents[2] / "spec" / "voipbin-trunk.txt"
# The project's shared folder sits beside the clone (../shared) in development and CI.
SHARED_SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "voipbin-trunk.txt"

UA, VB, DST = "UA", "VoIPBin", "Destination"


def _spec_ladders():
    return extract_ladders(SPEC.read_text())


def _rows(ladder):
    return [(s.line_no, s.src, s.dst, s.label) for s in ladder.steps]


@pytest.mark.skipif(not SHARED_SPEC.exists(), reason="no shared spec folder on this machine")
def test_spec_copy_matches_the_shared_spec():
    assert SPEC.read_bytes() == SHARED_SPEC.read_bytes(), f"{SPEC} is out of date: copy {SHARED_SPEC} over it"


def test_spec_has_three_ladders_with_the_three_columns():
    ladders = _spec_ladders()
    assert len(ladders) == 3
    assert all(lad.columns == [UA, VB, DST] for lad in ladders)
    assert [lad.elided_prefix for lad in ladders] == [False, True, True]


def test_basic_authentication_ladder_exact_steps():
    basic = _spec_ladders()[0]
    assert _rows(basic) == [
        (52, UA, VB, "INVITE"),
        (53, VB, UA, "407 Proxy Authentication Required"),
        (54, UA, VB, "ACK"),
        (56, UA, VB, "INVITE with Authorization"),
        (57, VB, DST, "INVITE"),
        (59, DST, VB, "100 Trying"),
        (60, VB, UA, "100 Trying"),
        (62, DST, VB, "180 Ringing"),
        (63, VB, UA, "180 Ringing"),
        (65, DST, VB, "200 OK"),
        (66, VB, UA, "200 OK"),
        (67, UA, VB, "ACK"),
        (68, VB, DST, "ACK"),
        (71, UA, VB, "BYE"),
        (72, VB, DST, "BYE"),
        (73, DST, VB, "200 OK"),
        (74, VB, UA, "200 OK"),
    ]


def test_early_media_ladder_exact_steps_two_arrows_on_one_row():
    early = _spec_ladders()[1]
    assert _rows(early) == [
        (92, UA, VB, "INVITE with Authorization"),
        (93, VB, DST, "INVITE"),
        (94, DST, VB, "100 Trying"),
        (95, VB, UA, "100 Trying"),
        (96, DST, VB, "183 Ringing"),
        (97, VB, UA, "183 Ringing"),
        (98, VB, UA, "RTP Media"),
        (98, DST, VB, "RTP Media"),
    ]


def test_hangup_cause_ladder_exact_steps():
    hangup = _spec_ladders()[2]
    assert _rows(hangup) == [
        (108, UA, VB, "INVITE with Authorization"),
        (109, VB, DST, "INVITE"),
        (110, DST, VB, "100 Trying"),
        (111, VB, UA, "100 Trying"),
        (112, DST, VB, "404 NOT FOUND"),
        (113, VB, UA, "404 NOT FOUND"),
    ]


def test_ladder_text_is_kept_and_reparses_with_relative_line_numbers():
    hangup = _spec_ladders()[2]
    again = parse_ladder(hangup.text)
    assert again.steps == hangup.steps
    assert again.steps[0].line_no == 5  # header, blank, pipes, '=' line, then the first arrow


HEADER = "A                    B                    C\n\n"
PIPES = "|                    |                    |\n"
GAP = " " * 20  # columns A, B, C sit at characters 0, 21 and 42


def test_non_adjacent_arrow_and_arrow_head_on_the_column():
    a_to_c = "|" + "-" * 12 + " OPTIONS " + "-" * 19 + ">|"
    head_on_column = "<------ RTP Media ---|" + GAP + "|"
    assert len(a_to_c) == len(head_on_column) == 43
    ladder = parse_ladder(HEADER + PIPES + a_to_c + "\n" + head_on_column + "\n")
    assert [(s.src, s.dst, s.label) for s in ladder.steps] == [("A", "C", "OPTIONS"), ("B", "A", "RTP Media")]


@pytest.mark.parametrize(
    ("body", "line_no", "fragment"),
    [
        ("|------ INVITE ------|" + GAP + "|", 4, "cannot read the arrow between A and B"),
        ("|" + GAP + "|" + GAP, 4, "expected '|' for column C at character 43"),
        ("|" + GAP + " " + GAP + "|", 4, "expected '|' for column B at character 22"),
        ("|--------- BYE --------------->" + " " * 11 + "|", 4, "cannot read the arrow between A and C"),
        ("|" + GAP + "|" + GAP + "|  note", 4, "text after the last column"),
        ("|<- 486 Busy Here -->|" + GAP + "|", 4, "double-headed arrow"),
        ("|" + "-" * 10 + "-" * 9 + ">|" + GAP + "|", 4, "arrow without a label"),
        (PIPES + "====\n|----- ACK --------->|" + GAP + "|\n====", 7, "must come before the first arrow"),
    ],
)
def test_unreadable_lines_are_reported_with_their_line_number(body, line_no, fragment):
    with pytest.raises(LadderParseError) as err:
        parse_ladder(HEADER + PIPES + body + "\n")
    assert err.value.line_no == line_no
    assert f"line {line_no}:" in str(err.value)
    assert fragment in str(err.value)


def test_header_and_pipe_count_must_agree():
    with pytest.raises(
        LadderParseError, match=r"line 3: the header names 2 columns \(A, B\) but the first row"
    ):
        parse_ladder("A                    B\n\n" + PIPES)


def test_render_spec_ladder_round_trips_and_uses_the_spec_width():
    for ladder in _spec_ladders():
        text = render_ladder(ladder.columns, ladder.steps, elided_prefix=ladder.elided_prefix)
        again = parse_ladder(text)
        assert (again.columns, again.steps, again.elided_prefix) == (
            ladder.columns,
            ladder.steps,
            ladder.elided_prefix,
        )
        pipes = text.splitlines()[2]
        assert [i for i, ch in enumerate(pipes) if ch == "|"] == [0, 41, 82]
    assert "|<-- 407 Proxy Authentication Required --|" in render_ladder(
        [UA, VB], [Step(VB, UA, "407 Proxy Authentication Required")]
    )


def test_render_widens_columns_for_long_labels():
    label = "407 Proxy Authentication Required (retransmission)"
    text = render_ladder([UA, VB, DST], [Step(VB, UA, label)])
    assert parse_ladder(text).steps == [Step(VB, UA, label)]


def test_observed_flow_renders_with_unknown_roles_as_extra_columns():
    observed = observed_from_ladder(
        parse_ladder(HEADER + PIPES + "|---- INVITE ------->|                    |\n")
    )
    observed.append(observed[0].__class__(src="B", dst="198.18.0.9:5060", kind="request", method="OPTIONS"))
    ladder = parse_ladder(render_observed(observed, ["A", "B", "C"]))
    assert ladder.columns == ["A", "B", "C", "198.18.0.9:5060"]
    assert observed_from_ladder(ladder)[1].method == "OPTIONS"


_name = st.text(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"),
    min_size=1,
    max_size=14,
)
_label = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 .,:;()'/@=+-]{0,40}[A-Za-z0-9()]", fullmatch=True).filter(
    lambda s: "  " not in s
)


@st.composite
def _ladders(draw):
    columns = draw(st.lists(_name, min_size=2, max_size=4, unique=True))
    steps = []
    for _ in range(draw(st.integers(0, 8))):
        src, dst = draw(st.permutations(columns))[:2]
        steps.append(Step(src, dst, draw(_label)))
    return columns, steps, draw(st.booleans())


@settings(max_examples=200, deadline=None)
@given(_ladders())
def test_render_then_parse_gives_back_the_same_steps(case):
    columns, steps, elided = case
    ladder = parse_ladder(render_ladder(columns, steps, elided_prefix=elided))
    assert ladder.columns == columns
    assert ladder.steps == steps
    assert ladder.elided_prefix == elided
