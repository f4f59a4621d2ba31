"""One rate step of :mod:`sipp_load`: a fresh server, a SIPp destination and one SIPp caller placing the
warm-up's and the measured window's calls back to back, and the window's counters on both sides with the
server's CPU and memory (the module docstring of ``sipp_load.py`` defines the window and clean).

The server is whatever ``start_server`` starts (:func:`reference_server`, or Kamailio from
:mod:`kamailio_load`): anything with a pid, a log, ``running()`` and ``usage()`` (:class:`LoadedServer`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from load_verdict import SideCounts, Verdict, judge

from harness.adapters.server_process import ReferenceServerProcess, Usage, tree_usage, trunk_config
from harness.adapters.sipp import SippResult, SippRun
from harness.adapters.sipp_rows import (
    Row,
    counters_between,
    counts_file,
    read_rows,
    row_at_or_before,
    row_epoch,
    row_int,
)

__all__ = ["LOOPBACK", "TRUNK", "LoadedServer", "RateResult", "StartServer", "placing_seconds", "read_side", "reference_server",
           "loopback_addresses", "run_rate"]

TRUNK = "example.trunk.voipbin.net"
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
DESTINATION_DRAIN_S = 15.0  # the destination's last calls end 4 s (its timewait) after the caller's

@dataclass
class RateResult:
    rate: int
    step_s: float
    warmup_s: float
    calls: int  # the step's calls: step x rate
    elapsed: float  # from the window's start until the caller had placed its last call
    caller: SideCounts
    destination: SideCounts
    warm_calls: int
    warm_elapsed: float
    warm_caller: SideCounts
    warm_destination: SideCounts
    cpu_seconds: float
    rss_end_kb: int
    rss_peak_kb: int
    verdict: Verdict
    sipp: tuple[SippResult, ...] = ()  # caller and destination, for --verbose
    window_s: float = 0.0  # wall time over which cpu_seconds was measured: window start to the caller's exit
    pss_end_kb: int = 0  # summed PSS at the end: the memory Kamailio's processes share, counted once

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_seconds / max(self.window_s, 1e-6)

    @property
    def cpu_ms_per_call(self) -> float:
        return 1000.0 * self.cpu_seconds / max(self.caller.placed, 1)

    def warmup_line(self) -> str:
        return (f"  warm-up {self.rate} cps: {self.warm_calls} calls placed in {self.warm_elapsed:.1f} s; "
                f"caller {self.warm_caller.summary()}; destination {self.warm_destination.summary()} (not judged)")

    def line(self) -> str:
        return (f"rate={self.rate:>5} cps  step={self.step_s:g}s calls={self.caller.placed} placed in "
                f"{self.elapsed:.1f}s  caller {self.caller.summary()}  destination {self.destination.summary()}  "
                f"server cpu={self.cpu_percent:.0f}% of a core ({self.cpu_ms_per_call:.2f} ms/call) "
                f"rss end={self.rss_end_kb / 1024:.1f}MiB peak={self.rss_peak_kb / 1024:.1f}MiB "
                f"pss end={self.pss_end_kb / 1024:.1f}MiB"
                f"  -> {self.verdict.label}")


def read_side(workdir: Path, *, finished: bool, since: float | None = None, until: float | None = None,
              ) -> SideCounts:
    """One SIPp side's counters over a window of its run (Unix times; None: its start, its end), from the
    per-second CSV rows it left in ``workdir``."""
    rows = read_rows(workdir / "stat.csv")
    stats = counters_between(rows, since, until)
    counts = counters_between(read_rows(counts_file(workdir)), since, until)
    first = row_at_or_before(rows, since) if since is not None else None
    last = row_at_or_before(rows, until) if until is not None else (rows[-1] if rows else None)
    return SideCounts.from_counters(stats, counts, finished=finished, open_at_start=row_int(first, "CurrentCall"),
                                    open_at_end=row_int(last, "CurrentCall"))


def placing_seconds(rows: list[Row], since: float) -> float:
    """Seconds from ``since`` until the first row at which the caller's ``OutgoingCall(C)`` had reached its
    final count (as fine as its rows: one a second); 0 without rows."""
    if not rows:
        return 0.0
    total = row_int(rows[-1], "OutgoingCall(C)")
    for row in rows:
        epoch = row_epoch(row)
        if epoch is not None and row_int(row, "OutgoingCall(C)") >= total:
            return max(0.0, epoch - since)
    return 0.0


def _reset_peak_rss(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux >= 4.0, /proc/PID/clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _caller(rate: int, calls: int, seconds: float, addresses: tuple[str, str, str], hold_ms: int,
            workdir: Path) -> SippRun:
    return SippRun.uac_auth((addresses[1], 5070), (addresses[0], 5060), user="alice", password="secret",
                            domain=TRUNK, calls=calls, rate=rate, concurrency=max(100, rate * 10),
                            hold_ms=hold_ms, recv_timeout_ms=10_000, timeout=seconds * 2 + 30,
                            max_recv_loops=10_000, workdir=workdir, extra_args=("-trace_counts",))


def loopback_addresses(text: str) -> tuple[str, str, str] | None:
    """``SERVER,CALLER,DESTINATION`` as the load benchmarks take it: three IPs in 127.0.0.0/8, else None."""
    addresses = tuple(a.strip() for a in text.split(","))
    try:
        if len(addresses) == 3 and all(ipaddress.ip_address(a) in LOOPBACK for a in addresses):
            return addresses[0], addresses[1], addresses[2]
    except ValueError:
        pass
    return None


class LoadedServer(Protocol):
    """What a ramp reads of the server under load (the reference server, or Kamailio)."""

    @property
    def pid(self) -> int: ...

    @property
    def stderr_path(self) -> Path: ...

    def running(self) -> bool: ...

    def usage(self) -> Usage: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


StartServer = Callable[[tuple[str, str, str], Sequence[str]], LoadedServer]


def reference_server(addresses: tuple[str, str, str], server_args: Sequence[str] = ()) -> ReferenceServerProcess:
    """The reference server on the first address, relaying to the destination on the third."""
    config = trunk_config((addresses[0], 5060), (addresses[2], 5080), port_min=20000, port_max=39999)
    return ReferenceServerProcess(config, log_level="WARNING", args=server_args)


def run_rate(rate: int, *, step_s: float, warmup_s: float, addresses: tuple[str, str, str], hold_ms: int,
             workdir: Path, server_args: Sequence[str] = (),
             start_server: StartServer = reference_server) -> RateResult:
    """One server, one destination, one caller placing the warm-up's and the step's calls back to back; the
    step is the run's window from ``warmup_s`` on. SIPp's files go under ``workdir`` (caller/, destination/)."""
    warm_calls, calls = round(rate * warmup_s), max(1, round(rate * step_s))
    uas = SippRun.uas((addresses[2], 5080), calls=warm_calls + calls, timeout=(warmup_s + step_s) * 2 + 60,
                      max_recv_loops=10_000, workdir=workdir / "destination", extra_args=("-trace_counts",))
    caller_run = _caller(rate, warm_calls + calls, warmup_s + step_s, addresses, hold_ms, workdir / "caller")
    caller_result = dest_result = None
    window_s = cpu = 0.0
    rss_end = rss_peak = pss_end = 0
    started_at = since = time.time()
    with start_server(addresses, server_args) as server, uas.start() as dest:
        dest.wait_ready()
        before, exact_peak, sampled_peak, window_started = None, False, 0, 0.0
        if server.running():
            started_at, started = time.time(), time.monotonic()
            with caller_run.start() as proc:
                window_at, bound = started + warmup_s, started + proc.run.wall_bound
                while proc.running() and time.monotonic() < bound and server.running():
                    try:
                        if before is None and time.monotonic() >= window_at:  # the measured window begins
                            exact_peak = _reset_peak_rss(server.pid)
                            since, before, window_started = time.time(), server.usage(), time.monotonic()
                            sampled_peak = before.rss_kb
                        elif before is not None:
                            sampled_peak = max(sampled_peak, tree_usage(server.pid).rss_kb)
                    except OSError:  # the server exited between the check and the read
                        break
                    wait = 0.25 if before is not None else min(0.25, max(0.0, window_at - time.monotonic()))
                    time.sleep(wait)
                caller_result = proc.wait()
            if before is None:  # the caller ended (or the server died) before the window: nothing measured
                since = time.time()
            elif server.running():
                after = server.usage()
                window_s = time.monotonic() - window_started
                cpu, rss_end = after.cpu_seconds - before.cpu_seconds, after.rss_kb
                rss_peak = max(sampled_peak, after.peak_rss_kb if exact_peak else 0, rss_end)
                with contextlib.suppress(OSError):
                    pss_end = tree_usage(server.pid, pss=True).pss_kb
        all_done = caller_result is not None and caller_result.successful == warm_calls + calls
        dest_result = dest.wait(timeout=DESTINATION_DRAIN_S) if all_done else dest.stop(grace=6)
        alive = server.running()
        with contextlib.suppress(OSError):  # kept with SIPp's files for --keep-files
            shutil.copyfile(server.stderr_path, workdir / "server.stderr")
    caller_ran = caller_result is not None
    caller_done = caller_result is not None and not caller_result.timed_out
    dest_done = caller_ran and dest_result is not None and not dest_result.timed_out
    caller = read_side(workdir / "caller", finished=caller_done, since=since) if caller_ran else SideCounts.missing()
    destination = (read_side(workdir / "destination", finished=dest_done, since=since) if caller_ran
                   else SideCounts.missing())
    elapsed = placing_seconds(read_rows(workdir / "caller" / "stat.csv"), since)
    verdict = judge(calls=calls, step_s=step_s, warmup_s=warmup_s, elapsed_s=elapsed, caller=caller,
                    destination=destination, server_alive=alive)
    warm_caller = read_side(workdir / "caller", finished=caller_done, until=since) if caller_ran else SideCounts.missing()
    warm_destination = read_side(workdir / "destination", finished=dest_done, until=since)
    warm_end = row_at_or_before(read_rows(workdir / "caller" / "stat.csv"), since)  # the warm-up's last row
    warm_elapsed = (row_epoch(warm_end) or started_at) - started_at if warm_end else 0.0
    return RateResult(rate, step_s, warmup_s, calls, elapsed, caller, destination, warm_caller.placed,
                      max(0.0, warm_elapsed), warm_caller, warm_destination, cpu, rss_end, rss_peak, verdict,
                      tuple(r for r in (caller_result, dest_result) if r is not None), window_s, pss_end)
