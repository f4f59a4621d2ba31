"""Then steps comparing the captured flow with a ladder: the spec's own (a doc string) or a table."""

from __future__ import annotations

from typing import Any

from behave import then

from harness.ladder.expected import ladder_from_docstring, ladder_from_table


@then("the capture follows the ladder:")
def step_follows_spec_ladder(context: Any) -> None:
    context.world.expect_flow(ladder_from_docstring(context.text), "the spec's ladder")


@then("the capture shows:")
def step_shows_table(context: Any) -> None:
    context.world.expect_flow(ladder_from_table(list(context.table)), "expected flow")


@then("the capture shows, earlier messages elided:")
def step_shows_table_elided(context: Any) -> None:
    context.world.expect_flow(ladder_from_table(list(context.table), elided=True), "expected flow (earlier messages elided)")
