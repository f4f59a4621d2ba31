"""A sans-IO registrar (RFC 3261 §10.3) for the extensions of the registrar domain.

The caller has already routed the REGISTER here (Request-URI = the registrar domain, step 1) and
authenticated and authorized it (steps 3-4, :mod:`reference_server.auth_policy`). This module does steps
5-8 on a location store keyed by the AOR user (the To URI user, unescaped):

- expiration per contact: its ``expires`` parameter, else the Expires header, else ``default_expires``;
  a malformed parameter counts as 3600 (§20.10); 0 < interval < min(min_expires, 3600) fails the whole
  request with 423 Interval Too Brief + Min-Expires; longer than ``max_expires`` is shortened to it;
- 0 removes that binding; ``Contact: *`` with ``Expires: 0`` and nothing else removes all (``*`` with
  another Contact or a non-zero/absent Expires is 400);
- a Contact matches an existing binding by URI (RFC 3261 §19.1.4 comparison) or by the same
  ``+sip.instance`` (RFC 5626: the same device re-registering from a new address replaces its old binding);
  a matching binding with the same Call-ID and a CSeq not higher aborts the request with 500 (§10.3 step 7:
  an out-of-order request); all updates commit together or not at all;
- at most ``max_contacts`` bindings per AOR: the least recently (re-)registered are dropped;
- no Contact: a query, answered with the current bindings.

A 200 lists every current binding with its remaining ``expires`` (§10.3 step 8).
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sipcore.errors import SIPParseError
from sipcore.headers import NameAddr, format_params
from sipcore.message import Request
from sipcore.uri import SipURI, parse_uri, unescape

from .config import RegistrarConfig

__all__ = ["Binding", "RegisterResult", "Registrar"]

_QVALUE = re.compile(r"(0(\.[0-9]{0,3})?|1(\.0{0,3})?)\Z")  # RFC 3261 §25.1
_MALFORMED_EXPIRES = 3600  # RFC 3261 §20.10


@dataclass(frozen=True)
class Binding:
    aor: str
    uri: str  # the Contact URI as received
    params: tuple[tuple[str, str | None], ...]  # the Contact's header parameters, without expires
    expires_at: float
    call_id: str
    cseq: int
    source: tuple[str, int]  # where the REGISTER came from
    transport: str
    q: float | None
    instance: str | None  # +sip.instance, quotes kept
    registered_at: float

    @property
    def contact(self) -> str:
        return f"<{self.uri}>{format_params(dict(self.params))}"

    def expires_in(self, now: float) -> int:
        return max(0, round(self.expires_at - now))

    def contact_value(self, now: float) -> str:
        """The Contact value of a 200 to REGISTER: the binding with ``;expires=`` remaining seconds."""
        return f"{self.contact};expires={self.expires_in(now)}"


@dataclass(frozen=True)
class RegisterResult:
    status: int
    headers: tuple[tuple[str, str], ...] = ()  # to add to the response (Contact..., Min-Expires, Date)
    bindings: tuple[Binding, ...] = ()  # the AOR's bindings after the request
    reason: str = ""  # what happened / what was wrong, for logs and a Warning if wanted


class _Abort(Exception):
    def __init__(self, status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers


class Registrar:
    def __init__(self, min_expires: int = 60, default_expires: int = 3600, max_expires: int = 7200,
                 max_contacts: int = 3, *, aor_exists: Callable[[str], bool] | None = None) -> None:
        if not 0 < min_expires <= default_expires <= max_expires or max_contacts < 1:
            raise ValueError("need 0 < min_expires <= default_expires <= max_expires and max_contacts >= 1")
        self.min_expires, self.default_expires, self.max_expires = min_expires, default_expires, max_expires
        self.max_contacts = max_contacts
        self.aor_exists = aor_exists
        self._bindings: dict[str, list[Binding]] = {}  # per AOR, in registration order

    @classmethod
    def from_config(cls, config: RegistrarConfig, *,
                    aor_exists: Callable[[str], bool] | None = None) -> Registrar:
        return cls(config.min_expires, config.default_expires, config.max_expires, config.max_contacts,
                   aor_exists=aor_exists)

    @property
    def binding_count(self) -> int:
        """Contacts bound, over every AOR (expired ones until purged)."""
        return sum(len(b) for b in self._bindings.values())

    # --- location service ---------------------------------------------------------------------------

    def lookup(self, aor_user: str, now: float) -> list[Binding]:
        """Current bindings of an AOR, highest q first (absent q ranks as 1.0), then registration order."""
        self._purge_aor(aor_user, now)
        return sorted(self._bindings.get(aor_user, []), key=lambda b: -(1.0 if b.q is None else b.q))

    def purge(self, now: float) -> int:
        """Drop every expired binding; return how many."""
        return sum(self._purge_aor(aor, now) for aor in list(self._bindings))

    def _purge_aor(self, aor: str, now: float) -> int:
        bindings = self._bindings.get(aor)
        if bindings is None:
            return 0
        alive = [b for b in bindings if b.expires_at > now]
        if alive:
            self._bindings[aor] = alive
        else:
            del self._bindings[aor]
        return len(bindings) - len(alive)

    # --- REGISTER -----------------------------------------------------------------------------------

    def handle_register(self, request: Request, now: float, source_addr: tuple[str, int], transport: str,
                        *, date: float | None = None) -> RegisterResult:
        """Apply a REGISTER; ``date`` (wall-clock seconds since the epoch), when given, adds a Date header
        to a 200 (§10.3 step 8 SHOULD)."""
        if request.method != "REGISTER":
            raise ValueError(f"a registrar handles REGISTER, not {request.method}")
        try:
            aor, bindings = self._apply(request, now, source_addr, transport)
        except _Abort as abort:
            return RegisterResult(abort.status, abort.headers, tuple(self.lookup_raw(request)), abort.reason)
        except SIPParseError as exc:
            return RegisterResult(400, (), (), str(exc))
        if bindings:
            self._bindings[aor] = bindings
        else:
            self._bindings.pop(aor, None)
        headers = [("Contact", b.contact_value(now)) for b in bindings]
        if date is not None:
            headers.append(("Date", email.utils.formatdate(date, usegmt=True)))
        verb = "query" if not request.contacts and not request.contact_star else "update"
        return RegisterResult(200, tuple(headers), tuple(bindings), f"{verb} of {aor}: {len(bindings)} binding(s)")

    def replace(self, aor_user: str, bindings: Iterable[Binding]) -> None:
        """Set an AOR's bindings as another process's registrar has them (a multi-worker server)."""
        kept = list(bindings)
        if kept:
            self._bindings[aor_user] = kept
        else:
            self._bindings.pop(aor_user, None)

    def lookup_raw(self, request: Request) -> list[Binding]:
        """The stored bindings of the request's AOR (unchanged after a failed REGISTER); [] if unknown."""
        try:
            uri = request.to.uri
        except SIPParseError:
            return []
        if not isinstance(uri, SipURI) or uri.user is None:
            return []
        return list(self._bindings.get(unescape(uri.user), []))

    def _apply(self, request: Request, now: float, source: tuple[str, int],
               transport: str) -> tuple[str, list[Binding]]:
        to_uri = request.to.uri
        if not isinstance(to_uri, SipURI) or not to_uri.user:
            raise _Abort(404, f"To {to_uri} is not a sip:user@domain address-of-record")
        aor = unescape(to_uri.user)
        if self.aor_exists is not None and not self.aor_exists(aor):
            raise _Abort(404, f"no extension {aor!r} in this domain")
        call_id, cseq, header_expires = request.call_id, request.cseq.seq, request.expires
        contacts, star = request.contacts, request.contact_star
        self._purge_aor(aor, now)
        current = list(self._bindings.get(aor, []))

        if star:
            if contacts or header_expires != 0:
                raise _Abort(400, "Contact: * needs Expires: 0 and no other Contact (RFC 3261 §10.3 step 6)")
            self._check_order(current, call_id, cseq)
            return aor, []
        if not contacts:
            return aor, current

        bindings = current
        added: list[Binding] = []  # tentatively added by this request: no ordering check among them
        for contact in contacts:
            expires = self._expires(contact, header_expires)
            old = self._find(bindings, contact)
            if old is not None:
                if not any(old is b for b in added):
                    self._check_order([old], call_id, cseq)
                bindings = [b for b in bindings if b is not old]
            if expires > 0:
                added.append(self._binding(aor, contact, now, expires, call_id, cseq, source, transport))
                bindings.append(added[-1])
        return aor, bindings[-self.max_contacts:]

    def _expires(self, contact: NameAddr, header_expires: int | None) -> int:
        param = contact.param("expires")
        if param is not None:
            expires = int(param) if param.isascii() and param.isdigit() else _MALFORMED_EXPIRES
        else:
            expires = self.default_expires if header_expires is None else header_expires
        if 0 < expires < self.min_expires and expires < 3600:
            raise _Abort(423, f"expiration {expires} s of {contact.uri} is below {self.min_expires} s",
                         (("Min-Expires", str(self.min_expires)),))
        return min(expires, self.max_expires)

    @staticmethod
    def _find(bindings: list[Binding], contact: NameAddr) -> Binding | None:
        instance = contact.param("+sip.instance")
        for b in bindings:
            if parse_uri(b.uri) == contact.uri or (instance is not None and b.instance == instance):
                return b
        return None

    @staticmethod
    def _check_order(bindings: list[Binding], call_id: str, cseq: int) -> None:
        for b in bindings:
            if b.call_id == call_id and cseq <= b.cseq:
                raise _Abort(500, f"CSeq {cseq} is not above {b.cseq} of the binding {b.uri} with the same "
                                  f"Call-ID: out-of-order REGISTER (RFC 3261 §10.3 step 7)")

    @staticmethod
    def _binding(aor: str, contact: NameAddr, now: float, expires: int, call_id: str, cseq: int,
                 source: tuple[str, int], transport: str) -> Binding:
        q_text = contact.param("q")
        if q_text is not None and not _QVALUE.match(q_text):
            raise _Abort(400, f"Contact q={q_text} is not a q-value from 0 to 1 (RFC 3261 §20.10)")
        params = tuple((k, v) for k, v in contact.params.items() if k.lower() != "expires")
        return Binding(aor, str(contact.uri), params, now + expires, call_id, cseq, source, transport,
                       None if q_text is None else float(q_text), contact.param("+sip.instance"), now)
