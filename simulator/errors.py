"""The simulator's settings error, shared by the modules that check settings."""

from __future__ import annotations

__all__ = ["SettingsError"]


class SettingsError(ValueError):
    """A setting the simulator cannot use; the message says which, what it was and what is expected."""
