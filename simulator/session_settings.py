"""Settings of the simulator's session timers (RFC 4028) and reliable provisional responses (RFC 3262),
re-exported by :mod:`simulator.settings`."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SettingsError

__all__ = ["RELIABLE_MODES", "SessionTimer", "SettingsError", "check_reliable"]

RELIABLE_MODES = ("off", "on", "require")
"""The destination's reliable provisional responses (RFC 3262): none; 180/183 sent reliably when the
INVITE supports 100rel; and, with "require", 421 Extension Required when it does not."""


@dataclass(frozen=True)
class SessionTimer:
    """How one side runs session timers (RFC 4028; :mod:`simulator.session_timer`): the interval it asks
    for (None: none), the refresher it names (in a request; an answerer's choice when the request names
    none), how it refreshes (UPDATE or INVITE), whether it does (False: a refresher that never refreshes),
    and whether it supports session timers at all."""

    interval: int | None = None
    refresher: str | None = "uac"
    method: str = "UPDATE"
    refresh: bool = True
    supported: bool = True

    def __post_init__(self) -> None:
        if self.interval is not None and (not isinstance(self.interval, int) or isinstance(self.interval, bool)
                                          or not 1 <= self.interval <= 2**32 - 1):
            raise SettingsError(f"session_timer.interval: {self.interval!r} is not a number of seconds >= 1")
        if self.refresher not in (None, "uac", "uas"):
            raise SettingsError(f"session_timer.refresher: {self.refresher!r} is not uac, uas or None")
        if self.method not in ("UPDATE", "INVITE"):
            raise SettingsError(f"session_timer.method: {self.method!r} is not UPDATE or INVITE")


def check_reliable(mode: str) -> None:
    """SettingsError unless ``mode`` is one of RELIABLE_MODES."""
    if mode not in RELIABLE_MODES:
        raise SettingsError(f"reliable: {mode!r} is not one of {', '.join(RELIABLE_MODES)}")
