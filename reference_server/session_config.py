"""The ``[session_timer]`` table of the server configuration (RFC 4028 session timers).

``session_expires`` is the interval the server asks of the destination when the caller asks none;
``min_se`` the smallest interval it accepts: a caller asking less (and saying it supports ``timer``) gets
422 Session Interval Too Small with ``Min-SE``. RFC 4028 §4 forbids intervals under 90 seconds, so both
keys are refused below 90 unless ``allow_below_rfc_minimum`` is set: a test-only switch that lets a test
run a session refresh (and a session that expires) in seconds instead of minutes, down to 2 seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sipcore.session_timer import RFC_MIN_SE

from .tomlfile import KeyPath, TableReader

__all__ = ["SESSION_TIMER_KEYS", "TEST_MIN_SE", "SessionTimerConfig", "parse_session_timer"]

SESSION_TIMER_KEYS = ("session_expires", "min_se", "allow_below_rfc_minimum")
TEST_MIN_SE = 2
"""The smallest interval ``allow_below_rfc_minimum`` lets through (seconds)."""


@dataclass(frozen=True)
class SessionTimerConfig:
    """See the module docstring; the defaults are RFC 4028's recommendation (1800 s) and floor (90 s)."""

    session_expires: int = 1800
    min_se: int = RFC_MIN_SE
    allow_below_rfc_minimum: bool = False


def parse_session_timer(reader: TableReader, table: dict[str, Any]) -> SessionTimerConfig:
    """``[session_timer]`` (merged with the defaults) read and checked by ``reader``."""
    p: KeyPath = ("session_timer",)
    below = reader.get(table, p, "allow_below_rfc_minimum", bool, False)
    floor = TEST_MIN_SE if below else RFC_MIN_SE
    values = {}
    for key in ("session_expires", "min_se"):
        value = reader.get(table, p, key, int)
        if value < floor:
            hint = "" if below else " (RFC 4028 §4; allow_below_rfc_minimum = true lowers it, for tests only)"
            raise reader.error((*p, key), f"{value} is below the {floor} s minimum{hint}")
        values[key] = value
    if values["session_expires"] < values["min_se"]:
        raise reader.error((*p, "session_expires"), f"{values['session_expires']} is below min_se {values['min_se']}")
    return SessionTimerConfig(values["session_expires"], values["min_se"], below)
