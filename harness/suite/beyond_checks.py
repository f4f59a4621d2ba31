"""Checks of the decoded capture for the OPTIONS keep-alive and caller-identity scenarios (issue 15, items 1
and 6): what the trunk's 200 to an OPTIONS says it can do, how often it pings its destination, and the
identity headers of the INVITE that reached the destination. Each reads Wireshark's decode only.
"""

from __future__ import annotations

from harness.capture.decoded import DecodedMessage
from harness.capture.observation import Observation

__all__ = ["REQUIRED_ALLOW", "SANE_INTERVAL", "check_destination_invite", "check_options_answer",
           "check_ping_interval", "destination_invite", "uri_user"]

REQUIRED_ALLOW = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS")
SANE_INTERVAL = (10.0, 60.0)
"""Seconds between a trunk's keep-alive OPTIONS: at least every 60 s (Microsoft Teams Direct Routing counts
an SBC healthy when its OPTIONS come every minute, and demotes it after three minutes without), and no
more than one per 10 s (Ribbon's SIP trunk interop plan checks the OPTIONS rate: about one per 10 s at
most). A measured interval may run 10 % over or under (timers, scheduling)."""
SLACK = 0.1


def _tokens(values: list[str]) -> set[str]:
    return {t.strip().split(";", 1)[0].strip().lower() for v in values for t in v.split(",") if t.strip()}


def check_options_answer(obs: Observation, *, asker: str = "UA", answerer: str = "VoIPBin") -> list[DecodedMessage]:
    """Every OPTIONS ``asker`` sent ``answerer`` got a 200 that carries Allow (with INVITE, ACK, CANCEL,
    BYE, OPTIONS), Accept (with application/sdp) and Supported (RFC 3261 §11.2)."""
    asked = obs.requests("OPTIONS", src=asker, dst=answerer)
    if not asked:
        raise AssertionError(f"the {asker} sent no OPTIONS to {answerer}")
    answers = []
    for request in asked:
        finals = [m for m in obs.select(src=answerer, dst=asker, cseq_method="OPTIONS", call_id=request.call_id)
                  if m.kind == "response" and (m.status or 0) >= 200]
        if not finals:
            raise AssertionError(f"the OPTIONS {request.request_uri} ({obs.where(request)}) got no final answer")
        answer = finals[0]
        where = f"the {answer.status} to OPTIONS {request.request_uri} ({obs.where(answer)})"
        if answer.status != 200:
            raise AssertionError(f"{where}: 200 OK was expected (no challenge: OPTIONS is how peers ping a trunk)")
        allow = _tokens(answer.header("Allow"))
        missing = [m for m in REQUIRED_ALLOW if m.lower() not in allow]
        if missing:
            raise AssertionError(f"{where}: Allow {answer.header('Allow') or '(none)'} lacks {', '.join(missing)}")
        if "application/sdp" not in _tokens(answer.header("Accept")):
            raise AssertionError(f"{where}: Accept {answer.header('Accept') or '(none)'} lacks application/sdp")
        if "Supported" not in {k for k in answer.headers} and "k" not in answer.headers:
            raise AssertionError(f"{where}: no Supported header (RFC 3261 §11.2: it SHOULD be there)")
        answers.append(answer)
    return answers


def check_ping_interval(obs: Observation, *, pinger: str = "VoIPBin", pinged: str = "Destination",
                        window: tuple[float, float] = SANE_INTERVAL) -> list[float]:
    """``pinger`` sent ``pinged`` at least two OPTIONS (retransmissions left out), each one ``window``
    seconds after the one before (within SLACK); the intervals measured."""
    pings = obs.requests("OPTIONS", src=pinger, dst=pinged)
    if len(pings) < 2:
        raise AssertionError(f"the {pinger} sent the {pinged} {len(pings)} OPTIONS; at least 2 are needed to "
                             "measure its keep-alive interval")
    gaps = [b.time - a.time for a, b in zip(pings, pings[1:], strict=False)]
    lo, hi = window
    for (a, b), gap in zip(zip(pings, pings[1:], strict=False), gaps, strict=True):
        if not lo * (1 - SLACK) <= gap <= hi * (1 + SLACK):
            raise AssertionError(f"the {pinger}'s OPTIONS came {gap:.1f} s apart ({obs.where(a)}; {obs.where(b)}): "
                                 f"a keep-alive every {lo:g}..{hi:g} s was expected")
    return gaps


def uri_user(uri: str) -> str:
    """The user part of a (name-addr or bare) SIP URI, '' when it has none."""
    inner = uri.split("<", 1)[1].split(">", 1)[0] if "<" in uri else uri
    rest = inner.split(":", 1)[-1]
    return rest.split("@", 1)[0] if "@" in rest else ""


def destination_invite(obs: Observation) -> DecodedMessage:
    """The last INVITE that reached the destination (the call the scenario placed)."""
    found = obs.requests("INVITE", dst="Destination")
    if not found:
        raise AssertionError("no INVITE reached the destination")
    return found[-1]


def check_destination_invite(obs: Observation, header: str, *, user: str | None = None,
                             contains: str | None = None, absent: bool = False) -> DecodedMessage:
    """The destination's INVITE carries ``header`` (Request-URI for ``"Request-URI"``) whose URI user is
    ``user`` and whose text contains ``contains``; or (``absent``) no such header at all."""
    invite = destination_invite(obs)
    values = [invite.request_uri or ""] if header == "Request-URI" else invite.header(header)
    where = f"the INVITE that reached the destination ({obs.where(invite)})"
    if absent:
        if values:
            raise AssertionError(f"{where} carries {header}: {'; '.join(values)}, which must not reach it")
        return invite
    if not values:
        raise AssertionError(f"{where} has no {header}")
    for value in values:
        if (user is None or uri_user(value) == user) and (contains is None or contains.lower() in value.lower()):
            return invite
    wanted = " and ".join(w for w in (f"user {user!r}" if user else "", f"{contains!r}" if contains else "") if w)
    raise AssertionError(f"{where}: {header} is {'; '.join(values)}, not one with {wanted}")
