"""The ladder as data: the spec's ASCII ladder diagrams parsed, rendered and compared with what a capture
shows, and the ladders each scenario expects. The one import for all of it.

    ladder = parse_ladder(text)                  # or extract_ladders(spec_text), spec_ladders()
    result = compare(ladder, observed_steps)      # observed: harness.capture.decode.to_observed(...)
    if not result.ok:
        print(result.side_by_side(ladder.text, render_observed(observed_steps, ladder.columns)))

The format lives in :mod:`~harness.ladder.diagram`, label meaning in :mod:`~harness.ladder.labels`,
comparison rules in :mod:`~harness.ladder.comparison`, and what a scenario expects (a ladder of the spec,
or a table of messages) in :mod:`~harness.ladder.expected`; drawing an observed flow is here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from harness.ladder.comparison import Comparison, compare, relay_pairs
from harness.ladder.diagram import (
    COLUMN_SPACING,
    Ladder,
    LadderParseError,
    Step,
    extract_ladders,
    parse_ladder,
    render_ladder,
)
from harness.ladder.expected import (
    ROLE_ORDER,
    SPEC_PATH,
    ExpectationError,
    column_order,
    ladder_from_docstring,
    ladder_from_table,
    spec_ladders,
)
from harness.ladder.labels import KNOWN_METHODS, Matcher, ObservedStep, classify_label

__all__ = [
    "COLUMN_SPACING",
    "KNOWN_METHODS",
    "ROLE_ORDER",
    "SPEC_PATH",
    "Comparison",
    "ExpectationError",
    "Ladder",
    "LadderParseError",
    "Matcher",
    "ObservedStep",
    "Step",
    "classify_label",
    "column_order",
    "compare",
    "extract_ladders",
    "ladder_from_docstring",
    "ladder_from_table",
    "observed_columns",
    "observed_from_ladder",
    "parse_ladder",
    "relay_pairs",
    "render_ladder",
    "render_observed",
    "spec_ladders",
]


def observed_columns(observed: Sequence[ObservedStep], columns: Sequence[str] = ()) -> list[str]:
    """`columns` followed by any other role that appears in `observed`, in order of appearance."""
    out = list(columns)
    for step in observed:
        for role in (step.src, step.dst):
            if role not in out:
                out.append(role)
    return out


def render_observed(
    observed: Sequence[ObservedStep],
    columns: Sequence[str] = (),
    *,
    elided_prefix: bool = False,
) -> str:
    """Draw an observed flow, one arrow per observed step (so step k of the drawing is `observed[k]`), in the
    columns of the expected ladder plus any role it does not know."""
    steps = [Step(o.src, o.dst, o.label) for o in observed]
    cols = observed_columns(observed, columns)
    if len(cols) < 2:
        cols += [c for c in ("?", "??") if c not in cols][: 2 - len(cols)]
    return render_ladder(cols, steps, elided_prefix=elided_prefix)


def observed_from_ladder(ladder: Ladder) -> list[ObservedStep]:
    """Read a drawn flow back as observed steps (frame numbers 1, 2, ... in drawing order): the inverse of
    `render_observed` up to times and frame numbers, and a compact way to write observed flows in tests."""
    out: list[ObservedStep] = []
    for k, step in enumerate(ladder.steps):
        m = classify_label(step.label)
        packets = re.search(r"\((\d+) packets?\)", step.label)
        out.append(
            ObservedStep(
                src=step.src,
                dst=step.dst,
                kind=m.kind,
                method=m.method,
                status=m.status,
                reason=m.reason,
                has_authorization=m.with_authorization,
                is_retransmission=step.label.endswith("(retransmission)"),
                frame_no=k + 1,
                packet_count=int(packets.group(1)) if packets else 1,
            )
        )
    return out
