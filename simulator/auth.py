"""The UA's answer to a 401/407 (RFC 3261 §22.2, §22.3): the request again with credentials, CSeq + 1,
a new branch, the same Call-ID and From tag; at most ``max_auth_retries`` times, so a server that keeps
challenging (a wrong password, a stale nonce loop) cannot make the UA loop forever.
"""

from __future__ import annotations

from sipcore.builders import authorize_request, with_new_branch
from sipcore.digest import Challenge, DigestError, header_names_for, parse_challenges
from sipcore.digest_client import DigestClient
from sipcore.errors import SIPParseError
from sipcore.ids import IdGenerator
from sipcore.message import Request, Response

from .settings import UaSettings

__all__ = ["ChallengeAnswerer", "credential_headers", "with_new_cseq"]

WRONG_PASSWORD_SUFFIX = "-deliberately-wrong"


def credential_headers(request: Request) -> list[tuple[str, str]]:
    """The Authorization / Proxy-Authorization fields of ``request`` (the ACK for a 2xx repeats the
    INVITE's, RFC 3261 §22.1)."""
    return [(name, value) for name in ("Proxy-Authorization", "Authorization")
            for value in request.headers.get_all(name)]


class ChallengeAnswerer:
    """Answers challenges for one dialog-creating or registering request sequence."""

    def __init__(self, settings: UaSettings, ids: IdGenerator) -> None:
        self.settings = settings
        self.ids = ids
        password = settings.password
        if settings.on_challenge == "wrong-password":
            password = (password or "") + WRONG_PASSWORD_SUFFIX
        username = settings.auth_username or settings.username
        self.client = DigestClient(username, password) if password is not None else None
        self.retries = 0
        self.stale_retries = 0
        self.last: tuple[str, list[Challenge]] | None = None  # the last challenge answered: header, challenges

    def retry(self, request: Request, response: Response) -> tuple[Request | None, str]:
        """``(request with credentials, note)`` or ``(None, why the UA gives up)``."""
        settings = self.settings
        if settings.on_challenge == "give-up":
            return None, "on_challenge is give-up: the challenge is the final answer"
        if self.client is None:
            return None, "no password is set, so the challenge cannot be answered"
        if self.retries >= settings.max_auth_retries:
            return None, (f"gave up after {self.retries} authenticated "
                          f"attempt{'s' if self.retries != 1 else ''} (max_auth_retries={settings.max_auth_retries})")
        challenge_header, credentials_header = header_names_for(response.status)
        try:
            challenges = parse_challenges(response.headers.get_all(challenge_header), header=challenge_header)
        except SIPParseError as exc:
            return None, f"malformed {challenge_header}: {exc}"
        if not challenges:
            return None, f"{response.status} carries no Digest {challenge_header}"
        try:
            credentials = self.client.authorize(challenges, request.method, request.uri,
                                                preferred_algorithms=settings.algorithms)
        except DigestError as exc:
            return None, str(exc)
        self.retries += 1
        self.last = (credentials_header, challenges)
        stale = any(c.stale for c in challenges)
        self.stale_retries += stale
        retry = authorize_request(request, credentials_header, credentials.to_header(), self.ids.branch(),
                                  request.cseq.seq + 1)
        algorithm = credentials.algorithm or "MD5"
        return retry, (f"answering {response.status} with {credentials_header} ({algorithm}, realm "
                       f"{credentials.realm}{', stale nonce' if stale else ''})")

    def again(self, request: Request, cseq: int) -> Request:
        """``request`` as a new transaction (new branch, CSeq ``cseq``) for a reason other than a challenge
        (a 422's larger interval): credentials for the last challenge answered, its nonce's next nc."""
        if self.last is None or self.client is None:
            return with_new_cseq(request, self.ids.branch(), cseq)
        header, challenges = self.last
        try:
            credentials = self.client.authorize(challenges, request.method, request.uri,
                                                preferred_algorithms=self.settings.algorithms)
        except DigestError:
            return with_new_cseq(request, self.ids.branch(), cseq)
        return authorize_request(request, header, credentials.to_header(), self.ids.branch(), cseq)


def with_new_cseq(request: Request, branch: str, cseq: int) -> Request:
    """A copy of ``request`` as a new transaction: new branch, CSeq number ``cseq``."""
    retry = with_new_branch(request, branch)
    retry.headers.set("CSeq", f"{cseq} {request.cseq.method}")
    return retry
