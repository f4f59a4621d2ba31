"""Readable one-paragraph summaries of calls and registrations, for the CLI and for test failure messages."""

from __future__ import annotations

from sipcore.transport_address import bracketed

from .register import RegistrationResult
from .uac import CallResult
from .uas import IncomingCall

__all__ = ["call_lines", "incoming_lines", "registration_line"]


def _status(status: int | None, reason: str | None) -> str:
    return "no final response" if status is None else f"{status} {reason or ''}".rstrip()


def call_lines(result: CallResult, expected: int | str | None = None) -> list[str]:
    """The outcome of an outgoing call: final status, setup time, who hung up, RTP counts."""
    final = _status(result.status, result.reason)
    if result.timed_out and not result.answered:
        final = f"TIMEOUT ({final})"
    lines = [f"Call {result.call_id} to {result.request_uri} via {bracketed(result.target[0])}:{result.target[1]}",
             f"  final status: {final}" + (f" (expected {expected})" if expected is not None else "")]
    if result.reason_header:
        lines.append(f"  Reason: {result.reason_header}")
    for (host, port), why in result.failed_targets:
        lines.append(f"  target {bracketed(host)}:{port} failed ({why}); the next was tried (RFC 3263 §4.3)")
    if result.provisional:
        lines.append("  provisional: " + ", ".join(str(s) for s in result.provisional))
    if result.challenges:
        lines.append(f"  challenged: {', '.join(str(s) for s in result.challenges)}; "
                     f"{result.auth_retries} authenticated retr{'y' if result.auth_retries == 1 else 'ies'}")
    if result.cancelled:
        lines.append(f"  CANCEL sent, answered {result.cancel_status or 'nothing'}")
    if result.answered:
        setup = f"{result.setup_ms:.0f} ms" if result.setup_ms is not None else "?"
        bye = f", BYE answered {result.bye_status}" if result.bye_status is not None else ""
        lines.append(f"  answered after {setup}; ended by {result.ended_by or 'nobody'}{bye}")
    lines.append(f"  RTP: sent {result.rtp_sent}, received {result.rtp_received} "
                 f"({result.early_media_packets} before the answer)")
    if result.error:
        lines.append(f"  error: {result.error}")
    return lines


def incoming_lines(call: IncomingCall) -> list[str]:
    """What the answering side saw of one call."""
    lines = [f"Incoming call {call.call_id} from {call.from_uri} to {call.request_uri} "
             f"({call.source[0]}:{call.source[1]})",
             "  sent: " + (", ".join(str(s) for s in call.responses_sent) or "nothing"),
             f"  final status: {call.final_status if call.final_status is not None else 'none'}; "
             f"ended by {call.ended_by or 'nobody (still running)'}"
             + (f", BYE answered {call.bye_status}" if call.bye_status is not None else ""),
             "  requests seen: " + ", ".join(r.split(" ", 1)[0] for r in call.requests)]
    if call.cancelled:
        lines.append("  CANCEL received")
    lines.append(f"  RTP: sent {call.rtp_sent}, received {call.rtp_received}")
    if call.error:
        lines.append(f"  error: {call.error}")
    return lines


def registration_line(result: RegistrationResult, *, unregister: bool = False) -> str:
    what = "Unregister" if unregister else ("Refresh" if result.refresh else "Register")
    status = _status(result.status, result.reason)
    challenged = f", challenged {', '.join(str(s) for s in result.challenges)}" if result.challenges else ""
    expires = f", expires {result.expires} s" if result.expires is not None and not unregister else ""
    error = f" ({result.error})" if result.error else ""
    failed = "".join(f"; {bracketed(host)}:{port} failed ({why}), the next was tried (RFC 3263 §4.3)"
                     for (host, port), why in result.failed_targets)
    via = f" via {bracketed(result.target[0])}:{result.target[1]}" if result.failed_targets and result.target else ""
    return f"{what}: {status}{challenged}{expires}{error}{via}{failed}"
