"""``trunkcheck simulate destination`` as a server: answer calls until stopped, like ``sipp -sn uas``.

Calls are answered concurrently (each INVITE gets its own task). The run ends on SIGINT or SIGTERM (the
calls still running are ended at once and the process exits within about 2 s), after ``--calls N`` calls
have ended, or after ``--timeout`` seconds. In text mode each call is printed as it ends (its messages,
then its summary) and then forgotten, so a long run keeps only the calls in progress; ``--json`` keeps the
whole record and prints it at the end. Either way the last line counts the calls handled.
"""

from __future__ import annotations

import asyncio
import collections
import json
import signal
from typing import TextIO

from .agent import wait_any
from .destination import Destination
from .summary import incoming_lines
from .uas import IncomingCall

__all__ = ["Tally", "serve_calls"]


class Tally:
    """What the calls handled so far came to: final statuses, how they ended, RTP."""

    def __init__(self) -> None:
        self.calls = 0
        self.statuses: collections.Counter[str] = collections.Counter()
        self.ended_by: collections.Counter[str] = collections.Counter()
        self.rtp_sent = 0
        self.rtp_received = 0

    def add(self, call: IncomingCall) -> None:
        self.calls += 1
        self.statuses[str(call.final_status) if call.final_status is not None else "none"] += 1
        self.ended_by[call.ended_by or "unknown"] += 1
        self.rtp_sent += call.rtp_sent
        self.rtp_received += call.rtp_received

    def line(self) -> str:
        """``calls handled: 20 (final status 200: 20; ended by remote-bye: 20; RTP sent 40, received 0)``."""
        if not self.calls:
            return "calls handled: 0"
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        ended = ", ".join(f"{k}: {v}" for k, v in sorted(self.ended_by.items()))
        return (f"calls handled: {self.calls} (final status {statuses}; ended by {ended}; "
                f"RTP sent {self.rtp_sent}, received {self.rtp_received})")


async def serve_calls(dest: Destination, *, calls: int, timeout: float | None, as_json: bool,
                      out: TextIO) -> int:
    """Answer calls on the started ``dest`` until a signal, ``calls`` calls (0: no limit) or ``timeout``
    seconds (None: no limit); print them and the tally; stop ``dest``. Returns the exit status: 1 when
    ``calls`` were asked for and fewer ended, else 0."""
    loop, clock = asyncio.get_running_loop(), dest.clock
    stop = asyncio.Event()
    stopped_by: list[str] = []

    def on_signal(name: str) -> None:
        stopped_by.append(name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signal.Signals(signum).name)
    start = clock.time()
    deadline = None if timeout is None else start + timeout
    tally = Tally()
    summaries: list[str] = []  # --json: every call's summary lines, for the end
    try:
        while True:
            _report_finished(dest, tally, summaries, as_json, out, start)
            if calls and tally.calls >= calls:
                break
            if deadline is not None and clock.time() >= deadline:
                stopped_by.append(f"--timeout {timeout:g} s")
                break
            wait = 0.05 if deadline is None else max(0.0, min(0.05, deadline - clock.time()))
            if await wait_any([stop], wait, clock):
                break
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await dest.stop()  # calls still running end now ("stopped"), within 2 s
    _report_finished(dest, tally, summaries, as_json, out, start)
    ok = not calls or tally.calls >= calls
    lines = [tally.line()]
    if not ok:
        lines.append(f"only {tally.calls} of {calls} call(s) ended before {stopped_by[0] if stopped_by else 'the stop'}")
    elif stopped_by:
        lines.append(f"stopped by {stopped_by[0]}")
    if as_json:
        data = json.loads(dest.record.to_json())
        data["summary"] = summaries + lines
        data["ok"] = ok
        print(json.dumps(data, indent=2), file=out)
    else:
        leftover = dest.record.lines(start=start)  # messages of no reported call (late retransmissions ...)
        print("\n".join([*leftover, *lines]), file=out, flush=True)
    return 0 if ok else 1


def _report_finished(dest: Destination, tally: Tally, summaries: list[str], as_json: bool, out: TextIO,
                     start: float) -> None:
    finished = [c for c in dest.calls if c.done.is_set()]
    if not finished:
        return
    finished.sort(key=lambda c: c.ended_at or 0.0)
    for call in finished:
        dest.calls.remove(call)
        tally.add(call)
        if as_json:
            summaries.extend(incoming_lines(call))
            continue
        events = dest.record.take_call(call.call_id)
        print("\n".join([*dest.record.lines(events=events, start=start), *incoming_lines(call)]), file=out)
    if not as_json:
        out.flush()
