"""SRTP between the simulated agents: the UA offers RTP/SAVP, the destination answers with a key of its
own, and each hears the other's tone through the encryption; what crosses the wire is SRTP."""

from __future__ import annotations

import asyncio

from simulator.destination import Destination
from simulator.settings import Answer, DestinationSettings, Send100, Send183, UaSettings
from simulator.ua import UserAgent
from sipcore.aio.tap import set_tap
from sipcore.rtp import RtpPacket, dominant_frequency
from sipcore.sdes import crypto_attributes
from sipcore.sdp import SessionDescription

from .helpers import DEST_IP, UA_IP, run

Addr = tuple[str, int]


class Wire:
    """Every UDP datagram the agents sent, as it left the socket."""

    def __init__(self) -> None:
        self.sent: list[tuple[Addr, Addr, bytes]] = []

    def datagram(self, src: Addr, dst: Addr, data: bytes, *, sent: bool, at: float) -> None:
        if sent:
            self.sent.append((src, dst, data))

    def stream(self, src: Addr, dst: Addr, data: bytes, *, sent: bool, at: float) -> None:
        pass


def test_srtp_call_with_early_media_hears_both_tones_and_sends_no_cleartext() -> None:
    async def main() -> None:
        wire = Wire()
        set_tap(asyncio.get_running_loop(), wire)
        dest = await Destination.start(DestinationSettings(
            listen=(DEST_IP, 0), script=(Send100(), Send183(early_media=True), Answer(after_ms=300)), tone_hz=440.0))
        ua = await UserAgent.start(UaSettings(listen=(UA_IP, 0), target=dest.local_addr, srtp=True, tone_hz=1000.0))
        try:
            result = await asyncio.wait_for(ua.call("+15551234567", hold_ms=300), 5.0)
            assert await dest.wait_for_calls(1, 3.0)
        finally:
            await ua.stop()
            await dest.stop()
            set_tap(asyncio.get_running_loop(), None)
        far = dest.calls[0]
        assert result.status == 200 and result.early_media_packets >= 1  # SRTP early media, decrypted
        assert round(dominant_frequency(result.rtp_packets[-1].payload)) in range(435, 446)
        assert round(dominant_frequency(far.rtp_packets[-1].payload)) in range(995, 1006)

        invites = [d for _, _, d in wire.sent if d.startswith(b"INVITE ")]
        offer = SessionDescription.parse(invites[0].split(b"\r\n\r\n", 1)[1])
        assert offer.media[0].proto == "RTP/SAVP" and len(crypto_attributes(offer.media[0])) == 1
        media = [(src, data) for src, _, data in wire.sent if data[:1] == b"\x80" and len(data) > 100]
        assert media, "no RTP on the wire"
        for src, data in media:  # 12 header bytes, 160 encrypted payload bytes, an 80-bit auth tag
            packet = RtpPacket.parse(data)
            assert len(data) == 12 + 160 + 10, f"{src}: {len(data)} bytes is not SRTP of a 20 ms PCMU frame"
            assert abs(dominant_frequency(packet.payload[:160]) - (1000 if src[0] == UA_IP else 440)) > 5

    run(main())
