"""Who gets through the reference trunk: digest (407 in the trunk's realm, anti-enumeration, blocking
after repeated failures, stale nonces, MD5/SHA-256/SHA-512-256), IP auth, and routing by domain before
any challenge (an unknown trunk is 404, a foreign domain is 404: no open relay)."""

from __future__ import annotations

import logging
import re

import pytest

from reference_server.server import ReferenceServer
from sipcore.aio.clock import SteppedClock
from sipcore.digest import parse_challenges

from ..addresses import loopback
from .support import TEST_CONFIG, Peer, ServerRig, make_config, offer, retry_with_credentials, run


def _without_nonce(values: list[str]) -> list[str]:
    return [re.sub(r'nonce="[^"]*"', 'nonce="-"', v) for v in values]


def test_wrong_password_and_unknown_user_get_identical_challenges_then_403() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            answers = []
            for username, password in (("alice", "wrong"), ("mallory", "secret")):
                invite = rig.invite()
                challenge = await rig.ua.send(invite, rig.addr).final()
                answers.append(await rig.ua.send(retry_with_credentials(invite, challenge, username, password),
                                                 rig.addr).final())
            wrong_password, unknown_user = answers
            assert wrong_password.status == unknown_user.status == 407
            assert wrong_password.reason == unknown_user.reason
            names = [[name for name, _ in r.headers if name not in ("Via", "From", "To", "Call-ID", "CSeq")]
                     for r in answers]
            assert names[0] == names[1]
            assert (_without_nonce(wrong_password.headers.get_all("Proxy-Authenticate"))
                    == _without_nonce(unknown_user.headers.get_all("Proxy-Authenticate")))
            # the third failure from this source (max_failed_attempts = 3) is refused, and so is the next try
            invite = rig.invite()
            challenge = await rig.ua.send(invite, rig.addr).final()
            blocked = await rig.ua.send(retry_with_credentials(invite, challenge, "alice", "nope"), rig.addr).final()
            assert blocked.status == 403 and "Proxy-Authenticate" not in blocked.headers
            assert (await rig.ua.send(rig.invite(), rig.addr).final()).status == 403
            await rig.dest.no_request(0.1)

    run(main())


def test_failures_count_within_failure_window_and_a_block_ends_after_block_duration() -> None:
    """[security] max_failed_attempts = 3 (the test config), failure_window 60 s, block_duration 300 s."""
    async def main() -> None:
        async with ServerRig() as rig:
            security = rig.config.security
            assert (security.max_failed_attempts, security.failure_window, security.block_duration) == (3, 60, 300)

            async def wrong_password() -> int:
                invite = rig.invite()
                challenge = await rig.ua.send(invite, rig.addr).final()
                retry = retry_with_credentials(invite, challenge, "alice", "wrong")
                return (await rig.ua.send(retry, rig.addr).final()).status

            assert [await wrong_password(), await wrong_password()] == [407, 407]
            await rig.clock.advance(60)  # those two fall out of the window
            assert [await wrong_password(), await wrong_password()] == [407, 407]  # 2 within the window
            assert await wrong_password() == 403  # the third within 60 s: blocked from now on
            await rig.clock.advance(299.5)
            assert (await rig.ua.send(rig.invite(), rig.addr).final()).status == 403
            await rig.clock.advance(0.5)  # block_duration after the block began
            assert (await rig.ua.send(rig.invite(), rig.addr).final()).status == 407  # challenged again
            await rig.dest.no_request(0.05)

    run(main())


def test_stale_nonce_gets_a_new_challenge_with_stale_true() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            invite = rig.invite()
            challenge = await rig.ua.send(invite, rig.addr).final()
            await rig.clock.advance(rig.config.nonce_lifetime + 5)  # the nonce has expired
            again = await rig.ua.send(retry_with_credentials(invite, challenge, "alice", "secret"), rig.addr).final()
            assert again.status == 407
            challenges = parse_challenges(again.headers.get_all("Proxy-Authenticate"), header="Proxy-Authenticate")
            assert challenges and all(c.stale for c in challenges)
            retry = retry_with_credentials(invite, again, "alice", "secret")
            retry.headers.set("CSeq", f"{invite.cseq.seq + 2} INVITE")
            responses = rig.ua.send(retry, rig.addr)
            assert (await responses.next()).status == 100
            await rig.dest.next_request("INVITE")

    run(main())


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "SHA-512-256"])
def test_each_configured_digest_algorithm_is_accepted(algorithm: str) -> None:
    config = TEST_CONFIG.replace('algorithms = ["SHA-256", "MD5"]', f'algorithms = ["{algorithm}"]')

    async def main() -> None:
        async with ServerRig(config_text=config) as rig:
            invite = rig.invite()
            challenge = await rig.ua.send(invite, rig.addr).final()
            (offered,) = parse_challenges(challenge.headers.get_all("Proxy-Authenticate"), header="Proxy-Authenticate")
            assert offered.algorithm == algorithm
            retry = retry_with_credentials(invite, challenge, "alice", "secret", algorithms=(algorithm,))
            assert f"algorithm={algorithm}" in (retry.headers.get("Proxy-Authorization") or "")
            rig.ua.send(retry, rig.addr)
            await rig.dest.next_request("INVITE")

    run(main())


def test_ip_auth_relays_allowed_sources_without_challenge() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            allowed = await rig.peer(loopback(7))
            responses = allowed.send(rig.invite(allowed, domain="iponly.trunk.voipbin.net", body=offer(4000)),
                                     rig.addr)
            assert (await responses.next()).status == 100  # no 407
            await rig.dest.next_request("INVITE")
            refused = await rig.ua.send(rig.invite(domain="iponly.trunk.voipbin.net"), rig.addr).final()
            assert refused.status == 403  # not in allowed_ips and no basic auth on this trunk
            challenged = await rig.ua.send(rig.invite(domain="mixed.trunk.voipbin.net"), rig.addr).final()
            assert challenged.status == 407  # basic is enabled too: a stranger may still authenticate
            responses = allowed.send(rig.invite(allowed, domain="mixed.trunk.voipbin.net", body=offer(4000)),
                                     rig.addr)
            assert (await responses.next()).status == 100

    run(main())


def test_routing_precedes_auth_unknown_trunk_and_foreign_domain_get_404() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            unknown = await rig.ua.send(rig.invite(domain="nosuch.trunk.voipbin.net"), rig.addr).final()
            assert unknown.status == 404 and "Proxy-Authenticate" not in unknown.headers
            foreign = await rig.ua.send(rig.invite(domain="example.org"), rig.addr).final()
            assert foreign.status == 404  # no open relay
            # the Request-URI to the server's IP, the trunk in To (as SIPp and phones send it)
            server = f"{rig.addr[0]}:{rig.addr[1]}"
            for domain, status in (("nosuch.trunk.voipbin.net", 404), ("example.trunk.voipbin.net", 407)):
                request = rig.ua.request("INVITE", f"sip:15551234@{server}", from_uri=f"sip:alice@{domain}",
                                         to_uri=f"sip:15551234@{domain}")
                assert (await rig.ua.send(request, rig.addr).final()).status == status
            await rig.dest.no_request(0.1)

    run(main())


def test_digest_uri_naming_the_server_is_accepted_a_foreign_one_gets_400(caplog: pytest.LogCaptureFixture) -> None:
    """SIPp's [authentication] puts the server's address in the digest uri (sip:IP:PORT): accepted. A uri
    naming another host is 400 with a Warning naming it, logged in one line, never a new 407."""
    async def main() -> None:
        async with ServerRig() as rig:
            server = f"{rig.addr[0]}:{rig.addr[1]}"
            invite = rig.invite(body=offer(4000))
            challenge = await rig.ua.send(invite, rig.addr).final()
            sipp = retry_with_credentials(invite, challenge, "alice", "secret", digest_uri=f"sip:{server}")
            assert f'uri="sip:{server}"' in (sipp.headers.get("Proxy-Authorization") or "")
            responses = rig.ua.send(sipp, rig.addr)
            assert (await responses.next()).status == 100
            await rig.dest.next_request("INVITE")

            for digest_uri, why in (("sip:elsewhere.example.com", "designates neither the Request-URI nor this "
                                                                  "server (example.trunk.voipbin.net, " + server),
                                    ("sip:bad host", "malformed digest uri")):
                invite = rig.invite()
                challenge = await rig.ua.send(invite, rig.addr).final()
                retry = retry_with_credentials(invite, challenge, "alice", "secret", digest_uri=digest_uri)
                caplog.clear()  # the challenge's own line is logged too where an earlier test left INFO on
                with caplog.at_level(logging.INFO, logger="reference_server"):
                    refused = await rig.ua.send(retry, rig.addr).final()
                assert refused.status == 400 and "Proxy-Authenticate" not in refused.headers
                warning = refused.headers.get("Warning") or ""
                assert warning.startswith(f'399 {server} "Proxy-Authorization: ') and digest_uri in warning
                assert why in warning, warning
                lines = [r for r in caplog.records if invite.call_id in r.getMessage()]
                assert len(lines) == 1, [r.getMessage() for r in lines]  # one line for the 400
                logged = lines[0].getMessage()
                assert ": 400 Proxy-Authorization: " in logged and digest_uri in logged and why in logged
                assert lines[0].exc_info is None and "response=" not in logged and "secret" not in logged
                caplog.clear()
            await rig.dest.no_request(0.1)

    run(main())


def test_a_wildcard_listener_is_designated_by_a_local_address_and_its_port() -> None:
    async def main() -> None:
        clock = SteppedClock()
        dest, ua = await Peer.open(clock=clock), await Peer.open(clock=clock)
        server = ReferenceServer(make_config(dest.addr, listen=("udp:0.0.0.0:0",)), clock=clock)
        await server.start()
        try:
            addr = ("127.0.0.1", server.local_addresses[0].port)
            for digest_uri, status in ((f"sip:127.0.0.1:{addr[1]}", 100), ("sip:127.0.0.1", 400),
                                       (f"sip:0.0.0.0:{addr[1]}", 400)):
                invite = ua.request("INVITE", "sip:15551234@example.trunk.voipbin.net", body=offer(4000),
                                    from_uri="sip:alice@example.trunk.voipbin.net",
                                    to_uri="sip:15551234@example.trunk.voipbin.net")
                challenge = await ua.send(invite, addr).final()
                retry = retry_with_credentials(invite, challenge, "alice", "secret", digest_uri=digest_uri)
                assert (await ua.send(retry, addr).next()).status == status, digest_uri
        finally:
            await server.stop()
            dest.close()
            ua.close()

    run(main())
