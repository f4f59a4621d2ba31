"""What the SIPp interop tests share: a SIPp caller run against a SIPp destination, and the message
counts of a run by scenario line."""

from __future__ import annotations

from harness.adapters.sipp import SippResult, SippRun


def through(uac: SippRun, uas: SippRun, calls: int) -> tuple[SippResult, SippResult]:
    """Start the destination, run the caller to its end; both results (caller first). The destination is
    waited for (15 s at most) when every call succeeded, else stopped."""
    with uas.start() as destination:
        destination.wait_ready()
        result = uac.run()
        callee = destination.wait(timeout=15) if result.successful == calls else destination.stop(grace=6)
    return result, callee


def counts(result: SippResult) -> dict[str, int]:
    """Messages per scenario line, e.g. {"407 <-": 200, "200 <-": 400} (same labels add up)."""
    totals: dict[str, int] = {}
    for label, messages, *_ in result.message_counts:
        totals[label] = totals.get(label, 0) + messages
    return totals
