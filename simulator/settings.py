"""Validated settings of the simulated UA and destination, and the destination's script steps.

Everything is checked when the dataclass is built; a mistake raises :class:`SettingsError` naming the
setting, the value and what was expected (``status 99 of Reject is not a final status: use 300..699``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from sipcore.aio.tls import TlsOptions
from sipcore.digest import UnsupportedAlgorithmError, get_algorithm
from sipcore.digest_client import DEFAULT_PREFERENCE
from sipcore.errors import SIPParseError
from sipcore.timers import TimerConfig
from sipcore.transport_address import AddressError, bracketed, parse_transport_address
from sipcore.uri import parse_sip_uri

from .session_settings import RELIABLE_MODES, SessionTimer, SettingsError, check_reliable

__all__ = [
    "CHALLENGE_BEHAVIOURS", "HOLD_DIRECTIONS", "RELIABLE_MODES", "Addr", "Answer", "DestinationSettings",
    "HangupAfter", "Hold", "MidCallStep", "NeverAnswer", "Reject", "Resume", "Send100", "Send180", "Send183",
    "SendDigits", "SessionTimer", "SettingsError", "Step", "UaSettings", "Wait", "check_midcall", "check_script",
    "check_sip_uri", "parse_address", "parse_hostport"]

Addr = tuple[str, int]
TRANSPORTS = ("UDP", "TCP", "TLS")
CHALLENGE_BEHAVIOURS = ("answer", "wrong-password", "give-up")
"""What the UA does with a 401/407: answer it with its credentials, answer with a deliberately wrong
password (negative scenarios), or give up (the challenge is the final status)."""




# --- value checks -------------------------------------------------------------------------------------

def _check_ip(host: str, what: str) -> str:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise SettingsError(f"{what}: {host!r} is not an IP address (use e.g. 127.0.0.1)") from None
    return host.strip("[]")


def _check_port(port: int, what: str, *, zero_ok: bool) -> int:
    if not isinstance(port, int) or isinstance(port, bool) or not (0 if zero_ok else 1) <= port <= 65535:
        low = 0 if zero_ok else 1
        raise SettingsError(f"{what}: port {port!r} is not in {low}..65535")
    return port


def check_addr(addr: Sequence[object], what: str, *, zero_port_ok: bool = False) -> Addr:
    """(IP, port) checked: an IP literal and a port in range (0 = any, where allowed)."""
    if len(addr) != 2 or not isinstance(addr[0], str) or not isinstance(addr[1], int):
        raise SettingsError(f"{what}: {addr!r} is not an (ip, port) pair")
    return _check_ip(addr[0], what), _check_port(addr[1], what, zero_ok=zero_port_ok)


def parse_address(text: str, what: str, *, default_port: int | None = None,
                  zero_port_ok: bool = False) -> tuple[str | None, Addr]:
    """``127.0.0.1:5080``, ``[::1]:5060``, ``udp:127.0.0.1:5080``, ``tcp:[::1]:5060`` (or a bare IP when
    ``default_port`` is given): the transport written (upper case, None when left out) and (IP, port)
    (:func:`sipcore.transport_address.parse_transport_address`)."""
    try:
        addr = parse_transport_address(text, default_port=default_port, zero_port_ok=zero_port_ok)
    except AddressError as exc:
        raise SettingsError(f"{what}: {exc}") from None
    head, colon, _ = text.strip().partition(":")
    written = addr.transport.upper() if colon and head.lower() == addr.transport else None
    return written, check_addr(addr.addr, what, zero_port_ok=zero_port_ok)


def parse_hostport(text: str, what: str, *, default_port: int | None = None,
                   zero_port_ok: bool = False) -> Addr:
    """(IP, port) of an address :func:`parse_address` takes, its transport left aside."""
    return parse_address(text, what, default_port=default_port, zero_port_ok=zero_port_ok)[1]


def check_sip_uri(text: str, what: str) -> str:
    """A sip:/sips: URI, returned stripped; SettingsError saying what is wrong with it otherwise."""
    value = text.strip()
    if not value.lower().startswith(("sip:", "sips:")):
        raise SettingsError(f"{what}: {text!r} is not a SIP URI (expected sip:user@host)")
    try:
        parse_sip_uri(value, header=what)
    except SIPParseError as exc:
        raise SettingsError(f"{what}: {text!r} is not a valid SIP URI: {exc.message}") from None
    return value


def _check_ms(value: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SettingsError(f"{what}: {value!r} is not a number of milliseconds >= 0")
    return value


def _check_text(value: str | None, what: str) -> None:
    if value is not None and any(c in value for c in "\r\n\0"):
        raise SettingsError(f"{what}: {value!r} contains a line break or NUL")


def _check_transport(value: str) -> str:
    upper = value.upper()
    if upper not in TRANSPORTS:
        raise SettingsError(f"transport {value!r} is not supported: use UDP, TCP or TLS")
    return upper


def _check_tls(transport: str, tls: TlsOptions | None, domain: str | None) -> TlsOptions | None:
    """TLS options go with transport TLS, and it needs a certificate to listen with; a UA's trunk is
    checked against its domain unless ``server_name`` says otherwise (RFC 5922)."""
    if transport != "TLS":
        if tls is not None:
            raise SettingsError(f"tls: TLS options given, but the transport is {transport}")
        return None
    if tls is not None and not tls.accept:
        pass  # opens its own connections only: no certificate needed to listen
    elif tls is None or tls.cert is None or tls.key is None:
        raise SettingsError("transport TLS needs tls=TlsOptions(cert=..., key=...): a certificate to listen with")
    if domain is not None and tls.server_name is None:
        return replace(tls, server_name=domain)
    return tls


# --- destination script steps -------------------------------------------------------------------------

@dataclass(frozen=True)
class Wait:
    """Do nothing for ``ms`` milliseconds."""

    ms: int

    def __post_init__(self) -> None:
        _check_ms(self.ms, "Wait.ms")


@dataclass(frozen=True)
class Send100:
    """Send 100 Trying."""


@dataclass(frozen=True)
class Send180:
    """Send 180 Ringing (with a To tag: an early dialog)."""


@dataclass(frozen=True)
class Send183:
    """Send 183 Session Progress; with ``early_media`` it carries the SDP answer and RTP starts."""

    early_media: bool = True


@dataclass(frozen=True)
class Answer:
    """Wait ``after_ms`` then answer 200 OK with SDP (RTP starts if it has not already)."""

    after_ms: int = 0

    def __post_init__(self) -> None:
        _check_ms(self.after_ms, "Answer.after_ms")


@dataclass(frozen=True)
class Reject:
    """Answer with a 300-699 final ``status`` and ``reason`` phrase, with a Reason header
    (RFC 3326, e.g. ``Q.850;cause=1;text="Unallocated (unassigned) number"``) when given, and a
    Retry-After of ``retry_after`` seconds (RFC 3261 §20.33: a 503's "try again later") when given."""

    status: int
    reason: str | None = None
    reason_header: str | None = None
    retry_after: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, int) or not 300 <= self.status <= 699:
            raise SettingsError(f"Reject.status: {self.status!r} is not a final status to reject with "
                                "(use 300..699)")
        _check_text(self.reason, "Reject.reason")
        _check_text(self.reason_header, "Reject.reason_header")
        if self.retry_after is not None and (isinstance(self.retry_after, bool) or not isinstance(self.retry_after, int)
                                             or self.retry_after < 0):
            raise SettingsError(f"Reject.retry_after: {self.retry_after!r} is not a number of seconds >= 0")


@dataclass(frozen=True)
class NeverAnswer:
    """Send no final response (until a CANCEL is honoured)."""


@dataclass(frozen=True)
class HangupAfter:
    """After the answer, wait ``ms`` then send BYE."""

    ms: int

    def __post_init__(self) -> None:
        _check_ms(self.ms, "HangupAfter.ms")


HOLD_DIRECTIONS = ("sendonly", "inactive")


@dataclass(frozen=True)
class Hold:
    """In the answered call, wait ``after_ms`` then put the call on hold: a re-INVITE whose offer says
    ``direction`` (a=sendonly: we may still send, e.g. music on hold; a=inactive: nothing either way)."""

    after_ms: int
    direction: str = "sendonly"

    def __post_init__(self) -> None:
        _check_ms(self.after_ms, "Hold.after_ms")
        if self.direction not in HOLD_DIRECTIONS:
            raise SettingsError(f"Hold.direction: {self.direction!r} is not one of {', '.join(HOLD_DIRECTIONS)}")


@dataclass(frozen=True)
class Resume:
    """Wait ``after_ms`` then take the call off hold: a re-INVITE whose offer says a=sendrecv."""

    after_ms: int

    def __post_init__(self) -> None:
        _check_ms(self.after_ms, "Resume.after_ms")


@dataclass(frozen=True)
class SendDigits:
    """Wait ``after_ms`` then send ``digits`` as RFC 4733 telephone-events (the payload type the far end's
    SDP gives telephone-event/8000), each ``duration_ms`` long with ``gap_ms`` of tone between them."""

    after_ms: int
    digits: str
    duration_ms: int = 100
    gap_ms: int = 100

    def __post_init__(self) -> None:
        _check_ms(self.after_ms, "SendDigits.after_ms")
        if not self.digits or any(c.upper() not in "0123456789*#ABCD" for c in self.digits):
            raise SettingsError(f"SendDigits.digits: {self.digits!r} is not a string of DTMF digits (0-9 * # A-D)")
        if not 40 <= self.duration_ms <= 8000:
            raise SettingsError(f"SendDigits.duration_ms: {self.duration_ms!r} is not in 40..8000 ms")
        _check_ms(self.gap_ms, "SendDigits.gap_ms")


MidCallStep = Hold | Resume | SendDigits
Step = Wait | Send100 | Send180 | Send183 | Answer | Reject | NeverAnswer | HangupAfter | Hold | Resume | SendDigits
_FINAL_STEPS = (Answer, Reject, NeverAnswer)


def check_midcall(steps: Sequence[MidCallStep], what: str = "midcall") -> tuple[MidCallStep, ...]:
    """Steps for an answered call (Hold, Resume, SendDigits), each run ``after_ms`` after the previous."""
    out = tuple(steps)
    for index, step in enumerate(out):
        if not isinstance(step, MidCallStep):
            raise SettingsError(f"{what} step {index + 1}: {step!r} is not Hold, Resume or SendDigits")
    return out


def check_script(script: Sequence[Step]) -> tuple[Step, ...]:
    """A script in the documented order: provisional steps and waits, one final step (Answer, Reject or
    NeverAnswer), then only HangupAfter and mid-call steps (Hold, Resume, SendDigits), after an Answer."""
    steps = tuple(script)
    final: Step | None = None
    for index, step in enumerate(steps):
        where = f"script step {index + 1} ({type(step).__name__})"
        if not isinstance(step, Step):
            raise SettingsError(f"{where}: {step!r} is not a destination step")
        if isinstance(step, _FINAL_STEPS):
            if final is not None:
                raise SettingsError(f"{where}: the script already ended with {type(final).__name__}")
            final = step
        elif isinstance(step, HangupAfter | MidCallStep):
            if not isinstance(final, Answer):
                raise SettingsError(f"{where}: {type(step).__name__} needs an Answer before it")
        elif final is not None:
            raise SettingsError(f"{where}: comes after the final step {type(final).__name__}")
    if final is None:
        raise SettingsError("the script has no final step: end it with Answer, Reject or NeverAnswer")
    return steps


# --- agents -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UaSettings:
    """The calling UA. URIs: From ``sip:{username}@{domain}`` unless ``from_uri``; calls to a number
    go to ``sip:{number}@{domain}``. ``target`` is where requests are sent (an outbound proxy: the
    trunk), separate from the URIs; ``alternates`` are the addresses to try after it, in order, when it
    fails (RFC 3263 §4.3: a transport error, a timeout or a 503). Without a target, the Request-URI's
    server: its IP, or its host name located through DNS as RFC 3263 says (NAPTR, SRV, A), asking ``dns``
    (IP, port) or, when None, the system's resolver. A REGISTER goes to ``registrar`` then
    ``registrar_alternates`` (the same failover), else where a call would go, else to the registrar
    domain's server located through DNS."""

    listen: Addr = ("127.0.0.1", 0)
    transport: str = "UDP"
    username: str = "alice"
    password: str | None = None
    auth_username: str | None = None
    domain: str = "example.trunk.voipbin.net"
    from_uri: str | None = None
    display_name: str | None = None
    target: Addr | None = None
    alternates: tuple[Addr, ...] = ()
    dns: Addr | None = None
    registrar_domain: str | None = None
    registrar: Addr | None = None
    registrar_alternates: tuple[Addr, ...] = ()
    algorithms: tuple[str, ...] = DEFAULT_PREFERENCE
    max_auth_retries: int = 2
    on_challenge: str = "answer"
    rtp_host: str | None = None
    tone_hz: float = 1000.0
    send_early_media: bool = True
    srtp: bool = False  # offer RTP/SAVP with an SDES key (RFC 4568) instead of RTP/AVP
    hold_ms: int = 1000
    ring_timeout_ms: int = 60_000
    remote_bye_timeout_ms: int = 10_000
    answer_incoming: bool = True
    answer_after_ms: int = 0
    incoming_script: tuple[Step, ...] | None = None  # how incoming calls are answered (None: 180, answer)
    register_expires: int = 3600
    register_refresh_ratio: float = 0.5
    timers: TimerConfig = field(default_factory=TimerConfig)
    user_agent: str = "trunkcheck-simulator"
    prack: bool = False  # RFC 3262: Supported: 100rel in the INVITE, a PRACK for each reliable provisional
    session_timer: SessionTimer = SessionTimer()  # RFC 4028: the interval asked (none), how the UA refreshes
    tls: TlsOptions | None = None
    """With transport TLS: its certificate (to listen), the CA file, and the SIP domain the trunk's
    certificate must name (``server_name``; default: ``domain``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "listen", check_addr(self.listen, "listen", zero_port_ok=True))
        object.__setattr__(self, "transport", _check_transport(self.transport))
        object.__setattr__(self, "tls", _check_tls(self.transport, self.tls, self.domain))
        if not self.username or any(c in self.username for c in " \t\r\n@:;<>\""):
            raise SettingsError(f"username {self.username!r} is empty or not usable in a SIP URI user part")
        for name in ("password", "auth_username", "display_name", "user_agent"):
            _check_text(getattr(self, name), name)
        check_sip_uri(f"sip:{self.username}@{self.domain}", "domain")
        if self.registrar_domain is not None:
            check_sip_uri(f"sip:{self.registrar_domain}", "registrar_domain")
        if self.from_uri is not None:
            object.__setattr__(self, "from_uri", check_sip_uri(self.from_uri, "from_uri"))
        for name in ("target", "registrar", "dns"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_addr(value, name))
        object.__setattr__(self, "alternates", tuple(check_addr(a, "alternates") for a in self.alternates))
        if self.alternates and self.target is None:
            raise SettingsError("alternates: give a target first (the alternates are tried after it)")
        object.__setattr__(self, "registrar_alternates",
                           tuple(check_addr(a, "registrar_alternates") for a in self.registrar_alternates))
        if self.registrar_alternates and self.registrar is None:
            raise SettingsError("registrar_alternates: give a registrar first (the alternates are tried after it)")
        if self.rtp_host is not None:
            _check_ip(self.rtp_host, "rtp_host")
        object.__setattr__(self, "algorithms", tuple(self.algorithms))
        if not self.algorithms:
            raise SettingsError("algorithms: give at least one digest algorithm")
        for name in self.algorithms:
            try:
                get_algorithm(name)
            except UnsupportedAlgorithmError as exc:
                raise SettingsError(f"algorithms: {exc}") from None
        if not isinstance(self.max_auth_retries, int) or not 0 <= self.max_auth_retries <= 10:
            raise SettingsError(f"max_auth_retries: {self.max_auth_retries!r} is not in 0..10")
        if self.on_challenge not in CHALLENGE_BEHAVIOURS:
            raise SettingsError(f"on_challenge: {self.on_challenge!r} is not one of "
                                f"{', '.join(CHALLENGE_BEHAVIOURS)}")
        if not 20.0 <= self.tone_hz <= 3900.0:
            raise SettingsError(f"tone_hz: {self.tone_hz} is not in 20..3900 Hz (PCMU at 8 kHz)")
        for name in ("hold_ms", "ring_timeout_ms", "remote_bye_timeout_ms", "answer_after_ms"):
            _check_ms(getattr(self, name), name)
        if not isinstance(self.register_expires, int) or not 0 <= self.register_expires <= 2**32 - 1:
            raise SettingsError(f"register_expires: {self.register_expires!r} is not a number of seconds")
        if not 0.1 <= self.register_refresh_ratio <= 0.95:
            raise SettingsError(f"register_refresh_ratio: {self.register_refresh_ratio} is not in 0.1..0.95")
        if self.incoming_script is not None:
            object.__setattr__(self, "incoming_script", check_script(self.incoming_script))

    @property
    def aor_domain(self) -> str:
        return self.registrar_domain or self.domain

    @property
    def local_uri(self) -> str:
        return self.from_uri or f"sip:{self.username}@{self.domain}"

    @property
    def media_host(self) -> str:
        return self.rtp_host or self.listen[0]


@dataclass(frozen=True)
class DestinationSettings:
    """The far end: a carrier gateway or a phone, answering every INVITE by ``script``."""

    listen: Addr = ("127.0.0.1", 5080)
    transport: str = "UDP"
    script: Sequence[Step] = (Send100(), Send180(), Answer())
    """The steps for every INVITE (a list is fine; kept as a tuple)."""
    numbers: Mapping[str, Sequence[Step]] = field(default_factory=dict)
    """Steps for INVITEs to a number (the Request-URI's user part) instead of ``script``: a far end whose
    behaviour depends on the number called, like a carrier's test numbers (each kept as a tuple)."""
    honour_cancel: bool = True
    rtp_host: str | None = None
    tone_hz: float = 440.0
    contact_user: str = "destination"
    max_call_ms: int = 3_600_000
    keep_sending_on_hold: bool = False
    """Keep sending RTP when our SDP says we will not (a=recvonly or a=inactive): a broken far end, to see
    whether the trunk's relay honours the directions itself."""
    timers: TimerConfig = field(default_factory=TimerConfig)
    user_agent: str = "trunkcheck-simulator"
    reliable: str = "off"  # RFC 3262: one of RELIABLE_MODES
    session_timer: SessionTimer = SessionTimer(refresher="uac")  # RFC 4028: its choice of refresher, its refresh
    tls: TlsOptions | None = None
    """With transport TLS: its certificate and key (required), the CA file for the trunk's certificate."""

    def __post_init__(self) -> None:
        check_reliable(self.reliable)
        object.__setattr__(self, "listen", check_addr(self.listen, "listen", zero_port_ok=True))
        object.__setattr__(self, "transport", _check_transport(self.transport))
        object.__setattr__(self, "tls", _check_tls(self.transport, self.tls, None))
        object.__setattr__(self, "script", check_script(self.script))
        for number in self.numbers:
            if not number or any(c in number for c in "@;:<> \t\r\n\0"):
                raise SettingsError(f"numbers: {number!r} is not a number (the user part of a Request-URI)")
        object.__setattr__(self, "numbers", {n: check_script(steps) for n, steps in self.numbers.items()})
        if self.rtp_host is not None:
            _check_ip(self.rtp_host, "rtp_host")
        if not 20.0 <= self.tone_hz <= 3900.0:
            raise SettingsError(f"tone_hz: {self.tone_hz} is not in 20..3900 Hz (PCMU at 8 kHz)")
        check_sip_uri(f"sip:{self.contact_user}@{bracketed(self.listen[0])}", "contact_user")
        _check_ms(self.max_call_ms, "max_call_ms")
        _check_text(self.user_agent, "user_agent")

    @property
    def media_host(self) -> str:
        return self.rtp_host or self.listen[0]

    def script_for_user(self, user: str | None) -> tuple[Step, ...]:
        """The steps for an INVITE to ``user`` (the Request-URI's user part): its number's, else ``script``."""
        return tuple(self.numbers.get(user or "", self.script))
