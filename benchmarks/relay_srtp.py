"""The media relay's CPU per call: cleartext RTP, SRTP bridged to RTP, SRTP on both legs.

    unshare -n bash -c 'ip link set lo up; .venv/bin/python benchmarks/relay_srtp.py --calls 40 --seconds 10'

The relays run in this process exactly as the reference server runs them (reference_server.rtp_relay with
the per-leg SRTP transforms of reference_server.srtp_media, keyed through real SDP offer/answer); a child
process plays both ends of every call, sending 20 ms PCMU packets both ways (50 packets a second each way,
SRTP protected where the leg is SRTP), so its work is not counted. For each mode the relay process's CPU
time (user + system, getrusage) over the measured window is divided by the calls and by the minutes of
media: ``relay_cpu_ms_per_call_minute`` is what one two-way call of one minute costs the relay, and
``us_per_packet`` what one relayed packet costs. The modes take turns for ``--rounds`` rounds and the
median of each is printed (a shared machine is noisy). Loopback only; every wait bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_server.relay_ports import PortAllocator  # noqa: E402
from reference_server.rtp_relay import MediaRelay  # noqa: E402
from reference_server.srtp_media import SrtpLegs  # noqa: E402
from sipcore.rtp import RtpStream  # noqa: E402
from sipcore.sdes import CryptoAttribute, crypto_attributes  # noqa: E402
from sipcore.sdp import SessionDescription, rewrite_for_relay  # noqa: E402
from sipcore.sdp_offer import make_answer, make_offer  # noqa: E402
from sipcore.srtp import SrtpContext  # noqa: E402

MODES = ("rtp", "srtp-rtp", "srtp-srtp")
PTIME = 0.02


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ends(host: str, seconds: float, calls: list[tuple[int, int, str | None, str | None]], ready: mp.Event) -> None:
    """The child: per call a caller socket sending to the relay's A port and a destination socket sending to
    its B port, each protected with its key (hex key||salt) when its leg is SRTP."""
    socks = []
    for a_port, b_port, a_key, b_key in calls:
        for port, key in ((a_port, a_key), (b_port, b_key)):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((host, 0))
            sock.setblocking(False)
            ctx = (SrtpContext(CryptoAttribute.new(1, "AES_CM_128_HMAC_SHA1_80", bytes.fromhex(key)), outbound=True)
                   if key else None)
            socks.append((sock, (host, port), ctx, RtpStream(ssrc=len(socks) + 1, payload_type=0,
                                                                sequence_number=1, timestamp=0)))
    ready.set()
    payload = b"\xd5" * 160
    start = time.monotonic()
    tick = 0
    while time.monotonic() - start < seconds:
        for sock, dst, ctx, stream in socks:
            data = stream.next_packet(payload).serialize()
            sock.sendto(ctx.protect(data) if ctx else data, dst)
            try:
                while True:
                    sock.recv(2048)
            except BlockingIOError:
                pass
        tick += 1
        time.sleep(max(0.0, start + tick * PTIME - time.monotonic()))


def _sdp(host: str, port: int, key: CryptoAttribute | None) -> SessionDescription:
    return SessionDescription.parse(make_offer(host, port, 1, crypto=[key] if key else []).to_bytes())


async def _relay_calls(mode: str, host: str, calls: int, allocator: PortAllocator) -> tuple[list[MediaRelay], list]:
    relays, plans = [], []
    for i in range(calls):
        relay = await MediaRelay.open(allocator, host)
        legs = SrtpLegs(mode == "srtp-srtp")
        ua_key = CryptoAttribute.new(1, "AES_CM_128_HMAC_SHA1_80", os.urandom(30)) if mode != "rtp" else None
        offer = _sdp(host, 50000 + 4 * i, ua_key)  # the caller's offer ...
        to_b = rewrite_for_relay(offer, host, [relay.b_port])
        legs.relay_sdp("A", offer, to_b)  # ... goes to the destination with the relay's own key (or none)
        b_answer = make_answer(SessionDescription.parse(to_b.to_bytes()), host, 50002 + 4 * i, 2,
                               srtp_key=os.urandom)
        to_a = rewrite_for_relay(b_answer, host, [relay.a_port])
        legs.relay_sdp("B", b_answer, to_a)
        relay.set_transforms(legs.transform("A"), legs.transform("B"))
        b_keys = crypto_attributes(b_answer.media[0])
        plans.append((relay.a_port, relay.b_port, ua_key.key.key_salt.hex() if ua_key else None,
                      b_keys[0].key.key_salt.hex() if b_keys else None))
        relays.append(relay)
    return relays, plans


async def measure(mode: str, host: str, calls: int, seconds: float, warmup: float) -> dict[str, float]:
    allocator = PortAllocator(host, 40000, 40000 + 8 * calls + 8)
    relays, plans = await _relay_calls(mode, host, calls, allocator)
    ready = mp.Event()
    child = mp.Process(target=_ends, args=(host, warmup + seconds + 0.5, plans, ready), daemon=True)
    child.start()
    try:
        for _ in range(100):
            if ready.is_set():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(warmup)
        before_cpu, before_packets = _cpu(), sum(r.a_to_b.packets + r.b_to_a.packets for r in relays)
        await asyncio.sleep(seconds)
        cpu = _cpu() - before_cpu
        packets = sum(r.a_to_b.packets + r.b_to_a.packets for r in relays) - before_packets
        dropped = sum(r.a_to_b.not_authentic + r.b_to_a.not_authentic for r in relays)
    finally:
        child.join(timeout=warmup + seconds + 5)
        if child.is_alive():
            child.kill()
        for relay in relays:
            relay.close()
    return {"cpu_s": cpu, "packets": packets, "dropped": dropped,
            "ms_per_call_minute": cpu * 1000 / calls / (seconds / 60),
            "us_per_packet": cpu * 1e6 / max(packets, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40, help="concurrent calls (default 40)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per mode (default 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three modes (default 3)")
    parser.add_argument("--host", default="127.0.2.50", help="loopback address of relay and ends")
    args = parser.parse_args(argv)
    print(f"relay CPU, {args.calls} concurrent two-way PCMU calls (50 packets/s each way), {args.seconds:g} s "
          f"per mode and round, median of {args.rounds} rounds")
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            results[mode].append(asyncio.run(measure(mode, args.host, args.calls, args.seconds, args.warmup)))
    for mode, runs in results.items():
        r = sorted(runs, key=lambda x: x["ms_per_call_minute"])[len(runs) // 2]
        spread = ", ".join(f"{x['ms_per_call_minute']:.0f}" for x in runs)
        print(f"{mode:10s} relay_cpu_ms_per_call_minute: {r['ms_per_call_minute']:7.1f} ({spread})   us_per_packet: "
              f"{r['us_per_packet']:6.1f}   packets relayed: {r['packets']:.0f}   not authentic: "
              f"{sum(x['dropped'] for x in runs):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
