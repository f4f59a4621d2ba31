"""The header fields of one message: in wire order, looked up by name, edited, and their parsed views
cached (see :class:`Headers`). Importable from :mod:`sipcore.message` too."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any, TypeVar

from .headers import header_key, key_of, split_list

T = TypeVar("T")
_KEY = itemgetter(0)
_VALUE = itemgetter(2)


class Headers:
    """Header fields in wire order. Names are looked up case-insensitively, compact forms included.

    ``get`` and ``get_all`` return whole field values; ``values`` splits list headers (Via, Route,
    Contact, Allow ...) into their comma-separated elements. Structured views are cached per header and
    forgotten when that header changes.
    """

    __slots__ = ("_list", "_wire", "_cache", "_first", "_counts")

    def __init__(self, entries: Iterable[tuple[str, str]] = ()) -> None:
        self._list: list[tuple[str, str, str]] | None = [(header_key(n), n, v) for n, v in entries]
        # What the parser found, [(name, value) ...], until _entries is first needed.
        self._wire: list[tuple[str, str]] | None = None
        self._cache: dict[str, Any] = {}
        # Index built on the first lookup, dropped on every change: key -> first value, and key -> count
        # when some name appears more than once (None when every name appears once).
        self._first: dict[str, str] | None = None
        self._counts: dict[str, int] | None = None

    @property
    def _entries(self) -> list[tuple[str, str, str]]:
        """The fields in order as (lookup key, name as received, value) triples."""
        entries = self._list
        if entries is None:
            assert self._wire is not None
            entries = self._list = [(key_of(n), n, v) for n, v in self._wire]
            self._wire = None
        return entries

    @_entries.setter
    def _entries(self, entries: list[tuple[str, str, str]]) -> None:
        self._list = entries
        self._wire = None

    @classmethod
    def _from_entries(cls, entries: list[tuple[str, str, str]]) -> Headers:
        """Adopt (key, name, value) triples."""
        headers = cls.__new__(cls)
        headers._list = entries
        headers._wire = None
        headers._cache = {}
        headers._first = None
        headers._counts = None
        return headers

    @classmethod
    def _from_wire(cls, found: list[tuple[str, str]], first: dict[str, str] | None) -> Headers:
        """Adopt the (name, value) pairs the parser found; ``first`` is ``{key: value}`` when the parser
        has seen that no name repeats."""
        headers = cls.__new__(cls)
        headers._list = None
        headers._wire = found
        headers._cache = {}
        headers._first = first
        headers._counts = None
        return headers

    def _index(self) -> dict[str, str]:
        first = self._first
        if first is None:
            entries = self._entries
            first = dict(zip(map(_KEY, entries), map(_VALUE, entries), strict=True))
            if len(first) == len(entries):
                self._counts = None
            else:  # some name repeats: keep its first value, and count
                first = dict(zip(map(_KEY, reversed(entries)), map(_VALUE, reversed(entries)), strict=True))
                self._counts = Counter(map(_KEY, entries))
            self._first = first
        return first

    def get(self, name: str, default: str | None = None) -> str | None:
        first = self._first if self._first is not None else self._index()
        return first.get(key_of(name), default)

    def get_all(self, name: str) -> list[str]:
        key = key_of(name)
        first = self._first if self._first is not None else self._index()
        value = first.get(key)
        if value is None:
            return []
        if self._counts is None or self._counts[key] == 1:
            return [value]
        return [value for k, _, value in self._entries if k == key]

    def values(self, name: str) -> list[str]:
        out: list[str] = []
        for value in self.get_all(name):
            out.extend(split_list(value))
        return out

    def count(self, name: str) -> int:
        key = key_of(name)
        first = self._first if self._first is not None else self._index()
        if key not in first:
            return 0
        return 1 if self._counts is None else self._counts[key]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        first = self._first if self._first is not None else self._index()
        return key_of(name) in first

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((name, value) for _, name, value in self._entries)

    def __len__(self) -> int:
        return len(self._list) if self._list is not None else len(self._wire or ())

    def _changed(self, key: str) -> None:
        self._cache.pop(key, None)
        self._first = None
        self._counts = None

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        """Append a field (or insert it before the first field of that name, as a proxy adds Via)."""
        key = key_of(name)
        self._cache.pop(key, None)
        entry = (key, name, value)
        entries = self._list if self._list is not None else self._entries
        if first:
            for i, (k, _, _) in enumerate(entries):
                if k == key:
                    entries.insert(i, entry)
                    self._first = self._counts = None
                    return
        entries.append(entry)
        # Keep the index up to date rather than rebuild it: appending changes one name's count, and its
        # first value only when the name is new.
        index = self._first
        if index is not None:
            counts = self._counts
            if key not in index:
                index[key] = value
                if counts is not None:
                    counts[key] = 1
            elif counts is None:
                self._counts = Counter(map(_KEY, entries))
            else:
                counts[key] += 1

    def set(self, name: str, value: str) -> None:
        """Replace every field of that name by one, kept where the first one stood."""
        key = header_key(name)
        self._changed(key)
        for i, (k, _, _) in enumerate(self._entries):
            if k == key:
                self._entries[i] = (key, name, value)
                self._entries[i + 1:] = [e for e in self._entries[i + 1:] if e[0] != key]
                return
        self._entries.append((key, name, value))

    def replace_first_value(self, name: str, value: str) -> None:
        """Replace the value of the first field of that name, in place (its spelling and position kept);
        its cached view is dropped, the other headers' views stay. KeyError when there is none."""
        key = header_key(name)
        wire = self._wire
        if wire is not None:  # as parsed: edit the (name, value) pairs, without making the triples
            for i, (n, _) in enumerate(wire):
                if key_of(n) == key:
                    wire[i] = (n, value)
                    self._cache.pop(key, None)
                    if self._first is not None:
                        self._first[key] = value
                    return
            raise KeyError(name)
        entries = self._entries
        for i, (k, n, _) in enumerate(entries):
            if k == key:
                entries[i] = (k, n, value)
                self._cache.pop(key, None)
                if self._first is not None:  # the index keeps the first value of each name: this one
                    self._first[key] = value
                return
        raise KeyError(name)

    def remove(self, name: str) -> None:
        key = header_key(name)
        self._changed(key)
        self._entries = [e for e in self._entries if e[0] != key]

    def pop_first_value(self, name: str) -> str | None:
        """Remove the first element of a list header (the top Via, the first Route) and return it."""
        key = header_key(name)
        for i, (k, n, value) in enumerate(self._entries):
            if k == key:
                self._changed(key)
                first, *rest = split_list(value)
                if rest:
                    self._entries[i] = (k, n, ", ".join(rest))
                else:
                    del self._entries[i]
                return first
        return None

    def copy(self) -> Headers:
        """The same fields, without the index or the parsed views (those are not shared between messages)."""
        if self._list is None:  # still as parsed: copy the (name, value) pairs, the triples are made if needed
            assert self._wire is not None
            return Headers._from_wire(list(self._wire), None)
        return Headers._from_entries(list(self._list))

    def parsed(self, name: str, parse: Callable[[], T]) -> T:
        """Cache the structured view of a header (used by Message's properties)."""
        key = header_key(name)
        try:
            return self._cache[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self._cache[key] = parse()
            return value

    def items_raw(self) -> list[tuple[str, str]]:
        return [(name, value) for _, name, value in self._entries]
