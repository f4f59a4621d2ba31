"""Seeded fuzzing of the reference server over UDP: 20,000 mutated RFC 4475 messages and random datagrams.

Each datagram is sent to the running server and handled before the next one goes; afterwards the
server's log must hold no exception of any kind, and every 500 datagrams an OPTIONS must get its 200.
A failure prints the seed, the number of the datagram just sent, what was done to it, its bytes and the
traceback:
``TRUNKCHECK_FUZZ_SEED=<seed> pytest tests/reference_server/test_fuzz_udp.py`` replays the run.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from .fuzz_corpus import datagrams
from .fuzz_rig import (
    SEED,
    Destination,
    LogWatch,
    bind_source,
    drain,
    env_int,
    fuzz_config,
    server_addr,
    start_server,
    udp_probe,
    watch_logs,
)
from .support import run

DATAGRAMS = env_int("TRUNKCHECK_FUZZ_DATAGRAMS", 20_000)
PROBE_EVERY = 500
SHOWN = 5  # distinct problems described in a failure


def _udp_drops(port: int) -> int | None:
    """The kernel's count of datagrams dropped by the UDP socket bound to ``port`` (a full receive
    buffer), from /proc/net/udp; None where that file is not available."""
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            return int(fields[-1])
    return None


def test_fuzzed_datagrams_raise_nothing_and_options_keeps_getting_200() -> None:
    print(f"fuzz seed {SEED} ({DATAGRAMS} datagrams; TRUNKCHECK_FUZZ_SEED={SEED} replays it)")
    failures: list[str] = []
    seen: set[str] = set()
    probes: list[tuple[int, int]] = []
    calls: list[int] = []
    unparsable: list[bytes] = []
    dest_errors: list[int] = []

    async def main(watch: LogWatch) -> None:
        source = bind_source(random.Random(SEED))
        destination = Destination(SEED)
        server = await start_server(await destination.open(), fuzz_config(source.getsockname()[0]))
        addr = server_addr(server, "udp")
        try:
            for n, (kind, data) in enumerate(datagrams(SEED, DATAGRAMS), 1):
                known = len(watch.problems)
                source.sendto(data, addr)
                await asyncio.sleep(0)  # the server's socket is read on the next pass of the loop
                await asyncio.sleep(0)
                for record in watch.problems[known:]:
                    what = watch.first_line(record)
                    if what not in seen and len(seen) < SHOWN:
                        seen.add(what)
                        failures.append(f"right after datagram {n} of seed {SEED} ({kind}, {len(data)} bytes; a "
                                        f"timer or the destination's answer may be what failed):\n"
                                        f"{data[:1500]!r}\n{watch.describe(record)}")
                if n % 64 == 0:
                    unparsable.extend(drain(source))
                if n % PROBE_EVERY == 0:
                    probes.append((n, await udp_probe(addr, n)))
            unparsable.extend(drain(source))
            dest_errors.append(destination.endpoint.parse_errors if destination.endpoint else -1)
            drops = _udp_drops(addr[1])
            assert drops in (None, 0), f"the server's socket dropped {drops} datagrams: not all were tested"
            calls.extend((destination.invites, destination.mangled))
        finally:
            source.close()
            await server.stop()
            destination.close()

    started = time.monotonic()
    with watch_logs() as watch:
        run(main(watch), timeout=600)
    print(f"{DATAGRAMS} datagrams in {time.monotonic() - started:.1f} s: {calls[0]} calls reached the "
          f"destination, {calls[1]} of its responses mutated, {len(watch.lines)} log lines")
    assert not watch.problems, (f"{len(watch.problems)} exceptions logged (seed {SEED}); the first of each "
                                f"kind:\n\n" + "\n\n".join(failures))
    unanswered = [n for n, status in probes if status != 200]
    assert len(probes) == DATAGRAMS // PROBE_EVERY
    assert not unanswered, f"OPTIONS not answered 200 after datagrams {unanswered} (seed {SEED}): {probes}"
    assert not unparsable, f"{len(unparsable)} messages from the server do not parse, e.g. {unparsable[0][:1000]!r}"
    assert dest_errors == [0], "the destination could not parse some requests the server relayed to it"
    assert calls[0] > DATAGRAMS // 100, "the fuzzed INVITEs hardly reached the B2BUA: the corpus needs a look"
