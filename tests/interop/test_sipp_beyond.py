"""SIPp, an independent SIP implementation, against the reference trunk (``python -m reference_server``) for
the OPTIONS keep-alive and caller identity (issue 15, items 1 and 6):

- SIPp pings the trunk (tests/interop/sipp/options_ping.xml) and checks Allow, Accept and Supported itself;
- SIPp answers the trunk's keep-alive as its destination (options_responder.xml), then stops: the server
  logs the destination down and answers a call 503 at once, without sending it an INVITE;
- SIPp calls from a national-format number with ``Privacy: id`` and a P-Asserted-Identity of its own
  choosing; a SIPp destination checks (SIPp's own regular expressions) that the INVITE it gets has the
  anonymous From, the trunk's P-Asserted-Identity in E.164 with user=phone, and the E.164 Request-URI.

Every SIPp run and the server are bounded and stopped whatever the outcome."""

from __future__ import annotations

import time
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from harness.adapters.server_process import ReferenceServerProcess, trunk_config
from harness.adapters.sipp import SCENARIO_DIR, SIPP_MISSING, SippRun, find_sipp

from .conftest import loopback

pytestmark = [pytest.mark.interop, pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING)]

HERE = Path(__file__).with_name("sipp")
SERVER = (loopback(2, 10), 5060)
CALLER = (loopback(2, 11), 5070)
DESTINATION = (loopback(2, 12), 5080)
TRUNK = "example.trunk.voipbin.net"


def _server(extra: str) -> ReferenceServerProcess:
    config = trunk_config(SERVER, DESTINATION, port_min=43000, port_max=43999)
    return ReferenceServerProcess(config.replace("[registrar]", extra + "\n[registrar]"), log_level="INFO")


def test_sipp_options_ping_gets_allow_accept_supported_without_challenge() -> None:
    with _server("") as server:
        result = SippRun(HERE / "options_ping.xml", CALLER, SERVER, domain=TRUNK, calls=3, rate=10,
                         timeout=10, recv_timeout_ms=2_000).run()
        assert (result.successful, result.failed) == (3, 0), result.describe()
        assert server.running()


def test_trunk_pings_sipp_destination_and_marks_it_down_when_it_stops(tmp_path: Path) -> None:
    with _server("options_interval = 1\noptions_timeout = 1") as server:
        responder = SippRun(HERE / "options_responder.xml", DESTINATION, calls=2, timeout=10, auto_answer=False)
        answered = responder.run()  # ends after the trunk's first two pings, about a second apart
        assert (answered.successful, answered.failed) == (2, 0), answered.describe()
        deadline = time.monotonic() + 5
        while "is down" not in server.stderr_tail() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "destination sip:" in server.stderr_tail() and "is down" in server.stderr_tail(), server.stderr_tail()
        rejected = (HERE / "uac_auth_rejected.xml").read_text().replace('response="404"', 'response="503"')
        scenario = tmp_path / "uac_auth_503.xml"
        scenario.write_text(rejected)
        started = time.monotonic()
        caller = SippRun(scenario, CALLER, SERVER, auth_user="alice", auth_password="secret", domain=TRUNK,
                         service="15550100", calls=1, timeout=10, recv_timeout_ms=3_000).run()
        assert (caller.successful, caller.failed) == (1, 0), caller.describe()
        assert time.monotonic() - started < 5  # at once, not after Timer B


def _identity_scenarios(tmp_path: Path) -> tuple[Path, Path]:
    """The shipped uac_auth.xml calling from 0015550123 with Privacy: id and a P-Asserted-Identity of its
    own; the shipped uas.xml checking the INVITE it gets."""
    uac = (SCENARIO_DIR / "uac_auth.xml").read_text()
    uac = uac.replace('From: "trunkcheck" <sip:trunkcheck@[domain]>', "From: <sip:0015550123@[domain]>")
    uac = uac.replace("      Content-Type: application/sdp",
                      "      Privacy: id\n      P-Asserted-Identity: <sip:+19995550000@pbx.invalid>\n"
                      "      Content-Type: application/sdp")
    assert uac.count("Privacy: id") == 2, "both INVITEs carry the identity headers"
    checks = "\n".join(
        f'      <ereg regexp={quoteattr(regexp)} search_in="msg" check_it="true" assign_to="v{i}"/>'
        for i, regexp in enumerate([
            r"^INVITE sip:\+15550100@[^ ]*;user=phone",
            r'\r\nFrom: "Anonymous" <sip:anonymous@anonymous\.invalid>',
            r"\r\nP-Asserted-Identity: <sip:\+15550123@example\.trunk\.voipbin\.net;user=phone>",
            r"\r\nPrivacy: id",
        ]))
    uas = (SCENARIO_DIR / "uas.xml").read_text().replace(
        '<recv request="INVITE" crlf="true"/>', f'<recv request="INVITE" crlf="true">\n    <action>\n{checks}\n'
        "    </action>\n  </recv>\n  <Reference variables=\"v0,v1,v2,v3\"/>")
    (tmp_path / "uac_identity.xml").write_text(uac)
    (tmp_path / "uas_identity.xml").write_text(uas)
    return tmp_path / "uac_identity.xml", tmp_path / "uas_identity.xml"


@pytest.mark.parametrize(("policy", "ok"), [
    ('pai = "assert"\nnumber_format = "e164"\ncountry_code = "1"', True),
    ('pai = "relay"\nnumber_format = "e164"\ncountry_code = "1"', False),  # the caller's own PAI relayed
])
def test_sipp_caller_with_privacy_and_pai_reaches_sipp_destination_as_policy_says(
        tmp_path: Path, policy: str, ok: bool) -> None:
    uac, uas = _identity_scenarios(tmp_path)
    with _server(policy):
        destination = SippRun(uas, DESTINATION, calls=1, timeout=15)
        caller = SippRun(uac, CALLER, SERVER, auth_user="alice", auth_password="secret", domain=TRUNK,
                         service="0015550100", calls=1, timeout=15, recv_timeout_ms=5_000)
        with destination.start() as dest:
            dest.wait_ready()
            called = caller.run()
            answered = dest.wait(timeout=10) if called.successful else dest.stop(grace=3)
    if ok:
        assert (called.successful, answered.successful) == (1, 1), (called.describe(), answered.describe())
    else:  # SIPp's own check refused the relayed +19995550000
        assert answered.successful == 0 and answered.failed >= 1, answered.describe()
