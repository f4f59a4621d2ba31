"""Digest authentication: RFC vectors, header codec, client, and the stateless-nonce server."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import inspect
import itertools
import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipcore.digest import (
    Challenge,
    Credentials,
    DigestError,
    UnsupportedAlgorithmError,
    compute_ha1,
    compute_response,
    get_algorithm,
    header_names_for,
    parse_challenge,
    parse_challenges,
    parse_credentials,
    response_from_ha1,
)
from sipcore.digest_client import DigestClient, choose_challenge
from sipcore.digest_server import DigestServer, VerifyOutcome, VerifyResult
from sipcore.digest_uri import ServerNames
from sipcore.errors import SIPParseError

ALL_ALGORITHMS = ("MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess")
KEY = b"k" * 32
REALM = "acme.trunk.voipbin.net"
URI = "sip:+15551234567@acme.trunk.voipbin.net"
USERS = {"alice": "s3cret", "bob": "hunter2"}


def counter_source() -> Callable[[int], bytes]:
    """Deterministic token source: distinct bytes on every call."""
    counter = itertools.count(1)
    return lambda n: next(counter).to_bytes(n, "big")


def H(alg: str, s: str | bytes) -> str:
    return hashlib.new(alg, s.encode() if isinstance(s, str) else s).hexdigest()


# --- RFC test vectors ---------------------------------------------------------------------------------

def test_rfc2617_section_3_5_vector() -> None:
    assert compute_response("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life", "GET",
                            "/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001",
                            "0a4f113b", "auth") == "6629fae49393a05397450978507c4ef1"


RFC7616_ARGS = dict(username="Mufasa", realm="http-auth@example.org", password="Circle of Life",
                    method="GET", uri="/dir/index.html", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                    nc="00000001", cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop="auth")


@pytest.mark.parametrize(("algorithm", "expected"), [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_rfc7616_section_3_9_1_vectors(algorithm: str, expected: str) -> None:
    assert compute_response(algorithm, **RFC7616_ARGS) == expected  # type: ignore[arg-type]


def test_rfc7616_authorization_header_parses_and_verifies() -> None:
    value = ('Digest username="Mufasa",\r\n realm="http-auth@example.org",\r\n uri="/dir/index.html",\r\n'
             ' algorithm=SHA-256,\r\n nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",\r\n nc=00000001,\r\n'
             ' cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",\r\n qop=auth,\r\n'
             ' response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",\r\n'
             ' opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"')
    c = parse_credentials(value)
    assert (c.username, c.algorithm, c.nc, c.qop) == ("Mufasa", "SHA-256", "00000001", "auth")
    assert c.opaque == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
    assert compute_response(c.algorithm, c.username, c.realm, "Circle of Life", "GET", c.uri, c.nonce,
                            c.nc, c.cnonce, c.qop) == c.response


def test_sha512_256_matches_hand_computation() -> None:
    a = RFC7616_ARGS
    ha1 = H("sha512_256", f"{a['username']}:{a['realm']}:{a['password']}")
    ha2 = H("sha512_256", f"{a['method']}:{a['uri']}")
    expected = H("sha512_256", f"{ha1}:{a['nonce']}:{a['nc']}:{a['cnonce']}:auth:{ha2}")
    got = compute_response("SHA-512-256", **a)  # type: ignore[arg-type]
    assert got == expected and len(got) == 64
    assert got != compute_response("SHA-256", **a)  # type: ignore[arg-type]  # not SHA-256 truncated


@pytest.mark.parametrize(("algorithm", "hash_name"), [
    ("MD5-sess", "md5"), ("SHA-256-sess", "sha256"), ("SHA-512-256-sess", "sha512_256")])
def test_sess_variants_hash_nonce_and_cnonce_into_ha1(algorithm: str, hash_name: str) -> None:
    a = RFC7616_ARGS
    ha1 = H(hash_name, f"{H(hash_name, 'Mufasa:http-auth@example.org:Circle of Life')}:{a['nonce']}:{a['cnonce']}")
    assert compute_ha1(algorithm, "Mufasa", a["realm"], a["password"], a["nonce"], a["cnonce"]) == ha1
    ha2 = H(hash_name, "GET:/dir/index.html")
    assert compute_response(algorithm, **a) == H(  # type: ignore[arg-type]
        hash_name, f"{ha1}:{a['nonce']}:00000001:{a['cnonce']}:auth:{ha2}")


def test_auth_int_hashes_the_body_and_rfc2069_omits_nc_cnonce() -> None:
    body = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"
    ha1 = H("md5", "alice:r:pw")
    ha2 = H("md5", f"INVITE:sip:b@h:{H('md5', body)}")
    assert compute_response("MD5", "alice", "r", "pw", "INVITE", "sip:b@h", "n", "00000001", "c",
                            "auth-int", body) == H("md5", f"{ha1}:n:00000001:c:auth-int:{ha2}")
    ha2_plain = H("md5", "INVITE:sip:b@h")
    assert compute_response(None, "alice", "r", "pw", "INVITE", "sip:b@h", "n", None, None, None) == \
        H("md5", f"{ha1}:n:{ha2_plain}")


def test_unknown_algorithm_and_qop_are_clear_errors() -> None:
    with pytest.raises(UnsupportedAlgorithmError, match="SHA-1.*supported: MD5"):
        compute_response("SHA-1", "u", "r", "p", "GET", "/", "n", "00000001", "c", "auth")
    with pytest.raises(DigestError, match="auth-conf"):
        compute_response("MD5", "u", "r", "p", "GET", "/", "n", "00000001", "c", "auth-conf")
    with pytest.raises(DigestError, match="cnonce"):
        compute_response("MD5-sess", "u", "r", "p", "GET", "/", "n", None, None, None)
    assert get_algorithm("sha-256").name == "SHA-256"  # algorithm names match case-insensitively


# --- header codec ---------------------------------------------------------------------------------------

def test_parse_rfc3261_challenge_example() -> None:
    c = parse_challenge('Digest realm="atlanta.com", domain="sip:boxesbybob.com", qop="auth", '
                        'nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5',
                        header="Proxy-Authenticate")
    assert (c.realm, c.nonce, c.qop, c.opaque, c.stale, c.algorithm) == (
        "atlanta.com", "f84f1cec41e6cbe5aea9c8e88d359", ("auth",), "", False, "MD5")
    assert c.other == {"domain": "sip:boxesbybob.com"}


def test_parse_is_case_insensitive_and_tolerates_lws() -> None:
    c = parse_challenge('dIgEsT  REALM = "x" ,\r\n\tNonce="y",QOP = "auth , auth-int",,'
                        ' Algorithm = SHA-256 , STALE=true')
    assert (c.realm, c.nonce, c.qop, c.algorithm, c.stale) == ("x", "y", ("auth", "auth-int"), "SHA-256", True)


def test_challenge_serialisation_quotes_what_rfc7616_quotes() -> None:
    c = Challenge(realm="r", nonce="n", algorithm="SHA-256", qop=("auth", "auth-int"), opaque="o", stale=True)
    assert c.to_header() == 'Digest realm="r", nonce="n", opaque="o", stale=TRUE, algorithm=SHA-256, ' \
                            'qop="auth,auth-int"'
    assert parse_challenge(c.to_header()) == c


def test_credentials_serialisation_quotes_what_rfc7616_quotes() -> None:
    cr = Credentials(username="alice", realm="r", nonce="n", uri="sip:b@h", response="ab" * 16,
                     algorithm="MD5", cnonce="c", opaque="o", qop="auth", nc="00000001",
                     other={"userhash": "false"})
    assert cr.to_header() == ('Digest username="alice", realm="r", nonce="n", uri="sip:b@h", '
                              f'response="{"ab" * 16}", algorithm=MD5, cnonce="c", opaque="o", qop=auth, '
                              'nc=00000001, userhash=false')
    assert parse_credentials(cr.to_header(), header="Proxy-Authorization") == cr


def test_quoted_string_escapes_round_trip() -> None:
    c = parse_challenge(r'Digest realm="a \"quoted\" \\realm\, x", nonce="n\q"')
    assert c.realm == 'a "quoted" \\realm, x' and c.nonce == "nq"
    assert c.to_header().startswith(r'Digest realm="a \"quoted\" \\realm, x"')
    assert parse_challenge(c.to_header()) == c


def test_values_given_quoted_where_a_token_is_expected_are_accepted() -> None:
    cr = parse_credentials('Digest username="u", realm="r", nonce="n", uri="sip:x", response="00", '
                           'algorithm="MD5", qop="auth", nc="00000001", cnonce="c"')
    assert (cr.algorithm, cr.qop, cr.nc) == ("MD5", "auth", "00000001")


def test_serialisation_refuses_header_injection() -> None:
    with pytest.raises(ValueError, match="control character"):
        Challenge(realm="r\r\nVia: evil", nonce="n").to_header()


@pytest.mark.parametrize(("value", "message"), [
    ('Digest nonce="n"', "realm"),
    ('Basic realm="r"', "Digest scheme"),
    ('Digest realm="r, nonce="n"', "expected ','"),
    ('Digest realm="r", nonce="n', "unterminated"),
    ('Digest realm="r", realm="s", nonce="n"', "twice"),
    ('Digest realm "r", nonce="n"', "expected '='"),
    ('Digest realm=, nonce="n"', "no value"),
    ('Digest realm="r" nonce="n"', "expected ','"),
    ('Digest realm="r", ="n"', "parameter name"),
    ('Digest realm="r\x00", nonce="n"', "control character"),
    ('Digest realm="r", nonce="n"\r\n', "control character"),
    ('Digest', "realm"),
    ('', "Digest scheme"),
])
def test_malformed_challenges_raise_sip_parse_error_naming_the_header(value: str, message: str) -> None:
    with pytest.raises(SIPParseError, match=message) as exc:
        parse_challenge(value, header="Proxy-Authenticate")
    assert exc.value.header == "Proxy-Authenticate" and exc.value.status_hint == 400


def test_credentials_missing_required_parameters() -> None:
    with pytest.raises(SIPParseError, match="uri, response") as exc:
        parse_credentials('Digest username="u", realm="r", nonce="n"', header="Proxy-Authorization")
    assert exc.value.header == "Proxy-Authorization"


def test_parse_challenges_keeps_digest_skips_other_schemes() -> None:
    got = parse_challenges(['Basic realm="r"', 'Digest realm="r", nonce="n", algorithm=SHA-256',
                            'digest realm="r", nonce="n"', ""])
    assert [c.algorithm for c in got] == ["SHA-256", None]


_AUTH_ALPHABET = st.sampled_from(list('Digest realm nonce qop algorithm="\\,= \t\r\n\x00ÿ-.auth') + ["Digest "])


@given(st.one_of(st.text(), st.lists(_AUTH_ALPHABET, max_size=40).map("".join)))
def test_parsers_only_ever_raise_sip_parse_error(text: str) -> None:
    for parse in (parse_challenge, parse_credentials):
        try:
            parse(text)
        except SIPParseError as exc:
            assert exc.header in ("WWW-Authenticate", "Authorization")


_value = st.text(st.characters(blacklist_categories=("Cc", "Cs")))


@given(realm=_value, nonce=_value, opaque=st.none() | _value, stale=st.booleans(),
       qop=st.lists(st.sampled_from(["auth", "auth-int", "x.y"]), max_size=3).map(tuple))
def test_challenge_round_trips_any_printable_values(realm: str, nonce: str, opaque: str | None, stale: bool,
                                                    qop: tuple[str, ...]) -> None:
    c = Challenge(realm=realm, nonce=nonce, algorithm="MD5", qop=qop, opaque=opaque, stale=stale)
    assert parse_challenge(c.to_header()) == c


@given(username=_value, uri=_value, cnonce=_value)
def test_credentials_round_trip_any_printable_values(username: str, uri: str, cnonce: str) -> None:
    cr = Credentials(username=username, realm="r", nonce="n", uri=uri, response="0" * 32, cnonce=cnonce,
                     qop="auth", nc="00000001")
    assert parse_credentials(cr.to_header()) == cr


def test_header_names_for() -> None:
    assert header_names_for(401) == ("WWW-Authenticate", "Authorization")
    assert header_names_for(407) == ("Proxy-Authenticate", "Proxy-Authorization")
    with pytest.raises(ValueError, match="403"):
        header_names_for(403)


# --- client ---------------------------------------------------------------------------------------------

def test_client_prefers_auth_counts_nc_per_nonce_and_echoes_opaque() -> None:
    client = DigestClient("alice", "s3cret", token_source=counter_source())
    ch = Challenge(realm="r", nonce="n1", qop=("auth-int", "auth"), opaque="op")
    first = client.authorize(ch, "INVITE", URI)
    second = client.authorize(ch, "INVITE", URI)
    other = client.authorize(Challenge(realm="r", nonce="n2", qop=("auth",)), "INVITE", URI)
    assert (first.qop, first.nc, second.nc, other.nc) == ("auth", "00000001", "00000002", "00000001")
    assert first.cnonce != second.cnonce and first.opaque == "op" and other.opaque is None
    assert first.algorithm is None  # absent in the challenge: MD5, not echoed
    assert first.response == compute_response(None, "alice", "r", "s3cret", "INVITE", URI, "n1",
                                              "00000001", first.cnonce, "auth")


def test_client_uses_auth_int_only_when_alone_and_no_qop_for_rfc2069() -> None:
    client = DigestClient("alice", "pw", token_source=counter_source())
    body = b"v=0\r\n"
    cr = client.authorize(Challenge(realm="r", nonce="n", qop=("auth-int",)), "INVITE", URI, body)
    assert cr.qop == "auth-int"
    assert cr.response == compute_response(None, "alice", "r", "pw", "INVITE", URI, "n", cr.nc, cr.cnonce,
                                           "auth-int", body)
    legacy = client.authorize(Challenge(realm="r", nonce="n"), "REGISTER", "sip:r")
    assert (legacy.qop, legacy.nc, legacy.cnonce) == (None, None, None)
    with pytest.raises(DigestError, match="qop=auth-conf"):
        client.authorize(Challenge(realm="r", nonce="n", qop=("auth-conf",)), "INVITE", URI)


def test_choose_challenge_follows_preference_and_skips_unknown() -> None:
    offered = [Challenge("r", "n", algorithm=a) for a in ("SHA-1", "MD5", "SHA-256", "SHA-512-256-sess")]
    assert choose_challenge(offered).algorithm == "SHA-512-256-sess"
    assert choose_challenge(offered, ("SHA-256", "MD5")).algorithm == "SHA-256"
    assert choose_challenge([Challenge("r", "n")], ("MD5",)).algorithm is None
    with pytest.raises(UnsupportedAlgorithmError, match="SHA-1"):
        choose_challenge([offered[0]])


def test_client_refuses_a_challenge_outside_its_preferences() -> None:
    client = DigestClient("alice", "pw")
    with pytest.raises(UnsupportedAlgorithmError):
        client.authorize(Challenge("r", "n", algorithm="MD5", qop=("auth",)), "INVITE", URI,
                         preferred_algorithms=("SHA-256",))


# --- server ---------------------------------------------------------------------------------------------

def make_server(**kw: object) -> DigestServer:
    kw.setdefault("token_source", counter_source())
    return DigestServer(KEY, REALM, **kw)  # type: ignore[arg-type]


def over_the_wire(server: DigestServer, client: DigestClient, now: float, method: str = "INVITE",
                  uri: str = URI, body: bytes = b"", **kw: object) -> Credentials:
    """Challenge -> headers -> client -> header -> server's parse, as a trunk would see it."""
    values = [c.to_header() for c in server.challenge(now)]
    challenges = parse_challenges(values, header="Proxy-Authenticate")
    cred = client.authorize(challenges, method, uri, body, **kw)  # type: ignore[arg-type]
    return parse_credentials(cred.to_header(), header="Proxy-Authorization")


@pytest.mark.parametrize("algorithm", ALL_ALGORITHMS)
def test_full_exchange_with_each_algorithm(algorithm: str) -> None:
    server = make_server(algorithms=(algorithm,))
    client = DigestClient("alice", "s3cret", token_source=counter_source())
    cred = over_the_wire(server, client, 1000.0, preferred_algorithms=ALL_ALGORITHMS)
    assert cred.algorithm == algorithm and cred.qop == "auth"
    result = server.verify(cred, "INVITE", URI, 1001.0, USERS.get)
    assert result.outcome is VerifyOutcome.OK and result.username == "alice"


def test_server_offers_one_challenge_per_algorithm_strongest_first() -> None:
    server = make_server(algorithms=("MD5", "SHA-512-256", "SHA-256"))
    chs = server.challenge(0.0)
    assert [c.algorithm for c in chs] == ["SHA-512-256", "SHA-256", "MD5"]
    assert len({c.nonce for c in chs}) == 1 and all(c.qop == ("auth",) and not c.stale for c in chs)
    client = DigestClient("alice", "s3cret")
    cred = client.authorize(chs, "INVITE", URI, preferred_algorithms=("MD5",))
    assert cred.algorithm == "MD5"
    assert server.verify(cred, "INVITE", URI, 1.0, USERS.get).ok


def test_nc_increments_and_replayed_nc_is_refused() -> None:
    server = make_server()
    client = DigestClient("alice", "s3cret")
    ch = server.challenge(10.0)
    first = client.authorize(ch, "INVITE", URI)
    assert server.verify(first, "INVITE", URI, 11.0, USERS.get).ok
    replay = server.verify(first, "INVITE", URI, 12.0, USERS.get)
    assert replay.outcome is VerifyOutcome.REPLAY and not replay.stale
    second = client.authorize(ch, "BYE", URI)
    assert second.nc == "00000002"
    assert server.verify(second, "BYE", URI, 13.0, USERS.get).ok
    assert server.verify(first, "INVITE", URI, 14.0, USERS.get).outcome is VerifyOutcome.REPLAY


def test_expired_nonce_is_stale_only_when_the_digest_is_right() -> None:
    server = make_server(nonce_lifetime=300)
    ch = server.challenge(0.0)
    good = DigestClient("alice", "s3cret").authorize(ch, "INVITE", URI)
    bad = DigestClient("alice", "wrong").authorize(ch, "INVITE", URI)
    stale = server.verify(good, "INVITE", URI, 301.0, USERS.get)
    assert stale.outcome is VerifyOutcome.STALE and stale.stale
    assert server.verify(bad, "INVITE", URI, 301.0, USERS.get).outcome is VerifyOutcome.BAD_CREDENTIALS
    assert server.verify(good, "INVITE", URI, 300.0, USERS.get).ok  # still inside the lifetime
    assert "stale=TRUE" in server.challenge(301.0, stale=True)[0].to_header()
    assert "stale" not in server.challenge(301.0)[0].to_header()


def test_forged_and_foreign_nonces_are_bad_nonce() -> None:
    server = make_server()
    client = DigestClient("alice", "s3cret")
    forged = client.authorize(Challenge(REALM, "A" * 43, algorithm="MD5", qop=("auth",)), "INVITE", URI)
    foreign = DigestServer(b"x" * 32, REALM).challenge(5.0)
    for cred in (forged, client.authorize(foreign, "INVITE", URI),
                 client.authorize(Challenge(REALM, "not-base64!", algorithm="MD5", qop=("auth",)), "INVITE", URI)):
        result = server.verify(cred, "INVITE", URI, 6.0, USERS.get)
        assert result.outcome is VerifyOutcome.BAD_NONCE and not result.stale


def test_tampered_nonce_timestamp_is_bad_nonce() -> None:
    server = make_server(nonce_lifetime=300)
    nonce = server.challenge(0.0)[0].nonce
    raw = base64.urlsafe_b64decode(nonce + "=")
    fresh_ts = struct.pack(">Q", 1_000_000)  # claim issue at t=1000 s to dodge expiry
    tampered = base64.urlsafe_b64encode(fresh_ts + raw[8:]).decode().rstrip("=")
    cred = DigestClient("alice", "s3cret").authorize(
        Challenge(REALM, tampered, algorithm="MD5", qop=("auth",)), "INVITE", URI)
    assert server.verify(cred, "INVITE", URI, 1001.0, USERS.get).outcome is VerifyOutcome.BAD_NONCE


def test_nonce_from_the_future_is_bad_nonce() -> None:
    server = make_server()
    cred = DigestClient("alice", "s3cret").authorize(server.challenge(500.0), "INVITE", URI)
    assert server.verify(cred, "INVITE", URI, 100.0, USERS.get).outcome is VerifyOutcome.BAD_NONCE


def _malformed(server: DigestServer, cred: Credentials, uri: str = URI) -> str:
    result = server.verify(cred, "INVITE", uri, 1.0, USERS.get)
    assert result.outcome is VerifyOutcome.MALFORMED
    return result.reason


def test_malformed_credentials() -> None:
    server = make_server(algorithms=("SHA-256",), opaque="opq")
    ch = server.challenge(0.0)
    client = DigestClient("alice", "s3cret")
    good = client.authorize(ch, "INVITE", URI)
    assert "realm" in _malformed(server, client.authorize(
        Challenge("evil.example", ch[0].nonce, "SHA-256", ("auth",), "opq"), "INVITE", URI))
    legacy = client.authorize(Challenge(REALM, ch[0].nonce, "SHA-256", (), "opq"), "INVITE", URI)
    assert "qop missing" in _malformed(server, legacy)
    md5 = client.authorize(Challenge(REALM, ch[0].nonce, "MD5", ("auth",), "opq"), "INVITE", URI)
    assert "not offered" in _malformed(server, md5)
    no_opaque = client.authorize(Challenge(REALM, ch[0].nonce, "SHA-256", ("auth",)), "INVITE", URI)
    assert "opaque" in _malformed(server, no_opaque)
    assert "nc" in _malformed(server, Credentials(**{**good.__dict__, "nc": "1"}))
    assert "hex" in _malformed(server, Credentials(**{**good.__dict__, "response": "zz"}))
    assert server.verify(good, "INVITE", URI, 1.0, USERS.get).ok  # none of the above used it up


# SIPp's [authentication] without -auth_uri: the digest uri is the address it sent the request to.
SERVER_URI = "sip:127.0.0.10:5060"
NAMES = ServerNames.of([REALM], [("127.0.0.10", 5060)])


def test_a_digest_uri_naming_the_server_is_verified_over_that_uri() -> None:
    server = make_server()
    client = DigestClient("alice", "s3cret")
    sipp = client.authorize(server.challenge(0.0), "INVITE", SERVER_URI)
    assert sipp.uri == SERVER_URI
    result = server.verify(sipp, "INVITE", URI, 1.0, USERS.get, server_names=NAMES)
    assert result.ok and result.username == "alice"


def test_the_response_is_checked_over_the_uri_the_client_sent() -> None:
    server = make_server()
    ch = server.challenge(0.0)
    client = DigestClient("alice", "s3cret")
    over_ruri = client.authorize(ch, "INVITE", URI)  # hashed over the Request-URI ...
    claims_server = dataclasses.replace(over_ruri, uri=SERVER_URI)  # ... but says it is for the server
    result = server.verify(claims_server, "INVITE", URI, 1.0, USERS.get, server_names=NAMES)
    assert result.outcome is VerifyOutcome.BAD_CREDENTIALS
    over_server = client.authorize(ch, "INVITE", SERVER_URI)
    claims_ruri = dataclasses.replace(over_server, uri=URI)
    assert server.verify(claims_ruri, "INVITE", URI, 2.0, USERS.get).outcome is VerifyOutcome.BAD_CREDENTIALS


def test_a_digest_uri_for_another_resource_is_a_uri_mismatch() -> None:
    server = make_server()
    ch = server.challenge(0.0)
    client = DigestClient("alice", "s3cret")
    good = client.authorize(ch, "INVITE", URI)  # nc 00000001; the refused ones below come with higher nc
    for uri, why in (("sip:other@acme.trunk.voipbin.net", "names user 'other'"),
                     ("sip:evil.example.com", "designates neither the Request-URI nor this server"),
                     ("sip:127.0.0.10:5070", "designates neither"), ("<sip:x>", "malformed digest uri")):
        result = server.verify(client.authorize(ch, "INVITE", uri), "INVITE", URI, 1.0, USERS.get,
                               server_names=NAMES)
        assert (result.outcome, result.ok, result.stale) == (VerifyOutcome.URI_MISMATCH, False, False)
        assert why in result.reason, result.reason
    # Without server names only the Request-URI itself designates the target.
    no_names = server.verify(client.authorize(ch, "INVITE", SERVER_URI), "INVITE", URI, 1.0, USERS.get)
    assert no_names.outcome is VerifyOutcome.URI_MISMATCH and "is not the Request-URI" in no_names.reason
    # None of these was recorded against the nonce: nc 00000001 is still accepted.
    assert server.verify(good, "INVITE", URI, 1.0, USERS.get).ok


def test_unknown_user_and_wrong_password_look_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    import sipcore.digest_server

    calls: list[str] = []

    def spy(*args: Any, **kwargs: Any) -> str:
        calls.append(args[1])
        return response_from_ha1(*args, **kwargs)

    monkeypatch.setattr(sipcore.digest_server, "response_from_ha1", spy)
    server = make_server(algorithms=("MD5", "SHA-256"), opaque="opq")
    after: list[str] = []
    for user, password in (("mallory", "s3cret"), ("alice", "wrong")):
        cred = DigestClient(user, password).authorize(server.challenge(0.0), "INVITE", URI)
        result = server.verify(cred, "INVITE", URI, 1.0, USERS.get)
        assert (result.outcome, result.reason, result.username) == (
            VerifyOutcome.BAD_CREDENTIALS, "the digest response does not match", None)
        nxt = server.challenge(1.0)
        after.append("\r\n".join(c.to_header() for c in nxt).replace(nxt[0].nonce, "NONCE"))
    assert after[0] == after[1]
    assert len(calls) == 2  # the unknown user's digest was computed too (similar timing)


def test_lookup_ha1_instead_of_password() -> None:
    server = make_server(algorithms=("SHA-256-sess",))
    stored = {("alice", "SHA-256"): H("sha256", f"alice:{REALM}:s3cret")}
    cred = DigestClient("alice", "s3cret").authorize(server.challenge(0.0), "INVITE", URI,
                                                     preferred_algorithms=("SHA-256",))
    assert server.verify(cred, "INVITE", URI, 1.0, lookup_ha1=lambda u, a: stored.get((u, a))).ok
    with pytest.raises(ValueError, match="exactly one"):
        server.verify(cred, "INVITE", URI, 1.0)


def test_auth_int_body_is_protected() -> None:
    server = make_server(qop=("auth-int",))
    client = DigestClient("alice", "s3cret")
    body = b"v=0\r\nc=IN IP4 127.0.0.1\r\n"
    cred = over_the_wire(server, client, 0.0, body=body)
    assert cred.qop == "auth-int"
    assert server.verify(cred, "INVITE", URI, 1.0, USERS.get, body=body.replace(b"127.0.0.1", b"127.0.0.2")
                         ).outcome is VerifyOutcome.BAD_CREDENTIALS
    assert server.verify(cred, "INVITE", URI, 1.0, USERS.get, body=body).ok


def test_rfc2069_mode_nonce_is_single_use() -> None:
    server = make_server(qop=())
    cred = DigestClient("alice", "s3cret").authorize(server.challenge(0.0), "REGISTER", URI)
    assert cred.qop is None and server.verify(cred, "REGISTER", URI, 1.0, USERS.get).ok
    assert server.verify(cred, "REGISTER", URI, 2.0, USERS.get).outcome is VerifyOutcome.REPLAY


def test_replay_state_is_bounded_and_pruned() -> None:
    server = make_server(max_tracked_nonces=2, nonce_lifetime=100)
    client = DigestClient("alice", "s3cret")
    creds = [client.authorize(server.challenge(float(t)), "INVITE", URI) for t in range(3)]
    for cred in creds:
        assert server.verify(cred, "INVITE", URI, 5.0, USERS.get).ok
    assert server.tracked_nonces == 2
    # The evicted nonce cannot be replayed: the client is sent for a fresh one instead.
    assert server.verify(creds[0], "INVITE", URI, 6.0, USERS.get).outcome is VerifyOutcome.STALE
    late = client.authorize(server.challenge(200.0), "INVITE", URI)
    assert server.verify(late, "INVITE", URI, 201.0, USERS.get).ok
    assert server.tracked_nonces == 1  # the expired nonces' records were dropped
    assert server.verify(creds[2], "INVITE", URI, 202.0, USERS.get).outcome is VerifyOutcome.STALE


def test_server_configuration_errors() -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        DigestServer(KEY, REALM, algorithms=("SHA-1",))
    with pytest.raises(ValueError, match="16 bytes"):
        DigestServer(b"short", REALM)


# -- the hand-written __init__ of the frozen dataclasses ------------------------------------------------


def _init_matches_fields(cls: type) -> None:
    """A hand-written __init__ takes the dataclass fields in order, with the same defaults (a
    default_factory field defaults to None and gets a fresh value), and stores every one of them."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [p.name for p in params] == [f.name for f in dataclasses.fields(cls)]
    for p, f in zip(params, dataclasses.fields(cls), strict=True):
        if f.default_factory is not dataclasses.MISSING:
            assert p.default is None
        else:
            assert p.default is (inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)


@pytest.mark.parametrize("cls", [Challenge, Credentials, VerifyResult])
def test_fast_init_matches_the_dataclass(cls: type) -> None:
    _init_matches_fields(cls)


def test_fast_init_keeps_dataclass_behaviour() -> None:
    cr = Credentials("u", "r", "n", "sip:h", "ab", qop="auth", nc="00000001", cnonce="c")
    assert cr == Credentials(username="u", realm="r", nonce="n", uri="sip:h", response="ab", qop="auth",
                             nc="00000001", cnonce="c", other={})
    assert cr.other == {} and cr.other is not Credentials("u", "r", "n", "sip:h", "ab").other
    assert repr(cr).startswith("Credentials(username='u', realm='r', nonce='n', uri='sip:h', response='ab'")
    assert dataclasses.replace(cr, nc="00000002").nc == "00000002"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cr.nc = "00000002"  # type: ignore[misc]
    ch = Challenge("r", "n", "MD5", ("auth",))
    assert ch == Challenge(realm="r", nonce="n", algorithm="MD5", qop=("auth",), opaque=None, stale=False)
    assert hash(VerifyResult(VerifyOutcome.OK, "x", "u")) == hash(VerifyResult(VerifyOutcome.OK, "x", "u"))


@pytest.mark.parametrize("algorithms", [("MD5",), ("SHA-256", "MD5"), ("SHA-512-256-sess",)])
@pytest.mark.parametrize("qop", [("auth",), ("auth", "auth-int"), ()])
@pytest.mark.parametrize("opaque", [None, "op aque", 'o"p'])
@pytest.mark.parametrize("realm", [REALM, 'we"ird nonce="x" \\realm', "nonce="])
def test_challenge_headers_are_the_challenges_formatted(algorithms: tuple[str, ...], qop: tuple[str, ...],
                                                        opaque: str | None, realm: str) -> None:
    def server() -> DigestServer:
        tokens = itertools.count()
        return DigestServer(b"k" * 32, realm, algorithms=algorithms, qop=qop, opaque=opaque,
                            token_source=lambda n: next(tokens).to_bytes(n, "big"))
    fast, general = server(), server()
    for now, stale in ((1.0, False), (2.0, True), (3.0, False)):
        assert fast.challenge_headers(now, stale) == [c.to_header() for c in general.challenge(now, stale)]
