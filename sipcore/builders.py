"""Building requests: out-of-dialog requests (RFC 3261 §8.1.1), CANCEL (§9.1), the ACK for a non-2xx
final response (§17.1.1.3) and a request re-sent with credentials (§22.2, §22.3).

Sans-IO and deterministic: branches, tags and Call-IDs are parameters (make them with
:class:`sipcore.ids.IdGenerator` from an injected ``random.Random``). Dialog requests (§12.2.1.1) are built by :mod:`sipcore.dialog` on
top of :func:`build_request`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .header_fields import Headers
from .headers import NameAddr, Via, key_of
from .ids import MAGIC_COOKIE, has_magic_cookie
from .message import Request, Response
from .transport_address import Address
from .uri import URI, AbsoluteURI, SipURI, parse_uri

__all__ = [
    "MAX_CSEQ", "authorize_request", "build_request", "format_contact",
    "make_ack_for_non2xx", "make_cancel", "make_via", "new_request", "with_new_branch",
]

MAX_CSEQ = 2**31 - 1  # §8.1.1.5: the sequence number MUST be less than 2**31
_CREDENTIALS_HEADERS = {"authorization": "Authorization", "proxy-authorization": "Proxy-Authorization"}
_REALM = re.compile(r'realm\s*=\s*"((?:[^"\\]|\\.)*)"', re.I)
_WS = re.compile(r"\s")
_BODY_KEYS = frozenset({"content-type", "content-length"})



def _uri(value: str | URI, what: str) -> URI:
    return parse_uri(value, header=what) if isinstance(value, str) else value


def _route_value(value: str | NameAddr) -> str:
    """A Route value: a bare URI gets the mandatory <> (its ;lr would otherwise be a header param)."""
    if isinstance(value, NameAddr):
        return str(value)
    value = value.strip()
    return value if "<" in value else f"<{value}>"


def _check_cseq(cseq: int) -> None:
    if not 0 <= cseq <= MAX_CSEQ:
        raise ValueError(f"CSeq number {cseq} is not in 0 .. 2**31-1 (RFC 3261 §8.1.1.5)")


def make_via(local_addr: Address, branch: str, transport: str = "UDP") -> Via:
    """The Via a UAC puts in a request: sent-by from ``local_addr``, the branch, and an empty rport
    (RFC 3581) so responses come back to the port the request left from."""
    if not has_magic_cookie(branch):
        raise ValueError(f"branch {branch!r} does not start with the RFC 3261 magic cookie {MAGIC_COOKIE}")
    host, port = local_addr
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 reference (§25.1)
    return Via(transport.upper(), host, port, {"branch": branch, "rport": None})


def format_contact(contact: str | URI | NameAddr) -> str:
    """A Contact value: a URI is enclosed in <>; text already holding <> (or ``*``) is kept."""
    if isinstance(contact, NameAddr):
        return str(contact)
    if isinstance(contact, SipURI | AbsoluteURI):
        return f"<{contact}>"
    text = contact.strip()
    return text if "<" in text or text == "*" else f"<{text}>"


def build_request(method: str, request_uri: str | URI, *, via: Via, from_: NameAddr, to: NameAddr,
                  call_id: str, cseq: int, max_forwards: int = 70, route: Iterable[str | NameAddr] = (),
                  contact: str | URI | NameAddr | None = None,
                  extra_headers: Iterable[tuple[str, str]] = (), body: bytes = b"",
                  content_type: str | None = None, user_agent: str | None = None) -> Request:
    """Assemble a request from its parts, header fields in the order RFC 3261 examples use."""
    _check_cseq(cseq)
    if not call_id or _WS.search(call_id):
        raise ValueError(f"Call-ID {call_id!r} is empty or contains white space")
    if body and content_type is None:
        raise ValueError(f"a {method} with a {len(body)}-byte body needs a Content-Type (RFC 3261 §7.4.1)")
    if not 0 <= max_forwards <= 255:
        raise ValueError(f"Max-Forwards {max_forwards} is not in 0 .. 255")
    entries = [("via", "Via", str(via)), ("max-forwards", "Max-Forwards", str(max_forwards))]
    entries += [("route", "Route", _route_value(value)) for value in route]
    entries += [("from", "From", str(from_)), ("to", "To", str(to)), ("call-id", "Call-ID", call_id),
                ("cseq", "CSeq", f"{cseq} {method}")]
    if contact is not None:
        entries.append(("contact", "Contact", format_contact(contact)))
    if user_agent is not None:
        entries.append(("user-agent", "User-Agent", user_agent))
    extra = [(key_of(name), name, value) for name, value in extra_headers]
    entries += extra
    if extra and any(key in _BODY_KEYS for key, _, _ in extra):
        # An extra header field is one that set_body replaces or removes: let it do so.
        request = Request(method, request_uri, Headers._from_entries(entries))
        request.set_body(body, content_type)
        return request
    # What set_body does when neither field is there yet: append them.
    if content_type is not None:
        entries.append(("content-type", "Content-Type", content_type))
    entries.append(("content-length", "Content-Length", str(len(body))))
    return Request(method, request_uri, Headers._from_entries(entries), body)


def new_request(method: str, request_uri: str | URI, *, from_uri: str | URI, to_uri: str | URI,
                local_addr: Address, transport: str = "UDP", from_display: str | None = None,
                to_display: str | None = None, from_tag: str, call_id: str, cseq: int, branch: str,
                contact: str | URI | NameAddr | None = None, max_forwards: int = 70,
                route: Iterable[str | NameAddr] = (), extra_headers: Iterable[tuple[str, str]] = (),
                body: bytes = b"", content_type: str | None = None,
                user_agent: str | None = None) -> Request:
    """An out-of-dialog request (RFC 3261 §8.1.1): Via with branch and rport, Max-Forwards, From with
    its tag, To without a tag, Call-ID, CSeq, Contact (when given), Content-Length.

    ``route`` is a pre-existing route set (an outbound proxy, a Service-Route), used in order.
    """
    if not from_tag:
        raise ValueError("the From tag is mandatory in a request (RFC 3261 §8.1.1.3)")
    from_ = NameAddr(_uri(from_uri, "From"), from_display, {"tag": from_tag})
    to = NameAddr(_uri(to_uri, "To"), to_display)
    return build_request(method, request_uri, via=make_via(local_addr, branch, transport), from_=from_,
                         to=to, call_id=call_id, cseq=cseq, max_forwards=max_forwards, route=route,
                         contact=contact, extra_headers=extra_headers, body=body,
                         content_type=content_type, user_agent=user_agent)


def _copy_single(source: Request, target: Request, name: str) -> None:
    value = source.headers.get(name)
    if value is None:
        raise ValueError(f"{source.method} has no {name}; cannot build {target.method}")
    target.headers.add(name, value)


def _same_transaction_copy(invite: Request, method: str, to_value: str) -> Request:
    """What CANCEL and the non-2xx ACK share: the INVITE's Request-URI, top Via, Route, From, Call-ID
    and CSeq number, byte for byte."""
    vias = invite.headers.values("Via")
    if not vias:
        raise ValueError(f"{invite.method} has no Via; cannot build {method}")
    request = Request(method, invite.uri)
    h = request.headers
    h.add("Via", vias[0])
    h.add("Max-Forwards", str(invite.max_forwards if invite.max_forwards is not None else 70))
    for value in invite.headers.get_all("Route"):
        h.add("Route", value)
    _copy_single(invite, request, "From")
    h.add("To", to_value)
    _copy_single(invite, request, "Call-ID")
    h.add("CSeq", f"{invite.cseq.seq} {method}")
    h.add("Content-Length", "0")
    return request


def make_cancel(invite: Request) -> Request:
    """CANCEL for a pending request (RFC 3261 §9.1): same Request-URI, Call-ID, From and To (no tag
    added), the CSeq number with method CANCEL, only the top Via (same branch), the same Route."""
    if invite.method in ("ACK", "CANCEL"):
        raise ValueError(f"a {invite.method} cannot be cancelled (RFC 3261 §9.1)")
    to_value = invite.headers.get("To")
    if to_value is None:
        raise ValueError(f"{invite.method} has no To; cannot build CANCEL")
    return _same_transaction_copy(invite, "CANCEL", to_value)


def make_ack_for_non2xx(invite: Request, response: Response) -> Request:
    """ACK for a 300-699 final response to an INVITE (RFC 3261 §17.1.1.3): the INVITE's Request-URI,
    top Via, From, Call-ID, Route and CSeq number; To from the response (with its tag)."""
    if invite.method != "INVITE":
        raise ValueError(f"only an INVITE's non-2xx response is ACKed by the transaction, not a {invite.method}'s")
    if response.status < 300:
        raise ValueError(f"{response.status} is not a non-2xx final response; a 2xx is ACKed by the "
                         f"dialog (RFC 3261 §13.2.2.4)")
    if response.cseq.seq != invite.cseq.seq or response.cseq.method != "INVITE":
        raise ValueError(f"response CSeq {response.cseq} does not answer INVITE CSeq {invite.cseq}")
    to_value = response.headers.get("To")
    if to_value is None:
        raise ValueError(f"{response.status} response has no To; cannot build ACK")
    return ack_for_final(invite, to_value)


def ack_for_final(invite: Request, to_value: str) -> Request:
    """The ACK of RFC 3261 §17.1.1.3 without :func:`make_ack_for_non2xx`'s checks: what the INVITE client
    transaction sends for a 300-699 it has already matched to its INVITE."""
    return _same_transaction_copy(invite, "ACK", to_value)


def authorize_request(request: Request, credentials_header_name: str, credentials_value: str,
                      new_branch: str, new_cseq: int) -> Request:
    """The request re-sent after a 401/407 (RFC 3261 §22.2, §22.3): a copy with the credentials added,
    the CSeq number incremented and a new branch (it is a new transaction).

    Credentials already present for other realms (another proxy, RFC 8760 alternatives) are kept;
    those for the same realm are replaced.
    """
    name = _CREDENTIALS_HEADERS.get(credentials_header_name.lower())
    if name is None:
        raise ValueError(f"credentials go in Authorization or Proxy-Authorization, "
                         f"not {credentials_header_name!r}")
    if request.method in ("ACK", "CANCEL"):
        raise ValueError(f"a {request.method} cannot be challenged, so it is never re-sent with credentials")
    old = request.cseq
    if new_cseq <= old.seq:
        raise ValueError(f"the retried request needs a higher CSeq than {old.seq}, got {new_cseq}")
    _check_cseq(new_cseq)
    retry = with_new_branch(request, new_branch)
    h = retry.headers
    h.set("CSeq", f"{new_cseq} {old.method}")
    realm = _realm(credentials_value)
    kept = [v for v in h.get_all(name) if realm is None or _realm(v) != realm]
    h.remove(name)
    for value in [*kept, credentials_value]:
        h.add(name, value)
    return retry


def with_new_branch(request: Request, new_branch: str) -> Request:
    """The request again as a new transaction for the next server of an RFC 3263 list (§4.3: "identical
    to the previous, but has a different value of the Via branch ID"): a copy with only the top Via's
    branch changed."""
    if request.method in ("ACK", "CANCEL"):
        raise ValueError(f"a {request.method} belongs to its INVITE's transaction; it is not sent anew")
    if not has_magic_cookie(new_branch):
        raise ValueError(f"branch {new_branch!r} does not start with the magic cookie {MAGIC_COOKIE}")
    via = request.top_via
    params = {k: v for k, v in via.params.items() if k.lower() != "branch"}
    top = Via(via.transport, via.host, via.port, {"branch": new_branch, **params}, via.protocol)
    retry = Request(request.method, request.uri, request.headers.copy(), request.body, request.version)
    if "," in (retry.headers.get("Via") or ","):  # a field holding several Via values: take the first out
        retry.headers.pop_first_value("Via")
        retry.headers.add("Via", str(top), first=True)
    else:
        retry.headers.replace_first_value("Via", str(top))  # where it was: at the top
    return retry


def _realm(credentials: str) -> str | None:
    m = _REALM.search(credentials)
    return m.group(1) if m else None

