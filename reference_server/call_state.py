"""What a call is doing (:class:`CallState`): the call's own module and its helpers (session timer,
reliable provisionals) read it."""

from __future__ import annotations

import enum

__all__ = ["CallState"]


class CallState(enum.Enum):
    SETUP = "setup"  # authenticated, 100 Trying sent; the media relay is being opened
    CALLING = "calling"  # B leg(s) sent; the caller has at most provisional responses
    ANSWERED = "answered"  # a 2xx was relayed to the caller; waiting for its ACK
    CONFIRMED = "confirmed"  # both legs confirmed
    CLEARING = "clearing"  # a BYE is being relayed
    FAILED = "failed"  # the caller got a final error (or cancelled); B legs are finishing
    ENDED = "ended"  # resources released
