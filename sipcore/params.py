"""The grammar shared by header values: tokens, quoted strings and ``;name=value`` parameters
(RFC 3261 §25.1 token, quoted-string, generic-param)."""

from __future__ import annotations

import re

from .errors import SIPParseError

TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
"""The characters of a token (RFC 3261 §25.1), written for a regular expression's character class."""
TOKEN = re.compile(rf"[{TOKEN_CHARS}]+\Z")
_QUOTED = re.compile(r'"([^"\\]*+(?:\\.[^"\\]*+)*+)"', re.S)
_QUOTED_PAIR = re.compile(r"\\(.)", re.S)


def parse_quoted(text: str, start: int, *, header: str | None = None) -> tuple[str, int]:
    """Read a quoted-string starting at ``text[start] == '"'``; return (unescaped content, end index)."""
    m = _QUOTED.match(text, start)
    if m is None:
        raise SIPParseError(f"unterminated quoted string in {text!r}", header=header)
    content = m.group(1)
    if "\\" in content:
        content = _QUOTED_PAIR.sub(r"\1", content)
    return content, m.end()


def quote(text: str) -> str:
    """Make a quoted-string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def opt(fragment: str) -> str:
    """The regular expression ``(?:fragment)?``, spelled ``(?:fragment|)``: the two match the same text
    with the same groups, but CPython's re compiles ``?`` after a group to a REPEAT, which allocates
    and frees a context on every attempt, and the empty alternative does not (the name-addr expression
    matches in two thirds of the instructions). The parser's hot expressions use it."""
    return f"(?:{fragment}|)"


FAST_PARAMS = rf"(?:;[{TOKEN_CHARS}]++" + opt(r'=[^\s;"]++') + ")*+"
"""A regular expression for ``;name`` or ``;name=value`` parameters with no white space and no quoted string:
the form nearly every parameter takes (the parsers' fast paths match it, then call :func:`fast_params`)."""
_FAST_PARAMS_RE = re.compile(FAST_PARAMS + r"\Z")
_HAS_SPACE = re.compile(r"\s")


def parse_params(text: str, *, header: str | None = None) -> dict[str, str | None]:
    """Parse ``;name=value;flag`` header parameters. Names keep their case; values are raw text
    (a quoted value keeps its quotes). An empty parameter (``;;``) is an error."""
    if _FAST_PARAMS_RE.match(text):
        return fast_params(text)
    params: dict[str, str | None] = {}
    text = text.strip()
    if not text:
        return params
    if text[0] != ";":
        raise SIPParseError(f"expected ';' before parameters in {text!r}", header=header)
    if '"' in text:
        items = split_outside_quotes(text[1:], ";", header=header)
    else:
        items = text[1:].split(";")
    for item in items:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not TOKEN.match(name):
            raise SIPParseError(f"malformed parameter {item.strip()!r}", header=header)
        if eq:
            value = value.strip()
            if not value:
                raise SIPParseError(f"parameter {name!r} has an empty value", header=header)
            if value[0] == '"':
                _, end = parse_quoted(value, 0, header=header)
                if end != len(value):
                    raise SIPParseError(f"junk after quoted value of {name!r}", header=header)
            elif _HAS_SPACE.search(value):
                raise SIPParseError(f"parameter {name!r} has white space in its value", header=header)
            params[name] = value
        else:
            params[name] = None
    return params


def fast_params(text: str) -> dict[str, str | None]:
    """Parameters already matched by FAST_PARAMS (so every item is well formed)."""
    if not text:
        return {}
    if text.find(";", 1) < 0:  # one parameter, the usual ;tag=
        name, eq, value = text[1:].partition("=")
        return {name: value if eq else None}
    params: dict[str, str | None] = {}
    for item in text[1:].split(";"):
        name, eq, value = item.partition("=")
        params[name] = value if eq else None
    return params


def split_outside_quotes(text: str, sep: str, *, header: str | None = None) -> list[str]:
    """``text`` split on ``sep`` where it is not inside a quoted-string (which may hold ``sep`` and backslash
    escapes; the parts keep their quotes). SIPParseError naming ``header`` for an unterminated one."""
    parts: list[str] = []
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            _, i = parse_quoted(text, i, header=header)
            continue
        if ch == sep:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def format_params(params: dict[str, str | None]) -> str:
    return "".join([f";{k}" if v is None else f";{k}={v}" for k, v in params.items()])  # a list joins faster


def param_get(params: dict[str, str | None], name: str) -> str | None:
    """The value of parameter ``name``, its name compared without case (None if absent or a flag)."""
    if name in params:
        return params[name]
    lname = name.lower()
    for key, value in params.items():
        if key.lower() == lname:
            return value
    return None
