"""The checks a UAS makes on a request before processing it (RFC 3261 §8.2.1 to §8.2.3).

Pure functions: given a validated request (``parse_message`` has already refused what is malformed,
with 400 or 505) and what this element supports, :func:`check_request` returns the response to send
when the request must be refused, or None to go on. In RFC order:

- §8.2.1 method inspection: 405 Method Not Allowed, with Allow;
- §8.2.2.1 Request-URI scheme: 416 Unsupported URI Scheme;
- §8.2.2.3 extensions: 420 Bad Extension, with Unsupported listing the option tags of Require (a UAS) or
  Proxy-Require (a proxy) this element does not support;
- §8.2.3 content processing: 415 Unsupported Media Type, with Accept, Accept-Encoding or
  Accept-Language saying what would have been understood;
- §21.4.7: 406 Not Acceptable when the request's Accept allows none of the body types a response to it
  would carry (RFC 4475 §3.3.15), with a 399 Warning.

An ACK is never answered, so it is never refused. RFC 4475 §3.3 names the test messages for each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from .message import Request, Response, make_response

#: Methods whose successful response carries a body (an SDP offer or answer), so that an Accept header
#: ruling out every body type this element produces makes the request unanswerable (406).
BODY_METHODS = ("INVITE",)


def check_request(request: Request, *, allowed_methods: Iterable[str] | None = None,
                  supported_schemes: Iterable[str] = ("sip", "sips"),
                  supported_extensions: Iterable[str] = (),
                  role: Literal["uas", "proxy"] = "uas",
                  accepted_content_types: Iterable[str] = ("application/sdp",),
                  accepted_encodings: Iterable[str] = (),
                  accepted_languages: Iterable[str] | None = None,
                  response_content_types: Iterable[str] = ("application/sdp",),
                  body_methods: Iterable[str] = BODY_METHODS,
                  to_tag: str | Callable[[], str] | None = None,
                  warn_agent: str = "trunkcheck") -> Response | None:
    """The response refusing ``request`` under RFC 3261 §8.2.1-§8.2.3, or None when it may proceed.

    ``allowed_methods`` None skips the method check. ``role`` says which header lists the extensions
    this element must support: Require for a UAS, Proxy-Require for a proxy (RFC 4475 §3.3.5); both
    are ignored in CANCEL (§8.2.2.3). ``accepted_content_types``, ``accepted_encodings`` (identity is
    always understood) and ``accepted_languages`` (None: any) describe the request bodies understood;
    ``response_content_types`` the bodies a response to a ``body_methods`` request would carry.
    Media types compare case-insensitively, option tags exactly. ``to_tag`` is added to the refusal's
    To (RFC 3261 §8.2.6.2); it may be a function making one, called only when there is a refusal.
    ``warn_agent`` names this element in the 406's Warning.
    """
    method = request.method
    if method == "ACK":
        return None
    if allowed_methods is not None:
        allowed = list(allowed_methods)
        if method not in allowed:
            response = make_response(request, 405, to_tag=_tag(to_tag))
            response.headers.add("Allow", ", ".join(allowed))
            return response

    scheme = request.uri.partition(":")[0].lower()
    schemes = supported_schemes if isinstance(supported_schemes, tuple) else tuple(supported_schemes)
    # ``scheme in schemes`` first: the usual lower-case spelling needs no set built.
    if scheme not in schemes and scheme not in {s.lower() for s in schemes}:
        return make_response(request, 416, to_tag=_tag(to_tag))

    if method != "CANCEL":
        required = request.headers.values("Require" if role == "uas" else "Proxy-Require")
        if required:
            supported = set(supported_extensions)
            unsupported = [tag for tag in required if tag and tag not in supported]
            if unsupported:
                response = make_response(request, 420, to_tag=_tag(to_tag))
                response.headers.add("Unsupported", ", ".join(dict.fromkeys(unsupported)))
                return response

    refusal = _check_body(request, accepted_content_types, accepted_encodings, accepted_languages, to_tag)
    if refusal is not None:
        return refusal

    if method in body_methods and "Accept" in request.headers:
        produced = list(response_content_types)
        if not any(_accepts(request.headers.values("Accept"), media) for media in produced):
            response = make_response(request, 406, to_tag=_tag(to_tag))
            response.headers.add("Warning", f'399 {warn_agent} "responses to {method} carry '
                                            f'{", ".join(produced)}, which the Accept header rules out"')
            return response
    return None


def _tag(to_tag: str | Callable[[], str] | None) -> str | None:
    """The To tag for a refusal: ``to_tag`` itself, or made by calling it."""
    return to_tag() if callable(to_tag) else to_tag


def _check_body(request: Request, content_types: Iterable[str], encodings: Iterable[str],
                languages: Iterable[str] | None, to_tag: str | Callable[[], str] | None) -> Response | None:
    """§8.2.3: 415 for a body of a type, encoding or language this element does not understand."""
    if not request.body:
        return None
    types = [t.lower() for t in content_types]
    content_type = request.content_type
    if content_type is None or content_type not in types:
        response = make_response(request, 415, to_tag=_tag(to_tag))
        response.headers.add("Accept", ", ".join(types))
        return response
    content_encodings = request.headers.values("Content-Encoding")
    if content_encodings:
        understood = {e.lower() for e in encodings} | {"identity"}
        for encoding in content_encodings:
            if encoding and encoding.lower() not in understood:
                response = make_response(request, 415, to_tag=_tag(to_tag))
                response.headers.add("Accept-Encoding", ", ".join(sorted(understood)))
                return response
    if languages is not None:
        known = {lang.lower() for lang in languages}
        for language in request.headers.values("Content-Language"):
            if language and language.lower() not in known:
                response = make_response(request, 415, to_tag=_tag(to_tag))
                response.headers.add("Accept-Language", ", ".join(sorted(known)))
                return response
    return None


def _accepts(accept_values: list[str], media: str) -> bool:
    """Whether an Accept header's media ranges (RFC 3261 §20.1) allow ``media`` (type/subtype).
    An empty Accept allows nothing; ``q=0`` excludes a range."""
    kind, _, subtype = media.lower().partition("/")
    for value in accept_values:
        if not value:
            continue
        media_range, *params = (part.strip() for part in value.split(";"))
        if any(_is_q_zero(param) for param in params):
            continue
        range_type, _, range_subtype = media_range.lower().partition("/")
        if (range_type, range_subtype) == ("*", "*") or (range_type == kind and range_subtype in ("*", subtype)):
            return True
    return False


def _is_q_zero(param: str) -> bool:
    name, _, value = param.partition("=")
    if name.strip().lower() != "q":
        return False
    try:
        return float(value.strip()) == 0.0
    except ValueError:
        return False

