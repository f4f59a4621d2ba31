"""What a SIPp run left behind: the statistics CSV (``-trace_stat -stf FILE``), the unexpected-message
log (``-trace_err -error_file FILE``) and the screen dump on stdout, reduced to a :class:`SippResult`.

The CSV has one header line and one line per ``-fd`` period plus a final line at exit; fields are
separated by ``;`` and the time stamps hold tabs. The last line carries the cumulative ``(C)`` counters:
``SuccessfulCall(C)``, ``FailedCall(C)``, ``Retransmissions(C)``, ``FailedUnexpectedMessage(C)``,
``CallRate(C)``, ``ResponseTime1(C)`` (``HH:MM:SS:micro``) ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SIPP_EXIT_CODES", "SippResult", "parse_stat_csv", "read_excerpt", "scenario_counts"]

# sipp(1), "Exit codes".
SIPP_EXIT_CODES = {
    0: "all calls were successful",
    1: "at least one call failed",
    97: "exit on internal command (calls may have been processed)",
    99: "normal exit without calls processed",
    253: "RTP validation failure",
    254: "fatal error binding a socket",
    255: "fatal error",
}


def parse_stat_csv(path: Path) -> dict[str, str]:
    """The last data line of a SIPp statistics CSV as {column: value}; {} when there is none yet."""
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except FileNotFoundError:
        return {}
    if len(lines) < 2:
        return {}
    header = lines[0].split(";")
    values = lines[-1].split(";")
    return {name: value for name, value in zip(header, values, strict=False) if name}


def read_excerpt(path: Path, max_chars: int = 4000, *, tail: bool = False) -> str:
    """The first (or last) ``max_chars`` characters of a text file; "" when it does not exist."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    if len(text) <= max_chars:
        return text
    return ("..." + text[-max_chars:]) if tail else (text[:max_chars] + "...")


def _duration_ms(value: str) -> float | None:
    """SIPp's ``HH:MM:SS:micro`` (ResponseTime, CallLength) in milliseconds."""
    parts = value.split(":")
    if len(parts) != 4:
        return None
    try:
        h, m, s, us = (int(p) for p in parts)
    except ValueError:
        return None
    return ((h * 60 + m) * 60 + s) * 1000.0 + us / 1000.0


@dataclass
class SippResult:
    """One finished SIPp process. ``ok`` is the verdict a test wants: exit code 0, no failed call, no
    global timeout hit, at least one successful call."""

    exit_code: int | None
    successful: int
    failed: int
    stats: dict[str, str] = field(repr=False)
    error_log_excerpt: str = ""
    timed_out: bool = False
    command: list[str] = field(default_factory=list, repr=False)
    workdir: Path | None = None
    screen_excerpt: str = field(default="", repr=False)
    stderr_excerpt: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.failed == 0 and self.successful > 0 and not self.timed_out

    def stat_int(self, name: str, default: int = 0) -> int:
        """An integer counter such as ``"Retransmissions(C)"``; ``default`` if absent or not a number."""
        try:
            return int(self.stats[name])
        except (KeyError, ValueError):
            return default

    def stat_float(self, name: str, default: float = 0.0) -> float:
        try:
            return float(self.stats[name])
        except (KeyError, ValueError):
            return default

    @property
    def retransmissions(self) -> int:
        return self.stat_int("Retransmissions(C)")

    @property
    def unexpected(self) -> int:
        """Calls failed on an unexpected message, plus out-of-call and dead-call messages."""
        return (self.stat_int("FailedUnexpectedMessage(C)") + self.stat_int("OutOfCallMsgs(C)")
                + self.stat_int("DeadCallMsgs(C)"))

    @property
    def call_rate(self) -> float:
        return self.stat_float("CallRate(C)")

    @property
    def response_time_ms(self) -> float | None:
        """Mean of the scenario's first response-time measure (``rtd="true"``), in ms."""
        return _duration_ms(self.stats.get("ResponseTime1(C)", ""))

    @property
    def message_counts(self) -> list[tuple[str, int, int, int, int]]:
        """Per scenario line (message, count, retransmissions, timeouts, unexpected): see scenario_counts."""
        return scenario_counts(self.screen_excerpt)

    def describe(self) -> str:
        """A one-paragraph account for assertion messages."""
        code = self.exit_code
        meaning = "?" if code is None else SIPP_EXIT_CODES.get(code, "killed by a signal" if code < 0 else "?")
        text = (f"sipp exit {code} ({meaning}){', killed at its time bound' if self.timed_out else ''}: "
                f"{self.successful} successful, {self.failed} failed, {self.retransmissions} retransmissions, "
                f"{self.unexpected} unexpected/out-of-call messages")
        failed_kinds = {k: v for k, v in self.stats.items()
                        if k.startswith("Failed") and k.endswith("(C)") and k != "FailedCall(C)" and v not in ("", "0")}
        if failed_kinds:
            text += f"; failures by kind {failed_kinds}"
        if self.stderr_excerpt.strip():
            text += f"\nstderr: {self.stderr_excerpt.strip()}"
        if self.error_log_excerpt.strip():
            text += f"\nerror log (first part):\n{self.error_log_excerpt.strip()}"
        if self.workdir is not None:
            text += f"\nfiles kept in {self.workdir}"
        return text


def scenario_counts(screen: str) -> list[tuple[str, int, int, int, int]]:
    """The last scenario screen SIPp printed, as (message, messages, retransmissions, timeouts,
    unexpected) per line. The label ends in "->" for what SIPp sent and "<-" for what it received, in
    client and in server mode alike: ("INVITE ->", 400, 0, 0, 0), ("183 <-", 200, 0, 0, 0). Pauses are
    left out. Empty when there is no screen (SIPp did not get that far)."""
    start = screen.rfind("Messages  Retrans")
    if start < 0:
        return []
    rows: list[tuple[str, int, int, int, int]] = []
    for line in screen[start:].splitlines()[1:]:
        if line.startswith("---"):
            break
        client = _CLIENT_ROW.match(line)  # "INVITE ---------->" (sent), "100 <----------" (received)
        server = None if client else _SERVER_ROW.match(line)  # "----------> INVITE" (received), "<---------- 180" (sent)
        if client:
            name, arrow, *numbers = client.groups()
            sent = arrow.endswith(">")
        elif server:
            arrow, name, *numbers = server.groups()
            sent = arrow.startswith("<")
        else:
            continue
        first, second, third, fourth = (int(n) if n else 0 for n in numbers)
        rows.append((f"{name} {'->' if sent else '<-'}", first, second, third, fourth))
    return rows


_COUNTS = r"\s+(?:\S*RTD\S*\s+)?(\d+)(?:\s+(\d+))?(?:\s+(\d+))?(?:\s+(\d+))?"
_CLIENT_ROW = re.compile(r"^\s*([^\s<>-]\S*)\s+(<-+|-+>)" + _COUNTS)
_SERVER_ROW = re.compile(r"^\s*(<-+|-+>)\s+(\S+)" + _COUNTS)
