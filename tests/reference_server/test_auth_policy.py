"""Authentication policy: 407/401 challenges, IP auth, stale nonces, anti-enumeration, blocking."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import re
from collections.abc import Callable

import pytest

from reference_server.auth_policy import AuthDecision, AuthPolicy, Decision, FailureLimiter
from reference_server.config import ServerConfig, Trunk, parse_config
from sipcore.digest import parse_challenges
from sipcore.digest_client import DigestClient
from sipcore.digest_server import VerifyOutcome
from sipcore.message import Request
from sipcore.parser import parse_message

CONFIG = """\
[server]
trusted_peers = ["203.0.113.0/24"]
[security]
max_failed_attempts = 5
failure_window = 60
block_duration = 300

[[trunk]]
domain_name = "acme"
username = "alice"
password = "secret"
destination = "127.0.0.1:5080"

[[trunk]]
domain_name = "pbx"
auth_types = ["ip"]
allowed_ips = ["10.0.0.0/8"]
destination = "127.0.0.1:5080"

[[trunk]]
domain_name = "both"
auth_types = ["ip", "basic"]
allowed_ips = ["10.1.2.3"]
username = "carol"
password = "pw"
destination = "127.0.0.1:5080"

[[extension]]
extension = "1001"
password = "pass1001"
[[extension]]
extension = "1002"
password = "pass1002"
"""
SRC = "192.0.2.10"
T0 = 1000.0
ACME_URI = "sip:+15551234567@acme.trunk.voipbin.net"
REGISTRAR_URI = "sip:example.registrar.voipbin.net"


def counter() -> Callable[[int], bytes]:
    count = itertools.count(1)
    return lambda n: next(count).to_bytes(n, "big")


@pytest.fixture
def config() -> ServerConfig:
    return parse_config(CONFIG, "auth.toml")


@pytest.fixture
def policy(config: ServerConfig) -> AuthPolicy:
    return AuthPolicy(config, b"k" * 32, token_source=counter())


def trunk(config: ServerConfig, name: str) -> Trunk:
    return next(t for t in config.trunks if t.domain_name == name)


def make_request(method: str = "INVITE", ruri: str = ACME_URI, to: str | None = None, cseq: int = 1,
                 headers: tuple[tuple[str, str], ...] = ()) -> Request:
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
    raw = (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {SRC}:5060;branch=z9hG4bK{cseq}\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:alice@acme.trunk.voipbin.net>;tag=f1\r\nTo: <{to or ruri}>\r\n"
           f"Call-ID: call-1\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: 0\r\n\r\n")
    message = parse_message(raw.encode())
    assert isinstance(message, Request)
    return message


def answer(decision: AuthDecision, user: str, password: str, *, method: str = "INVITE", ruri: str = ACME_URI,
           to: str | None = None, digest_uri: str | None = None, cseq: int = 2) -> Request:
    """The retried request carrying credentials for the decision's challenge."""
    assert decision.header_name is not None
    credentials_header = {"Proxy-Authenticate": "Proxy-Authorization",
                          "WWW-Authenticate": "Authorization"}[decision.header_name]
    creds = DigestClient(user, password, counter()).authorize(
        parse_challenges(list(decision.challenges), header=decision.header_name), method, digest_uri or ruri)
    return make_request(method, ruri, to, cseq, ((credentials_header, creds.to_header()),))


def without_nonce(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(re.sub(r'nonce="[^"]*"', 'nonce="-"', v) for v in values)


# --- trunks: basic auth ---------------------------------------------------------------------------------

def test_invite_without_credentials_gets_407_for_the_trunk_realm(policy: AuthPolicy, config: ServerConfig) -> None:
    d = policy.check_invite(trunk(config, "acme"), make_request(), SRC, T0)
    assert (d.decision, d.status, d.header_name, d.stale) == (Decision.CHALLENGE, 407, "Proxy-Authenticate", False)
    (challenge,) = parse_challenges(list(d.challenges), header="Proxy-Authenticate")
    assert challenge.realm == "acme.trunk.voipbin.net" and challenge.qop == ("auth",)
    assert challenge.algorithm == "MD5" and not challenge.stale
    assert d.response_headers() == [("Proxy-Authenticate", d.challenges[0])]


def test_right_credentials_are_allowed(policy: AuthPolicy, config: ServerConfig) -> None:
    acme = trunk(config, "acme")
    challenge = policy.check_invite(acme, make_request(), SRC, T0)
    d = policy.check_invite(acme, answer(challenge, "alice", "secret"), SRC, T0 + 1)
    assert (d.decision, d.status, d.username, d.by_ip, d.outcome) == (
        Decision.ALLOW, None, "alice", False, VerifyOutcome.OK)


def test_one_challenge_per_configured_algorithm_strongest_first() -> None:
    cfg = parse_config(CONFIG.replace("[server]\n", '[server]\nalgorithms = ["MD5", "SHA-512-256", "SHA-256"]\n'))
    d = AuthPolicy(cfg, b"k" * 32).check_invite(trunk(cfg, "acme"), make_request(), SRC, T0)
    assert [c.algorithm for c in parse_challenges(list(d.challenges))] == ["SHA-512-256", "SHA-256", "MD5"]
    assert len({c.nonce for c in parse_challenges(list(d.challenges))}) == 1


def test_unknown_user_and_wrong_password_get_byte_identical_challenges(policy: AuthPolicy,
                                                                      config: ServerConfig) -> None:
    acme = trunk(config, "acme")
    first = policy.check_invite(acme, make_request(), SRC, T0)
    wrong_password = policy.check_invite(acme, answer(first, "alice", "guess"), SRC, T0)
    unknown_user = policy.check_invite(acme, answer(first, "mallory", "secret"), SRC, T0)
    for d in (wrong_password, unknown_user):
        assert (d.decision, d.status, d.outcome) == (Decision.CHALLENGE, 407, VerifyOutcome.BAD_CREDENTIALS)
    assert without_nonce(wrong_password.challenges) == without_nonce(unknown_user.challenges)
    assert without_nonce(wrong_password.challenges) == without_nonce(first.challenges)
    assert wrong_password.challenges != unknown_user.challenges  # a fresh nonce each time


def test_expired_nonce_with_right_password_is_stale(policy: AuthPolicy, config: ServerConfig) -> None:
    acme = trunk(config, "acme")
    first = policy.check_invite(acme, make_request(), SRC, T0)
    d = policy.check_invite(acme, answer(first, "alice", "secret"), SRC, T0 + 301)
    assert (d.decision, d.status, d.stale, d.outcome) == (Decision.CHALLENGE, 407, True, VerifyOutcome.STALE)
    assert all("stale=TRUE" in v for v in d.challenges)
    # Wrong password on an expired nonce is not stale: stale=true only when the digest was right.
    wrong = policy.check_invite(acme, answer(first, "alice", "nope"), SRC, T0 + 301)
    assert not wrong.stale and all("stale" not in v for v in wrong.challenges)
    assert policy.limiter.tracked_sources == 1  # the wrong password counted, the stale one did not


def test_credentials_for_another_realm_are_ignored(policy: AuthPolicy, config: ServerConfig) -> None:
    first = policy.check_invite(trunk(config, "both"), make_request(), SRC, T0)  # realm both.trunk...
    d = policy.check_invite(trunk(config, "acme"), answer(first, "alice", "secret"), SRC, T0)
    assert (d.decision, d.outcome) == (Decision.CHALLENGE, None)
    assert policy.limiter.tracked_sources == 0


SERVER_ADDR = ("192.0.2.1", 5060)  # where the policy's server listens (set_listen_addresses)


@pytest.mark.parametrize("digest_uri", [
    "sip:192.0.2.1:5060",  # SIPp's [authentication] without -auth_uri: the address it sent to
    "sip:192.0.2.1",  # no port: 5060
    "sip:acme.trunk.voipbin.net",  # the trunk's domain
    "sip:+15551234567@ACME.trunk.voipbin.net",  # the Request-URI itself (RFC 3261 §19.1.4)
])
def test_digest_uri_naming_the_trunk_is_allowed(policy: AuthPolicy, config: ServerConfig, digest_uri: str) -> None:
    acme = trunk(config, "acme")
    policy.set_listen_addresses([SERVER_ADDR])
    first = policy.check_invite(acme, make_request(), SRC, T0)
    d = policy.check_invite(acme, answer(first, "alice", "secret", digest_uri=digest_uri), SRC, T0)
    assert (d.decision, d.username) == (Decision.ALLOW, "alice"), d.reason


@pytest.mark.parametrize("digest_uri, why", [
    ("sip:other@acme.trunk.voipbin.net", "names user 'other'"),
    ("sip:192.0.2.1:5070", "designates neither the Request-URI nor this server (acme.trunk.voipbin.net, "
                           "192.0.2.1:5060)"),
    ("sip:pbx.trunk.voipbin.net", "designates neither"),  # another trunk of this server
    ("sip:example.registrar.voipbin.net", "designates neither"),
    ("sip:evil.example.com", "designates neither"),
])
def test_digest_uri_for_another_resource_is_400_not_a_challenge(policy: AuthPolicy, config: ServerConfig,
                                                                digest_uri: str, why: str) -> None:
    acme = trunk(config, "acme")
    policy.set_listen_addresses([SERVER_ADDR])
    first = policy.check_invite(acme, make_request(), SRC, T0)
    d = policy.check_invite(acme, answer(first, "alice", "secret", digest_uri=digest_uri), SRC, T0)
    assert (d.decision, d.status, d.outcome, d.challenges) == (
        Decision.BAD_REQUEST, 400, VerifyOutcome.URI_MISMATCH, ())
    assert d.reason.startswith(f"Proxy-Authorization: digest uri {digest_uri!r} ") and why in d.reason
    assert "secret" not in d.reason and "response" not in d.reason
    assert policy.limiter.tracked_sources == 0  # a client bug, not a password guess


def test_server_addresses_count_only_once_known(policy: AuthPolicy, config: ServerConfig) -> None:
    acme = trunk(config, "acme")
    first = policy.check_invite(acme, make_request(), SRC, T0)
    sipp = answer(first, "alice", "secret", digest_uri="sip:192.0.2.1:5060")
    assert policy.check_invite(acme, sipp, SRC, T0).decision is Decision.BAD_REQUEST
    policy.set_listen_addresses([SERVER_ADDR])
    assert policy.check_invite(acme, sipp, SRC, T0).allowed


def test_malformed_digest_uri_is_400_naming_the_header(policy: AuthPolicy, config: ServerConfig) -> None:
    acme = trunk(config, "acme")
    first = policy.check_invite(acme, make_request(), SRC, T0)
    d = policy.check_invite(acme, answer(first, "alice", "secret", digest_uri="sip:bad host"), SRC, T0)
    assert (d.decision, d.status) == (Decision.BAD_REQUEST, 400)
    assert d.reason == "Proxy-Authorization: malformed digest uri: malformed SIP URI 'sip:bad host'"


def test_replayed_credentials_are_challenged(policy: AuthPolicy, config: ServerConfig) -> None:
    acme = trunk(config, "acme")
    retry = answer(policy.check_invite(acme, make_request(), SRC, T0), "alice", "secret")
    assert policy.check_invite(acme, retry, SRC, T0).allowed
    d = policy.check_invite(acme, retry, SRC, T0 + 1)
    assert (d.decision, d.outcome) == (Decision.CHALLENGE, VerifyOutcome.REPLAY)


def test_malformed_or_foreign_nonce_gets_a_fresh_challenge(policy: AuthPolicy, config: ServerConfig) -> None:
    acme = trunk(config, "acme")
    garbage = make_request(headers=(("Proxy-Authorization", "Digest this is not it"),))
    assert policy.check_invite(acme, garbage, SRC, T0).decision is Decision.CHALLENGE
    other = AuthPolicy(config, b"x" * 32)  # e.g. the server restarted with a new key
    old = answer(other.check_invite(acme, make_request(), SRC, T0), "alice", "secret")
    d = policy.check_invite(acme, old, SRC, T0)
    assert (d.decision, d.outcome, d.stale) == (Decision.CHALLENGE, VerifyOutcome.BAD_NONCE, False)


# --- blocking ------------------------------------------------------------------------------------------

def test_source_blocked_after_five_wrong_passwords_then_released(policy: AuthPolicy, config: ServerConfig) -> None:
    acme = trunk(config, "acme")
    first = policy.check_invite(acme, make_request(), SRC, T0)
    decisions = [policy.check_invite(acme, answer(first, "alice", f"guess{i}"), SRC, T0 + i) for i in range(5)]
    assert [d.decision for d in decisions] == [Decision.CHALLENGE] * 4 + [Decision.FORBIDDEN]
    assert decisions[-1].status == 403
    # While blocked, even the right password (and a request without credentials) is refused with 403.
    fresh = policy.check_invite(acme, make_request(), "192.0.2.99", T0 + 10)
    assert policy.check_invite(acme, answer(fresh, "alice", "secret"), SRC, T0 + 10).status == 403
    assert policy.check_invite(acme, make_request(), SRC, T0 + 4 + 299).status == 403
    assert policy.check_register(make_request("REGISTER", REGISTRAR_URI, "sip:1001@example.registrar.voipbin.net"),
                                 SRC, T0 + 20).status == 403
    # Other sources are unaffected; after block_duration the source is challenged again.
    assert policy.check_invite(acme, make_request(), "192.0.2.11", T0 + 10).status == 407
    later = policy.check_invite(acme, make_request(), SRC, T0 + 4 + 300)
    assert later.status == 407
    assert policy.check_invite(acme, answer(later, "alice", "secret"), SRC, T0 + 305).allowed


def test_failures_outside_the_window_do_not_add_up(policy: AuthPolicy, config: ServerConfig) -> None:
    acme = trunk(config, "acme")
    first = policy.check_invite(acme, make_request(), SRC, T0)
    for i in range(4):
        assert policy.check_invite(acme, answer(first, "alice", "x"), SRC, T0 + i).status == 407
    later = policy.check_invite(acme, make_request(), SRC, T0 + 70)
    for i in range(4):
        assert policy.check_invite(acme, answer(later, "alice", "x"), SRC, T0 + 70 + i).status == 407


def test_success_clears_the_failure_count(policy: AuthPolicy, config: ServerConfig) -> None:
    acme = trunk(config, "acme")
    first = policy.check_invite(acme, make_request(), SRC, T0)
    for _ in range(4):
        policy.check_invite(acme, answer(first, "alice", "x"), SRC, T0)
    assert policy.check_invite(acme, answer(first, "alice", "secret"), SRC, T0).allowed
    assert policy.check_invite(acme, answer(first, "alice", "x"), SRC, T0).status == 407


def test_failure_limiter_memory_is_bounded() -> None:
    limiter = FailureLimiter(3, 60, 300, max_sources=10)
    for i in range(1000):
        limiter.record_failure(f"10.0.{i // 256}.{i % 256}", T0)
    assert limiter.tracked_sources <= 20
    for i in range(30):
        for _ in range(3):
            limiter.record_failure(f"10.9.0.{i}", T0 + 1)
    assert limiter.tracked_sources <= 20 and limiter.is_blocked("10.9.0.29", T0 + 1)
    limiter.prune(T0 + 1000)
    assert limiter.tracked_sources == 0


def test_failure_limiter_blocks_for_block_duration() -> None:
    limiter = FailureLimiter(2, 10, 30)
    assert not limiter.record_failure("a", 0.0)
    assert limiter.record_failure("a", 5.0)
    assert limiter.blocked_until("a", 6.0) == 35.0 and limiter.is_blocked("a", 34.9)
    assert not limiter.is_blocked("a", 35.0) and not limiter.is_blocked("b", 0.0)
    assert not limiter.record_failure("a", 36.0)  # a fresh count after the block


# --- trunks: IP auth ----------------------------------------------------------------------------------

def test_ip_only_trunk_allows_its_addresses_and_forbids_others(policy: AuthPolicy, config: ServerConfig) -> None:
    pbx = trunk(config, "pbx")
    ok = policy.check_invite(pbx, make_request(ruri="sip:100@pbx.trunk.voipbin.net"), "10.20.30.40", T0)
    assert (ok.decision, ok.by_ip, ok.challenges) == (Decision.ALLOW, True, ())
    no = policy.check_invite(pbx, make_request(ruri="sip:100@pbx.trunk.voipbin.net"), SRC, T0)
    assert (no.decision, no.status, no.challenges) == (Decision.FORBIDDEN, 403, ())


def test_ip_and_basic_trunk(policy: AuthPolicy, config: ServerConfig) -> None:
    both = trunk(config, "both")
    ruri = "sip:100@both.trunk.voipbin.net"
    assert policy.check_invite(both, make_request(ruri=ruri), "10.1.2.3", T0).by_ip
    challenge = policy.check_invite(both, make_request(ruri=ruri), SRC, T0)
    assert challenge.status == 407 and 'realm="both.trunk.voipbin.net"' in challenge.challenges[0]
    assert policy.check_invite(both, answer(challenge, "carol", "pw", ruri=ruri), SRC, T0).username == "carol"


# --- registrar -----------------------------------------------------------------------------------------

AOR_1001 = "sip:1001@example.registrar.voipbin.net"


def test_register_is_challenged_with_401_www_authenticate(policy: AuthPolicy) -> None:
    d = policy.check_register(make_request("REGISTER", REGISTRAR_URI, AOR_1001), SRC, T0)
    assert (d.decision, d.status, d.header_name) == (Decision.CHALLENGE, 401, "WWW-Authenticate")
    assert 'realm="example.registrar.voipbin.net"' in d.challenges[0]
    ok = policy.check_register(answer(d, "1001", "pass1001", method="REGISTER", ruri=REGISTRAR_URI, to=AOR_1001),
                               SRC, T0)
    assert (ok.decision, ok.username) == (Decision.ALLOW, "1001")


@pytest.mark.parametrize("digest_uri", ["sip:192.0.2.1:5060", "sip:example.registrar.voipbin.net",
                                        "sip:192.0.2.1"])
def test_register_with_a_digest_uri_naming_the_registrar_is_allowed(policy: AuthPolicy, digest_uri: str) -> None:
    policy.set_listen_addresses([SERVER_ADDR])
    d = policy.check_register(make_request("REGISTER", REGISTRAR_URI, AOR_1001), SRC, T0)
    retry = answer(d, "1001", "pass1001", method="REGISTER", ruri=REGISTRAR_URI, to=AOR_1001, digest_uri=digest_uri)
    ok = policy.check_register(retry, SRC, T0)
    assert (ok.decision, ok.username) == (Decision.ALLOW, "1001"), ok.reason


@pytest.mark.parametrize("digest_uri", ["sip:acme.trunk.voipbin.net", "sip:1001@example.registrar.voipbin.net",
                                        "sip:192.0.2.1:5080"])
def test_register_with_a_foreign_digest_uri_is_400(policy: AuthPolicy, digest_uri: str) -> None:
    policy.set_listen_addresses([SERVER_ADDR])
    d = policy.check_register(make_request("REGISTER", REGISTRAR_URI, AOR_1001), SRC, T0)
    retry = answer(d, "1001", "pass1001", method="REGISTER", ruri=REGISTRAR_URI, to=AOR_1001, digest_uri=digest_uri)
    refused = policy.check_register(retry, SRC, T0)
    assert (refused.decision, refused.status, refused.outcome) == (Decision.BAD_REQUEST, 400, VerifyOutcome.URI_MISMATCH)
    assert refused.reason.startswith(f"Authorization: digest uri {digest_uri!r} ")


def test_register_with_proxy_authorization_is_still_challenged(policy: AuthPolicy, config: ServerConfig) -> None:
    d = policy.check_register(make_request("REGISTER", REGISTRAR_URI, AOR_1001), SRC, T0)
    proxy = AuthDecision(Decision.CHALLENGE, 407, header_name="Proxy-Authenticate", challenges=d.challenges)
    retry = answer(proxy, "1001", "pass1001", method="REGISTER", ruri=REGISTRAR_URI, to=AOR_1001)
    assert policy.check_register(retry, SRC, T0).status == 401


def test_register_for_another_users_aor_is_forbidden(policy: AuthPolicy) -> None:
    aor_1002 = "sip:1002@example.registrar.voipbin.net"
    d = policy.check_register(make_request("REGISTER", REGISTRAR_URI, aor_1002), SRC, T0)
    retry = answer(d, "1001", "pass1001", method="REGISTER", ruri=REGISTRAR_URI, to=aor_1002)
    assert (policy.check_register(retry, SRC, T0).decision, policy.limiter.tracked_sources) == (Decision.FORBIDDEN, 0)


def test_register_wrong_password_and_unknown_extension_look_alike(policy: AuthPolicy) -> None:
    d = policy.check_register(make_request("REGISTER", REGISTRAR_URI, AOR_1001), SRC, T0)
    wrong = policy.check_register(answer(d, "1001", "x", method="REGISTER", ruri=REGISTRAR_URI, to=AOR_1001), SRC, T0)
    aor_9 = "sip:9999@example.registrar.voipbin.net"
    unknown = policy.check_register(answer(d, "9999", "x", method="REGISTER", ruri=REGISTRAR_URI, to=aor_9), SRC, T0)
    assert wrong.status == unknown.status == 401
    assert without_nonce(wrong.challenges) == without_nonce(unknown.challenges) == without_nonce(d.challenges)


def test_call_to_extension_from_trusted_peer_is_not_challenged(policy: AuthPolicy) -> None:
    invite = make_request("INVITE", "sip:1001@example.registrar.voipbin.net")
    assert policy.check_call_to_extension(invite, "203.0.113.5", T0).by_ip
    d = policy.check_call_to_extension(invite, SRC, T0)
    assert d.status == 407 and 'realm="example.registrar.voipbin.net"' in d.challenges[0]
    retry = answer(d, "1002", "pass1002", ruri="sip:1001@example.registrar.voipbin.net")
    assert policy.check_call_to_extension(retry, SRC, T0).username == "1002"


@pytest.mark.parametrize("method", ["ACK", "CANCEL"])
def test_ack_and_cancel_must_not_be_checked(policy: AuthPolicy, config: ServerConfig, method: str) -> None:
    with pytest.raises(ValueError, match="RFC 3261 §22.1"):
        policy.check_invite(trunk(config, "acme"), make_request(method), SRC, T0)
    with pytest.raises(ValueError):
        policy.check_register(make_request(method, REGISTRAR_URI, AOR_1001), SRC, T0)


def test_auth_decision_init_matches_the_dataclass() -> None:
    """AuthDecision's hand-written __init__ takes the fields in order with the same defaults."""
    params = list(inspect.signature(AuthDecision.__init__).parameters.values())[1:]
    fields = dataclasses.fields(AuthDecision)
    assert [(p.name, p.default) for p in params[1:]] == [(f.name, f.default) for f in fields[1:]]
    assert params[0].name == fields[0].name and params[0].default is inspect.Parameter.empty
    d = AuthDecision(Decision.ALLOW, username="u", reason="r")
    assert d == AuthDecision(Decision.ALLOW, None, "u", False, None, (), False, None, "r")
    assert repr(d).startswith("AuthDecision(decision=<Decision.ALLOW: 'allow'>, status=None, username='u'")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.reason = "x"  # type: ignore[misc]
