"""The errors of the SIP core.

h11-style: one error for malformed input from the wire (:class:`SIPParseError`), carrying the status
code a server should answer with, and one for local misuse of a state machine (:class:`ProtocolError`).
"""

from __future__ import annotations


class SIPError(Exception):
    """Base of every error raised by :mod:`sipcore`."""


class SIPParseError(SIPError, ValueError):
    """Malformed SIP (or SDP, RTP) input.

    ``status_hint`` is the response a server should send for a malformed request (400, 416, 420, 505 ...).
    ``drop`` is True where the RFCs say the message must be silently discarded instead (a malformed
    response, or a request so broken no response can be addressed). ``header`` names the offending header
    when there is one.
    """

    def __init__(self, message: str, status_hint: int = 400, *, header: str | None = None,
                 drop: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status_hint = status_hint
        self.header = header
        self.drop = drop

    def __str__(self) -> str:
        where = f" (header {self.header})" if self.header else ""
        return f"{self.message}{where}"


class ProtocolError(SIPError):
    """A state machine was asked to do something its current state does not allow."""
