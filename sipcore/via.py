"""Via and CSeq: the headers that name a transaction (RFC 3261 §8.1.1.5, §8.1.1.7, §17; RFC 3581 rport).

Re-exported by :mod:`sipcore.headers`, where the other header values live.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from .errors import SIPParseError
from .params import FAST_PARAMS, TOKEN, TOKEN_CHARS, format_params, opt, param_get, parse_params
from .uri import split_hostport

_VIA = re.compile(
    r"\s*([^\s/]+)\s*/\s*([^\s/]+)\s*/\s*([^\s/;]+)\s+(\[[^\]]*\]|[^\s;:]+)(?:\s*:\s*([^\s;]*))?\s*(.*)\Z",
    re.S,
)
# SIP/2.0/transport host[:port] and simple parameters: how nearly every Via is written.
# The parameters are either ;branch=token with an optional ;rport (groups branch, rport) or any simple ones
# (a token class costs a third of [^\s;"] per character; other branch values take the second form).
_FAST_VIA = re.compile(
    rf"SIP/2\.0/([{TOKEN_CHARS}]++) ([A-Za-z0-9\-.]++|\[[0-9A-Fa-f:.]++\])" + opt(r":([0-9]{1,5})")
    + rf"(?:;branch=([{TOKEN_CHARS}]++)" + opt("(;rport)") + rf"\Z|({FAST_PARAMS})\Z)"
)


@dataclass(slots=True)
class Via:
    """One Via value (RFC 3261 §20.42, RFC 3581 rport)."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        params = self.params  # nearly always spelled "branch": look that up before the case-blind scan
        return params["branch"] if "branch" in params else param_get(params, "branch")

    @property
    def received(self) -> str | None:
        return param_get(self.params, "received")

    @property
    def rport(self) -> int | None:
        """The rport value a server filled in; None for a bare ``;rport`` request (or a malformed one)."""
        value = param_get(self.params, "rport")
        if value and len(value) <= 5 and value.isdigit() and value.isascii():
            return int(value)
        return None

    @property
    def has_rport(self) -> bool:
        return any(k.lower() == "rport" for k in self.params)

    @property
    def rfc3261_branch(self) -> bool:
        """True when the branch carries the RFC 3261 magic cookie followed by a transaction id.

        A branch of the bare cookie ``z9hG4bK`` carries no id (RFC 4475 §3.2.1): match such a request
        the RFC 2543 way."""
        branch = self.branch
        return branch is not None and len(branch) > 7 and branch.startswith("z9hG4bK")

    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        port = self.port  # sent_by() inline: every Via the server stamps or sends is formatted
        sent_by = self.host if port is None else f"{self.host}:{port}"
        return f"{self.protocol}/{self.transport} {sent_by}{format_params(self.params)}"


_new_object = object.__new__


def new_via(transport: str, host: str, port: int | None, params: dict[str, str | None], protocol: str) -> Via:
    """``Via(transport, host, port, params, protocol)``, made without calling the class (see
    :func:`sipcore.uri.new_sip_uri`)."""
    via = _new_object(Via)
    via.transport = transport
    via.host = host
    via.port = port
    via.params = params
    via.protocol = protocol
    return via


def parse_via(value: str, *, header: str = "Via") -> Via:
    m = _FAST_VIA.match(value)
    if m is not None:
        transport, host, port_text, branch, rport, param_text = m.groups()
        port = None if port_text is None else int(port_text)
        if port is None or 0 < port <= 65535:
            params: dict[str, str | None]
            if branch is not None:
                params = {"branch": branch, "rport": None} if rport else {"branch": branch}
            elif param_text:
                params = {}
                for item in param_text[1:].split(";"):
                    name, eq, val = item.partition("=")
                    if eq:
                        params[name] = val
                    elif name.lower() == "branch":
                        return _parse_via(value, header)  # a branch without a value: name the error
                    else:
                        params[name] = None
            else:
                params = {}
            return new_via(transport.upper(), host, port, params, "SIP/2.0")
    return _parse_via(value, header)


def _parse_via(value: str, header: str) -> Via:
    m = _VIA.match(value)
    if not m:
        raise SIPParseError(f"malformed Via {value.strip()!r}", header=header)
    name, version, transport, host, port_text, rest = m.groups()
    if name.upper() != "SIP" or version != "2.0":
        raise SIPParseError(f"Via names protocol {name}/{version}, not SIP/2.0",
                            505 if name.upper() == "SIP" else 400, header=header)
    if not TOKEN.match(transport):
        raise SIPParseError(f"malformed Via transport {transport!r}", header=header)
    hostport = host if port_text is None else f"{host}:{port_text}"
    host, port = split_hostport(hostport, what="Via sent-by", header=header)
    params = parse_params(rest, header=header)
    for key, val in params.items():
        if key.lower() == "branch" and not val:
            raise SIPParseError("Via branch has no value", header=header)
    return Via(transport.upper(), host, port, params, f"{name.upper()}/{version}")


class CSeq(NamedTuple):
    """A CSeq value. Immutable: a request's parsed CSeq is handed on to its responses. A NamedTuple
    rather than a frozen dataclass because it is made for nearly every message, and a frozen
    dataclass's __init__ costs about twice as much (one object.__setattr__ per field)."""

    seq: int
    method: str

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


_CSEQ = re.compile(r"\s*([0-9]+)\s+(\S+)\s*\Z")
_FAST_CSEQ = re.compile(rf"([0-9]{{1,10}}) ([{TOKEN_CHARS}]++)\Z")
_new_cseq = tuple.__new__
# The methods a CSeq nearly always names: tokens, so a value "<digits> <one of these>" is well formed.
_METHODS = frozenset(("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "UPDATE", "INFO",
                      "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH"))


def parse_cseq(value: str) -> CSeq:
    digits, _, method = value.partition(" ")
    # _FAST_CSEQ's case without the expression: 1 to 10 ASCII digits, one space, a known method.
    if method in _METHODS and len(digits) <= 10 and digits.isdigit() and digits.isascii():
        seq = int(digits)
        if seq < 2**31:
            return _new_cseq(CSeq, (seq, method))
    m = _FAST_CSEQ.match(value)
    if m is not None:
        digits, method = m.groups()
        seq = int(digits)
        if seq < 2**31:
            return _new_cseq(CSeq, (seq, method))  # CSeq(seq, method) without its Python-level __new__
    m = _CSEQ.match(value)
    if not m or not TOKEN.match(m.group(2)):
        raise SIPParseError(f"malformed CSeq {value.strip()[:80]!r}", header="CSeq")
    digits = m.group(1)
    significant = digits.lstrip("0") or "0"
    if len(significant) > 10 or int(significant) >= 2**31:
        raise SIPParseError(f"CSeq number {digits[:40]} is not below 2**31", header="CSeq")
    return CSeq(int(significant), m.group(2))
