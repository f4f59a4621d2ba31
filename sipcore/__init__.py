"""sipcore: SIP as a library in two layers, a sans-IO core (this package) and asyncio shells (sipcore.aio).

The sans-IO core
================

Everything imported here is pure computation, in the manner of h11: bytes and parameters in, objects,
bytes and events out. Nothing here opens a socket, reads a clock, starts a task or draws on a global
random generator: time is an argument ``now`` (seconds), randomness is passed in (a seeded
``random.Random`` in tests, ``os.urandom`` in production). So every state machine can be stepped in a test
with a fake clock, and ``import sipcore`` loads neither asyncio nor socket.

Messages (RFC 3261 §7, §19, §20, §25)
    :class:`Request`, :class:`Response` and their :class:`Headers` (raw text in wire order; structured
    views -- :class:`NameAddr`, :class:`Via`, :class:`CSeq`, :class:`SipURI` -- parsed when first asked
    for); :func:`make_response` (§8.2.6), :func:`new_request`, :func:`make_cancel`,
    :func:`authorize_request`, :func:`with_new_branch`; :func:`check_request` (the UAS checks of §8.2);
    identifiers from :class:`IdGenerator`; ``[transport:]host[:port]`` text via
    :func:`parse_transport_address` (:func:`split_transport_address` says what was left out).
TLS identity (RFC 5922 §7)
    :func:`identity_problem` says whether a peer's certificate (as ``getpeercert()`` gives it) names the
    SIP domain (or IP address) the connection was for: sip: URI and dNSName SANs, the CN only without any
    SAN, no wildcards; :func:`certificate_identity` lists what it names.
Locating a server (RFC 3263 §4; RFC 2782)
    :class:`Locator` says which DNS queries to make for a URI or host name (:func:`parse_server`: NAPTR,
    SRV, A/AAAA, or none for an IP) and turns their answers (:class:`Naptr`, :class:`Srv`, addresses) into
    the ordered :class:`TransportAddress` list to try; :func:`order_srv` is RFC 2782's priority and
    weighted choice, the random source passed in; :func:`locate_from_records` runs it on records as data.
Parser (RFC 3261 §7, §18.3; RFC 4475)
    :func:`parse_message` frames and validates one datagram, :class:`StreamFramer` cuts a TCP stream into
    messages. Malformed input raises :class:`SIPParseError` carrying the status a server should answer
    with; :func:`error_response_bytes` builds that answer from the raw lines.
Transactions (RFC 3261 §17; RFC 6026)
    :class:`TransactionLayer`, one per transport endpoint, in aioquic's shape: feed it what arrives and
    what the TU sends, with ``now``; collect the datagrams to send, the :class:`Event` objects
    (:class:`RequestReceived`, :class:`ResponseReceived`, :class:`TransactionTimeout`,
    :class:`TransactionTerminated`) and the next deadline. The four machines are tables over
    :class:`State`; timer values come from :class:`TimerConfig`. Local misuse raises
    :class:`ProtocolError` naming the state and the input.
Dialogs (RFC 3261 §12 to §15)
    :class:`Dialog` is plain state: it builds in-dialog requests (route set, CSeq, remote target) and
    judges incoming ones; :class:`DialogSet` keeps a UA's dialogs, the early dialogs of a
    forked INVITE included.
Digest authentication (RFC 3261 §22; RFC 7616; RFC 8760)
    The header codec (:func:`parse_challenges`, :func:`parse_credentials`, :class:`Challenge`,
    :class:`Credentials`), the client (:class:`DigestClient`: choose a challenge, answer it, count nc)
    and the server (:class:`DigestServer`: stateless signed nonces, verification, replay state, with
    :class:`ServerNames` deciding whether a credentials ``uri`` names this request's target).
SDP (RFC 4566; RFC 3264)
    :class:`SessionDescription` round-trips byte for byte; :func:`make_offer` and :func:`make_answer` for a
    one-stream audio UA; :func:`rewrite_for_relay` for a media relay.
SRTP keyed by SDES (RFC 3711; RFC 4568)
    :class:`CryptoAttribute` parses and writes a=crypto lines (:func:`crypto_attributes` of a media
    description, :func:`choose_crypto` and :func:`answer_crypto` for an answerer, :func:`negotiated_crypto`
    for the pair an answer settled on); :class:`SrtpContext` protects or unprotects one direction with one
    such key, through libsrtp (pylibsrtp), and raises :class:`SrtpError` for a packet that fails.
RTP (RFC 3550; G.711)
    :class:`RtpPacket`, :class:`RtpStream` (a sender's sequence numbers and timestamps), PCMU coding, a
    test tone (:func:`pcmu_tone`) and :func:`dominant_frequency` to check the far end's tone was heard;
    RFC 4733 telephone-events (DTMF): :class:`TelephoneEvent` payloads and :func:`event_plan`.
Session timers and reliable provisionals (RFC 4028; RFC 3262)
    :class:`SessionExpires` (:func:`parse_session_expires`, :func:`parse_min_se`, :data:`RFC_MIN_SE`),
    when to refresh and when to give up (:func:`refresh_delay`, :func:`bye_delay`); :func:`is_reliable`,
    :func:`parse_rseq`, :class:`RAck` (:func:`parse_rack`, :data:`MAX_RSEQ`); :func:`has_option_tag`.
Q.850 causes (RFC 3326; RFC 3398)
    :func:`cause_for_status`, :func:`status_for_cause` and the Reason header (:func:`reason_header`,
    :func:`parse_reason`).

The asyncio layer
=================

:mod:`sipcore.aio` is the only part of sipcore that does I/O. Like aioquic's protocol adapters it moves
bytes and re-arms one timer, and decides nothing: a :class:`~sipcore.aio.SipEndpoint` owns one UDP or TCP
transport and one :class:`TransactionLayer`, feeds it each arriving message with ``now = loop.time()``,
sends what it returns and dispatches its events; :class:`~sipcore.aio.RtpEndpoint` sends a paced tone and
records the RTP that arrives. Its API is ``sipcore.aio.__all__``.

The public API, and the rule for the rest of trunkcheck
=======================================================

The public API is ``__all__`` below (and ``sipcore.aio.__all__``). The other packages (reference_server,
simulator, harness, steps) may import a name from ``sipcore`` or from the submodule that defines it
(``from sipcore.message import Request`` and ``from sipcore import Request`` are the same object), but only
a name listed in ``__all__``: a submodule's other names, public-looking or not, are sipcore's own and may
change with it. A name another package needs is added here, deliberately. No package imports another
package's underscore names. tests/test_public_api.py enforces both rules.
"""

from __future__ import annotations

from .builders import (
    MAX_CSEQ,
    authorize_request,
    build_request,
    make_ack_for_non2xx,
    make_cancel,
    new_request,
    with_new_branch,
)
from .checks import check_request
from .dialog import Dialog, DialogId, DialogSet, DialogState, creates_dialog, dialog_id_of
from .digest import (
    ALGORITHMS,
    Challenge,
    Credentials,
    DigestError,
    UnsupportedAlgorithmError,
    compute_response,
    get_algorithm,
    header_names_for,
    parse_challenge,
    parse_challenges,
    parse_credentials,
)
from .digest_client import DEFAULT_PREFERENCE, DigestClient, choose_challenge
from .digest_server import DigestServer, VerifyOutcome, VerifyResult
from .digest_uri import ServerNames, digest_uri_problem
from .errors import ProtocolError, SIPError, SIPParseError
from .headers import (
    COMPACT_FORMS,
    CSeq,
    NameAddr,
    Via,
    canonical_name,
    format_params,
    parse_cseq,
    parse_name_addr,
    parse_params,
    parse_via,
    quote,
)
from .ids import MAGIC_COOKIE, IdGenerator, TokenSource, has_magic_cookie
from .locate import (
    LocateError,
    Locator,
    Naptr,
    Query,
    ServerName,
    Srv,
    locate_from_records,
    order_srv,
    parse_nameserver,
    parse_server,
)
from .message import SIP_VERSION, Headers, Message, Request, Response, make_response, reason_phrase
from .parser import MAX_BODY_BYTES, MAX_HEAD_BYTES, StreamFramer, parse_message
from .q850 import (
    NORMAL_CALL_CLEARING,
    Reason,
    cause_for_status,
    cause_text,
    parse_reason,
    reason_header,
    status_for_cause,
)
from .rtp import (
    PCMU,
    SAMPLE_RATE,
    RtpPacket,
    RtpParseError,
    RtpStream,
    decode_pcmu,
    dominant_frequency,
    encode_pcmu,
    pcmu_frames,
    pcmu_tone,
)
from .sdes import (
    CRYPTO_SUITES,
    SAVP,
    CryptoAttribute,
    CryptoSuite,
    KeyParam,
    answer_crypto,
    choose_crypto,
    crypto_attributes,
    negotiated_crypto,
)
from .sdp import Connection, MediaDescription, Origin, SessionDescription, media_address, rewrite_for_relay
from .sdp_offer import make_answer, make_offer
from .session_timer import (
    MAX_RSEQ,
    RFC_MIN_SE,
    RAck,
    SessionExpires,
    bye_delay,
    has_option_tag,
    is_reliable,
    parse_min_se,
    parse_rack,
    parse_rseq,
    parse_session_expires,
    refresh_delay,
)
from .srtp import SrtpContext, SrtpError
from .stateless import error_response_bytes
from .telephone_event import (
    DTMF_EVENTS,
    TELEPHONE_EVENT,
    TelephoneEvent,
    TelephoneEventError,
    dtmf_digit,
    dtmf_event,
    event_plan,
)
from .timers import TimerConfig
from .tls_identity import CertificateIdentity, certificate_identity, identity_problem
from .transaction import (
    ClientTransaction,
    Event,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    State,
    Transaction,
    TransactionTerminated,
    TransactionTimeout,
)
from .transaction_client import InviteClientTransaction, NonInviteClientTransaction
from .transaction_layer import TransactionLayer, response_address, stamp_via
from .transaction_server import InviteServerTransaction, NonInviteServerTransaction
from .transport_address import (
    TRANSPORTS,
    Address,
    AddressError,
    TransportAddress,
    bracketed,
    is_ip_address,
    parse_transport_address,
    split_transport_address,
)
from .uri import (
    URI,
    AbsoluteURI,
    SipURI,
    canonical_host,
    default_port,
    escape,
    parse_sip_uri,
    parse_uri,
    unescape,
)

__all__ = [
    # errors
    "ProtocolError", "SIPError", "SIPParseError",
    # messages, header values, URIs
    "SIP_VERSION", "Headers", "Message", "Request", "Response", "make_response", "reason_phrase",
    "COMPACT_FORMS", "CSeq", "NameAddr", "Via", "canonical_name", "format_params", "parse_cseq", "parse_name_addr",
    "parse_params", "parse_via", "quote",
    "URI", "AbsoluteURI", "SipURI", "canonical_host", "default_port", "escape", "parse_sip_uri", "parse_uri",
    "unescape",
    # building and checking requests, identifiers, transport addresses
    "MAX_CSEQ", "authorize_request", "build_request", "make_ack_for_non2xx", "make_cancel", "new_request",
    "with_new_branch", "check_request", "error_response_bytes",
    "MAGIC_COOKIE", "IdGenerator", "TokenSource", "has_magic_cookie",
    "TRANSPORTS", "Address", "AddressError", "TransportAddress", "bracketed", "is_ip_address",
    "parse_transport_address", "split_transport_address",
    # TLS peers' certificates (RFC 5922)
    "CertificateIdentity", "certificate_identity", "identity_problem",
    # locating a server (RFC 3263)
    "LocateError", "Locator", "Naptr", "Query", "ServerName", "Srv", "locate_from_records", "order_srv",
    "parse_nameserver", "parse_server",
    # parser
    "MAX_BODY_BYTES", "MAX_HEAD_BYTES", "StreamFramer", "parse_message",
    # transactions
    "TimerConfig", "TransactionLayer", "response_address", "stamp_via",
    "State", "Event", "RequestReceived", "ResponseReceived", "TransactionTerminated", "TransactionTimeout",
    "Transaction", "ClientTransaction", "ServerTransaction", "InviteClientTransaction",
    "NonInviteClientTransaction", "InviteServerTransaction", "NonInviteServerTransaction",
    # dialogs
    "Dialog", "DialogId", "DialogSet", "DialogState", "creates_dialog", "dialog_id_of",
    # digest authentication
    "ALGORITHMS", "Challenge", "Credentials", "DigestError", "UnsupportedAlgorithmError", "compute_response",
    "get_algorithm", "header_names_for", "parse_challenge", "parse_challenges", "parse_credentials",
    "DEFAULT_PREFERENCE", "DigestClient", "choose_challenge",
    "DigestServer", "VerifyOutcome", "VerifyResult", "ServerNames", "digest_uri_problem",
    # SDP
    "Connection", "MediaDescription", "Origin", "SessionDescription", "media_address", "rewrite_for_relay",
    "make_answer", "make_offer",
    # SRTP and SDES
    "CRYPTO_SUITES", "SAVP", "CryptoAttribute", "CryptoSuite", "KeyParam", "answer_crypto", "choose_crypto",
    "crypto_attributes", "negotiated_crypto", "SrtpContext", "SrtpError",
    # RTP
    "PCMU", "SAMPLE_RATE", "RtpPacket", "RtpParseError", "RtpStream", "decode_pcmu", "dominant_frequency",
    "encode_pcmu", "pcmu_frames", "pcmu_tone",
    "DTMF_EVENTS", "TELEPHONE_EVENT", "TelephoneEvent", "TelephoneEventError", "dtmf_digit", "dtmf_event",
    "event_plan",
    # session timers (RFC 4028) and reliable provisional responses (RFC 3262)
    "MAX_RSEQ", "RFC_MIN_SE", "RAck", "SessionExpires", "bye_delay", "has_option_tag", "is_reliable",
    "parse_min_se", "parse_rack", "parse_rseq", "parse_session_expires", "refresh_delay",
    # Q.850
    "NORMAL_CALL_CLEARING", "Reason", "cause_for_status", "cause_text", "parse_reason", "reason_header",
    "status_for_cause",
]
