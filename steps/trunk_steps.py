"""Given steps about the trunk under test (they configure the embedded reference server; with equipment under
test its file gives the account, and the scenarios that reconfigure the trunk are not applicable)."""

from __future__ import annotations

from behave import given
from behave.runner import Context

from steps.world import world


@given('the trunk "{domain}" accepts user "{user}" with password "{password}"')
def step_trunk_basic_auth(context: Context, domain: str, user: str, password: str) -> None:
    world(context).set_trunk_account(domain, user, password)


@given('the trunk offers the digest algorithm "{algorithm}"')
def step_trunk_algorithm(context: Context, algorithm: str) -> None:
    world(context).trunk.algorithms = (algorithm,)


@given("the trunk's nonces expire after {ms:d} ms")
def step_trunk_nonce_lifetime(context: Context, ms: int) -> None:
    world(context).trunk.nonce_lifetime = ms / 1000


@given("the trunk lets a destination ring for at most {ms:d} ms")
def step_trunk_timer_c(context: Context, ms: int) -> None:
    world(context).trunk.timer_c = ms / 1000


@given('the trunk "{domain}" authenticates by source address, allowing only the UA')
def step_trunk_ip_auth(context: Context, domain: str) -> None:
    trunk = world(context).trunk
    trunk.domain_name, trunk.auth_types, trunk.allowed_roles = domain, ("ip",), ("UA",)


@given('the trunk "{domain}" authenticates by source address or digest, allowing only the UA')
def step_trunk_ip_or_digest(context: Context, domain: str) -> None:
    trunk = world(context).trunk
    trunk.domain_name, trunk.auth_types, trunk.allowed_roles = domain, ("ip", "basic"), ("UA",)
