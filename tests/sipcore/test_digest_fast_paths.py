"""The digest fast paths give exactly what the general code gives: same values, same errors."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipcore.digest import (
    _DIGEST_LIST_RE,
    _FORBIDDEN_RE,
    _QUOTED_RE,
    _forbidden_char,
    _parse_auth_params,
    _parse_auth_params_slowly,
)
from sipcore.errors import SIPParseError


def _outcome(parse: object, value: str) -> tuple[str, object]:
    assert callable(parse)
    try:
        return "ok", parse(value, "Proxy-Authorization")
    except SIPParseError as exc:
        return "error", (str(exc), exc.header)


def _assert_same(value: str) -> None:
    unfolded = value.replace("\r\n ", " ").replace("\r\n\t", " ")
    fast = _outcome(_parse_auth_params, value)
    if "control character" not in str(fast[1]):
        assert fast == _outcome(_parse_auth_params_slowly, unfolded)


SIPP_LIKE = [
    'Digest username="alice",realm="example.trunk.voipbin.net",cnonce="6b8b4567",nc=00000001,qop=auth,'
    'uri="sip:100@127.0.9.30:5060",nonce="AAABjP3q2fYHk1wGkq_xA2C8n6w1o4Nq3H3e0c-pT6w",'
    'response="0d5b2c3e1a4f5e6d7c8b9a0f1e2d3c4b",algorithm=MD5',
    'Digest realm="a", nonce="b"',
    'digest   realm = "a\\"b" ,\tnonce=x  ',
    "DIGEST",
    "Digest ",
    'Digest realm=""',
]

NOT_FAST = [
    "Digest ,realm=a",  # empty list element: tolerated, by the general parser
    "Digest realm=a,,nonce=b",
    "Digest realm=a,",
    "Digest realm=a, REALM=b",  # twice
    "Digestrealm=a",
    'Digest realm="a',
    "Digest realm=",
    "Digest realm a",
    "Basic realm=a",
    "Digeſt realm=a",  # U+017F: not "digest" for str.lower() either
    "",
]


@pytest.mark.parametrize("value", SIPP_LIKE)
def test_well_formed_lists_take_the_fast_path(value: str) -> None:
    assert _DIGEST_LIST_RE.fullmatch(value) is not None
    _assert_same(value)


@pytest.mark.parametrize("value", NOT_FAST)
def test_other_lists_are_left_to_the_general_parser(value: str) -> None:
    _assert_same(value)


def test_folded_and_escaped_values() -> None:
    _assert_same('Digest realm="a\\\\b",\r\n nonce="c\\d"')
    assert _parse_auth_params('Digest realm="a\\\\b", nonce="c\\d"', "H") == {"realm": "a\\b", "nonce": "cd"}


_pieces = st.sampled_from(["Digest", "digest", " ", "\t", ",", "=", '"', "\\", "realm", "Nonce", "a1",
                           "x.y", "-", "\r\n ", ";", "é", "\x01"])


@given(st.lists(_pieces, max_size=24).map("".join))
def test_any_value_parses_as_the_general_parser_does(value: str) -> None:
    _assert_same(value)


_ws = st.sampled_from(["", " ", "\t", "  "])
_name = st.sampled_from(["realm", "nonce", "uri", "NC", "qop", "x-y", "a.b"])
_value = st.one_of(st.from_regex(r"[A-Za-z0-9\-.!%*_+`'~]{1,6}", fullmatch=True),
                   st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=6).map(
                       lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'))


@given(st.lists(st.tuples(_ws, _name, _ws, _ws, _value, _ws), max_size=6), _ws)
def test_well_formed_lists_parse_as_the_general_parser_does(params: list[tuple[str, ...]], tail: str) -> None:
    value = "Digest " + ",".join("".join(p) for p in params) + tail
    _assert_same(value)


_ALTERNATION_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)  # the textbook form


@given(st.text(st.sampled_from(['"', "\\", "a", " ", "\n", "é"]), max_size=16))
def test_quoted_string_regex_is_the_textbook_one(text: str) -> None:
    for start in range(len(text)):
        ours, textbook = _QUOTED_RE.match(text, start), _ALTERNATION_QUOTED_RE.match(text, start)
        assert (ours and (ours.span(), ours.group(1))) == (textbook and (textbook.span(), textbook.group(1)))


@given(st.text(max_size=12) | st.text(st.characters(max_codepoint=0x7F), max_size=12))
def test_forbidden_char_is_the_regex_search(value: str) -> None:
    ours, regex = _forbidden_char(value), _FORBIDDEN_RE.search(value)
    assert (ours and ours.group()) == (regex and regex.group())
