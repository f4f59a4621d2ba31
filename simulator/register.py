"""The UA's registration (RFC 3261 §10.2): REGISTER with a 401 answered by digest, a refresh before the
granted expiry (same Call-ID, CSeq + 1, §10.2.4), and de-registration with Expires 0.

The AOR is ``sip:{username}@{registrar_domain}``, the Request-URI ``sip:{registrar_domain}``. The request
goes to ``registrar`` then ``registrar_alternates``; without a registrar to the UA's target then its
alternates; without either to the Request-URI's server, located through DNS as RFC 3263 says (NAPTR, SRV,
A, asking the settings' ``dns``). Like an INVITE, a REGISTER that times out (Timer F), meets a transport
error (an ICMP error: a 503 of the transport layer) or gets a 503 goes, as a new transaction (a new branch,
RFC 3263 §4.3), to the next target; a refresh starts at the target that answered last.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sipcore.aio.resolver import SipResolver
from sipcore.builders import new_request, with_new_branch
from sipcore.errors import SIPParseError
from sipcore.locate import LocateError
from sipcore.message import Request, Response
from sipcore.transport_address import bracketed
from sipcore.uri import SipURI

from .agent import Agent
from .auth import ChallengeAnswerer
from .settings import Addr, UaSettings

__all__ = ["Registration", "RegistrationResult"]


@dataclass
class RegistrationResult:
    """One REGISTER exchange (with its challenge round trips)."""

    requested_expires: int
    status: int | None = None
    reason: str | None = None
    expires: int | None = None
    """The expiry the registrar granted (Contact ;expires or Expires), None when not registered."""
    challenges: list[int] = field(default_factory=list)
    refresh: bool = False
    error: str | None = None
    at: float = 0.0
    target: Addr | None = None
    """Where the last REGISTER of the exchange went (after any failover)."""
    failed_targets: list[tuple[Addr, str]] = field(default_factory=list)
    """Targets given up before ``target``, each with why (``503 Service Unavailable``, ``no response``)."""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Registration:
    def __init__(self, agent: Agent, settings: UaSettings) -> None:
        self.agent = agent
        self.settings = settings
        self.call_id = agent.ids.call_id(settings.listen[0])
        self.from_tag = agent.ids.tag()
        self.cseq = 0
        self.results: list[RegistrationResult] = []
        self.registered_expires: int | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._answered: Addr | None = None  # the target that answered last: a refresh starts there

    async def targets(self) -> list[Addr]:
        """Where the REGISTER goes, in the order to try (see the module's docstring); LocateError saying
        why when DNS locates nothing."""
        s = self.settings
        if s.registrar is not None:
            found = [s.registrar, *s.registrar_alternates]
        elif s.target is not None:
            found = [s.target, *s.alternates]
        else:
            family = "AAAA" if ":" in self.agent.local_addr[0] else "A"
            located = await SipResolver(s.dns).locate(f"sip:{s.aor_domain}", families=(family,),
                                                      transports=(self.agent.transport_name.lower(),))
            found = [t.addr for t in located]
        if self._answered in found:
            k = found.index(self._answered)
            found = found[k:] + found[:k]
        return found

    async def register(self, expires: int, *, refresh: bool = True, is_refresh: bool = False) -> RegistrationResult:
        """REGISTER for ``expires`` seconds (0 removes the binding); on success a refresh is scheduled
        at ``register_refresh_ratio`` of the granted time when ``refresh``. LocateError when the
        registrar is to be located through DNS and cannot be."""
        if not is_refresh:
            self._stop_refresher()
        result = await self._exchange(expires)
        result.refresh = is_refresh
        self.results.append(result)
        self._changed.set()
        self._changed = asyncio.Event()
        self.registered_expires = result.expires if result.ok and expires > 0 else None
        if result.ok and expires > 0 and refresh and result.expires:
            delay = result.expires * self.settings.register_refresh_ratio
            self._refresher = self.agent.spawn(self._refresh_after(delay, expires))
        return result

    async def unregister(self) -> RegistrationResult:
        self._stop_refresher()
        return await self.register(0, refresh=False)

    async def wait_for_results(self, count: int, timeout: float) -> bool:
        """True once ``count`` REGISTER exchanges (refreshes included) have finished, within ``timeout``
        seconds of the event loop's time (a bound on waiting; the refreshes run on the agent's clock)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.results) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return False
        return True

    def _stop_refresher(self) -> None:
        if self._refresher is not None and self._refresher is not asyncio.current_task():
            self._refresher.cancel()
        self._refresher = None

    async def _refresh_after(self, delay: float, expires: int) -> None:
        await self.agent.clock.sleep(delay)
        self.agent.record.add("note", f"refreshing the registration ({delay:g} s after the last)")
        try:
            await self.register(expires, refresh=True, is_refresh=True)
        except LocateError as exc:
            self.agent.record.add("note", f"the registration is not refreshed: {exc}", self.call_id)

    def _request(self, expires: int) -> Request:
        s, ep = self.settings, self.agent.ep
        self.cseq += 1
        aor = f"sip:{s.username}@{s.aor_domain}"
        return new_request(
            "REGISTER", f"sip:{s.aor_domain}", from_uri=aor, to_uri=aor, local_addr=ep.local_addr,
            transport=ep.transport_name, from_display=s.display_name, from_tag=self.from_tag,
            call_id=self.call_id, cseq=self.cseq, branch=self.agent.ids.branch(),
            contact=self.agent.contact(s.username), extra_headers=[("Expires", str(expires))],
            user_agent=s.user_agent)

    async def _exchange(self, expires: int) -> RegistrationResult:
        result = RegistrationResult(expires, at=self.agent.clock.time())
        targets = await self.targets()
        auth = ChallengeAnswerer(self.settings, self.agent.ids)
        request = self._request(expires)
        while True:
            result.target = targets[0]
            try:
                response = await self.agent.ep.request(request, targets[0], timeout=self.agent.transaction_bound)
            except TimeoutError as exc:
                if len(targets) > 1:
                    request = self._next_target(request, targets, result, f"no response within "
                                                f"{self.agent.timers.timer_f:g} s (Timer F)")
                    continue
                result.error = f"REGISTER: {exc or 'no final response'}"
                self.agent.record.add("timeout", result.error, self.call_id)
                return result
            if response.status == 503 and len(targets) > 1:
                request = self._next_target(request, targets, result, f"503 {response.reason}")
                continue
            self._answered = targets[0]
            if response.status in (401, 407):
                result.challenges.append(response.status)
                retry, note = auth.retry(request, response)
                self.agent.record.add("note", note, self.call_id)
                if retry is not None:
                    request = retry
                    self.cseq = retry.cseq.seq
                    continue
                result.error = note
            result.status, result.reason = response.status, response.reason
            if result.ok:
                result.expires = self._granted(response, expires)
            return result

    def _next_target(self, request: Request, targets: list[Addr], result: RegistrationResult, why: str) -> Request:
        """RFC 3263 §4.3: the same REGISTER as a new transaction (a new branch) to the next target."""
        failed = targets.pop(0)
        result.failed_targets.append((failed, why))
        self.agent.record.add("note", f"REGISTER to {bracketed(failed[0])}:{failed[1]} failed ({why}): trying the "
                              f"next target {bracketed(targets[0][0])}:{targets[0][1]} (RFC 3263 §4.3)", self.call_id)
        return with_new_branch(request, self.agent.ids.branch())

    def _granted(self, response: Response, requested: int) -> int:
        """The expiry of our binding in a 2xx: its Contact's ;expires, else Expires, else the request's."""
        host, port = self.agent.local_addr
        try:
            for contact in response.contacts:
                uri = contact.uri
                if (isinstance(uri, SipURI) and uri.user == self.settings.username
                        and uri.host.strip("[]") == host and (uri.port or 5060) == port):
                    value = contact.param("expires")
                    if value is not None and value.isdigit():
                        return int(value)
            header = response.expires
        except SIPParseError:
            header = None
        return header if header is not None else requested
