"""The parameter types the step patterns use: ``{role:Role}``, ``{to:Text}``, ``{which:Realm}``,
``{direction:HoldDirection}``.

behave matches steps with parse, whose custom types are converters carrying, in a ``pattern`` attribute,
the regular expression their field matches (what ``parse.with_pattern`` sets on a function).
:class:`ParameterType` is such a converter as a typed value. A step module whose patterns use these types
calls :func:`use_parameter_types` before its first step, so the registration does not depend on the order
in which behave loads the step modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from behave import matchers

__all__ = ["HOLD_DIRECTION", "REALM", "ROLE", "SIDE", "TEXT", "ParameterType", "use_parameter_types"]


@dataclass(frozen=True)
class ParameterType:
    """A step parameter type: the text its field matches (``pattern``) and what that text becomes."""

    pattern: str
    convert: Callable[[str], str]

    def __call__(self, text: str) -> str:
        return self.convert(text)


def _role(text: str) -> str:
    return "Carrier" if text == "carrier" else text


ROLE = ParameterType(r"UA2|UA|carrier", _role)
"""A calling role as written in a step: UA, UA2 (a UA at another address) or carrier (-> "Carrier")."""
TEXT = ParameterType(r'[^"]+', str)
"""What stands between double quotes: a number, a SIP URI, a password."""
SIDE = ParameterType(r"UA|destination", lambda text: "Destination" if text == "destination" else text)
"""An end of the call as written in a step: UA or destination (-> "Destination")."""
REALM = ParameterType(r"trunk's|registrar's", lambda text: text.removesuffix("'s"))
"""Whose domain a challenge's realm is: the trunk's or the registrar's (-> "trunk", "registrar")."""
HOLD_DIRECTION = ParameterType(r"sendonly|inactive", str)
"""The SDP direction a hold re-INVITE offers (RFC 3264 §8.4)."""


def use_parameter_types() -> None:
    """Register Role, Text, Realm and HoldDirection with behave's step matcher (again is harmless)."""
    register: Callable[..., None] = matchers.register_type  # behave's matchers module has no type hints
    register(Role=ROLE, Text=TEXT, Realm=REALM, HoldDirection=HOLD_DIRECTION, Side=SIDE)
