"""Then steps checking single facts of the decoded capture (harness.suite.checks)."""

from __future__ import annotations

from typing import Any

import parse
from behave import register_type, then

from harness.suite import checks


@parse.with_pattern(r"trunk's|registrar's")
def parse_realm(text: str) -> str:
    return text.removesuffix("'s")


register_type(Realm=parse_realm)


@then('every {status:d} challenge is in realm "{realm}" and offers qop "{qop}"')
def step_challenge(context: Any, status: int, realm: str, qop: str) -> None:
    checks.check_challenge(context.world.observation(), status=status, realm=realm, qop=qop)


@then('every {status:d} challenge is in the realm of the {which:Realm} domain and offers qop "{qop}"')
def step_challenge_domain(context: Any, status: int, which: str, qop: str) -> None:
    """The realm is the domain (the spec's rule): the trunk's or the registrar's, as the scenario's trunk
    account (or the equipment file) gives it."""
    trunk = context.world.trunk
    realm = trunk.host if which == "trunk" else trunk.registrar_domain
    checks.check_challenge(context.world.observation(), status=status, realm=realm, qop=qop)


@then("the ACK for the 407 does not reach the destination")
def step_ack_stays(context: Any) -> None:
    checks.check_ack_to_challenge_stays(context.world.observation())


@then("the destination receives no INVITE")
def step_no_invite(context: Any) -> None:
    checks.check_no_request(context.world.observation(), method="INVITE", dst="Destination")


@then("no INVITE reaches the UA")
def step_no_invite_to_ua(context: Any) -> None:
    checks.check_no_request(context.world.observation(), method="INVITE", dst="UA")


@then("nothing reaches the destination")
def step_nothing_reaches(context: Any) -> None:
    checks.check_nothing_reaches(context.world.observation(), "Destination")


@then("both calls get identical answers apart from the nonce")
def step_identical(context: Any) -> None:
    checks.check_identical_challenges(context.world.observation(), calls=2)


@then('the INVITE with Authorization answers the {algorithm} challenge')
def step_algorithm(context: Any, algorithm: str) -> None:
    checks.check_algorithm(context.world.observation(), algorithm=algorithm)


@then("the trunk challenges the expired nonce with stale=TRUE")
def step_stale(context: Any) -> None:
    checks.check_stale_challenge(context.world.observation())


@then("the call is answered")
def step_answered(context: Any) -> None:
    checks.check_answered(context.world.observation())


@then("the {role:Role} receives {status:d}")
def step_final_status(context: Any, role: str, status: int) -> None:
    checks.check_final_status(context.world.observation(), status=status, dst=role)


@then("the UA receives {status:d} with a Q.850 Reason header carrying cause {cause:d}")
def step_final_status_cause(context: Any, status: int, cause: int) -> None:
    checks.check_final_status(context.world.observation(), status=status, cause=cause)


@then("the final response reaching the UA carries a Q.850 Reason header with cause {cause:d}")
def step_final_cause(context: Any, cause: int) -> None:
    checks.check_final_status(context.world.observation(), status=None, cause=cause)


@then("no {status:d} reaches the UA")
def step_no_status(context: Any, status: int) -> None:
    checks.check_no_response(context.world.observation(), status=status, dst="UA")


@then("the RTP reaching the UA comes from the address and port in the 183's SDP, with its payload type")
def step_early_media_source(context: Any) -> None:
    checks.check_early_media(context.world.observation(), before_answer=False)


@then("the RTP reaches the UA before the 200 OK")
def step_early_media_before_answer(context: Any) -> None:
    checks.check_early_media(context.world.observation(), before_answer=True)


@then('the destination receives the INVITE for "{user}"')
def step_invite_for(context: Any, user: str) -> None:
    checks.check_request_user(context.world.observation(), method="INVITE", dst="Destination", user=user)


@then("the {status:d} carries Min-Expires {seconds:d}")
def step_min_expires(context: Any, status: int, seconds: int) -> None:
    checks.check_register_answer(context.world.observation(), status=status, header="Min-Expires",
                                 value=str(seconds))


@then("the de-registration is accepted with no binding left")
def step_deregistered(context: Any) -> None:
    checks.check_register_answer(context.world.observation(), status=200, no_contact=True)
