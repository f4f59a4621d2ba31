"""UA-only runs: a trunk whose destination trunkcheck cannot play (a remote trunk, ``destination =
"remote"`` in its equipment file) sends its calls to its own far end. The harness plays the UA only; the
scenarios run on the UA leg of their ladders (the UA and VoIPBin columns), calling the file's test numbers.

Which scenarios apply is decided before any traffic from the steps themselves (:func:`plan`), through marks
the step definitions carry:

- :func:`far_end` on a Given step saying what the destination does ("the destination rejects the call with
  404"): the scenario calls the file's test number whose far end does that, or, with none, does not apply;
- :func:`destination_side` on a Then step asserting what reached the harness's destination ("the
  destination receives no INVITE"): the scenario does not apply;
- :func:`destination_side_note` on a Then step that only adds a destination-side detail to a scenario
  whose main assertion is on the UA leg: in ua-only runs it is not checked, and the scenario's record
  says so.

    ok, why, number = plan(scenario.all_steps, equipment, registry.find_match)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.equipment import Equipment
from harness.equipment.numbers import REMOTE, TestNumber
from harness.ladder import Ladder, render_ladder

__all__ = ["UA_LEG", "FarEnd", "destination_side", "destination_side_note", "far_end", "plan", "ua_leg"]

F = TypeVar("F", bound=Callable[..., Any])
FAR_END = "trunkcheck_far_end"
DESTINATION_SIDE = "trunkcheck_destination_side"
UA_LEG = ("UA", "VoIPBin")
"""The columns a ua-only run sees: the trunk's leg to its far end is not in the capture."""
WHY = f'the destination is the trunk\'s own (ua-only: destination = "{REMOTE}")'


@dataclass(frozen=True)
class FarEnd:
    """What a scenario's destination does, as a test number's behaviour (harness.equipment.numbers)."""

    behaviour: str
    status: int | None = None

    def describe(self) -> str:
        """``rejects with 486``, ``early media then answers``."""
        return self.behaviour.replace("-", " ") + (f" with {self.status}" if self.status else "")


FarEndOf = Callable[..., "FarEnd | str"]
"""A Given step's arguments -> what the far end does, or why no test number can play it."""


def far_end(spec: FarEnd | str | FarEndOf) -> Callable[[F], F]:
    """Mark a Given step with what the destination does: a :class:`FarEnd`, a function of the step's
    arguments giving one, or a text saying why no test number can do it."""
    def mark(func: F) -> F:
        setattr(func, FAR_END, spec)
        return func
    return mark


def destination_side(what: str) -> Callable[[F], F]:
    """Mark a Then step that asserts ``what`` reached the harness's destination: not applicable ua-only."""
    def mark(func: F) -> F:
        setattr(func, DESTINATION_SIDE, what)
        return func
    return mark


def destination_side_note(what: str) -> Callable[[F], F]:
    """A Then step checking a destination-side detail of a scenario whose main assertion is on the UA leg:
    in a ua-only run it is not checked, and the scenario's record notes that."""
    def wrap(func: F) -> F:
        @functools.wraps(func)
        def step(context: Any, *args: Any, **kwargs: Any) -> Any:
            world = getattr(context, "world", None)
            if world is not None and getattr(world, "ua_only", False):
                world.record.notes.append(f"not checked: {what}; {WHY}")
                return None
            return func(context, *args, **kwargs)
        return step  # type: ignore[return-value]  # same signature as func
    return wrap


def _far_end_of(func: Any, arguments: dict[str, Any]) -> FarEnd | str | None:
    spec = getattr(func, FAR_END, None)
    if spec is None or isinstance(spec, FarEnd | str):
        return spec
    result: FarEnd | str = spec(**arguments)
    return result


def plan(steps: Iterable[Any], equipment: Equipment, find_match: Callable[[Any], Any]) -> \
        tuple[bool, str, TestNumber | None]:
    """Whether a scenario with these behave steps runs ua-only against ``equipment``, why, and the test
    number its UA calls (None when it places no call to the destination). ``find_match`` is behave's step
    registry lookup (a match with ``func`` and ``arguments``, or None for an undefined step)."""
    assert equipment.trunk is not None
    numbers = equipment.trunk.numbers
    wanted: list[FarEnd] = []
    for step in steps:
        match = find_match(step)
        if match is None:
            continue  # undefined: behave fails the scenario with its own message
        what = getattr(match.func, DESTINATION_SIDE, None)
        if what is not None:
            return False, (f'not applicable: "{step.keyword} {step.name}" checks {what}, and {WHY}'), None
        arguments = {a.name: a.value for a in match.arguments if a.name}
        far = _far_end_of(match.func, arguments)
        if isinstance(far, str):
            return False, f"not applicable: {far}; {WHY}", None
        if far is not None:
            wanted.append(far)
    if not wanted:
        answers = next((n for n in numbers if n.does("answers")), None)
        return True, f"ua-only: the UA leg; calls to the destination go to {answers.describe()}" if answers else \
            "ua-only: the UA leg", answers
    chosen: TestNumber | None = None
    for far in wanted:
        found = next((n for n in numbers if n.does(far.behaviour, far.status)), None)
        if found is None:
            status = f", status = {far.status}" if far.status else ""
            return False, (f"not applicable: the scenario needs a far end that {far.describe()}: no test number "
                           f'of {equipment.source} does (add one: behaviour = "{far.behaviour}"{status})'), None
        chosen = chosen or found
    assert chosen is not None
    return True, f"ua-only: the UA leg, calling {chosen.describe()}", chosen


def ua_leg(ladder: Ladder) -> Ladder:
    """``ladder`` on the UA leg only (the UA and VoIPBin columns), drawn again in the spec's format; each
    step keeps its line number in the original (the spec's line, in divergence messages)."""
    steps = [s for s in ladder.steps if s.src in UA_LEG and s.dst in UA_LEG]
    text = render_ladder(list(UA_LEG), steps, elided_prefix=ladder.elided_prefix) if steps else ""
    return Ladder(list(UA_LEG), steps, ladder.elided_prefix, text)
