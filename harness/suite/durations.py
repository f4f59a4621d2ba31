"""How long the session-timer and long-call scenarios run: behave user data (``behave -D NAME=VALUE``,
``trunkcheck run -D NAME=VALUE``), short by default so that CI runs them in seconds.

``session_interval`` (seconds, default 4): the Session-Expires the UA asks for. RFC 4028 puts the floor at
90 s; trunkcheck's embedded trunk is configured below it for the suite (``allow_below_rfc_minimum``, a
test-only switch, ``min_se`` 2 s), so a refresh comes after 2 s. A trunk under test that keeps the RFC
floor answers 422 and the UA asks for its Min-SE: give it ``-D session_interval=90`` (a refresh then takes
45 s). ``long_call_seconds`` (default 6): how long the long call lasts (30 min in carrier test plans:
``-D long_call_seconds=1800``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DEFINES", "long_call_seconds", "parse_define", "session_interval"]

DEFINES = {
    "session_interval": ("the Session-Expires the session-timer and long-call scenarios ask for", 4.0, 2.0),
    "long_call_seconds": ("how long the long call is held", 6.0, 1.0),
}
"""name -> (what it sets, default, smallest value)."""


def _value(userdata: Mapping[str, Any], name: str) -> float:
    meaning, default, low = DEFINES[name]
    text = userdata.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"-D {name}={text!r}: give a number of seconds ({meaning})") from None
    if not low <= value <= 86400:
        raise ValueError(f"-D {name}={text!r}: give {low:g}..86400 seconds ({meaning})")
    return value


def session_interval(userdata: Mapping[str, Any]) -> int:
    return round(_value(userdata, "session_interval"))


def long_call_seconds(userdata: Mapping[str, Any]) -> float:
    return _value(userdata, "long_call_seconds")


def parse_define(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` of ``-D``, checked: a known name and a usable value; ValueError otherwise."""
    name, eq, value = text.partition("=")
    name = name.strip()
    if not eq or name not in DEFINES:
        raise ValueError(f"-D {text!r}: give NAME=VALUE, NAME one of {', '.join(DEFINES)}")
    _value({name: value.strip()}, name)
    return name, value.strip()
