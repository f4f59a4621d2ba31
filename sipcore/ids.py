"""Identifiers a SIP element invents: Via branch, From/To tag, Call-ID, digest cnonce (RFC 3261 §8.1.1).

Randomness is passed in, never taken from a global: either a ``random.Random``-like object (anything
with ``randbytes(n)``: a seeded ``random.Random`` in tests, ``random.SystemRandom()`` in production) or a
token source ``Callable[[int], bytes]`` such as ``os.urandom`` (the same shape :mod:`sipcore.digest` uses).
Tokens are lower-case hex, which is valid in every place these identifiers appear (token, word).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["MAGIC_COOKIE", "IdGenerator", "RandomLike", "TokenSource", "has_magic_cookie"]

MAGIC_COOKIE = "z9hG4bK"
"""The RFC 3261 §8.1.1.7 prefix of every branch created by an RFC 3261 element."""

TokenSource = Callable[[int], bytes]
"""Returns that many random octets (``os.urandom``)."""


class RandomLike(Protocol):
    """What is needed of ``random.Random``."""

    def randbytes(self, n: int, /) -> bytes: ...


def has_magic_cookie(branch: str | None) -> bool:
    """True for an RFC 3261 branch: the magic cookie followed by at least one character.

    A branch of exactly ``z9hG4bK`` (RFC 4475 §3.2.1 badbranch) carries no transaction identifier, so
    such a request is matched by the RFC 2543 rules instead.
    """
    return branch is not None and branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE)


class IdGenerator:
    """Makes branches, tags, Call-IDs and cnonces from the random source it is given.

    >>> import random
    >>> ids = IdGenerator(random.Random(1))
    >>> ids.branch().startswith("z9hG4bK")
    True
    """

    __slots__ = ("_randbytes",)

    BRANCH_BYTES = 10
    TAG_BYTES = 8
    CALL_ID_BYTES = 16
    CNONCE_BYTES = 16

    def __init__(self, source: RandomLike | TokenSource) -> None:
        randbytes = getattr(source, "randbytes", None)
        if callable(randbytes):
            self._randbytes: TokenSource = randbytes
        elif callable(source):
            self._randbytes = source
        else:
            raise TypeError(f"expected a random.Random-like object or a Callable[[int], bytes], "
                            f"got {type(source).__name__}")

    def token(self, nbytes: int) -> str:
        """``nbytes`` random octets as ``2*nbytes`` lower-case hex digits."""
        data = self._randbytes(nbytes)
        if len(data) != nbytes:
            raise ValueError(f"token source returned {len(data)} octets, {nbytes} were asked for")
        return data.hex()

    def branch(self) -> str:
        """A Via branch: the magic cookie and 80 random bits (unique across space and time, §8.1.1.7)."""
        return MAGIC_COOKIE + self.token(self.BRANCH_BYTES)

    def tag(self) -> str:
        """A From or To tag: 64 random bits (at least 32 are required, §19.3)."""
        return self.token(self.TAG_BYTES)

    def call_id(self, host: str | None = None) -> str:
        """A Call-ID: 128 random bits, with ``@host`` appended when a host is given (§8.1.1.4)."""
        local = self.token(self.CALL_ID_BYTES)
        return local if host is None else f"{local}@{host}"

    def cnonce(self) -> str:
        """A digest client nonce: 128 random bits (RFC 7616 §3.4)."""
        return self.token(self.CNONCE_BYTES)
