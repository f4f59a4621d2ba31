"""SRTP (RFC 3711) with the keys SDES put in SDP: libsrtp through its maintained binding, pylibsrtp.

No cryptography is written here: :class:`SrtpContext` is one libsrtp session for one direction, keyed by
one a=crypto line (:class:`sipcore.sdes.CryptoAttribute`). Like the rest of sipcore it does no I/O.

    sender = SrtpContext(our_crypto, outbound=True)      # our a=crypto: what we send with
    receiver = SrtpContext(their_crypto, outbound=False)  # theirs: what they send with
    wire = sender.protect(rtp_bytes)
    rtp_bytes = receiver.unprotect(wire)                 # SrtpError: not authentic, replayed ...

A context serves every SSRC (libsrtp's wildcard policies), so a sender that changes SSRC, or a relay
forwarding packets of several sources, needs one context per key, not per stream. Outbound contexts
allow a sequence number to be protected twice (a retransmission a relay forwards again).
"""

from __future__ import annotations

from typing import Any

from .errors import SIPParseError
from .sdes import CryptoAttribute

__all__ = ["SrtpContext", "SrtpError"]

_PROFILES = {"AES_CM_128_HMAC_SHA1_80": "SRTP_PROFILE_AES128_CM_SHA1_80",
             "AES_CM_128_HMAC_SHA1_32": "SRTP_PROFILE_AES128_CM_SHA1_32"}


def _libsrtp() -> Any:
    """pylibsrtp, imported on first use: it loads ``socket`` (for htonl), which ``import sipcore`` must not."""
    import pylibsrtp

    return pylibsrtp


class SrtpError(SIPParseError):
    """A packet libsrtp refused (its reason in the message: "auth check failed", "replay check failed").
    Like any bad media it is dropped, never answered."""

    def __init__(self, message: str) -> None:
        super().__init__(message, drop=True)


class SrtpContext:
    """One direction of SRTP and SRTCP under one master key; see the module docstring."""

    def __init__(self, crypto: CryptoAttribute, *, outbound: bool) -> None:
        why = crypto.usable()
        if why is not None:
            raise ValueError(f"a=crypto:{crypto} cannot key SRTP: {why}")
        self.crypto = crypto
        self.outbound = outbound
        lib = _libsrtp()
        self._errors = (lib.Error, ValueError)  # ValueError: too short to be RTP, or too long
        Policy = lib.Policy  # noqa: N806
        policy = Policy(key=crypto.key.key_salt, srtp_profile=getattr(Policy, _PROFILES[crypto.suite]),
                        ssrc_type=Policy.SSRC_ANY_OUTBOUND if outbound else Policy.SSRC_ANY_INBOUND)
        if outbound:
            policy.allow_repeat_tx = True
        self._session = lib.Session(policy)

    def __repr__(self) -> str:
        return f"<SrtpContext {'out' if self.outbound else 'in'} tag {self.crypto.tag} {self.crypto.suite}>"

    def protect(self, rtp: bytes) -> bytes:
        """RTP -> SRTP (encrypted payload, auth tag appended)."""
        return self._call(self._session.protect, rtp, "protect RTP")

    def unprotect(self, srtp: bytes) -> bytes:
        """SRTP -> RTP; :class:`SrtpError` when the packet does not authenticate or is a replay."""
        return self._call(self._session.unprotect, srtp, "unprotect SRTP")

    def protect_rtcp(self, rtcp: bytes) -> bytes:
        return self._call(self._session.protect_rtcp, rtcp, "protect RTCP")

    def unprotect_rtcp(self, srtcp: bytes) -> bytes:
        return self._call(self._session.unprotect_rtcp, srtcp, "unprotect SRTCP")

    def _call(self, method: object, data: bytes, what: str) -> bytes:
        assert callable(method)
        try:
            result = method(data)
        except self._errors as exc:
            raise SrtpError(f"libsrtp cannot {what} ({len(data)} bytes, a=crypto tag {self.crypto.tag} "
                            f"{self.crypto.suite}): {exc}") from None
        assert isinstance(result, bytes)
        return result
