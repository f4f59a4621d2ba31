"""Measure decode strategies for a run's captures: `.venv/bin/python -m tests.harness.bench_decode [N]`.

Writes N synthetic scenario pcaps (18 SIP messages on ports 15060/5080/5090 + 150 RTP packets each),
then decodes them one by one, in a thread pool, merged (`decode_many`) and file by file through one
long-lived tshark (`StreamDecoder`, what `trunkcheck run` uses: each file waited for, as a scenario's
assertion does). Numbers go in decode.py and decode_stream.py.
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from harness.capture.decode import Decoded, DecodedMessage, decode_file, decode_many
from harness.capture.decode_stream import StreamDecoder

SIP_PORTS = (15060, 5080, 5090)
UA, TRUNK, DEST = ("127.0.0.51", 15060), ("127.0.0.52", 5080), ("127.0.0.53", 5090)


def sip(start: str, call: int, cseq: int, method: str, branch: str, body: bytes = b"") -> bytes:
    headers = [
        start,
        f"Via: SIP/2.0/UDP 127.0.0.51:15060;branch=z9hG4bK-{branch}",
        "From: <sip:alice@t.example>;tag=ft1",
        "To: <sip:bob@t.example>;tag=tt1",
        f"Call-ID: call-{call}@127.0.0.51",
        f"CSeq: {cseq} {method}",
        "Max-Forwards: 70",
        f"Content-Length: {len(body)}",
        "",
        "",
    ]
    return "\r\n".join(headers).encode() + body


def write_scenario(path: Path, call: int) -> None:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import PcapWriter

    sdp = b"v=0\r\no=- 1 1 IN IP4 127.0.0.51\r\ns=-\r\nc=IN IP4 127.0.0.51\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n"
    flow = [
        (UA, TRUNK, sip("INVITE sip:bob@t.example SIP/2.0", call, 1, "INVITE", "a", sdp)),
        (TRUNK, UA, sip("SIP/2.0 407 Proxy Authentication Required", call, 1, "INVITE", "a")),
        (UA, TRUNK, sip("ACK sip:bob@t.example SIP/2.0", call, 1, "ACK", "a")),
        (UA, TRUNK, sip("INVITE sip:bob@t.example SIP/2.0", call, 2, "INVITE", "b", sdp)),
        (TRUNK, UA, sip("SIP/2.0 100 Trying", call, 2, "INVITE", "b")),
        (TRUNK, DEST, sip("INVITE sip:bob@t.example SIP/2.0", call + 1000, 1, "INVITE", "c", sdp)),
        (DEST, TRUNK, sip("SIP/2.0 100 Trying", call + 1000, 1, "INVITE", "c")),
        (DEST, TRUNK, sip("SIP/2.0 180 Ringing", call + 1000, 1, "INVITE", "c")),
        (TRUNK, UA, sip("SIP/2.0 180 Ringing", call, 2, "INVITE", "b")),
        (DEST, TRUNK, sip("SIP/2.0 200 OK", call + 1000, 1, "INVITE", "c", sdp)),
        (TRUNK, UA, sip("SIP/2.0 200 OK", call, 2, "INVITE", "b", sdp)),
        (UA, TRUNK, sip("ACK sip:bob@t.example SIP/2.0", call, 2, "ACK", "d")),
        (TRUNK, DEST, sip("ACK sip:bob@t.example SIP/2.0", call + 1000, 1, "ACK", "e")),
    ]
    rtp = [
        (
            (DEST[0], 40000),
            (TRUNK[0], 30000),
            bytes([0x80, 0, 0, k % 256]) + b"\0" * 4 + b"\x12\x34\xab\xcd" + b"\xff" * 160,
        )
        for k in range(150)
    ]
    tail = [
        (UA, TRUNK, sip("BYE sip:bob@t.example SIP/2.0", call, 3, "BYE", "f")),
        (TRUNK, DEST, sip("BYE sip:bob@t.example SIP/2.0", call + 1000, 2, "BYE", "g")),
        (DEST, TRUNK, sip("SIP/2.0 200 OK", call + 1000, 2, "BYE", "g")),
        (TRUNK, UA, sip("SIP/2.0 200 OK", call, 3, "BYE", "f")),
        (TRUNK, UA, sip("SIP/2.0 200 OK", call, 3, "BYE", "f")),
    ]
    writer = PcapWriter(str(path), linktype=1, sync=False)
    t = 1_700_000_000.0
    for k, (src, dst, payload) in enumerate(flow + rtp + tail):
        pkt = Ether() / IP(src=src[0], dst=dst[0]) / UDP(sport=src[1], dport=dst[1]) / payload
        pkt.time = t + k * 0.02
        writer.write(pkt)
    writer.close()


def _no_resend(result: dict[Path, list[Decoded]]) -> dict[Path, list[Decoded]]:
    """Wireshark's resend flag is only reliable per file (decode.py), so it is left out of comparisons."""
    return {p: [replace(d, wireshark_resend=False) if isinstance(d, DecodedMessage) else d for d in v]
            for p, v in result.items()}


def main(n: int = 20) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"scenario-{k:02d}.pcap" for k in range(n)]
        for k, p in enumerate(paths):
            write_scenario(p, k)
        decode_file(paths[0], sip_ports=SIP_PORTS)  # warm up imports and the page cache

        t0 = time.monotonic()
        one_by_one = {p: decode_file(p, sip_ports=SIP_PORTS) for p in paths}
        t1 = time.monotonic()
        with ThreadPoolExecutor(max_workers=2) as pool:
            pooled = dict(
                zip(paths, pool.map(lambda p: decode_file(p, sip_ports=SIP_PORTS), paths), strict=True)
            )
        t2 = time.monotonic()
        merged = decode_many(paths, sip_ports=SIP_PORTS)
        t3 = time.monotonic()
        with StreamDecoder(sip_ports=SIP_PORTS) as decoder:
            decoder.warm_up()
            time.sleep(0.5)  # in a run, tshark starts while the first scenario's call is in progress
            t4 = time.monotonic()
            streamed = {p: decoder.decode(p) for p in paths}
            t5 = time.monotonic()
        assert one_by_one == pooled == merged, "strategies disagree"
        assert _no_resend(merged) == _no_resend(streamed), "the stream decoder disagrees"
        per = sum(len(v) for v in merged.values()) / n
        print(f"{n} files, {per:.0f} decoded items each")
        for name, dt in (("one by one", t1 - t0), ("thread pool (2)", t2 - t1), ("merged", t3 - t2),
                         ("stream, per file", t5 - t4)):
            print(f"{name:16s} {dt:6.2f} s  {dt / n:.3f} s per file")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
