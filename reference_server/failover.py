"""Failover across a trunk's destinations (``destination = ["sip:gw1", "sip:gw2"]``).

A trunk with several destinations sends each call to the first one available and moves on, in order, when
the INVITE there fails in a way that says "this server, not this call":

- a 503 (RFC 3261 §21.5.4), the transport error the endpoint reports as one (§8.1.3.1: ICMP unreachable,
  a refused connection), or a 408 (the destination itself gave up);
- no response at all: Timer B (64*T1, 32 s), or sooner when the trunk sets ``destination_timeout``: that many
  seconds without even a 100 Trying give the INVITE up as if Timer B had fired (a provisional response
  means the destination is there: from then on only Timer C bounds the ringing).

Any other final response (404, 486, 603 ...) is the call's answer, not the server's health: it is relayed to
the caller and ends the call, as a proxy's response context would once every branch has answered (RFC 3261
§16.7; a B2BUA trying the next gateway on a 486 would ring a busy callee twice). The next destination gets
a new INVITE of its own (its Request-URI, a new Call-ID, From tag and branch, the same offer): the trunk is
a B2BUA, and that attempt is a new call towards another gateway. A destination named by host name first
tries its own RFC 3263 addresses (:meth:`reference_server.legs.BLeg.fail_over`), then the next destination.

A 503 with Retry-After (seconds, RFC 3261 §20.33) marks that destination down for that long (at most
``MAX_HOLD``): calls skip it meanwhile, and a trunk whose every destination is down answers 503 at once
with the shortest Retry-After left. When every destination has failed, the caller gets 503 Service
Unavailable: the trunk has no destination left, whatever the last one said (its own 408 or 503 included).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

from sipcore.aio.clock import Clock
from sipcore.message import Request, Response, make_response
from sipcore.transaction import Event, TransactionTimeout

from .call_context import CallContext
from .destination_health import MAX_HOLD, DestinationHealth, retry_after
from .legs import BLeg, Target, best_failure
from .sip_util import host_port

log = logging.getLogger("reference_server.call")

__all__ = ["FAILOVER_STATUSES", "MAX_HOLD", "DestinationHealth", "chain", "final_failure", "next_destination",
           "retry_after", "retry_leg", "arm_no_response"]

FAILOVER_STATUSES = frozenset({408, 503})
def chain(targets: Sequence[Target]) -> Target:
    """The first target, carrying the others (in order) as its fallback."""
    first, rest = targets[0], tuple(targets[1:])
    if not rest and not first.fallback:  # one destination, the usual trunk: nothing to carry
        return first
    return dataclasses.replace(first, fallback=rest)


def next_destination(leg: BLeg, response: Response, health: DestinationHealth, now: float,
                     build: Callable[[Target], BLeg]) -> BLeg | None:
    """The failed ``leg``'s next destination (skipping those down): its new leg, built but not sent, and
    ``leg`` superseded by it; None when no destination is left or the leg is over or being cancelled."""
    if leg.result is not None or leg.cancel_wanted or leg.cancel_sent:
        return None
    rest = list(leg.target.fallback)
    while rest and health.down_for(rest[0].addr, now):
        log.info("skipping the destination %s:%d: down (Retry-After) for %.0f s more", *rest[0].addr,
                 health.down_for(rest[0].addr, now))
        rest.pop(0)
    if not rest:
        return None
    leg.result, leg.superseded = response, True
    leg.stop_timers()
    return build(chain(rest))


def final_failure(legs: Sequence[BLeg]) -> Response:
    """The caller's final error once every leg has failed (:func:`reference_server.legs.best_failure`),
    except that a trunk whose last destination gave no response or a 408 answers 503: no destination is
    left (the module docstring)."""
    best = best_failure(list(legs))
    leg = next((leg for leg in legs if leg.result is best), None)
    if best.status == 408 and leg is not None and leg.target.failover:
        return make_response(leg.invite, 503, "Service Unavailable")
    return best


def retry_leg(ctx: CallContext, a_invite: Request, leg: BLeg, response: Response, why: str | None) -> BLeg | None:
    """The leg to send after ``leg`` failed with ``response`` (a 503 or 408; ``why``: no response at all),
    ``leg`` superseded by it: the same INVITE to the next address of its target (RFC 3263 §4.3, RFC 3261
    §21.5.4: not on a 408 received; :meth:`BLeg.fail_over`), else a new INVITE to the trunk's next
    destination (:func:`next_destination`). A 503's Retry-After marks the destination down first. None when
    nothing is left to try."""
    if leg.result is not None:
        return None
    now = ctx.clock.time()
    held = ctx.health.note(leg.addr, response, now)
    new = leg.fail_over(response, ctx.ids) if why is not None or response.status == 503 else None
    rule = "RFC 3263 §4.3"
    if new is None:
        new = next_destination(leg, response, ctx.health, now, lambda target: BLeg.build(
            target, a_invite, ctx.ids, fallback_host=ctx.fallback_host, user_agent=ctx.user_agent,
            body=leg.invite.body, clock=ctx.leg_clock,
            extra_headers=[(n, v) for n in ("Session-Expires", "Min-SE") for v in leg.invite.headers.get_all(n)]))
        rule = "the trunk's next destination"
    if new is not None:
        log.info("call %s: %s from the destination at %s%s; trying %s (%s)", a_invite.call_id,
                 why or f"{response.status} {response.reason}", host_port(*leg.addr),
                 "" if held is None else f" (down for {held:g} s: Retry-After)", host_port(*new.addr), rule)
    return new


def arm_no_response(leg: BLeg, clock: Clock, on_event: Callable[[BLeg, Event], None]) -> None:
    """The target's ``timeout`` (a trunk's ``destination_timeout``): that many seconds after the INVITE is
    sent without any response, the INVITE transaction is given up (nothing more is sent for it) and
    ``on_event`` gets a TransactionTimeout for it, as when Timer B fires. Nothing without a timeout."""
    timeout = leg.target.timeout
    if timeout is None:
        return

    def fire() -> None:
        leg.no_response = None
        if leg.provisional or leg.result is not None or leg.transaction is None:
            return
        leg.endpoint.abandon(leg.transaction)
        on_event(leg, TransactionTimeout(leg.transaction, f"B, shortened to {timeout:g} s"))

    leg.no_response = clock.call_later(timeout, fire)
