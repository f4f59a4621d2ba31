"""When a load step is clean, and what ``max_clean_cps`` is (used by ``sipp_load.py``; no I/O here).

One caller SIPp process places calls at one rate for the warm-up and the measured step back to back; the
step is a window of that run, read from the per-second rows both SIPp processes write. A rate is clean
when, over a measured window of at least ``MIN_STEP_S`` seconds that follows at least ``MIN_WARMUP_S``
seconds at the same rate (long enough for the 32 s transaction linger of RFC 3261 / RFC 6026 -- Timers
J, L, M -- to reach its steady state), on BOTH SIPp sides (caller and destination):

* the caller placed at least the step's calls in the window, and every call that ended in the window (those
  placed in it plus those in progress at its start) succeeded; no call failed on either side;
* SIPp neither sent a retransmission (its ``Retransmissions`` counter) nor received one (the per-message
  ``Retrans`` counts of ``-trace_counts``, plus requests the scenario absorbs because they arrived again);
* SIPp saw no unexpected message (``FailedUnexpectedMessage``, ``OutOfCallMsgs``, ``DeadCallMsgs``, the
  per-message ``Unexp`` counts);
* the caller held the rate: it had placed its last call within the window's duration + ``RATE_SLACK_S``;
* both SIPp processes finished on their own and the server was still running.

The warm-up's counters are printed, not judged. A shorter step or warm-up can still be judged
(``--quick``), but its verdict says "quick, not per definition", and :func:`max_clean_cps` gives None for a
ramp holding such a step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MIN_STEP_S = 60.0
MIN_WARMUP_S = 35.0  # > the 32 s that a finished transaction lingers (64*T1 with T1 = 500 ms)
RATE_SLACK_S = 2.0

_COUNT_COLUMN = re.compile(r"^(\d+)_(.+)_(Sent|Recv|Retrans|Timeout|Unexp)$")


@dataclass(frozen=True)
class SideCounts:
    """What one SIPp process counted over a window of the run."""

    successful: int
    failed: int
    retrans_sent: int  # messages SIPp had to send again (its Retransmissions counter)
    retrans_received: int  # retransmissions that reached SIPp
    unexpected: int
    finished: bool = True  # SIPp exited on its own and left both CSV files
    failure_kinds: Mapping[str, int] = field(default_factory=dict)
    watchdog_trips: int = 0  # SIPp's own main loop stalled (>= 500 ms): the machine starved the load generator
    placed: int = 0  # calls SIPp began in the window (OutgoingCall for a caller, IncomingCall for a destination)
    open_at_start: int = 0  # calls in progress at the window's start (CurrentCall of its first row)
    open_at_end: int = 0  # ... and at its end

    @classmethod
    def from_counters(cls, stats: Mapping[str, int], counts: Mapping[str, int], *, finished: bool,
                      open_at_start: int = 0, open_at_end: int = 0) -> SideCounts:
        """From :func:`harness.adapters.sipp_rows.counters_between` of the statistics and of the
        per-message counts, and the ``CurrentCall`` gauge at the window's two ends. ``finished`` is False
        when SIPp was killed or a file is missing."""
        received, unexpected_msgs = _received_retransmissions(counts)
        unexpected = (stats.get("FailedUnexpectedMessage(C)", 0) + stats.get("OutOfCallMsgs(C)", 0)
                      + stats.get("DeadCallMsgs(C)", 0))
        kinds = {name[len("Failed"):-3]: value for name, value in stats.items()
                 if name.startswith("Failed") and name.endswith("(C)") and name != "FailedCall(C)" and value}
        return cls(successful=stats.get("SuccessfulCall(C)", 0), failed=stats.get("FailedCall(C)", 0),
                   retrans_sent=stats.get("Retransmissions(C)", 0), retrans_received=received,
                   unexpected=max(unexpected, unexpected_msgs), finished=finished and bool(stats) and bool(counts),
                   failure_kinds=kinds,
                   watchdog_trips=stats.get("WatchdogMinor(C)", 0) + stats.get("WatchdogMajor(C)", 0),
                   placed=stats.get("OutgoingCall(C)", 0) + stats.get("IncomingCall(C)", 0),
                   open_at_start=open_at_start, open_at_end=open_at_end)

    @classmethod
    def missing(cls) -> SideCounts:
        """A side that never ran (the server died before it)."""
        return cls(0, 0, 0, 0, 0, finished=False)

    def summary(self) -> str:
        text = (f"ok={self.successful} failed={self.failed} retrans sent/recv={self.retrans_sent}/"
                f"{self.retrans_received} unexpected={self.unexpected}")
        if self.failure_kinds:
            text += " (" + ", ".join(f"{k}={v}" for k, v in sorted(self.failure_kinds.items())) + ")"
        return text


def _received_retransmissions(counts: Mapping[str, int]) -> tuple[int, int]:
    """(retransmissions received, unexpected messages) from per-message counts. The request that starts the
    call (the first received request row's method) received again on a later row is counted as
    retransmitted: ``uas.xml`` absorbs INVITEs that arrive again after its 200 in an optional receive. Other
    requests on several rows (its BYE before or after the ACK) are branches, not repeats."""
    rows: dict[int, dict[str, int | str]] = {}
    for column, value in counts.items():
        match = _COUNT_COLUMN.match(column)
        if match:
            index, name, kind = match.groups()
            rows.setdefault(int(index), {"name": name})[kind] = value
    received = unexpected = 0
    first_request = ""
    for _, row in sorted(rows.items()):
        name = str(row["name"])
        unexpected += int(row.get("Unexp", 0))
        if "Recv" not in row:
            continue
        received += int(row.get("Retrans", 0))
        if not name.isdigit():  # a request (responses are named by their status code)
            if name == first_request:
                received += int(row["Recv"])
            first_request = first_request or name
    return received, unexpected


@dataclass(frozen=True)
class Verdict:
    clean: bool
    per_definition: bool  # the step and the warm-up were long enough for the definition
    problems: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        if not self.clean:
            return "NOT clean: " + "; ".join(self.problems)
        return "clean" if self.per_definition else "clean (quick, not per definition)"


def judge(*, calls: int, step_s: float, warmup_s: float, elapsed_s: float, caller: SideCounts,
          destination: SideCounts, server_alive: bool = True) -> Verdict:
    """The verdict on one measured window of ``step_s`` seconds in which the caller was to place ``calls``
    calls, and placed its last one ``elapsed_s`` seconds after the window began. Both sides' counts are
    those of the window (from their per-second rows, so as fine as a second). The caller is judged on its
    calls too: those placed in the window plus those in progress at its start must all have succeeded. The
    destination counts a call only when its 4 s timewait ends, so it is judged on its failures,
    retransmissions and unexpected messages, not on a count of calls."""
    problems: list[str] = []
    for side, got in (("caller", caller), ("destination", destination)):
        if not got.finished:
            problems.append(f"{side}: SIPp did not finish on its own or left no statistics")
        if got.failed:
            problems.append(f"{side}: {got.failed} failed calls")
        if got.retrans_sent or got.retrans_received:
            problems.append(f"{side}: retransmissions, {got.retrans_sent} sent and {got.retrans_received} received")
        if got.unexpected:
            problems.append(f"{side}: {got.unexpected} unexpected messages")
    if caller.placed < calls:
        problems.append(f"caller: placed {caller.placed} of the step's {calls} calls")
    due = caller.placed + caller.open_at_start  # every call placed in the window or in progress at its start
    if caller.successful != due:
        problems.append(f"caller: {caller.successful} of {due} calls succeeded")
    if elapsed_s > step_s + RATE_SLACK_S:
        problems.append(f"rate not held: the last call was placed {elapsed_s:.1f} s into the {step_s:g} s window "
                        f"(limit {step_s + RATE_SLACK_S:g} s)")
    if not server_alive:
        problems.append("the server died")
    per_definition = step_s >= MIN_STEP_S and warmup_s >= MIN_WARMUP_S
    return Verdict(not problems, per_definition, tuple(problems))


def highest_clean(results: Sequence[tuple[int, Verdict]]) -> int:
    """The highest rate clean with every lower rate tried clean too (0 if the lowest was not)."""
    best = 0
    for rate, verdict in sorted(results, key=lambda item: item[0]):
        if not verdict.clean:
            break
        best = rate
    return best


def max_clean_cps(results: Sequence[tuple[int, Verdict]]) -> int | None:
    """:func:`highest_clean` by the definition; None when any step was shorter than it asks (quick runs)."""
    if not results or not all(verdict.per_definition for _, verdict in results):
        return None
    return highest_clean(results)
