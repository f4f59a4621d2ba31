"""Then steps checking single facts of the decoded capture (harness.suite.checks)."""

from __future__ import annotations

from behave import then
from behave.runner import Context

from harness.suite import checks
from harness.suite.ua_only import destination_side, destination_side_note
from steps.parameter_types import use_parameter_types
from steps.world import world

use_parameter_types()


@then('every {status:d} challenge is in realm "{realm}" and offers qop "{qop}"')
def step_challenge(context: Context, status: int, realm: str, qop: str) -> None:
    checks.check_challenge(world(context).observation(), status=status, realm=realm, qop=qop)


@then('every {status:d} challenge is in the realm of the {which:Realm} domain and offers qop "{qop}"')
def step_challenge_domain(context: Context, status: int, which: str, qop: str) -> None:
    """The realm is the domain (the spec's rule): the trunk's or the registrar's, as the scenario's trunk
    account (or the equipment file) gives it."""
    trunk = world(context).trunk
    realm = trunk.host if which == "trunk" else trunk.registrar_domain
    checks.check_challenge(world(context).observation(), status=status, realm=realm, qop=qop)


@then("the ACK for the 407 does not reach the destination")
@destination_side_note("the ACK for the 407 does not reach the destination")
def step_ack_stays(context: Context) -> None:
    checks.check_ack_to_challenge_stays(world(context).observation())


@then("the destination receives no INVITE")
@destination_side("that no INVITE reached the destination")
def step_no_invite(context: Context) -> None:
    checks.check_no_request(world(context).observation(), method="INVITE", dst="Destination")


@then("no INVITE reaches the UA")
def step_no_invite_to_ua(context: Context) -> None:
    checks.check_no_request(world(context).observation(), method="INVITE", dst="UA")


@then("nothing reaches the destination")
@destination_side("that nothing reached the destination")
def step_nothing_reaches(context: Context) -> None:
    checks.check_nothing_reaches(world(context).observation(), "Destination")


@then("both calls get identical answers apart from the nonce")
def step_identical(context: Context) -> None:
    checks.check_identical_challenges(world(context).observation(), calls=2)


@then('the INVITE with Authorization answers the {algorithm} challenge')
def step_algorithm(context: Context, algorithm: str) -> None:
    checks.check_algorithm(world(context).observation(), algorithm=algorithm)


@then("the trunk challenges the expired nonce with stale=TRUE")
def step_stale(context: Context) -> None:
    checks.check_stale_challenge(world(context).observation())


@then("the call is answered")
def step_answered(context: Context) -> None:
    checks.check_answered(world(context).observation())


@then("the {role:Role} receives {status:d}")
def step_final_status(context: Context, role: str, status: int) -> None:
    checks.check_final_status(world(context).observation(), status=status, dst=role)


@then("the UA receives {status:d} with a Q.850 Reason header carrying cause {cause:d}")
def step_final_status_cause(context: Context, status: int, cause: int) -> None:
    checks.check_final_status(world(context).observation(), status=status, cause=cause)


@then("the final response reaching the UA carries a Q.850 Reason header with cause {cause:d}")
def step_final_cause(context: Context, cause: int) -> None:
    checks.check_final_status(world(context).observation(), status=None, cause=cause)


@then("no {status:d} reaches the UA")
def step_no_status(context: Context, status: int) -> None:
    checks.check_no_response(world(context).observation(), status=status, dst="UA")


@then("the RTP reaching the UA comes from the address and port in the 183's SDP, with its payload type")
def step_early_media_source(context: Context) -> None:
    checks.check_early_media(world(context).observation(), before_answer=False)


@then("the RTP reaches the UA before the 200 OK")
def step_early_media_before_answer(context: Context) -> None:
    checks.check_early_media(world(context).observation(), before_answer=True)


@then('the destination receives the INVITE for "{user}"')
@destination_side("the INVITE that reached the destination")
def step_invite_for(context: Context, user: str) -> None:
    checks.check_request_user(world(context).observation(), method="INVITE", dst="Destination", user=user)


@then("the {status:d} carries Min-Expires {seconds:d}")
def step_min_expires(context: Context, status: int, seconds: int) -> None:
    checks.check_register_answer(world(context).observation(), status=status, header="Min-Expires",
                                 value=str(seconds))


@then("the de-registration is accepted with no binding left")
def step_deregistered(context: Context) -> None:
    checks.check_register_answer(world(context).observation(), status=200, no_contact=True)
