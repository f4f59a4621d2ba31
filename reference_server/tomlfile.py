"""What the project's TOML files (the server configuration, the equipment file) share: reading them, and
saying every mistake as ``FILE:LINE: key.path: what is wrong``.

tomllib gives no line numbers, so :class:`Locator` finds them by scanning the source (tables,
``[[array]]`` occurrences in order, keys, array elements); a key that is absent is reported at its table's
header line. :class:`TableReader` checks tables of the parsed data (unknown keys with a "did you mean",
types) and raises its ``error_class`` at the line of the key at fault. Index paths are 0-based
(``trunk[1]`` is the second ``[[trunk]]``).
"""

from __future__ import annotations

import bisect
import difflib
import ipaddress
import json
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

__all__ = [
    "KINDS", "MISSING", "FileError", "IPNetwork", "KeyPath", "Locator", "TableReader", "describe", "fmt", "loads",
    "read_text",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
KeyPath = tuple[str | int, ...]
"""Where a value is: ``("trunk", 1, "destination")``."""
MISSING: Any = object()
"""The default of a required key."""
KINDS: dict[type, str] = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
                          list: "an array", dict: "a table"}


class FileError(ValueError):
    """A mistake in a file, ``str()`` saying where: ``FILE:LINE: key: problem``."""

    def __init__(self, message: str, *, filename: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        super().__init__(message)
        self.filename, self.line, self.key = filename, line, key


def read_text(path: Path | str, error_class: type[FileError], cannot_read: str = "cannot read") -> str:
    """The UTF-8 text of the file ``path``; ``error_class`` saying why when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error_class(f"{path}: {cannot_read}: {exc.strerror or exc}", filename=str(path)) from None
    except UnicodeDecodeError as exc:
        raise error_class(f"{path}: not UTF-8 ({exc.reason})", filename=str(path)) from None


def loads(text: str, filename: str, error_class: type[FileError]) -> dict[str, Any]:
    """The TOML data in ``text``; a syntax error is ``error_class`` naming ``filename`` and the line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        line = int(m.group(1)) if m else text.rstrip().count("\n") + 1  # "at end of document"
        raise error_class(f"{filename}:{line}: TOML syntax error: {exc}", filename=filename,
                          line=line) from None


def fmt(path: KeyPath) -> str:
    """``trunk[1].destination``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def describe(value: object, *, as_json: bool = False) -> str:
    """A value's TOML type and a glimpse of it, for a message: ``a string ("x")``, ``an array``.
    ``as_json``: other types by their Python name and any value as JSON (``datetime ("2024-...")``)."""
    if as_json:
        kind = KINDS.get(type(value), type(value).__name__)
        return kind if isinstance(value, list | dict) else f"{kind} ({json.dumps(value, default=str)[:40]})"
    kind = KINDS.get(type(value), f"a {type(value).__name__}")
    if isinstance(value, dict | list):
        return kind
    text = json.dumps(value) if isinstance(value, str) else repr(value).lower()
    return f"{kind} ({text[:40]})"


# --- checking tables --------------------------------------------------------------------------------

class TableReader:
    """Checks the tables of ``data`` (a whole parsed file), raising ``error_class`` at the line of the key
    at fault."""

    error_class: type[FileError] = FileError

    def __init__(self, data: dict[str, Any], filename: str, locator: Locator) -> None:
        self.data, self.filename, self.loc = data, filename, locator

    def error(self, path: KeyPath, problem: str) -> FileError:
        line = self.loc.locate(path)
        return self.error_class(f"{self.filename}:{line}: {fmt(path)}: {problem}", filename=self.filename,
                                line=line, key=fmt(path))

    def describe(self, value: object) -> str:
        return describe(value)

    def expected(self, kinds: tuple[type, ...]) -> str:
        """What a value of one of ``kinds`` is called in "expected ..., got ..."."""
        return "a number" if float in kinds else KINDS[kinds[0]]

    def table(self, value: object, path: KeyPath, allowed: Iterable[str]) -> dict[str, Any]:
        allowed = tuple(allowed)
        if not isinstance(value, dict):
            raise self.error(path, f"expected a table, got {self.describe(value)}")
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {json.dumps(close[0])}?" if close else f"known keys: {', '.join(allowed)}"
                raise self.error((*path, key), f"unknown key; {hint}")
        return value

    def get(self, tbl: dict[str, Any], path: KeyPath, key: str, kind: type | tuple[type, ...],
            default: Any = MISSING) -> Any:
        if key not in tbl:
            if default is MISSING:
                raise self.error(path, f"missing required key {json.dumps(key)}")
            return default
        value, kinds = tbl[key], (kind if isinstance(kind, tuple) else (kind,))
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            raise self.error((*path, key), f"expected {self.expected(kinds)}, got {self.describe(value)}")
        return value

    def strings(self, tbl: dict[str, Any], path: KeyPath, key: str, default: Any = MISSING) -> list[str]:
        values = self.get(tbl, path, key, list, default)
        for i, item in enumerate(values):
            if not isinstance(item, str):
                raise self.error((*path, key, i), f"expected a string, got {self.describe(item)}")
        return list(values)

    def positive(self, tbl: dict[str, Any], path: KeyPath, key: str, kind: type | tuple[type, ...]) -> Any:
        value = self.get(tbl, path, key, kind)
        if value <= 0:
            raise self.error((*path, key), f"must be above 0, got {value}")
        return value

    def networks(self, tbl: dict[str, Any], path: KeyPath, key: str, *,
                 reason: bool = True) -> tuple[IPNetwork, ...]:
        """The IP addresses or CIDR networks listed under ``key`` (none when absent); ``reason``: say
        what ipaddress found wrong."""
        out = []
        for i, text in enumerate(self.strings(tbl, path, key, [])):
            try:
                out.append(ipaddress.ip_network(text.strip()))
            except ValueError as exc:
                why = f" ({exc})" if reason else ""
                raise self.error((*path, key, i), f"{json.dumps(text)} is not an IP address or CIDR network"
                                 f"{why}") from None
        return tuple(out)

    def array_of_tables(self, name: str) -> list[Any]:
        """The top-level ``[[name]]`` tables (unchecked), none when absent."""
        value = self.data.get(name, [])
        if not isinstance(value, list):
            raise self.error((name,), f"expected an array of tables ([[{name}]]), got {self.describe(value)}")
        return value


# --- line locator -----------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class Locator:
    """Lines of tables, keys and array elements in TOML text (best effort; the text already parsed)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: dict[KeyPath, int] = {}
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        self._aot: dict[KeyPath, int] = {}
        try:
            self._scan()
        except (IndexError, ValueError):
            pass

    def locate(self, path: KeyPath) -> int:
        """The line of ``path``, else of its nearest ancestor found, else 1."""
        for k in range(len(path), 0, -1):
            if path[:k] in self.lines:
                return self.lines[path[:k]]
        return 1

    def _line(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def _record(self, path: KeyPath, pos: int) -> None:
        self.lines.setdefault(path, self._line(pos))

    def _skip(self, i: int, newlines: bool = False) -> int:
        t = self.text
        while i < len(t):
            if t[i] in " \t\r" or (newlines and t[i] == "\n"):
                i += 1
            elif t[i] == "#":
                while i < len(t) and t[i] != "\n":
                    i += 1
            else:
                break
        return i

    def _key(self, i: int) -> tuple[int, list[str]]:
        parts: list[str] = []
        while True:
            i = self._skip(i)
            if self.text[i] in "\"'":
                end = self._string(i)
                parts.append(json.loads(self.text[i:end]) if self.text[i] == '"' else self.text[i + 1:end - 1])
                i = end
            else:
                m = _BARE_KEY.match(self.text, i)
                if m is None:
                    raise ValueError("no key")
                parts.append(m.group())
                i = m.end()
            i = self._skip(i)
            if self.text[i] != ".":
                return i, parts
            i += 1

    def _resolve(self, parts: list[str], upto: int) -> KeyPath:
        """Insert the current index after each array-of-tables prefix among the first ``upto`` parts."""
        out: list[str | int] = []
        for k, part in enumerate(parts):
            out.append(part)
            if k < upto and tuple(parts[:k + 1]) in self._aot:
                out.append(self._aot[tuple(parts[:k + 1])] - 1)
        return tuple(out)

    def _scan(self) -> None:
        t, i, prefix = self.text, 0, cast(KeyPath, ())
        while (i := self._skip(i, newlines=True)) < len(t):
            start = i
            if t[i] == "[":
                double = t.startswith("[[", i)
                i, parts = self._key(i + 1 + double)
                i += 1 + double
                if double:
                    self._aot[tuple(parts)] = self._aot.get(tuple(parts), 0) + 1
                prefix = self._resolve(parts, len(parts))
                self._record(prefix, start)
            else:
                i, parts = self._key(i)
                path = prefix + tuple(parts)
                self._record(path, start)
                i = self._value(self._skip(i + 1), path)  # skips the '='

    def _value(self, i: int, path: KeyPath) -> int:
        t = self.text
        if t[i] in "\"'":
            return self._string(i)
        if t[i] in "[{":
            close, n, i = "]" if t[i] == "[" else "}", 0, i + 1
            while (i := self._skip(i, newlines=True)) < len(t) and t[i] != close:
                if close == "]":
                    self._record((*path, n), i)
                    i = self._value(i, (*path, n))
                else:
                    key_start = i
                    i, parts = self._key(i)
                    self._record(path + tuple(parts), key_start)
                    i = self._value(self._skip(i + 1), path + tuple(parts))
                i = self._skip(i, newlines=True)
                if t[i] == ",":
                    i, n = i + 1, n + 1
            return i + 1
        while i < len(t) and t[i] not in ",]}\n#":
            i += 1
        return i

    def _string(self, i: int) -> int:
        t = self.text
        quote = t[i]
        if t.startswith(quote * 3, i):
            j = i + 3
            while not t.startswith(quote * 3, j):
                j += 2 if quote == '"' and t[j] == "\\" else 1
            j += 3
            for _ in range(2):  # up to two quotes of the content may precede the closing three
                if j < len(t) and t[j] == quote:
                    j += 1
            return j
        j = i + 1
        while t[j] != quote:
            j += 2 if quote == '"' and t[j] == "\\" else 1
        return j + 1
