"""Steps of the caller-identity scenarios (features/caller_identity.feature): the trunk's identity policy
(the embedded reference server's; equipment under test has its own), calls from a given number with given
header fields, and the identity headers of the INVITE that reached the destination."""

from __future__ import annotations

import dataclasses

from behave import given, then, when
from behave.runner import Context

from harness.suite import beyond_checks
from reference_server.identity import IdentityPolicy
from steps.parameter_types import use_parameter_types
from steps.world import world

use_parameter_types()


@given("the trunk asserts the caller's identity and writes numbers in E.164, country code {cc:d}")
def step_trunk_asserts(context: Context, cc: int) -> None:
    world(context).trunk.identity = IdentityPolicy(pai="assert", number_format="e164", country_code=str(cc))


@given("the trunk relays the asserted identity its customer's equipment sends")
def step_trunk_relays(context: Context) -> None:
    trunk = world(context).trunk
    trunk.identity = dataclasses.replace(trunk.identity, pai="relay")


@given("the trunk sends no asserted identity")
def step_trunk_strips(context: Context) -> None:
    trunk = world(context).trunk
    trunk.identity = dataclasses.replace(trunk.identity, pai="strip")


@given("the trunk's destination is outside its trust domain")
def step_destination_untrusted(context: Context) -> None:
    trunk = world(context).trunk
    trunk.identity = dataclasses.replace(trunk.identity, destination_trusted=False)


@when('the UA calls "{to:Text}" from "{caller:Text}" and hangs up after {ms:d} ms')
def step_call_from(context: Context, to: str, caller: str, ms: int) -> None:
    """The UA's From is sip:{caller}@{trunk domain}; a table (header | value) adds header fields."""
    w = world(context)
    headers = [(row["header"], row["value"]) for row in context.table] if context.table else []
    w.call("UA", to, hold_ms=ms, headers=headers, settings={"from_uri": f"sip:{caller}@{w.trunk.host}"})


@then('the INVITE reaching the destination carries "{header:Text}" with user "{user:Text}"')
def step_invite_header_user(context: Context, header: str, user: str) -> None:
    beyond_checks.check_destination_invite(world(context).observation(), header, user=user)


@then('the INVITE reaching the destination carries "{header:Text}" containing "{text:Text}"')
def step_invite_header_contains(context: Context, header: str, text: str) -> None:
    beyond_checks.check_destination_invite(world(context).observation(), header, contains=text)


@then('the INVITE reaching the destination carries no "{header:Text}"')
def step_invite_header_absent(context: Context, header: str) -> None:
    beyond_checks.check_destination_invite(world(context).observation(), header, absent=True)
