"""Given steps about the trunk under test (they configure the embedded reference server; with equipment under
test its file gives the account, and the scenarios that reconfigure the trunk are not applicable)."""

from __future__ import annotations

from typing import Any

from behave import given


@given('the trunk "{domain}" accepts user "{user}" with password "{password}"')
def step_trunk_basic_auth(context: Any, domain: str, user: str, password: str) -> None:
    context.world.set_trunk_account(domain, user, password)


@given('the trunk offers the digest algorithm "{algorithm}"')
def step_trunk_algorithm(context: Any, algorithm: str) -> None:
    context.world.trunk.algorithms = (algorithm,)


@given("the trunk's nonces expire after {ms:d} ms")
def step_trunk_nonce_lifetime(context: Any, ms: int) -> None:
    context.world.trunk.nonce_lifetime = ms / 1000


@given("the trunk lets a destination ring for at most {ms:d} ms")
def step_trunk_timer_c(context: Any, ms: int) -> None:
    context.world.trunk.timer_c = ms / 1000


@given('the trunk "{domain}" authenticates by source address, allowing only the UA')
def step_trunk_ip_auth(context: Any, domain: str) -> None:
    trunk = context.world.trunk
    trunk.domain_name, trunk.auth_types, trunk.allowed_roles = domain, ("ip",), ("UA",)


@given('the trunk "{domain}" authenticates by source address or digest, allowing only the UA')
def step_trunk_ip_or_digest(context: Any, domain: str) -> None:
    trunk = context.world.trunk
    trunk.domain_name, trunk.auth_types, trunk.allowed_roles = domain, ("ip", "basic"), ("UA",)
