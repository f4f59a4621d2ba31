"""Parse and serialize a typical ~900-byte INVITE (SDP body, digest credentials) on one core.

    .venv/bin/python benchmarks/sip_codec.py                 # 7 rounds of 0.3 s of CPU time per figure
    .venv/bin/python benchmarks/sip_codec.py --instructions  # instructions per parse, under valgrind

``parses_per_second`` is always the parse the reference server makes of every datagram it receives:
``UdpTransport._datagram_received`` (sipcore/aio/transport.py) calls ``parse_message(data)``, which frames
the message, splits its header fields and validates it (Via, From, To, Call-ID, CSeq, Max-Forwards,
Contact and the Request-URI parsed). The benchmark calls that same function object, found in the same
module, with the same single argument, and prints the median of the rounds. Other figures have their
own names: ``lazy_parses_per_second`` (framing and header split only, ``validate_headers=False``, as the
harness reads captures) and ``serializes_per_second``. The rounds themselves are printed first, so the
spread shows. The last two lines are ``parses_per_second: N`` and ``serializes_per_second: N``.
Targets: 50,000 parses and 100,000 serializations per second.

Process CPU time, not wall time, is measured, so time the process waits for the CPU does not count; it
still moves with the machine's load (caches and cores shared with other processes): on a shared 2-core
machine the median of one run fell from about 70,000 to 43,000 while other processes kept both cores busy. ``--instructions`` counts what valgrind's callgrind executes per parse instead: the
same code gives the same count, whatever else runs (PYTHONHASHSEED is fixed for it).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sipcore.aio import transport  # noqa: E402
from sipcore.message import Request, Response  # noqa: E402
from sipcore.parser import parse_message  # noqa: E402

SDP = (
    "v=0\r\no=- 3735928559 1 IN IP4 127.0.0.11\r\ns=-\r\nc=IN IP4 127.0.0.11\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\na=sendrecv\r\n"
)
INVITE = (
    "INVITE sip:+15551234567@trunk.voipbin.net SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.11:5062;branch=z9hG4bK.4f3c1d2e9a;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@trunk.voipbin.net>;tag=8a7b6c5d\r\n"
    "To: <sip:+15551234567@trunk.voipbin.net>\r\n"
    "Call-ID: 5f1e2d3c4b5a6978@127.0.0.11\r\n"
    "CSeq: 2 INVITE\r\n"
    "Contact: <sip:alice@127.0.0.11:5062;transport=udp>\r\n"
    "Proxy-Authorization: Digest username=\"alice\", realm=\"trunk.voipbin.net\", "
    "nonce=\"AAAAAGZ2pL8cX3J0a2V5bm9uY2U\", uri=\"sip:+15551234567@trunk.voipbin.net\", "
    "response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"
    "Supported: replaces, timer\r\n"
    "Content-Type: application/sdp\r\n"
    f"Content-Length: {len(SDP)}\r\n\r\n{SDP}"
).encode()


ROUNDS = 7
ROUND_SECONDS = 0.3
INSTRUCTION_PARSES = 2000


def measure(fn: Callable[[], object], rounds: int = ROUNDS, round_seconds: float = ROUND_SECONDS) -> list[float]:
    """Calls per second of process CPU time, one figure per round of about ``round_seconds``."""
    rates = []
    for _ in range(rounds):
        count = 0
        start = time.process_time()
        while True:
            for _ in range(200):
                fn()
            count += 200
            spent = time.process_time() - start
            if spent >= round_seconds:
                rates.append(count / spent)
                break
    return rates


def server_parse() -> functools.partial[Request | Response]:
    """The server's parse of the INVITE: the function ``UdpTransport._datagram_received`` calls, looked up
    where it looks it up (``sipcore.aio.transport.parse_message``), given what it gives: the datagram."""
    return functools.partial(transport.parse_message, INVITE)  # type: ignore[attr-defined]


def lazy_parse() -> object:
    return parse_message(INVITE, validate_headers=False)


def _check_message() -> Callable[[], bytes]:
    """The server's parse of the INVITE reads it right; the message's serializer."""
    message = server_parse()()
    assert message.to_bytes() == INVITE, "serialization must keep every header and the body"
    # The server's parse has validated and parsed these; reading them here costs nothing more.
    assert message.via[0].branch == "z9hG4bK.4f3c1d2e9a" and message.from_.tag == "8a7b6c5d"
    assert message.cseq.method == "INVITE" and getattr(message.contacts[0].uri, "port", None) == 5062
    assert "Proxy-Authorization" in message.headers and message.body.startswith(b"v=0")
    return message.to_bytes


def main(rounds: int = ROUNDS, round_seconds: float = ROUND_SECONDS) -> None:
    serialize = _check_message()
    print(f"message_bytes: {len(INVITE)}")
    print(f"timer: process CPU time on one core; each figure is the median of {rounds} rounds of "
          f"{round_seconds:g} s (the rounds are listed first)")
    figures = {
        "lazy_parses_per_second": measure(lazy_parse, rounds, round_seconds),
        "parses_per_second": measure(server_parse(), rounds, round_seconds),
        "serializes_per_second": measure(serialize, rounds, round_seconds),
    }
    for name, rates in figures.items():
        print(f"rounds {name}: {' '.join(f'{rate:.0f}' for rate in rates)}")
    for name, rates in figures.items():
        print(f"{name}: {statistics.median(rates):.0f}")


# -- --instructions: callgrind's count ---------------------------------------------------------------


def _loop(parses: int) -> None:
    """What --instructions runs under valgrind: a warm-up, then ``parses`` server parses."""
    parse = server_parse()
    _check_message()
    for _ in range(100):
        parse()
    for _ in range(parses):
        parse()


def _callgrind_instructions(parses: int, tmp: Path) -> int:
    out = tmp / f"callgrind.{parses}.out"
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
                    "--loop", str(parses)], check=True, capture_output=True, timeout=600,
                   env={**os.environ, "PYTHONHASHSEED": "0"})
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"{out}: callgrind wrote no total")


def instructions(parses: int = INSTRUCTION_PARSES) -> int:
    if shutil.which("valgrind") is None:
        print("sip_codec: valgrind is missing: install the Debian package valgrind", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="sip-codec-") as tmp:
        base = _callgrind_instructions(0, Path(tmp))
        total = _callgrind_instructions(parses, Path(tmp))
    print(f"callgrind: {parses} server parses of the {len(INVITE)}-byte INVITE, less the same run with none")
    print(f"instructions_per_parse: {(total - base) / parses:.0f}")
    return 0


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--instructions", action="store_true", help="count instructions per parse (valgrind)")
    cli.add_argument("--loop", type=int, help=argparse.SUPPRESS)
    args = cli.parse_args()
    if args.loop is not None:
        _loop(args.loop)
    elif args.instructions:
        sys.exit(instructions())
    else:
        main()
