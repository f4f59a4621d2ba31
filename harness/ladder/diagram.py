"""The spec's fixed-width ASCII ladder diagrams: parse them into steps and render steps back.

Format (see spec/voipbin-trunk.txt)::

    UA                                   VoIPBin                                 Destination

    |                                        |                                        |
    ===================================================================================
    |---------------- INVITE --------------->|                                        |
    |<-- 407 Proxy Authentication Required --|                                        |
    |<------------- RTP Media ---------------|<---------------- RTP Media ------------|

- the first non-blank line names the columns, in order (names are separated by two or more spaces);
- the first row of pipes fixes each column's character position;
- an arrow spans from one column position to another (adjacent or not): `-`s ending in `>` (left to
  right) or starting with `<` (right to left), with a label in the middle; one row may hold several arrows;
  the arrow head may sit on the column position itself instead of the `|` (`<----- RTP Media -----|`);
- a line of `=` before the first arrow means "earlier messages elided".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

COLUMN_SPACING = 41  # the spec's distance between two column pipes
_ANCHORS = "|<>"
_ELISION = re.compile(r"^\s*={3,}\s*$")
_RIGHT = re.compile(r"^-+\s*(?P<label>.*?)\s*-+>$")
_LEFT = re.compile(r"^<-+\s*(?P<label>.*?)\s*-+$")
_NAME = re.compile(r"\S+(?: \S+)*")  # a column name may hold single spaces
_PIPE_ROW = re.compile(r"^[ |]*$")


class LadderParseError(ValueError):
    """A ladder line that cannot be read; says which line and why."""

    def __init__(self, message: str, line_no: int, line: str = "") -> None:
        where = f"line {line_no}: {message}"
        super().__init__(f"{where}: {line.rstrip()!r}" if line.strip() else where)
        self.line_no = line_no
        self.line = line


@dataclass(frozen=True)
class Step:
    """One arrow: `src` sends `label` to `dst`. `line_no` is where it was drawn (not compared)."""

    src: str
    dst: str
    label: str
    line_no: int = field(default=0, compare=False)


@dataclass
class Ladder:
    columns: list[str]
    steps: list[Step]
    elided_prefix: bool = False
    text: str = field(default="", compare=False)  # the text it was parsed from

    def legs(self) -> list[frozenset[str]]:
        """The column pairs that carry at least one step, in order of first appearance."""
        seen: list[frozenset[str]] = []
        for step in self.steps:
            leg = frozenset((step.src, step.dst))
            if leg not in seen:
                seen.append(leg)
        return seen


def parse_ladder(text: str, *, first_line_no: int = 1) -> Ladder:
    """Parse one ladder diagram. `first_line_no` is the number of the text's first line in error messages."""
    lines = text.splitlines()
    header_idx = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_idx is None:
        raise LadderParseError("empty ladder: expected a header line with column names", first_line_no)
    header = lines[header_idx]
    if "|" in header:
        raise LadderParseError(
            "expected a header line with column names before the first row of pipes",
            first_line_no + header_idx,
            header,
        )
    names = [m.group() for m in _NAME.finditer(header)]
    if len(set(names)) != len(names):
        raise LadderParseError("column names must be unique", first_line_no + header_idx, header)
    positions: list[int] | None = None
    steps: list[Step] = []
    elided = False
    for idx in range(header_idx + 1, len(lines)):
        line, line_no = lines[idx].rstrip(), first_line_no + idx
        if not line.strip():
            continue
        if _ELISION.match(line):
            if steps:
                raise LadderParseError(
                    "a line of '=' (earlier messages elided) must come before the first arrow", line_no, line
                )
            elided = True
            continue
        if positions is None:
            if not _PIPE_ROW.match(line) or line.count("|") < 2:
                raise LadderParseError(
                    "expected a row of '|' (one per column) after the header", line_no, line
                )
            positions = [i for i, ch in enumerate(line) if ch == "|"]
            if len(positions) != len(names):
                raise LadderParseError(
                    f"the header names {len(names)} columns ({', '.join(names)}) but the first row of pipes has "
                    f"{len(positions)}",
                    line_no,
                    line,
                )
            continue
        steps.extend(_parse_row(line, line_no, positions, names))
    if positions is None:
        raise LadderParseError("no row of pipes after the header", first_line_no + header_idx, header)
    return Ladder(columns=names, steps=steps, elided_prefix=elided, text=text)


def _parse_row(line: str, line_no: int, positions: list[int], columns: list[str]) -> list[Step]:
    width = positions[-1] + 1
    if line[width:].strip():
        raise LadderParseError(f"text after the last column ({columns[-1]})", line_no, line)
    padded = line.ljust(width)
    if padded[: positions[0]].strip():
        raise LadderParseError(f"text before the first column ({columns[0]})", line_no, line)
    anchors = [k for k, pos in enumerate(positions) if padded[pos] in _ANCHORS]
    for k in (0, len(positions) - 1):
        if k not in anchors:
            raise LadderParseError(
                f"expected '|' for column {columns[k]} at character {positions[k] + 1}", line_no, line
            )
    steps: list[Step] = []
    for a, b in zip(anchors, anchors[1:], strict=False):
        seg = padded[positions[a] : positions[b] + 1]
        seg = seg[1:] if seg.startswith("|") else seg
        seg = seg[:-1] if seg.endswith("|") else seg
        if not seg.strip():
            if b - a > 1:
                missing = columns[a + 1]
                raise LadderParseError(
                    f"expected '|' for column {missing} at character {positions[a + 1] + 1}", line_no, line
                )
            continue
        if seg.startswith("<") and seg.endswith(">"):
            raise LadderParseError(
                f"double-headed arrow between {columns[a]} and {columns[b]}", line_no, line
            )
        right, left = _RIGHT.match(seg), _LEFT.match(seg)
        match = right or left
        if match is None:
            raise LadderParseError(
                f"cannot read the arrow between {columns[a]} and {columns[b]}: expected '---- label --->' "
                "or '<--- label ----' spanning from column to column",
                line_no,
                line,
            )
        label = match.group("label")
        if not label:
            raise LadderParseError(
                f"arrow without a label between {columns[a]} and {columns[b]}", line_no, line
            )
        src, dst = (columns[a], columns[b]) if right else (columns[b], columns[a])
        steps.append(Step(src, dst, label, line_no))
    return steps


def extract_ladders(spec_text: str, *, first_line_no: int = 1) -> list[Ladder]:
    """Every ladder in a document: a header line followed (after blank lines) by a row of pipes whose count
    matches the header's names; the block runs over pipe/arrow rows, `=` lines and blank lines.
    Step line numbers are line numbers of `spec_text`."""
    lines = spec_text.splitlines()
    ladders: list[Ladder] = []
    i = 0
    while i < len(lines):
        if not _looks_like_header(lines, i):
            i += 1
            continue
        end = i + 1
        last_content = i
        while end < len(lines):
            line = lines[end]
            if "|" in line or _ELISION.match(line):
                last_content = end
            elif line.strip():
                break
            end += 1
        block = "\n".join(lines[i : last_content + 1]) + "\n"
        ladders.append(parse_ladder(block, first_line_no=first_line_no + i))
        i = last_content + 1
    return ladders


def _looks_like_header(lines: list[str], i: int) -> bool:
    line = lines[i]
    if not line.strip() or "|" in line or _ELISION.match(line):
        return False
    j = i + 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    if j >= len(lines):
        return False
    row = lines[j]
    names = _NAME.findall(line)
    return bool(_PIPE_ROW.match(row)) and row.count("|") >= 2 and row.count("|") == len(names)


def check_label(label: str) -> None:
    """Labels must survive a render/parse round trip: no '|', '<', '>', line breaks or edge dashes/spaces."""
    if not label or label != label.strip() or label[0] == "-" or label[-1] == "-":
        raise ValueError(f"label {label!r} must be non-empty and must not start or end with a space or '-'")
    bad = set(label) & set("|<>\r\n\t")
    if bad:
        raise ValueError(
            f"label {label!r} contains characters that cannot be drawn in an arrow: {sorted(bad)}"
        )


def render_ladder(
    columns: list[str],
    steps: list[Step],
    *,
    elided_prefix: bool = False,
    spacing: int = COLUMN_SPACING,
) -> str:
    """Draw `steps` in the spec's format (one arrow per row). Columns sit `spacing` characters apart,
    wider if a label needs more room; `parse_ladder` reads the result back into the same steps."""
    index = {name: k for k, name in enumerate(columns)}
    if len(index) != len(columns) or len(columns) < 2:
        raise ValueError(f"need at least two distinct column names, got {columns!r}")
    for name in columns:
        if not name or "|" in name or "  " in name or name != name.strip() or _ELISION.match(name):
            raise ValueError(f"column name {name!r} cannot be drawn (no '|', no double spaces, not only '=')")
    for step in steps:
        if step.src not in index or step.dst not in index or step.src == step.dst:
            raise ValueError(
                f"step {step.src} -> {step.dst} {step.label!r} does not join two of the columns {columns}"
            )
        check_label(step.label)
        span = abs(index[step.src] - index[step.dst])
        # body = <spacing*span - 1> chars: head + >= 2 dashes, space, label, space, >= 2 dashes
        spacing = max(spacing, math.ceil((len(step.label) + 8) / span))
    spacing = max(spacing, max(len(name) for name in columns) + 3)
    positions = [k * spacing for k in range(len(columns))]
    pipes = _pipe_row(positions)
    out = [_header(columns, positions), "", pipes]
    if elided_prefix:
        out.append("=" * (positions[-1] + 1))
    for step in steps:
        a, b = sorted((index[step.src], index[step.dst]))
        width = positions[b] - positions[a] - 1
        free = width - len(step.label) - 3
        left_dashes = free // 2
        if index[step.src] < index[step.dst]:
            body = "-" * left_dashes + " " + step.label + " " + "-" * (free - left_dashes) + ">"
        else:
            body = "<" + "-" * left_dashes + " " + step.label + " " + "-" * (free - left_dashes)
        out.append(pipes[: positions[a] + 1] + body + pipes[positions[b] :])
    return "\n".join(out) + "\n"


def _pipe_row(positions: list[int]) -> str:
    row = [" "] * (positions[-1] + 1)
    for pos in positions:
        row[pos] = "|"
    return "".join(row)


def _header(columns: list[str], positions: list[int]) -> str:
    text = ""
    for name, pos in zip(columns, positions, strict=True):
        start = max(pos - len(name) // 2, len(text) + 2 if text else 0)
        text = text.ljust(start) + name
    return text
