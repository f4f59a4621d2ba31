"""Live progress of `trunkcheck run`: a behave formatter printing one line per scenario as it ends.

    passed   0.41 s  Outgoing call with basic authentication: The documented call flow, the caller hangs up
    FAILED   0.37 s  Early media: The documented early media flow
        the capture diverges from the documented ladder
        ... (both ladders side by side)

    n/a              Early media: The documented early media flow
        not applicable: Kamailio trunk example (trunk) does not claim early-media (claims: ...)

With `-D verbose=1` the notes of every scenario (reason phrases that differ from the spec, messages after
the documented flow) are printed too.
"""

from __future__ import annotations

import time
from typing import Any

from behave.formatter.base import Formatter

from harness.suite.hooks import failure_text

__all__ = ["ProgressFormatter", "status_name"]


def status_name(scenario: Any) -> str:
    return str(getattr(scenario.status, "name", scenario.status))


class ProgressFormatter(Formatter):  # type: ignore[misc]  # behave has no annotations: an Any base class
    name = "trunkcheck"
    description = "one line per scenario: status, time, feature and scenario name; failures in full"

    def __init__(self, stream_opener: Any, config: Any) -> None:
        super().__init__(stream_opener, config)
        self.stream = self.open()
        self.verbose = str(config.userdata.get("verbose", "")) in ("1", "true", "yes")
        self.current: Any = None
        self.started = 0.0
        self.count = 0

    # -- behave formatter API ---------------------------------------------------------------------------
    def feature(self, feature: Any) -> None:
        self._finish()

    def scenario(self, scenario: Any) -> None:
        self._finish()
        self.current, self.started = scenario, time.monotonic()

    def eof(self) -> None:
        self._finish()

    def close(self) -> None:
        self._finish()
        super().close()

    # -- output -----------------------------------------------------------------------------------------
    def _finish(self) -> None:
        scenario, self.current = self.current, None
        if scenario is None:
            return
        status = status_name(scenario)
        why = getattr(scenario, "trunkcheck_not_applicable", None)
        if why is not None:
            self.stream.write(f"{'n/a':<8} {'':>7}  {scenario.feature.name}: {scenario.name}\n    {why}\n")
            self.stream.flush()
            return
        if status in ("skipped", "untested"):
            return
        self.count += 1
        seconds = time.monotonic() - self.started
        label = "passed" if status == "passed" else status.upper()
        self.stream.write(f"{label:<8} {seconds:5.2f} s  {scenario.feature.name}: {scenario.name}\n")
        if status != "passed":
            text = failure_text(scenario) or status
            self.stream.write("".join(f"    {line}\n" for line in text.rstrip().splitlines()))
        record = getattr(scenario, "trunkcheck_record", None)
        if record is not None and (self.verbose or status != "passed"):
            for note in record.notes:
                self.stream.write(f"    note: {note}\n")
            if status != "passed":
                self.stream.write(f"    capture: {record.pcap}\n")
        self.stream.flush()
