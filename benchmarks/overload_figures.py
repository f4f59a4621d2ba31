"""``sipp_load.py --overload``: the server driven past its capacity, and what its admission control gives.

One fresh server, one destination and one caller running ``uac_auth_overload.xml`` (``uac_auth.xml`` in
which either INVITE may get 503, ACKed, the call then counted as refused) at the rate given for ``seconds``.
SIPp records each call's response times (``-trace_rtt``): INVITE to 503 (rtd 1 and 3), the first
INVITE to the 200 (rtd 2, the setup time of an admitted call) and BYE to its 200 (rtd 4, a completed call).
The figures, for the issue's targets at twice the clean capacity:

* completed % of admitted: completed calls / (placed - refused); target >= 95 %;
* max setup time of an admitted call, against Timer B (64*T1 = 32 s): none may wait past it;
* refused 503 latency p100 (and p50, p99): from the INVITE to its 503; target <= 100 ms.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.adapters.server_process import ReferenceServerProcess, tree_usage, trunk_config
from harness.adapters.sipp import SippRun
from harness.adapters.sipp_rows import read_rows, row_int

__all__ = ["OverloadResult", "read_rtts", "run_overload"]

TIMER_B_MS = 32_000.0
TARGET_COMPLETED, TARGET_REFUSED_MS = 95.0, 100.0
TRUNK = "example.trunk.voipbin.net"


def read_rtts(workdir: Path) -> dict[int, list[float]]:
    """Response times (ms) by rtd number from SIPp's ``*_rtt.csv`` files (``Date_ms;response_time_ms;rtd_no``)."""
    found: dict[int, list[float]] = {}
    for path in workdir.glob("*_rtt.csv"):
        for line in path.read_text(errors="replace").splitlines():
            parts = line.strip().split(";")
            if len(parts) < 3:
                continue
            try:
                value, rtd = float(parts[1]), int(parts[2].strip() or 0)
            except ValueError:
                continue  # the header line
            found.setdefault(rtd, []).append(value)
    return found


@dataclass(frozen=True)
class OverloadResult:
    rate: int
    seconds: float
    placed: int
    failed: int
    rtts: dict[int, list[float]]
    cpu_percent: float

    @property
    def refused(self) -> list[float]:
        return self.rtts.get(1, []) + self.rtts.get(3, [])

    @property
    def admitted(self) -> int:
        return self.placed - len(self.refused)

    @property
    def completed(self) -> int:
        return len(self.rtts.get(4, []))

    @property
    def completed_percent(self) -> float:
        return 100.0 * self.completed / self.admitted if self.admitted else 0.0

    @property
    def max_setup_ms(self) -> float:
        return max(self.rtts.get(2, [0.0]))

    def problems(self) -> list[str]:
        out = []
        if self.completed_percent < TARGET_COMPLETED:
            out.append(f"completed {self.completed_percent:.1f}% of admitted < {TARGET_COMPLETED:g}%")
        if self.max_setup_ms >= TIMER_B_MS:
            out.append(f"a call waited {self.max_setup_ms:.0f} ms >= Timer B")
        if self.refused and max(self.refused) > TARGET_REFUSED_MS:
            out.append(f"a 503 took {max(self.refused):.0f} ms > {TARGET_REFUSED_MS:g} ms")
        return out

    def line(self) -> str:
        refused = sorted(self.refused)
        p50 = refused[len(refused) // 2] if refused else 0.0
        p99 = refused[min(len(refused) - 1, int(len(refused) * 0.99))] if refused else 0.0
        p100 = refused[-1] if refused else 0.0
        problems = self.problems()
        verdict = "meets the targets" if not problems else "MISSES: " + "; ".join(problems)
        return (f"overload rate={self.rate} cps for {self.seconds:g}s: placed={self.placed} refused={len(refused)} "
                f"admitted={self.admitted} completed={self.completed} ({self.completed_percent:.1f}% of admitted; "
                f"failed={self.failed}) max_setup_ms={self.max_setup_ms:.0f} (Timer B {TIMER_B_MS:.0f}) "
                f"refused_503_ms p50={p50:.0f} p99={p99:.0f} p100={p100:.0f}  server cpu={self.cpu_percent:.0f}% of a core"
                f"  -> {verdict}")


def run_overload(rate: int, *, seconds: float, addresses: tuple[str, str, str], server_args: Sequence[str],
                 workdir: Path) -> OverloadResult:
    calls = max(1, round(rate * seconds))
    config = trunk_config((addresses[0], 5060), (addresses[2], 5080), port_min=20000, port_max=39999)
    uas = SippRun.uas((addresses[2], 5080), calls=calls, timeout=seconds * 3 + 60, max_recv_loops=10_000,
                      workdir=workdir / "destination")
    caller = SippRun("uac_auth_overload", (addresses[1], 5070), (addresses[0], 5060), auth_user="alice",
                     auth_password="secret", domain=TRUNK, service="15550100", calls=calls, rate=rate,
                     concurrency=max(100, rate * 40), recv_timeout_ms=40_000, timeout=seconds * 3 + 60,
                     max_recv_loops=10_000, workdir=workdir / "caller", extra_args=("-trace_rtt", "-rtt_freq", "1"))
    with ReferenceServerProcess(config, log_level="WARNING", args=server_args) as server, uas.start() as dest:
        dest.wait_ready()
        before, started = tree_usage(server.pid), time.monotonic()
        with caller.start() as proc:
            proc.wait()
        after = tree_usage(server.pid) if server.running() else before
        elapsed = time.monotonic() - started
        dest.stop(grace=6)
    rows = read_rows(workdir / "caller" / "stat.csv")
    last = rows[-1] if rows else None
    return OverloadResult(rate, seconds, row_int(last, "OutgoingCall(C)"), row_int(last, "FailedCall(C)"),
                          read_rtts(workdir / "caller"),
                          100.0 * (after.cpu_seconds - before.cpu_seconds) / max(elapsed, 1e-6))
