"""SDES: SRTP keys in SDP, the a=crypto attribute of RFC 4568. Sans-IO.

An offer lists one ``a=crypto`` line per acceptable crypto suite, each with the key its sender will
encrypt with (``inline:`` base64 of master key || master salt); the answerer picks one line, answers with
the same tag and suite and a key of its own (RFC 4568 §5.1.2). So each side's SDP carries the key of the
media that side *sends*: a receiver decrypts with the far end's key, a sender encrypts with its own.

    offer = CryptoAttribute.parse("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4")
    offer.key.key_salt        # 30 bytes: 16 of master key, 14 of master salt
    chosen = choose_crypto([offer])                       # None: nothing acceptable (answer 488)
    answer = answer_crypto(chosen, os.urandom(30))        # same tag and suite, our own key

What this module accepts (:func:`choose_crypto`) is what :mod:`sipcore.srtp` can key: the suites in
:data:`CRYPTO_SUITES`, one key, no MKI, no session parameters. Anything else is parsed (and kept, so a relay
or a harness can show it) but not chosen. Randomness is passed in: keys are made by the caller.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import SIPParseError
from .sdp import MediaDescription

__all__ = ["CRYPTO_SUITES", "SAVP", "CryptoAttribute", "CryptoSuite", "KeyParam", "answer_crypto",
           "choose_crypto", "crypto_attributes", "negotiated_crypto"]

SAVP = "RTP/SAVP"
"""The secure RTP profile of RFC 3711 §12, the m= proto that a=crypto lines go with."""


@dataclass(frozen=True)
class CryptoSuite:
    """An SRTP crypto suite of RFC 4568 §6.2: master key and salt lengths (bytes), auth tag (bytes)."""

    name: str
    key_length: int
    salt_length: int
    tag_length: int

    @property
    def key_salt_length(self) -> int:
        return self.key_length + self.salt_length


#: The suites :mod:`sipcore.srtp` can key, in order of preference.
CRYPTO_SUITES: dict[str, CryptoSuite] = {
    s.name: s for s in (CryptoSuite("AES_CM_128_HMAC_SHA1_80", 16, 14, 10),
                        CryptoSuite("AES_CM_128_HMAC_SHA1_32", 16, 14, 4))
}

_TAG = re.compile(r"[0-9]{1,9}\Z")
_SUITE = re.compile(r"[A-Za-z0-9_]+\Z")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}\Z")


def _error(value: str, why: str) -> SIPParseError:
    return SIPParseError(f"a=crypto:{value}: {why} (RFC 4568 §9.1)")


@dataclass(frozen=True)
class KeyParam:
    """One ``inline:`` key parameter (RFC 4568 §6.1): master key || master salt, the optional key
    lifetime in packets and the optional MKI (value, length in bytes). A lifetime written ``2^20`` and one
    written ``1048576`` are the same number and both print as ``2^20``."""

    key_salt: bytes
    lifetime: int | None = None
    mki: tuple[int, int] | None = None

    def __str__(self) -> str:
        text = "inline:" + base64.b64encode(self.key_salt).decode("ascii")
        if self.lifetime is not None:
            power = self.lifetime.bit_length() - 1
            text += f"|2^{power}" if self.lifetime == 1 << power else f"|{self.lifetime}"
        if self.mki is not None:
            text += f"|{self.mki[0]}:{self.mki[1]}"
        return text

    @classmethod
    def parse(cls, text: str, where: str) -> KeyParam:
        method, colon, info = text.partition(":")
        if not colon or method.lower() != "inline":
            raise _error(where, f"key parameter {text!r} is not inline:<key||salt>[|lifetime][|MKI:length]")
        key_text, *rest = info.split("|")
        if not _BASE64.match(key_text):
            raise _error(where, f"key {key_text!r} is not base64")
        try:
            key_salt = base64.b64decode(key_text, validate=True)
        except (binascii.Error, ValueError):
            raise _error(where, f"key {key_text!r} is not valid base64") from None
        lifetime: int | None = None
        mki: tuple[int, int] | None = None
        for field in rest:
            if ":" in field:
                if mki is not None:
                    raise _error(where, f"key parameter {text!r} has two MKI fields")
                value, _, length = field.partition(":")
                if not (value.isdigit() and length.isdigit() and 1 <= int(length) <= 128):
                    raise _error(where, f"MKI {field!r} is not <value>:<length 1..128>")
                mki = (int(value), int(length))
            elif lifetime is None and mki is None:
                lifetime = _lifetime(field, where)
            else:
                raise _error(where, f"key parameter {text!r}: {field!r} is out of place")
        return cls(key_salt, lifetime, mki)


def _lifetime(field: str, where: str) -> int:
    base, caret, power = field.partition("^")
    if caret and base == "2" and power.isdigit() and int(power) <= 64:
        return 1 << int(power)
    if not caret and field.isdigit() and int(field) > 0:
        return int(field)
    raise _error(where, f"key lifetime {field!r} is not a number or 2^<number>")


@dataclass(frozen=True)
class CryptoAttribute:
    """The value of one a=crypto line: ``<tag> <crypto-suite> <key-params> [<session-params>]``."""

    tag: int
    suite: str
    keys: tuple[KeyParam, ...]
    session_params: tuple[str, ...] = ()

    def __str__(self) -> str:
        keys = ";".join(map(str, self.keys))
        return " ".join([str(self.tag), self.suite, keys, *self.session_params])

    @property
    def line(self) -> str:
        """The SDP attribute as written in a description: ``crypto:1 AES_CM_128_HMAC_SHA1_80 inline:...``."""
        return f"crypto:{self}"

    @property
    def key(self) -> KeyParam:
        """The first (usually the only) key."""
        return self.keys[0]

    @property
    def known_suite(self) -> CryptoSuite | None:
        return CRYPTO_SUITES.get(self.suite)

    def usable(self) -> str | None:
        """Why :mod:`sipcore.srtp` cannot key this line (None when it can)."""
        suite = self.known_suite
        if suite is None:
            return f"crypto suite {self.suite} is not one of {', '.join(CRYPTO_SUITES)}"
        if len(self.keys) != 1:
            return f"{len(self.keys)} keys (MKI key switching is not supported)"
        if self.key.mki is not None:
            return "an MKI (not supported)"
        if self.session_params:
            return f"session parameters {' '.join(self.session_params)} (none is supported)"
        return None

    @classmethod
    def parse(cls, value: str) -> CryptoAttribute:
        """Parse an a=crypto value (what follows ``crypto:``); SIPParseError naming what is wrong. A key of
        a known suite must have that suite's length."""
        fields = value.split()
        if len(fields) < 3:
            raise _error(value, "needs <tag> <crypto-suite> <key-params>")
        tag, suite, key_text, *session = fields
        if not _TAG.match(tag):
            raise _error(value, f"tag {tag!r} is not 1 to 9 digits")
        if not _SUITE.match(suite):
            raise _error(value, f"crypto suite {suite!r} is not a token of letters, digits and '_'")
        keys = tuple(KeyParam.parse(k, value) for k in key_text.split(";"))
        known = CRYPTO_SUITES.get(suite)
        for key in keys:
            if known is not None and len(key.key_salt) != known.key_salt_length:
                raise _error(value, f"{suite} needs {known.key_salt_length} bytes of key and salt, the key has "
                             f"{len(key.key_salt)}")
        return cls(int(tag), suite, keys, tuple(session))

    @classmethod
    def new(cls, tag: int, suite: str, key_salt: bytes) -> CryptoAttribute:
        """A line with one fresh key (``key_salt``: random bytes the caller drew, as long as the suite
        needs); ValueError for an unknown suite or a wrong key length."""
        known = CRYPTO_SUITES.get(suite)
        if known is None:
            raise ValueError(f"crypto suite {suite!r} is not one of {', '.join(CRYPTO_SUITES)}")
        if len(key_salt) != known.key_salt_length:
            raise ValueError(f"{suite} needs {known.key_salt_length} bytes of key and salt, got {len(key_salt)}")
        if not 0 <= tag <= 999_999_999:
            raise ValueError(f"a=crypto tag {tag} is not 0..999999999")
        return cls(tag, suite, (KeyParam(key_salt),))


def crypto_attributes(media: MediaDescription, *, skip_malformed: bool = False) -> list[CryptoAttribute]:
    """The a=crypto lines of a media description, in order; SIPParseError on the first malformed one, or
    (``skip_malformed``: what an answerer does with a line it cannot read) without the malformed ones."""
    out = []
    for name, value in media.attributes:
        if name != "crypto":
            continue
        try:
            out.append(CryptoAttribute.parse(value or ""))
        except SIPParseError:
            if not skip_malformed:
                raise
    return out


def choose_crypto(offered: Iterable[CryptoAttribute],
                  suites: Sequence[str] = tuple(CRYPTO_SUITES)) -> CryptoAttribute | None:
    """The offered line an answerer takes (RFC 4568 §7.1.1: the offerer lists them in its preference
    order): the first that :meth:`CryptoAttribute.usable` accepts with a suite among ``suites``."""
    return next((c for c in offered if c.suite in suites and c.usable() is None), None)


def answer_crypto(chosen: CryptoAttribute, key_salt: bytes) -> CryptoAttribute:
    """The answer's a=crypto for the offered line ``chosen``: its tag and suite, the answerer's own key."""
    return CryptoAttribute.new(chosen.tag, chosen.suite, key_salt)


def negotiated_crypto(offer: Sequence[CryptoAttribute],
                      answer: Sequence[CryptoAttribute]) -> tuple[CryptoAttribute, CryptoAttribute] | None:
    """(the offer's line, the answer's line) that an answer accepted: the answer's single line and the
    offered line with its tag and suite (RFC 4568 §5.1.2); None when they do not match."""
    if len(answer) != 1:
        return None
    accepted = answer[0]
    for line in offer:
        if line.tag == accepted.tag and line.suite == accepted.suite:
            return line, accepted
    return None
