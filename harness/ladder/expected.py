"""What a scenario expects to see: one of the spec's ladders (a doc string) or a table of messages.

- `spec_ladders()` reads `spec/voipbin-trunk.txt` (the document under test, kept in the repository);
- `ladder_from_docstring(text)` parses a scenario's doc string and says which spec ladder it is (a doc
  string that is not character for character a ladder of the spec is an error: the features must not
  drift from the document);
- `ladder_from_drawing(text)` parses a ladder drawn in the spec's format for a flow the spec does not
  draw (hold and resume, a re-INVITE from the destination): the scenario says so in its step;
- `ladder_from_table(rows, elided=...)` turns a Gherkin table (from | to | message) into a ladder drawn
  in the spec's format, for flows the spec does not draw (a BYE from the destination, a CANCEL ...).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from harness.ladder.diagram import (
    Ladder,
    LadderParseError,
    Step,
    extract_ladders,
    parse_ladder,
    render_ladder,
)
from harness.ladder.labels import classify_label
from harness.suite_root import suite_root

__all__ = [
    "ROLE_ORDER",
    "SPEC_PATH",
    "column_order",
    "ExpectationError",
    "ladder_from_docstring",
    "ladder_from_drawing",
    "ladder_from_table",
    "spec_ladders",
]

SPEC_PATH = suite_root() / "spec" / "voipbin-trunk.txt"
ROLE_ORDER = ("UA", "UA2", "Silent", "VoIPBin", "Destination", "Destination2")
"""Ladder columns, left to right (``Silent``: a trunk's SRV target that answers nothing, @dns scenarios;
``Destination2``: a trunk's second destination, @destination-failover scenarios)."""


class ExpectationError(ValueError):
    """A scenario's expected flow cannot be used as written."""


@functools.lru_cache(maxsize=4)
def _spec(path: Path) -> tuple[str, tuple[Ladder, ...]]:
    text = path.read_text(encoding="utf-8")
    return text, tuple(extract_ladders(text))


def spec_ladders(path: Path = SPEC_PATH) -> list[Ladder]:
    """Every ladder diagram of the spec, in document order (step line numbers are the document's)."""
    return list(_spec(path)[1])


def spec_ladder_index(text: str, path: Path = SPEC_PATH) -> int | None:
    """Which ladder of the spec `text` is, character for character (ignoring the final newline)."""
    wanted = text.rstrip("\n")
    for k, ladder in enumerate(spec_ladders(path)):
        if ladder.text.rstrip("\n") == wanted:
            return k
    return None


def ladder_from_docstring(text: str, path: Path = SPEC_PATH) -> Ladder:
    """The spec ladder a doc string reproduces (its step line numbers are the spec's, so divergences and
    notes point into the document); ExpectationError when it is not one of them."""
    index = spec_ladder_index(text, path)
    if index is None:
        ladders = spec_ladders(path)
        lines = [f"line {lad.steps[0].line_no if lad.steps else '?'}" for lad in ladders]
        raise ExpectationError(
            f"the doc string is not character for character one of the {len(ladders)} ladders of {path.name} "
            f"(their first arrows are at {', '.join(lines)}); copy the diagram from the spec unchanged"
        )
    return copy.deepcopy(spec_ladders(path)[index])


def ladder_from_drawing(text: str) -> Ladder:
    """A ladder drawn in the spec's format that is not one of the spec's (the step that uses it says so):
    ExpectationError naming the line when it cannot be read, a label is unknown, or it is a spec ladder
    (those must be checked as the spec's, so that they point into the document)."""
    if spec_ladder_index(text) is not None:
        raise ExpectationError("this ladder is one of the spec's: use \"the capture follows the ladder:\"")
    try:
        ladder = parse_ladder(text)
        for step in ladder.steps:
            classify_label(step.label)
    except (LadderParseError, ValueError) as err:
        raise ExpectationError(f"the ladder drawn in the scenario: {err}") from None
    if not ladder.steps:
        raise ExpectationError("the ladder drawn in the scenario has no arrows")
    return ladder


def column_order(roles: Iterable[str]) -> list[str]:
    """Ladder columns for these roles: callers left, the trunk in the middle, called parties right. The UA
    is the caller (UA, UA2, Silent, VoIPBin, Destination) unless a carrier calls it (Carrier, VoIPBin, UA);
    unknown roles (addresses) go last."""
    present = set(roles)
    order = ("Carrier", "VoIPBin", "UA", "UA2", "Destination") if "Carrier" in present else ROLE_ORDER
    return [r for r in order if r in present] + sorted(present - set(order))


def ladder_from_table(
    rows: Sequence[Mapping[str, str]], *, elided: bool = False, roles: Iterable[str] = (*ROLE_ORDER, "Carrier")
) -> Ladder:
    """A ladder from table rows with the headings `from`, `to` and `message` ("INVITE", "407 Proxy
    Authentication Required", "INVITE with Authorization", "RTP Media"), drawn in the spec's format."""
    steps: list[Step] = []
    known = list(roles)
    for k, row in enumerate(rows, start=1):
        try:
            src, dst, label = row["from"].strip(), row["to"].strip(), row["message"].strip()
        except KeyError as err:
            raise ExpectationError(f"table row {k}: needs the columns 'from', 'to' and 'message' ({err})") from None
        for role in (src, dst):
            if role not in known:
                raise ExpectationError(f"table row {k}: unknown role {role!r} (known: {', '.join(known)})")
        try:
            classify_label(label)
        except ValueError as err:
            raise ExpectationError(f"table row {k}: {err}") from None
        steps.append(Step(src, dst, label))
    if not steps:
        raise ExpectationError("the table lists no messages")
    text = render_ladder(column_order(r for st in steps for r in (st.src, st.dst)), steps, elided_prefix=elided)
    return parse_ladder(text)  # line numbers of the drawing, for side-by-side output
