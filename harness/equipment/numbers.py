"""Test numbers of a trunk whose destination the harness cannot play (``destination = "remote"``): a
remote trunk (VoIPBin's own service, a carrier, an SBC in a data centre) sends its calls to its own far end,
so the equipment file says what that far end does for each number, and the harness plays the UA only.

    [[equipment.trunk.number]]
    number = "+15550404"
    behaviour = "rejects"        # answers | early-media-then-answers | rejects | early-media-then-rejects
    status = 404                 #   | never-answers; status: with the two "rejects"
    cancel_after = 5             # seconds the harness lets a call ring before it CANCELs (default 5)

:func:`read_numbers` checks the ``[[equipment.trunk.number]]`` tables, every mistake naming file and line.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from reference_server.tomlfile import KeyPath, TableReader

__all__ = ["BEHAVIOURS", "REMOTE", "TestNumber", "read_numbers"]

REMOTE = "remote"
"""The value of ``[equipment.trunk] destination`` saying the trunk's calls go to its own far end."""
BEHAVIOURS = {
    "answers": "rings (180), then answers (200)",
    "early-media-then-answers": "sends 183 with SDP and early media (RTP), then answers (200)",
    "rejects": "rejects the call with its status (no ringing)",
    "early-media-then-rejects": "sends 183 with SDP and early media (RTP), then rejects with its status",
    "never-answers": "rings (180) and never answers: the harness CANCELs",
}
"""What the far end does for a test number, and what that means on the UA leg."""
_REJECTS = ("rejects", "early-media-then-rejects")
_KEYS = ("number", "behaviour", "status", "cancel_after")
_NUMBER = re.compile(r"[A-Za-z0-9+*#._~!$&'()=-]{1,64}\Z")
DEFAULT_CANCEL_AFTER = 5.0


@dataclass(frozen=True)
class TestNumber:
    """A number the trunk routes to a far end that behaves as ``behaviour`` says."""

    __test__ = False  # not a pytest test class, despite its name

    number: str
    behaviour: str
    status: int | None = None
    """The final status of a rejecting far end (400..699)."""
    cancel_after: float = DEFAULT_CANCEL_AFTER
    """Seconds the harness lets a call to it go unanswered before it CANCELs."""
    line: int = 0
    """Its ``[[equipment.trunk.number]]`` line in the equipment file."""

    def describe(self) -> str:
        """``+15550404 (rejects with 404)``."""
        what = self.behaviour.replace("-", " ")
        return f"{self.number} ({what}{f' with {self.status}' if self.status else ''})"

    def does(self, behaviour: str, status: int | None = None) -> bool:
        return self.behaviour == behaviour and (status is None or self.status == status)


def read_numbers(reader: TableReader, raw: object, path: KeyPath) -> tuple[TestNumber, ...]:
    """The ``[[equipment.trunk.number]]`` tables at ``path``; ``reader.error`` naming the line of a mistake."""
    if not isinstance(raw, list):
        raise reader.error(path, f"expected an array of tables ([[{'.'.join(map(str, path))}]]), got "
                           f"{reader.describe(raw)}")
    out: list[TestNumber] = []
    for i, item in enumerate(raw):
        np: KeyPath = (*path, i)
        t: dict[str, Any] = reader.table(item, np, _KEYS)
        number = reader.get(t, np, "number", str).strip()
        if not _NUMBER.match(number):
            raise reader.error((*np, "number"), f"{json.dumps(number)} is not a number or user part of a SIP URI "
                               "(digits, +, letters; no spaces, @ or ;)")
        if any(n.number == number for n in out):
            raise reader.error((*np, "number"), f"{json.dumps(number)} is listed twice")
        behaviour = reader.get(t, np, "behaviour", str)
        if behaviour not in BEHAVIOURS:
            close = difflib.get_close_matches(behaviour, list(BEHAVIOURS), n=1)
            hint = f"did you mean {json.dumps(close[0])}?" if close else f"one of {', '.join(BEHAVIOURS)}"
            raise reader.error((*np, "behaviour"), f"{json.dumps(behaviour)} is not a behaviour; {hint}")
        status = reader.get(t, np, "status", int, None)
        if behaviour in _REJECTS:
            if status is None:
                raise reader.error(np, f'behaviour "{behaviour}" needs the status the far end rejects with '
                                   "(status = 404)")
            if not 400 <= status <= 699:
                raise reader.error((*np, "status"), f"{status} is not a final error status (400..699)")
        elif status is not None:
            raise reader.error((*np, "status"), f'only with behaviour "rejects" or "early-media-then-rejects" '
                               f'(this number {behaviour})')
        cancel_after = float(reader.get(t, np, "cancel_after", (int, float), DEFAULT_CANCEL_AFTER))
        if not 0 < cancel_after <= 300:
            raise reader.error((*np, "cancel_after"), f"{cancel_after:g} s is not above 0 and at most 300 s")
        out.append(TestNumber(number, behaviour, status, cancel_after, reader.loc.locate(np)))
    if not out:
        raise reader.error(path, "is empty: name at least one test number")
    return tuple(out)
