"""SRTP through the reference server: per-leg SDES keys, the relay decrypting and re-encrypting per leg,
SRTP <-> RTP bridging, 488 for an RTP/SAVP offer the server will not take."""

from __future__ import annotations

import os

from reference_server.call import Call
from reference_server.media import MediaAnchor
from sipcore.message import Request, Response
from sipcore.rtp import RtpPacket
from sipcore.sdes import CryptoAttribute, crypto_attributes
from sipcore.sdp import SessionDescription
from sipcore.sdp_offer import make_answer, make_offer
from sipcore.srtp import SrtpContext

from ..addresses import loopback
from .support import TEST_CONFIG, RtpSocket, ServerRig, answer, offer, run, sdp_addr

SUITE = "AES_CM_128_HMAC_SHA1_80"
SRTP_OFF = TEST_CONFIG.replace("port_max = 40999", "port_max = 40999\nsrtp = false")
SRTP_TO_DESTINATION = TEST_CONFIG.replace('password = "secret"\n', 'password = "secret"\ndestination_srtp = true\n', 1)


def savp_offer(port: int, line: CryptoAttribute) -> bytes:
    return make_offer(loopback(1), port, 1000, crypto=[line]).to_bytes()


def savp_answer(offer_body: bytes, port: int) -> bytes:
    return make_answer(SessionDescription.parse(offer_body), loopback(1), port, 2000, srtp_key=os.urandom).to_bytes()


def media_of(body: bytes) -> tuple[str, list[CryptoAttribute]]:
    media = SessionDescription.parse(body).media[0]
    return media.proto, crypto_attributes(media)


def their_key(body: bytes) -> SrtpContext:
    """A receiver for what the sender of ``body`` sends: its own a=crypto line."""
    proto, lines = media_of(body)
    assert proto == "RTP/SAVP" and len(lines) == 1, (proto, lines)
    return SrtpContext(lines[0], outbound=False)


def rtp(seq: int, payload: bytes) -> bytes:
    return RtpPacket(0, seq, seq * 160, 0xABCD, payload).serialize()


def relay_of(rig: ServerRig) -> MediaAnchor:
    call: Call = next(iter(rig.server.b2bua.calls.values()))
    assert call.media is not None
    return call.media


def test_srtp_caller_is_bridged_to_a_cleartext_destination_with_a_key_of_the_relays_own() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            ua_line = CryptoAttribute.new(7, SUITE, os.urandom(30))
            ua_send = SrtpContext(ua_line, outbound=True)
            _, responses = await rig.authed_invite(rig.invite(body=savp_offer(ua_rtp.port, ua_line)))
            event = await rig.dest.next_request("INVITE")
            b_offer = event.request.body
            assert media_of(b_offer) == ("RTP/AVP", [])  # the trunk's default: cleartext to the destination
            assert str(ua_line.key).split(":")[1] not in b_offer.decode()  # the caller's key stays on its leg

            rig.dest.respond(event, 183, body=answer(b_offer, dest_rtp.port))
            progress = await responses.status(183)
            ua_receive = their_key(progress.body)
            [relay_line] = media_of(progress.body)[1]
            assert (relay_line.tag, relay_line.suite) == (7, SUITE) and relay_line.key != ua_line.key

            # early media: cleartext from the destination reaches the caller as SRTP under the relay's key
            dest_rtp.sock.sendto(rtp(1, b"\x11" * 160), sdp_addr(b_offer))
            data, _ = await ua_rtp.receive()
            assert len(data) == 12 + 160 + 10 and data[12:] != b"\x11" * 160 + data[-10:]
            assert RtpPacket.parse(ua_receive.unprotect(data)).payload == b"\x11" * 160

            # the caller's SRTP reaches the destination decrypted
            ua_rtp.sock.sendto(ua_send.protect(rtp(5, b"\x22" * 160)), sdp_addr(progress.body))
            data, _ = await dest_rtp.receive()
            assert data == rtp(5, b"\x22" * 160)

            # cleartext, or SRTP under another key, from the caller is dropped, not forwarded
            forged = SrtpContext(CryptoAttribute.new(7, SUITE, os.urandom(30)), outbound=True)
            ua_rtp.sock.sendto(rtp(6, b"\x33" * 160), sdp_addr(progress.body))
            ua_rtp.sock.sendto(forged.protect(rtp(7, b"\x33" * 160)), sdp_addr(progress.body))
            relay = relay_of(rig).relay
            await rig.wait_until(lambda: relay.a_to_b.not_authentic == 2)
            try:
                data, _ = await dest_rtp.receive(0.2)
            except TimeoutError:
                pass
            else:
                raise AssertionError(f"a packet that does not authenticate was forwarded: {data[:12].hex()}")

            rig.dest.respond(event, 200, body=answer(b_offer, dest_rtp.port))
            ok = await responses.final()
            assert media_of(ok.body)[1] == [relay_line]  # the 200 repeats the 183's answer and key

    run(main())


def test_srtp_on_both_legs_with_each_legs_own_keys() -> None:
    async def main() -> None:
        async with ServerRig(config_text=SRTP_TO_DESTINATION) as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            ua_line = CryptoAttribute.new(1, SUITE, os.urandom(30))
            ua_send = SrtpContext(ua_line, outbound=True)
            _, responses = await rig.authed_invite(rig.invite(body=savp_offer(ua_rtp.port, ua_line)))
            event = await rig.dest.next_request("INVITE")
            b_offer = event.request.body
            dest_receive = their_key(b_offer)  # the relay's key for the destination's leg
            assert media_of(b_offer)[1][0].key != ua_line.key
            b_answer = savp_answer(b_offer, dest_rtp.port)
            dest_send = SrtpContext(media_of(b_answer)[1][0], outbound=True)
            rig.dest.respond(event, 200, body=b_answer)
            ok = await responses.final()
            ua_receive = their_key(ok.body)

            ua_rtp.sock.sendto(ua_send.protect(rtp(10, b"\x44" * 160)), sdp_addr(ok.body))
            data, _ = await dest_rtp.receive()
            assert RtpPacket.parse(dest_receive.unprotect(data)).payload == b"\x44" * 160
            dest_rtp.sock.sendto(dest_send.protect(rtp(20, b"\x55" * 160)), sdp_addr(b_offer))
            data, _ = await ua_rtp.receive()
            assert RtpPacket.parse(ua_receive.unprotect(data)).payload == b"\x55" * 160

    run(main())


def test_a_cleartext_caller_is_bridged_to_a_destination_that_asks_for_srtp() -> None:
    async def main() -> None:
        async with ServerRig(config_text=SRTP_TO_DESTINATION) as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            _, responses = await rig.authed_invite(rig.invite(body=offer(ua_rtp.port)))
            event = await rig.dest.next_request("INVITE")
            dest_receive = their_key(event.request.body)
            b_answer = savp_answer(event.request.body, dest_rtp.port)
            rig.dest.respond(event, 200, body=b_answer)
            ok = await responses.final()
            assert media_of(ok.body) == ("RTP/AVP", [])
            ua_rtp.sock.sendto(rtp(3, b"\x66" * 160), sdp_addr(ok.body))
            data, _ = await dest_rtp.receive()
            assert dest_receive.unprotect(data) == rtp(3, b"\x66" * 160)

    run(main())


async def _refused(rig: ServerRig, body: bytes) -> Response:
    _, responses = await rig.authed_invite(rig.invite(body=body))
    final = await responses.final()
    await rig.dest.no_request(0.2)
    return final


def test_an_rtp_savp_offer_gets_488_when_srtp_is_disabled() -> None:
    async def main() -> None:
        async with ServerRig(config_text=SRTP_OFF) as rig:
            line = CryptoAttribute.new(1, SUITE, os.urandom(30))
            final = await _refused(rig, savp_offer(RtpSocket().port, line))
            assert final.status == 488
            assert "RTP/SAVP" in (final.headers.get("Warning") or "")

    run(main())


def test_an_rtp_savp_offer_without_a_usable_crypto_line_gets_488() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            body = savp_offer(4000, CryptoAttribute.new(1, SUITE, bytes(30))).replace(
                b"AES_CM_128_HMAC_SHA1_80", b"F8_128_HMAC_SHA1_80")
            final = await _refused(rig, body)
            assert final.status == 488
            assert "F8_128_HMAC_SHA1_80" in (final.headers.get("Warning") or "")

    run(main())


def test_srtp_disabled_still_takes_cleartext_calls() -> None:
    async def main() -> None:
        async with ServerRig(config_text=SRTP_OFF) as rig:
            _, responses = await rig.authed_invite(rig.invite(body=offer(RtpSocket().port)))
            event = await rig.dest.next_request("INVITE")
            assert isinstance(event.request, Request) and media_of(event.request.body) == ("RTP/AVP", [])
            rig.dest.respond(event, 200, body=answer(event.request.body, 5000))
            assert (await responses.final()).status == 200

    run(main())


def test_the_srtp_settings_are_checked_and_named_in_the_config() -> None:
    from reference_server.config import ConfigError, parse_config

    assert parse_config(TEST_CONFIG).media.srtp is True  # on by default
    assert parse_config(SRTP_TO_DESTINATION).trunks[0].destination_srtp is True
    assert parse_config(TEST_CONFIG).trunks[0].destination_srtp is False
    for text, key in ((TEST_CONFIG.replace("port_max = 40999", 'port_max = 40999\nsrtp = "yes"'), "media.srtp"),
                      (SRTP_TO_DESTINATION.replace("destination_srtp = true", "destination_srtp = 1"),
                       "trunk[0].destination_srtp")):
        try:
            parse_config(text, "srtp.toml")
        except ConfigError as exc:
            assert "srtp.toml:" in str(exc) and key in str(exc) and "bool" in str(exc), str(exc)
        else:
            raise AssertionError(f"{key} accepted a value that is not a boolean")


def best_effort_offer(port: int, line: CryptoAttribute) -> bytes:
    """RTP/AVP with an a=crypto line: what baresip's mediaenc=srtp offers."""
    return savp_offer(port, line).replace(b"RTP/SAVP", b"RTP/AVP")


def test_a_best_effort_offer_is_answered_rtp_avp_with_a_key_and_relayed_as_srtp() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            ua_line = CryptoAttribute.new(1, "AES_CM_128_HMAC_SHA1_32", os.urandom(30))
            _, responses = await rig.authed_invite(rig.invite(body=best_effort_offer(ua_rtp.port, ua_line)))
            event = await rig.dest.next_request("INVITE")
            assert media_of(event.request.body) == ("RTP/AVP", [])
            rig.dest.respond(event, 200, body=answer(event.request.body, dest_rtp.port))
            ok = await responses.final()
            proto, [relay_line] = media_of(ok.body)
            assert (proto, relay_line.tag, relay_line.suite) == ("RTP/AVP", 1, "AES_CM_128_HMAC_SHA1_32")
            dest_rtp.sock.sendto(rtp(1, b"\x77" * 160), sdp_addr(event.request.body))
            data, _ = await ua_rtp.receive()
            assert len(data) == 12 + 160 + 4
            assert SrtpContext(relay_line, outbound=False).unprotect(data) == rtp(1, b"\x77" * 160)

    run(main())


def test_with_srtp_disabled_a_best_effort_offer_is_answered_in_clear() -> None:
    async def main() -> None:
        async with ServerRig(config_text=SRTP_OFF) as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            ua_line = CryptoAttribute.new(1, SUITE, os.urandom(30))
            _, responses = await rig.authed_invite(rig.invite(body=best_effort_offer(ua_rtp.port, ua_line)))
            event = await rig.dest.next_request("INVITE")
            rig.dest.respond(event, 200, body=answer(event.request.body, dest_rtp.port))
            ok = await responses.final()
            assert ok.status == 200 and media_of(ok.body) == ("RTP/AVP", [])
            dest_rtp.sock.sendto(rtp(1, b"\x77" * 160), sdp_addr(event.request.body))
            data, _ = await ua_rtp.receive()
            assert data == rtp(1, b"\x77" * 160)

    run(main())
