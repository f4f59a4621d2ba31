"""SIP over TLS between real sockets: a call's first request verified the way RFC 5922 says, the
certificates a UA must refuse (another name, expired, an untrusted CA, no TLS at all) refused with the
reason in the 503, connections reused, and session keys written for Wireshark."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from harness.suite.tls_certs import CertFiles, TestCA
from sipcore.aio.endpoint import SipEndpoint
from sipcore.aio.tls import TlsError, TlsOptions
from sipcore.builders import new_request
from sipcore.ids import IdGenerator
from sipcore.message import Request, Response, make_response
from sipcore.transaction import Event, RequestReceived
from tests.addresses import loopback

IDS = IdGenerator(random.Random(14))
DOMAIN = "example.trunk.voipbin.net"
SERVER_IP = loopback(61, subnet=14)
CLIENT_IP = loopback(62, subnet=14)


class Pki:
    def __init__(self, folder: Path) -> None:
        self.ca = TestCA.create(folder)
        self.trunk = self.ca.issue("trunk", dns=[DOMAIN], ips=[SERVER_IP])
        self.client = self.ca.issue("client", ips=[CLIENT_IP])
        self.other_name = self.ca.issue("other", dns=["other.example.net"], ips=["192.0.2.1"], common_name=DOMAIN)
        self.expired = self.ca.issue("expired", dns=[DOMAIN], ips=[SERVER_IP], expired=True)
        self.rogue = TestCA.create(folder, "rogue").issue("rogue-trunk", dns=[DOMAIN], ips=[SERVER_IP])


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


def _options(local: tuple[str, int], target: str) -> Request:
    return new_request("OPTIONS", target, from_uri=f"sip:probe@{DOMAIN}", to_uri=target, local_addr=local,
                       transport="TLS", from_tag=IDS.tag(), call_id=IDS.call_id(CLIENT_IP), cseq=1,
                       branch=IDS.branch())


async def _exchange(server_cert: CertFiles, client: TlsOptions, *, seen: list[Request] | None = None,
                    ) -> Response:
    seen = [] if seen is None else seen

    def answer(event: Event, endpoint: SipEndpoint) -> None:
        if isinstance(event, RequestReceived) and event.transaction is not None:
            seen.append(event.request)
            endpoint.send_response(make_response(event.request, 200, to_tag="srv"))

    server = await SipEndpoint.open("TLS", SERVER_IP, 0, answer,
                                    tls=TlsOptions(cert=server_cert.cert, key=server_cert.key))
    ua = await SipEndpoint.open("TLS", CLIENT_IP, 0, lambda e, ep: None, tls=client)
    try:
        request = _options(ua.local_addr, f"sips:{DOMAIN}")
        return await ua.request(request, server.local_addr, timeout=10)
    finally:
        ua.close()
        server.close()
        await asyncio.sleep(0)


def _ua(pki: Pki, **changes: object) -> TlsOptions:
    base = {"cert": pki.client.cert, "key": pki.client.key, "ca_file": pki.ca.ca_file, "server_name": DOMAIN}
    return TlsOptions(**{**base, **changes})  # type: ignore[arg-type]


def test_a_request_over_tls_to_a_server_certified_for_the_domain(pki: Pki, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.txt"
    seen: list[Request] = []
    response = asyncio.run(_exchange(pki.trunk, _ua(pki, keylog=keylog), seen=seen))
    assert response.status == 200
    assert response.top_via.transport == "TLS"
    assert [r.method for r in seen] == ["OPTIONS"]
    secrets = keylog.read_text()  # what Wireshark's tls.keylog_file reads (TLS 1.3 traffic secrets)
    assert "CLIENT_TRAFFIC_SECRET_0" in secrets or "CLIENT_RANDOM" in secrets


def test_a_server_dialled_by_address_is_checked_against_its_ip_san(pki: Pki) -> None:
    assert asyncio.run(_exchange(pki.trunk, _ua(pki, server_name=None))).status == 200
    refused = asyncio.run(_exchange(pki.other_name, _ua(pki, server_name=None)))
    assert refused.status == 503 and f"not the IP address {SERVER_IP}" in refused.reason


@pytest.mark.parametrize(("which", "reason"), [
    ("other_name", f"certificate names DNS:other.example.net, IP:192.0.2.1, not {DOMAIN}"),
    ("expired", "certificate has expired"),
    ("rogue", "an untrusted CA"),
])
def test_the_ua_refuses_a_bad_certificate_naming_the_problem(pki: Pki, which: str, reason: str) -> None:
    seen: list[Request] = []
    response = asyncio.run(_exchange(getattr(pki, which), _ua(pki), seen=seen))
    assert response.status == 503
    assert reason in response.reason
    assert f"certificate of {SERVER_IP}:" in response.reason
    assert seen == []  # not one SIP byte reached the server


def test_verify_off_accepts_any_certificate(pki: Pki) -> None:
    assert asyncio.run(_exchange(pki.rogue, _ua(pki, verify=False, ca_file=None))).status == 200


def test_a_cleartext_listener_is_no_tls_server(pki: Pki) -> None:
    async def main() -> Response:
        cleartext = await SipEndpoint.open("TCP", SERVER_IP, 0, lambda e, ep: None)
        ua = await SipEndpoint.open("TLS", CLIENT_IP, 0, lambda e, ep: None, tls=_ua(pki))
        try:
            return await ua.request(_options(ua.local_addr, f"sips:{DOMAIN}"), cleartext.local_addr, timeout=10)
        finally:
            ua.close()
            cleartext.close()

    response = asyncio.run(main())
    assert response.status == 503
    assert "TLS handshake with" in response.reason and "listening for TLS" in response.reason


def test_requests_back_to_the_client_reuse_its_connection(pki: Pki) -> None:
    """RFC 3261 §18 / RFC 5923: the server's own request to the address a request came from goes over the
    connection that request came in on, not a new one."""
    async def main() -> tuple[list[str], int, int]:
        got: list[str] = []
        done = asyncio.Event()

        def server_side(event: Event, endpoint: SipEndpoint) -> None:
            if isinstance(event, RequestReceived) and event.transaction is not None:
                endpoint.send_response(make_response(event.request, 200, to_tag="srv"))
                back = new_request("OPTIONS", f"sip:{event.addr[0]}:{event.addr[1]};transport=tls",
                                   from_uri=f"sip:{DOMAIN}", to_uri="sip:ua@invalid", local_addr=endpoint.local_addr,
                                   transport="TLS", from_tag=IDS.tag(), call_id=IDS.call_id(SERVER_IP), cseq=1,
                                   branch=IDS.branch())
                endpoint.send_request(back, event.addr)

        def ua_side(event: Event, endpoint: SipEndpoint) -> None:
            if isinstance(event, RequestReceived) and event.transaction is not None:
                got.append(event.request.method)
                endpoint.send_response(make_response(event.request, 200, to_tag="ua"))
                done.set()

        server = await SipEndpoint.open("TLS", SERVER_IP, 0, server_side,
                                        tls=TlsOptions(cert=pki.trunk.cert, key=pki.trunk.key))
        ua = await SipEndpoint.open("TLS", CLIENT_IP, 0, ua_side, tls=_ua(pki))
        try:
            await ua.request(_options(ua.local_addr, f"sips:{DOMAIN}"), server.local_addr, timeout=10)
            await asyncio.wait_for(done.wait(), 10)
            return got, len(server.transport._connections), len(ua.transport._connections)  # type: ignore[union-attr]
        finally:
            ua.close()
            server.close()

    got, server_connections, ua_connections = asyncio.run(main())
    assert got == ["OPTIONS"]
    assert (server_connections, ua_connections) == (1, 1)


def test_unusable_tls_options_are_clear_errors(pki: Pki, tmp_path: Path) -> None:
    async def listen(options: TlsOptions) -> None:
        endpoint = await SipEndpoint.open("TLS", SERVER_IP, 0, lambda e, ep: None, tls=options)
        endpoint.close()

    with pytest.raises(TlsError, match="needs a certificate and a key"):
        asyncio.run(listen(TlsOptions(ca_file=pki.ca.ca_file)))
    with pytest.raises(TlsError, match="missing.pem: no such file"):
        asyncio.run(listen(TlsOptions(cert=tmp_path / "missing.pem", key=pki.trunk.key)))
    with pytest.raises(TlsError, match="cannot be loaded"):
        asyncio.run(listen(TlsOptions(cert=pki.trunk.cert, key=pki.client.key)))  # a key of another cert
    with pytest.raises(TlsError, match="CA file .*nope.pem: no such file"):
        asyncio.run(listen(TlsOptions(cert=pki.trunk.cert, key=pki.trunk.key, ca_file=tmp_path / "nope.pem")))


def test_an_endpoint_that_accepts_no_connection_binds_nothing_and_still_calls_out(pki: Pki) -> None:
    """``TlsOptions(accept=False)``, a softphone's TLS: no certificate, no listener on the port its Via
    names; its request leaves from an ephemeral port and the answer comes back on that connection."""
    async def main() -> tuple[int, tuple[str, int], bool]:
        server = await SipEndpoint.open("TLS", SERVER_IP, 0, lambda e, ep: ep.send_response(
            make_response(e.request, 200, to_tag="srv")) if isinstance(e, RequestReceived) and e.transaction else None,
            tls=TlsOptions(cert=pki.trunk.cert, key=pki.trunk.key))
        ua = await SipEndpoint.open("TLS", CLIENT_IP, 5999, lambda e, ep: None,
                                    tls=TlsOptions(ca_file=pki.ca.ca_file, server_name=DOMAIN, accept=False))
        try:
            try:
                _, writer = await asyncio.open_connection(CLIENT_IP, 5999)
                writer.close()
                listening = True
            except OSError:
                listening = False
            response = await ua.request(_options(ua.local_addr, f"sips:{DOMAIN}"), server.local_addr, timeout=10)
            (peer,) = list(server.transport._connections)  # type: ignore[union-attr]
            return response.status, peer, listening
        finally:
            ua.close()
            server.close()
            await asyncio.sleep(0)

    status, peer, listening = asyncio.run(main())
    assert status == 200 and not listening
    assert peer[0] == CLIENT_IP and peer[1] != 5999  # an ephemeral port, not the one in its Via


def test_a_listener_sends_tls13_session_tickets_only_when_asked(pki: Pki) -> None:
    """None by default (sipsak 0.9.8 takes a post-handshake ticket for the answer: tests/interop)."""
    from sipcore.aio.tls import server_context

    plain = TlsOptions(cert=pki.trunk.cert, key=pki.trunk.key)
    assert server_context(plain).num_tickets == 0
    assert server_context(TlsOptions(cert=pki.trunk.cert, key=pki.trunk.key, session_tickets=True)).num_tickets == 2
