"""Assertions on a decoded capture (`Observation`). Each raises AssertionError saying what the spec or RFC
expects, what the capture shows instead, and where (frame numbers of the scenario's pcap).
"""

from __future__ import annotations

import re

from harness.capture.decode import DecodedMessage
from harness.capture.observation import Observation
from harness.ladder import Comparison, Ladder, compare, render_observed

__all__ = [
    "check_ack_to_challenge_stays",
    "check_algorithm",
    "check_answered",
    "check_answered_by",
    "check_challenge",
    "check_early_media",
    "check_final_status",
    "check_flow",
    "check_identical_challenges",
    "check_no_request",
    "check_no_response",
    "check_register_answer",
    "check_request_user",
    "check_nothing_reaches",
    "check_stale_challenge",
    "digest_params",
]

_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)')
_CAUSE = re.compile(r"cause\s*=\s*(\d+)", re.IGNORECASE)


def digest_params(value: str) -> dict[str, str]:
    """`Digest realm="x", qop="auth", nonce=...` -> {"realm": "x", "qop": "auth", ...} (names lower case)."""
    text = value.strip()
    if text.lower().startswith("digest"):
        text = text[6:]
    return {k.lower(): v[1:-1] if v.startswith('"') else v for k, v in _PARAM.findall(text)}


def check_flow(obs: Observation, expected: Ladder) -> tuple[Comparison, str]:
    """Compare the observed flow with a ladder; AssertionError with both ladders side by side on the first
    divergence. Returns the comparison (notes) and the observed ladder drawn in the expected columns."""
    result = compare(expected, obs.observed)
    observed_text = render_observed(obs.observed, expected.columns)
    if not result.ok:
        raise AssertionError(
            "the capture diverges from the documented ladder\n"
            + result.side_by_side(expected.text, observed_text)
        )
    return result, observed_text


def _challenges(obs: Observation, status: int, dst: str) -> list[DecodedMessage]:
    return obs.select(status=status, dst=dst)


def _header_name(status: int) -> str:
    return "Proxy-Authenticate" if status == 407 else "WWW-Authenticate"


def check_challenge(obs: Observation, *, status: int, realm: str, qop: str, dst: str = "UA") -> None:
    """Every `status` (401/407) that reaches `dst` carries digest challenges in `realm` offering `qop`."""
    found = _challenges(obs, status, dst)
    if not found:
        raise AssertionError(f"no {status} reached the {dst} (the capture has {_list(obs, dst)})")
    header = _header_name(status)
    for msg in found:
        values = msg.header(header)
        if not values:
            raise AssertionError(f"the {status} ({obs.where(msg)}) carries no {header} header")
        for value in values:
            params = digest_params(value)
            if params.get("realm") != realm:
                raise AssertionError(
                    f"the {status} ({obs.where(msg)}) challenges in realm {params.get('realm')!r}; "
                    f"the trunk's domain {realm!r} was expected: {header}: {value}"
                )
            offered = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
            if qop not in offered:
                raise AssertionError(
                    f"the {status} ({obs.where(msg)}) does not offer qop={qop} (offers {offered or 'none'}): "
                    f"{header}: {value}"
                )


def check_stale_challenge(obs: Observation, *, status: int = 407, dst: str = "UA") -> None:
    """A challenge answering credentials with an expired nonce says stale=TRUE (RFC 7616 §3.3), and the
    request carrying them was authorized with a nonce the trunk had issued before."""
    found = _challenges(obs, status, dst)
    stale = [m for m in found if any(digest_params(v).get("stale", "").lower() == "true"
                                     for v in m.header(_header_name(status)))]
    if not stale:
        shown = "; ".join(f"{obs.where(m)}: {m.header(_header_name(status))}" for m in found) or "none"
        raise AssertionError(f"no {status} with stale=TRUE reached the {dst}; challenges seen: {shown}")


def check_algorithm(obs: Observation, *, algorithm: str, method: str = "INVITE", src: str = "UA") -> None:
    """The trunk challenged with `algorithm` and the authorized request answered with it."""
    offered = {
        digest_params(v).get("algorithm", "MD5").upper()
        for m in obs.select(status=407, dst=src) + obs.select(status=401, dst=src)
        for v in m.header("Proxy-Authenticate") + m.header("WWW-Authenticate")
    }
    if algorithm.upper() not in offered:
        raise AssertionError(f"the trunk's challenges offer {sorted(offered) or 'nothing'}, not {algorithm}")
    authorized = [m for m in obs.requests(method, src=src) if m.has_proxy_authorization or m.has_authorization]
    if not authorized:
        raise AssertionError(f"no {method} with credentials from the {src} in the capture")
    for msg in authorized:
        values = msg.header("Proxy-Authorization") + msg.header("Authorization")
        used = {digest_params(v).get("algorithm", "MD5").upper() for v in values}
        if algorithm.upper() not in used:
            raise AssertionError(f"the {method} with credentials ({obs.where(msg)}) uses {sorted(used)}, "
                                 f"not {algorithm}")


def check_no_request(obs: Observation, *, method: str, dst: str) -> None:
    found = obs.requests(method, dst=dst)
    if found:
        raise AssertionError(
            f"the {dst} received {len(found)} {method} request(s), the first at {obs.where(found[0])}; "
            f"none was expected"
        )


def check_nothing_reaches(obs: Observation, role: str) -> None:
    """No SIP message and no RTP packet to or from `role`."""
    found = obs.touching(role)
    if found:
        raise AssertionError(
            f"{len(found)} packet(s) to or from the {role}, the first: {obs.summary(found[0])}; "
            "nothing was expected"
        )


def check_ack_to_challenge_stays(obs: Observation, *, challenge: int = 407, caller: str = "UA",
                                 far_end: str = "Destination") -> None:
    """The caller's ACK for the challenge ends at the trunk: every ACK the far end gets follows its own
    2xx (end to end per leg, RFC 3261 §17.1.1.3) and none precedes it."""
    acks = obs.requests("ACK", src=caller)
    challenges = _challenges(obs, challenge, caller)
    if not challenges:
        raise AssertionError(f"no {challenge} reached the {caller}")
    acked = [a for a in acks if any(a.call_id == c.call_id and a.cseq_num == c.cseq_num for c in challenges)]
    if not acked:
        raise AssertionError(f"the {caller} did not ACK the {challenge} ({obs.where(challenges[0])})")
    far_acks = obs.requests("ACK", dst=far_end)
    answers = [m for m in obs.select(src=far_end, cseq_method="INVITE") if m.kind == "response"
               and m.status is not None and 200 <= m.status < 300]
    first_answer = answers[0].frame_no if answers else None
    for ack in far_acks:
        if first_answer is None or ack.frame_no < first_answer:
            raise AssertionError(
                f"an ACK reached the {far_end} ({obs.where(ack)}) before it answered with a 2xx: the ACK for "
                f"the {challenge} ({obs.where(acked[0])}) must stay on the {caller}'s leg"
            )


def check_identical_challenges(obs: Observation, *, dst: str = "UA", calls: int = 2) -> None:
    """The final answers of the last `calls` calls to `dst` are the same status with the same challenge
    header values once the nonce (and opaque) are set aside: no way to tell which user names exist."""
    finals = obs.final_responses(dst=dst)
    by_call: dict[str | None, DecodedMessage] = {}
    for msg in finals:
        by_call[msg.call_id] = msg
    answers = list(by_call.values())
    if len(answers) < calls:
        raise AssertionError(f"expected final answers to {calls} calls at the {dst}, the capture has "
                             f"{len(answers)}: {[obs.summary(m) for m in answers]}")
    answers = answers[-calls:]

    def shape(msg: DecodedMessage) -> tuple[object, ...]:
        values = msg.header("Proxy-Authenticate") + msg.header("WWW-Authenticate")
        stripped = [{k: v for k, v in digest_params(v).items() if k not in ("nonce", "opaque")} for v in values]
        return msg.status, msg.reason, tuple(sorted(tuple(sorted(d.items())) for d in stripped))

    first = shape(answers[0])
    for msg in answers[1:]:
        if shape(msg) != first:
            raise AssertionError(
                "the answers differ, so a caller can tell a wrong password from an unknown user:\n"
                f"  {obs.where(answers[0])}: {first}\n  {obs.where(msg)}: {shape(msg)}"
            )


def check_final_status(obs: Observation, *, status: int | None, dst: str = "UA", cause: int | None = None,
                       reason_required: bool = False) -> DecodedMessage:
    """The last INVITE final response reaching `dst` is `status` (None: any status); with `cause` (or
    `reason_required`) it carries an RFC 3326 Reason header with protocol Q.850 (and that cause)."""
    finals = obs.final_responses(dst=dst)
    if not finals:
        raise AssertionError(f"no final response to the INVITE reached the {dst} ({_list(obs, dst)})")
    last = finals[-1]
    if status is not None and last.status != status:
        raise AssertionError(f"the {dst} received {last.status} {last.reason or ''} ({obs.where(last)}); "
                             f"{status} was expected")
    if cause is None and not reason_required:
        return last
    reasons = last.header("Reason")
    q850 = [r for r in reasons if r.strip().upper().startswith("Q.850")]
    if not q850:
        raise AssertionError(
            f"the {last.status} ({obs.where(last)}) carries no Q.850 Reason header (RFC 3326)"
            + (f"; it has Reason: {reasons}" if reasons else "")
        )
    if cause is not None:
        causes = [int(m.group(1)) for r in q850 if (m := _CAUSE.search(r))]
        if cause not in causes:
            raise AssertionError(f"the {last.status} ({obs.where(last)}) has Reason {q850}; Q.850 cause {cause} "
                                 "was expected")
    return last


def check_answered(obs: Observation, *, dst: str = "UA") -> DecodedMessage:
    return check_final_status(obs, status=200, dst=dst)


def check_early_media(obs: Observation, *, ua: str = "UA", trunk: str = "VoIPBin",
                      before_answer: bool = True) -> str:
    """The RTP reaching the UA comes from the address and port of the 183's SDP, with a payload type that
    SDP offers, and (when `before_answer`) starts before the 200 OK. Returns a one-line description."""
    progress = [m for m in obs.select(src=trunk, dst=ua, status=183) if m.has_sdp]
    if not progress:
        raise AssertionError(f"no 183 with SDP from the {trunk} reached the {ua}: {_list(obs, ua)}")
    p183 = progress[0]
    source = (p183.sdp_connection_address, p183.sdp_media_port)
    packets = obs.rtp(dst=ua)
    if not packets:
        raise AssertionError(f"no RTP reached the {ua} after the 183 ({obs.where(p183)})")
    wrong = [p for p in packets if (p.src[0], p.src[1]) != source]
    if wrong:
        raise AssertionError(
            f"{len(wrong)} RTP packet(s) reached the {ua} from {wrong[0].src[0]}:{wrong[0].src[1]} "
            f"(frame {wrong[0].frame_no}), not from {source[0]}:{source[1]}, the address in the 183's SDP "
            f"({obs.where(p183)})"
        )
    types = set(p183.sdp_media_formats)
    bad_pt = [p for p in packets if types and p.payload_type not in types]
    if bad_pt:
        raise AssertionError(f"RTP payload type {bad_pt[0].payload_type} (frame {bad_pt[0].frame_no}) is not "
                             f"among those of the 183's SDP {sorted(types)}")
    first = packets[0]
    answers = [m for m in obs.select(src=trunk, dst=ua, status=200, cseq_method="INVITE")]
    if before_answer and answers and first.frame_no > answers[0].frame_no:
        raise AssertionError(f"the first RTP packet to the {ua} (frame {first.frame_no}) came after the "
                             f"200 OK ({obs.where(answers[0])}): no early media")
    if before_answer and first.frame_no < p183.frame_no:
        raise AssertionError(f"RTP reached the {ua} (frame {first.frame_no}) before the 183 announced it")
    early = sum(1 for p in packets if not answers or p.frame_no < answers[0].frame_no)
    return (f"{len(packets)} RTP packets from {source[0]}:{source[1]} (PT {first.payload_type}), {early} before "
            "the answer")


def _list(obs: Observation, role: str) -> str:
    msgs = [m for m in obs.messages if role in (obs.role(m.src), obs.role(m.dst))]
    if not msgs:
        return f"no SIP to or from the {role}"
    return "; ".join(obs.summary(m) for m in msgs[:12]) + (" ..." if len(msgs) > 12 else "")


def check_no_response(obs: Observation, *, status: int, dst: str) -> None:
    found = obs.select(status=status, dst=dst)
    if found:
        raise AssertionError(f"a {status} reached the {dst} ({obs.where(found[0])}); none was expected")


def check_request_user(obs: Observation, *, method: str, dst: str, user: str) -> DecodedMessage:
    """`dst` received a `method` whose Request-URI user is `user`."""
    found = obs.requests(method, dst=dst)
    if not found:
        raise AssertionError(f"no {method} reached the {dst} ({_list(obs, dst)})")
    for msg in found:
        uri = msg.request_uri or ""
        if uri.split(":", 1)[-1].split("@", 1)[0] == user:
            return msg
    uris = ", ".join(f"{m.request_uri} ({obs.where(m)})" for m in found)
    raise AssertionError(f"the {method} that reached the {dst} is for {uris}, not for {user!r}")


def check_register_answer(obs: Observation, *, status: int, dst: str = "UA", header: str | None = None,
                          value: str | None = None, no_contact: bool = False) -> DecodedMessage:
    """The final answer to the last REGISTER reaching `dst` is `status`; optionally carries `header` with
    `value`, or (`no_contact`) lists no binding any more."""
    finals = obs.final_responses(dst=dst, cseq_method="REGISTER")
    if not finals:
        raise AssertionError(f"no final response to a REGISTER reached the {dst} ({_list(obs, dst)})")
    last = finals[-1]
    if last.status != status:
        raise AssertionError(f"the last REGISTER got {last.status} {last.reason or ''} ({obs.where(last)}); "
                             f"{status} was expected")
    if header is not None:
        values = [v.strip() for v in last.header(header)]
        if not values or (value is not None and value not in values):
            raise AssertionError(f"the {status} ({obs.where(last)}) has {header}: {values or 'none'}; "
                                 f"{value!r} was expected")
    if no_contact and last.header("Contact"):
        raise AssertionError(f"the {status} ({obs.where(last)}) still lists bindings: "
                             f"Contact: {last.header('Contact')}")
    return last


def check_answered_by(obs: Observation, *, callee: str = "UA", trunk: str = "VoIPBin") -> DecodedMessage:
    """The trunk sent `callee` an INVITE and `callee` answered it with a 2xx (its 100/180 are its own
    business)."""
    invites = obs.requests("INVITE", src=trunk, dst=callee)
    if not invites:
        raise AssertionError(f"no INVITE from the {trunk} reached the {callee} ({_list(obs, callee)})")
    answers = [m for m in obs.select(src=callee, dst=trunk, cseq_method="INVITE")
               if m.kind == "response" and m.status is not None and m.status >= 200]
    if not answers:
        raise AssertionError(f"the {callee} sent no final answer to the INVITE ({obs.where(invites[0])}): "
                             f"{_list(obs, callee)}")
    last = answers[-1]
    if not 200 <= (last.status or 0) < 300:
        raise AssertionError(f"the {callee} answered {last.status} {last.reason or ''} ({obs.where(last)}), "
                             "not 200 OK")
    return last
