"""Then steps comparing the captured flow with a ladder: the spec's own (a doc string) or a table."""

from __future__ import annotations

from behave import then
from behave.runner import Context

from harness.ladder.expected import (
    ExpectationError,
    ladder_from_docstring,
    ladder_from_drawing,
    ladder_from_table,
)
from steps.world import world


def doc_string(context: Context) -> str:
    """The step's doc string (the ladder between ``\"\"\"`` lines); ExpectationError when it has none."""
    if context.text is None:
        raise ExpectationError("this step needs the spec's ladder as a doc string, between two \"\"\" lines")
    return context.text


def table_rows(context: Context) -> list[dict[str, str]]:
    """The step's table, one {heading: cell} per row; ExpectationError when it has none."""
    if context.table is None:
        raise ExpectationError("this step needs a table with the columns | from | to | message |")
    return [dict(row.as_dict()) for row in context.table]


@then("the capture follows the ladder:")
def step_follows_spec_ladder(context: Context) -> None:
    world(context).expect_flow(ladder_from_docstring(doc_string(context)), "the spec's ladder")


@then("the capture follows this ladder, which the spec does not draw:")
def step_follows_drawn_ladder(context: Context) -> None:
    world(context).expect_flow(ladder_from_drawing(doc_string(context)), "the scenario's ladder")


@then("the capture shows:")
def step_shows_table(context: Context) -> None:
    world(context).expect_flow(ladder_from_table(table_rows(context)), "expected flow")


@then("the capture shows, earlier messages elided:")
def step_shows_table_elided(context: Context) -> None:
    world(context).expect_flow(ladder_from_table(table_rows(context), elided=True),
                               "expected flow (earlier messages elided)")

