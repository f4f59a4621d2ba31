"""What the workers of a multi-worker server share: registrar bindings, the failed-authentication lockout and
the destinations a 503 with Retry-After took out of service.

Each worker keeps a full replica of both and tells the others, through the dispatcher, what changed:

* **Registrar**: the dispatcher sends every REGISTER that reaches a listen address to worker 0, so the
  changes to a binding are made in one process, in the order they arrived (the CSeq checks of RFC 3261
  §10.3 step 7 stay meaningful). After each REGISTER it accepts, a worker publishes the AOR's bindings as
  they now stand; the others replace theirs. The update is sent before the 200 OK, and the dispatcher
  reads its workers' updates before each batch of datagrams it dispatches, so a call placed after the 200
  finds the binding on whichever worker takes it. Each replica expires bindings on its own (the
  processes share the machine's monotonic clock).
* **Lockout** (:class:`~reference_server.auth_policy.FailureLimiter`): every failed authentication is
  counted where it happened and published with its time; the others count it too, so a source guessing
  passwords is blocked after ``max_failed_attempts`` failures in all, however its calls are spread. A
  success that clears a source's history is published only when there was one (every successful call
  would otherwise be a message). Two failures on two workers in the same instant may let one more guess
  through before the block: the bound is one per worker.

* **Destinations held down** (:class:`~reference_server.destination_health.DestinationHealth`): a
  destination's 503 with Retry-After, seen by one worker, keeps every worker's calls away from it until
  then (published as the address and the monotonic time it may be tried again).

* **Destinations' keep-alive state** (:mod:`reference_server.keepalive`): only the first worker pings a
  trunk's destinations with OPTIONS (so a destination sees one ping per interval, not one per worker); each
  time one goes down or up again, the others learn it and route accordingly.

The messages are pickled: they only travel between the server's own processes over a socketpair.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

from sipcore.message import Request
from sipcore.uri import SipURI, unescape

from .auth_policy import FailureLimiter
from .destination_health import DestinationHealth
from .registrar import Binding, RegisterResult, Registrar
from .trunk_calls import TrunkDestinations

__all__ = ["BINDINGS", "FAILURE", "HELD", "KEEPALIVE", "SUCCESS", "Publish", "SharedFailureLimiter", "SharedRegistrar", "apply_update"]

BINDINGS, FAILURE, SUCCESS, HELD, KEEPALIVE = b"R", b"F", b"S", b"T", b"K"  # b"D", b"H": worker.py
Publish = Callable[[bytes, bytes], None]  # (kind, payload)


class SharedRegistrar(Registrar):
    """A registrar replica that publishes the bindings of each AOR a REGISTER changed."""

    publish: Publish | None = None

    def handle_register(self, request: Request, now: float, source_addr: tuple[str, int], transport: str,
                        *, date: float | None = None) -> RegisterResult:
        result = super().handle_register(request, now, source_addr, transport, date=date)
        if result.status == 200 and self.publish is not None:
            aor = _aor(request, result.bindings)
            if aor is not None:
                self.publish(BINDINGS, pickle.dumps((aor, result.bindings)))
        return result


def _aor(request: Request, bindings: tuple[Binding, ...]) -> str | None:
    if bindings:
        return bindings[0].aor
    uri = request.to.uri
    return unescape(uri.user) if isinstance(uri, SipURI) and uri.user else None


class SharedFailureLimiter(FailureLimiter):
    """A lockout replica: publishes its own failures (and the successes that clear a history)."""

    publish: Publish | None = None

    def record_failure(self, source_ip: str, now: float) -> bool:
        if self.publish is not None:
            self.publish(FAILURE, pickle.dumps((source_ip, now)))
        return super().record_failure(source_ip, now)

    def record_success(self, source_ip: str) -> None:
        if self.publish is not None and self.has_failures(source_ip):
            self.publish(SUCCESS, pickle.dumps(source_ip))
        super().record_success(source_ip)

    def apply_failure(self, source_ip: str, now: float) -> None:
        super().record_failure(source_ip, now)

    def apply_success(self, source_ip: str) -> None:
        super().record_success(source_ip)


def share_health(health: DestinationHealth, publish: Publish) -> None:
    """Have ``health`` publish each destination it holds down."""
    health.publish = lambda addr, until: publish(HELD, pickle.dumps((addr, until)))


def share_keepalive(destinations: TrunkDestinations, publish: Publish, *, pinging: bool) -> None:
    """Only the ``pinging`` worker pings; it publishes each destination that goes down or up again."""
    destinations.pinging = pinging
    destinations.publish_state = lambda trunk, uri, up: publish(KEEPALIVE, pickle.dumps((trunk, uri, up)))


def apply_update(kind: bytes, payload: bytes, registrar: Registrar, limiter: SharedFailureLimiter,
                 health: DestinationHealth | None = None, destinations: TrunkDestinations | None = None) -> bool:
    """Apply another worker's update; False for a kind this is not."""
    if kind == KEEPALIVE:
        if destinations is not None:
            trunk, uri, up = pickle.loads(payload)  # noqa: S301 -- from this server's own processes
            destinations.states[(trunk, uri)] = up
        return True
    if kind == HELD:
        if health is not None:
            addr, until = pickle.loads(payload)  # noqa: S301 -- from this server's own processes
            health.hold_until(addr, until)
        return True
    if kind == BINDINGS:
        aor, bindings = pickle.loads(payload)  # noqa: S301 -- from this server's own processes
        registrar.replace(aor, bindings)
    elif kind == FAILURE:
        source_ip, now = pickle.loads(payload)  # noqa: S301
        limiter.apply_failure(source_ip, now)
    elif kind == SUCCESS:
        limiter.apply_success(pickle.loads(payload))  # noqa: S301
    else:
        return False
    return True
