"""What the workers of a multi-worker server share: registrar bindings and the failed-authentication lockout.

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

The messages are pickled: they only travel between the server's own processes over a socketpair.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

from sipcore.message import Request
from sipcore.uri import SipURI, unescape

from .auth_policy import FailureLimiter
from .registrar import Binding, RegisterResult, Registrar

__all__ = ["BINDINGS", "FAILURE", "SUCCESS", "Publish", "SharedFailureLimiter", "SharedRegistrar", "apply_update"]

BINDINGS, FAILURE, SUCCESS = b"R", b"F", b"S"
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


def apply_update(kind: bytes, payload: bytes, registrar: Registrar, limiter: SharedFailureLimiter) -> bool:
    """Apply another worker's update; False for a kind this is not."""
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
