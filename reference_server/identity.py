"""Caller identity on a trunk's outgoing leg: P-Asserted-Identity (RFC 3325), Privacy (RFC 3323) and
numbers in E.164, as the trunk's configuration (:class:`IdentityPolicy`) says.

- ``pai = "assert"``: the trunk asserts the authenticated caller: a P-Asserted-Identity built from the
  caller's From user (its number, normalised when the trunk writes E.164), whatever P-Asserted-Identity or
  P-Preferred-Identity the caller sent (a customer cannot assert someone else's number);
  ``"relay"``: the trunk trusts the equipment it authenticated: its P-Asserted-Identity is relayed as sent,
  a P-Preferred-Identity becomes the P-Asserted-Identity (RFC 3325 §9.2); ``"strip"``: none is sent.
- ``destination_trusted``: whether the destination is inside the trust domain (RFC 3325 Spec(T)). Toward an
  untrusted one no P-Asserted-Identity and no Privacy header leave the trunk (the boundary is here).
- Privacy: a caller asking for privacy (``Privacy: id``, ``header`` or ``user``; not ``none``) gets the
  anonymous From of RFC 3323 §4.1.1.3 (``"Anonymous" <sip:anonymous@anonymous.invalid>``) on the outgoing
  leg; the real identity travels only in the P-Asserted-Identity toward a trusted destination, with the
  caller's Privacy header so the next hop keeps it private.
- ``number_format = "e164"``: the From user and the Request-URI/To user, when they are telephone numbers,
  are written in E.164 ``+`` form with ``;user=phone`` (RFC 3261 §19.1.6): visual separators dropped, the
  international prefix (``00``) replaced by ``+``, the national prefix (``0``) by ``+`` and the country
  code, a number with neither given the country code. ``"as-is"`` leaves them as the caller wrote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sipcore.message import Request

__all__ = ["ANONYMOUS_DISPLAY", "ANONYMOUS_URI", "NUMBER_FORMATS", "PAI_POLICIES", "IdentityPolicy",
           "OutgoingIdentity", "normalise_number", "outgoing_identity", "privacy_requested"]

PAI_POLICIES = ("assert", "relay", "strip")
NUMBER_FORMATS = ("as-is", "e164")
ANONYMOUS_URI = "sip:anonymous@anonymous.invalid"
ANONYMOUS_DISPLAY = "Anonymous"
_PRIVACY_VALUES = frozenset({"id", "header", "user"})
_NUMBER = re.compile(r"\+?[0-9().\-]+\Z")
_SEPARATORS = re.compile(r"[().\-]")


@dataclass(frozen=True)
class IdentityPolicy:
    """A trunk's caller-identity settings (``[[trunk]]`` keys of the same names)."""

    pai: str = "strip"
    destination_trusted: bool = True
    number_format: str = "as-is"
    country_code: str | None = None
    national_prefix: str = "0"
    international_prefix: str = "00"

    @property
    def e164(self) -> bool:
        return self.number_format == "e164"


@dataclass(frozen=True)
class OutgoingIdentity:
    """What the outgoing INVITE carries: its From, the callee's user part, the parameters its Request-URI
    and To take (``;user=phone``) and the identity headers to add."""

    from_uri: str
    from_display: str | None
    callee: str
    callee_params: str
    headers: tuple[tuple[str, str], ...]


def normalise_number(user: str, policy: IdentityPolicy) -> str | None:
    """``user`` in E.164 ``+`` form, or None when it is not a telephone number (``alice``, ``anonymous``)
    or cannot be made one (no country code configured for a national number)."""
    if not _NUMBER.match(user):
        return None
    digits = _SEPARATORS.sub("", user)
    if digits.startswith("+"):
        return digits if len(digits) > 1 and digits[1:].isdigit() else None
    intl, national = policy.international_prefix, policy.national_prefix
    if intl and digits.startswith(intl):
        rest = digits[len(intl):]
        return f"+{rest}" if rest else None
    if policy.country_code is None:
        return None
    if national and digits.startswith(national):
        digits = digits[len(national):]
    return f"+{policy.country_code}{digits}" if digits else None


def privacy_requested(request: Request) -> bool:
    """Whether the caller asked for privacy (RFC 3323 §4.2): a Privacy value id, header or user, and no
    ``none``."""
    values = {v.strip().lower() for header in request.headers.get_all("Privacy")
              for v in re.split(r"[;,]", header) if v.strip()}
    return "none" not in values and bool(values & _PRIVACY_VALUES)


def _user_uri(user: str, host: str, policy: IdentityPolicy) -> tuple[str, bool]:
    """``sip:user@host`` with the user in E.164 (and ``;user=phone``) when the policy says so."""
    number = normalise_number(user, policy) if policy.e164 else None
    if number is not None:
        return f"sip:{number}@{host};user=phone", True
    return f"sip:{user}@{host}", False


def outgoing_identity(request: Request, policy: IdentityPolicy, *, caller: str, display: str | None,
                      callee: str, host: str) -> OutgoingIdentity:
    """The identity of the outgoing leg of the caller's ``request`` on a trunk whose server address is
    ``host`` (see the module docstring)."""
    number = normalise_number(callee, policy) if policy.e164 else None
    callee_out, callee_params = (number, ";user=phone") if number is not None else (callee, "")
    own_uri, _ = _user_uri(caller, host, policy)
    private = privacy_requested(request)
    asserted: list[str] = []
    if policy.pai == "assert":
        asserted = [f'"{display}" <{own_uri}>' if display and '"' not in display else f"<{own_uri}>"]
    elif policy.pai == "relay":
        asserted = request.headers.get_all("P-Asserted-Identity") or request.headers.get_all(
            "P-Preferred-Identity")
    headers: list[tuple[str, str]] = []
    if policy.destination_trusted:
        headers += [("P-Asserted-Identity", value) for value in asserted]
        if private:
            headers += [("Privacy", value) for value in request.headers.get_all("Privacy")]
    if private:
        return OutgoingIdentity(ANONYMOUS_URI, ANONYMOUS_DISPLAY, callee_out, callee_params, tuple(headers))
    return OutgoingIdentity(own_uri, display, callee_out, callee_params, tuple(headers))
