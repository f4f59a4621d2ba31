"""How long RFC 3263 location takes over real DNS: what a call to a destination named by host name costs.

    .venv/bin/python benchmarks/dns_locate.py [--calls 1000]

Starts dnsmasq (Debian dnsmasq-base, as the tests do: tests/dns_server.py) on 127.0.0.53:5353 with the
tests' zone for example.trunk.voipbin.net, then locates ``sip:+15550100@example.trunk.voipbin.net`` (NAPTR,
SRV, an A query per SRV target) ``--calls`` times with one :class:`sipcore.aio.SipResolver`, as the
reference server does for each call: with TTL 0 (every query asked) and TTL 60 (dnspython's cache answers).
Prints ``locate_ms_ttl0`` and ``locate_ms_ttl60``, the mean per location. Run it in a network namespace of
its own (``unshare -n``, loopback up) on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sipcore.aio import SipResolver  # noqa: E402
from tests.dns_server import TRUNK, dnsmasq, dnsmasq_missing, trunk_zone  # noqa: E402


async def _locate(resolver: SipResolver, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await resolver.locate(f"sip:+15550100@{TRUNK}", families=("A",))
    return (time.perf_counter() - started) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="locations per TTL (default 1000)")
    args = parser.parse_args()
    missing = dnsmasq_missing()
    if missing:
        print(f"dns_locate: {missing}", file=sys.stderr)
        return 2
    for ttl in (0, 60):
        zone = trunk_zone(("127.0.0.61", 5070), ("127.0.0.62", 5071))
        zone.options.append(f"--local-ttl={ttl}")
        with dnsmasq(zone, ip="127.0.0.53") as server:
            mean = asyncio.run(_locate(SipResolver(server, rng=random.Random(1)), args.calls))
        print(f"locate_ms_ttl{ttl}: {mean * 1000:.3f}  ({args.calls} locations: NAPTR, SRV, 2 x A)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
