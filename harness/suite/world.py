"""One scenario's world: its topology, capture, trunk, destination and UAs, and what it expects.

Life of a scenario (environment.py drives it; steps call the methods in between):

    world = ScenarioWorld(session, feature_name, scenario_name)   # ports allocated, capture running
    world.trunk.algorithms = ("SHA-256",)                          # Given ... (before any traffic)
    world.destination_script = script_for(early_media=True)
    world.call("UA", "+15550100", hold_ms=200)                    # When ... (starts trunk + destination)
    world.expect_flow(ladder)                                      # Then ... (stops the capture, decodes)
    record = world.finish(status, error)                           # after_scenario: artifacts, teardown

The first assertion stops the capture (once the traffic has settled, bounded: harness.suite.settle) and waits
for the decode, which was handed to the session's long-lived tshark as soon as the capture stopped.
Assertions read the decode only; the simulators' own records are kept to explain a failure.

With equipment under test (session.equipment) the world uses the equipment's trunk account and addresses
(harness.suite.equipment_setup): a trunk under test replaces the reference server, a UA under test is driven
through its adapter (harness.suite.ua_under_test). A request to equipment under test that gets no answer at all
fails the scenario after the run's response timeout. `--destination sipp` has SIPp play the destination.
A trunk under test whose destination is remote (ua-only, harness.suite.ua_only) gets no destination of the
harness: the UA calls the file's test number for the scenario, and flows are compared on the UA leg.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from harness.adapters.sipp_destination import SippDestination
from harness.capture.decode import Decoded
from harness.capture.observation import Observation
from harness.capture.sniffer import Capture
from harness.capture.socket_capture import SocketCapture
from harness.equipment.numbers import TestNumber
from harness.ladder import Ladder, render_observed
from harness.ladder.expected import column_order
from harness.reports.record import ScenarioRecord
from harness.suite.call_records import challenges_in
from harness.suite.checks import check_flow
from harness.suite.destinations import FarEnds
from harness.suite.dns_failover import DnsFailover, scenario_topology
from harness.suite.equipment_setup import trunk_settings
from harness.suite.media_checks import check_two_way_media
from harness.suite.session import Session
from harness.suite.settle import settle
from harness.suite.tls_setup import TLS_HANDSHAKE_TIMEOUT, ScenarioTls, decode_into, run_tls
from harness.suite.tls_setup import check_capture as check_tls_capture
from harness.suite.trunk import TrunkSettings, start_reference_server
from harness.suite.ua_only import ua_leg
from harness.suite.ua_under_test import UaUnderTest, guard_silence
from reference_server.server import ReferenceServer
from simulator.destination import Destination, script_for
from simulator.settings import DestinationSettings, Step, UaSettings
from simulator.ua import CallResult, RegistrationResult, UserAgent
from sipcore.digest_client import DigestClient

log = logging.getLogger(__name__)

__all__ = ["ScenarioWorld"]

T = TypeVar("T")
START_TIMEOUT = 5.0  # any server or simulator start-up
DECODE_TIMEOUT = 30.0
CALL_SLACK = 10.0  # a call's bound beyond its hold and ring times


class ScenarioWorld:
    def __init__(self, session: Session, feature: str, scenario: str, *, location: str = "",
                 tags: list[str] | None = None) -> None:
        self.session = session
        self.started_at = time.monotonic()
        self.topology = scenario_topology(session.plan.allocate(), tags or [], session.options.roles)
        self.stem = session.artifact_stem(feature, scenario, location)
        self.pcap = self.stem.with_suffix(".pcap")
        self.record = ScenarioRecord(feature, scenario, location, tags=list(tags or []),
                                     pcap=self._rel(self.pcap))
        self.equipment = session.equipment
        self.ua_only = self.equipment is not None and self.equipment.ua_only
        self.far_end_number: TestNumber | None = None
        """ua-only: the test number the scenario's UA calls (harness.suite.ua_only.plan)."""
        self.trunk = trunk_settings(self.equipment) if self.equipment is not None else TrunkSettings()
        self.destination_script: tuple[Step, ...] = script_for()
        self.destination_options: dict[str, Any] = {}  # other DestinationSettings fields (keep_sending_on_hold, reliable, session_timer)
        self.far_ends = FarEnds()  # Destination2, destinations that do not answer (harness.suite.destinations)
        self.destination_answers_options = True  # False: the simulated destination ignores OPTIONS
        self.ua_srtp = False  # the simulated UA offers SRTP (equipment under test: as its file configures it)
        self.server: ReferenceServer | None = None
        self.destination: Destination | None = None
        self.sipp_destination: SippDestination | None = None
        self._uut: UaUnderTest | None = None
        self.agents: dict[str, UserAgent] = {}
        self.calls: list[CallResult] = []
        self.registrations: list[RegistrationResult] = []
        self.dns: DnsFailover | None = None  # @dns: the trunk located through the scenario's DNS server
        self.expected: list[tuple[str, Ladder]] = []
        self._observation: Observation | None = None
        self._future: Future[list[Decoded]] | None = None
        self._traffic_started = False
        self._closed = False
        self.tls = (ScenarioTls(run_tls(session), self.stem.with_suffix(".keys"))
                    if "tls" in {t.lstrip("@") for t in tags or ()} else None)
        """A @tls scenario: every hop over TLS (harness.suite.tls_setup)."""
        self.capture: Capture | SocketCapture | None
        if session.options.capture == "sockets":
            self.capture = SocketCapture(self.pcap, session.loop.loop, addresses=self.topology.addresses())
        else:
            self.capture = Capture(self.pcap, iface=session.options.interface,
                                   bpf_filter=self.topology.capture_filter(), addresses=self.topology.addresses())
        self.capture.start()

    # -- plumbing --------------------------------------------------------------------------------------
    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.session.run_dir))
        except ValueError:
            return str(path)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float, what: str) -> T:
        return self.session.loop.run(coro, timeout, what)

    def ensure_traffic(self) -> None:
        """Start the trunk (unless it is equipment under test) and the destination, once."""
        if self._future is not None or self.capture is None:
            raise RuntimeError(
                "this step sends traffic after the capture was stopped by an assertion: put every When step "
                "before the first Then step"
            )
        if self._traffic_started:
            return
        self._traffic_started = True
        topo = self.topology
        if self.tls is not None:
            check_tls_capture(self.capture, SocketCapture)
        # the destination first: a trunk that pings its destination at start-up finds it listening
        self._start_destination()
        if not topo.external_trunk:
            tls = self.tls.server(topo.trunk[0], self.trunk.host) if self.tls is not None else None
            self.server = self.run(start_reference_server(self.trunk, topo, self.session.options.faults, tls),
                                   START_TIMEOUT, f"reference server start-up on {topo.trunk[0]}:{topo.trunk[1]}")

    def _start_destination(self) -> None:
        topo = self.topology
        where = f"{topo.destination[0]}:{topo.destination[1]}"
        if self.ua_only:
            return  # the trunk's own far end answers
        self.far_ends.start(topo, self.run, START_TIMEOUT)
        if self.far_ends.plays("Destination"):
            return
        if self.session.options.destination == "sipp":
            workdir = self.stem.with_name(self.stem.name + ".destination")
            self.sipp_destination = self.run(SippDestination.start(self.destination_script, topo.destination, workdir),
                                             START_TIMEOUT + 5, f"SIPp destination start-up on {where}")
            return
        settings = DestinationSettings(listen=topo.destination, script=self.destination_script,
                                       **self.destination_options)
        if self.tls is not None and not topo.external_trunk:  # a trunk under test reaches it as its file says
            settings = replace(settings, transport="TLS", tls=self.tls.options("destination", topo.destination[0]))
        self.destination = self.run(Destination.start(settings), START_TIMEOUT, f"destination start-up on {where}")
        self.destination.answer_options = self.destination_answers_options

    _ensure_traffic = ensure_traffic

    def ua_under_test(self) -> UaUnderTest:
        """The UA under test: the equipment's driver (role "ua"), else the simulated UA."""
        if self._uut is None:
            self._uut = UaUnderTest(self, self.equipment, self.stem.with_name(self.stem.name + ".equipment"))
        return self._uut

    def use_remote_far_end(self, number: TestNumber | None, why: str) -> None:
        """ua-only: calls to the destination go to ``number`` (the far end the scenario needs)."""
        self.far_end_number = number
        self.record.notes.append(why)

    def _remote_target(self, role: str, to: str) -> str:
        """ua-only: the test number a UA's call to a bare number goes to (a sip: URI is called as written)."""
        if not self.ua_only or role not in ("UA", "UA2") or to.lower().startswith(("sip:", "sips:")):
            return to
        if self.far_end_number is None:
            raise AssertionError(f"ua-only: the scenario calls {to} without saying what the far end does, and "
                                 "the equipment file names no test number that answers")
        return self.far_end_number.number

    def set_trunk_account(self, domain: str, user: str, password: str) -> None:
        """Given the trunk DOMAIN accepts USER/PASSWORD: with equipment under test, the equipment file's
        account stands instead (it is the account the equipment serves or uses)."""
        if self.equipment is None:
            trunk = self.trunk
            trunk.domain_name, trunk.username, trunk.password, trunk.auth_types = domain, user, password, ("basic",)

    def _bounded(self, coro: Coroutine[Any, Any, T], agent: UserAgent, what: str) -> Coroutine[Any, Any, T]:
        """A trunk under test that never answers fails the scenario after the response timeout."""
        if not self.topology.external_trunk:
            return coro
        # over TLS the first answer waits for the handshake (bounded by its own timeout, which names the cause)
        slack = TLS_HANDSHAKE_TIMEOUT + 1.0 if self.tls is not None else 0.0
        timeout = self.session.options.response_timeout + (self.dns.timer_b if self.dns is not None else 0.0)
        return guard_silence(coro, agent.record, timeout + slack, what)

    # -- agents ----------------------------------------------------------------------------------------
    def ua_settings(self, role: str = "UA", **changes: Any) -> UaSettings:
        """The default settings of the UA playing `role` (the trunk's credentials), with `changes`."""
        topo, trunk = self.topology, self.trunk
        base = UaSettings(
            listen=topo.address_of(role),
            username="carrier" if role == "Carrier" else trunk.username,
            password=None if role == "Carrier" else trunk.password,
            domain=trunk.host,
            target=topo.trunk,
            registrar=topo.trunk,
            registrar_domain=trunk.registrar_domain,
            hold_ms=200,
            ring_timeout_ms=5000,
            remote_bye_timeout_ms=3000,
            answer_after_ms=50,
            max_auth_retries=1,
            user_agent=f"trunkcheck-{role.lower()}",
            srtp=self.ua_srtp and role == "UA",
            incoming_script=self.far_ends.phones.get(role),
        )
        if self.tls is not None:
            eq_tls = self.equipment.tls if self.equipment is not None and topo.external_trunk else None
            base = replace(base, transport="TLS", tls=self.tls.options(role, base.listen[0], trunk.host, eq_tls))
            if eq_tls is not None:  # a trunk under test takes TLS on an address of its own; a handshake that
                # never ends must fail (naming its cause) before the ring timeout gives up on the call
                base = replace(base, target=eq_tls.address.addr, registrar=eq_tls.address.addr,
                               ring_timeout_ms=base.ring_timeout_ms + int(1000 * (TLS_HANDSHAKE_TIMEOUT + 1)))
        if self.dns is not None and role == "UA":
            base = replace(base, **self.dns.ua_changes())
        if self.far_end_number is not None and role in ("UA", "UA2"):  # how long a remote far end may ring
            base = replace(base, ring_timeout_ms=int(self.far_end_number.cancel_after * 1000))
        return replace(base, **changes)

    def agent(self, role: str = "UA", **changes: Any) -> UserAgent:
        """The running UA for `role` with these settings (restarted on the same address if they differ)."""
        self._ensure_traffic()
        settings = self.ua_settings(role, **changes)
        current = self.agents.get(role)
        if current is not None and current.settings == settings:
            return current
        if current is not None:
            self.run(current.stop(), START_TIMEOUT, f"stopping the {role}")
        ua = self.run(UserAgent.start(settings), START_TIMEOUT, f"{role} start-up on {settings.listen}")
        self.agents[role] = ua
        return ua

    def call(self, role: str, to: str, *, settings: dict[str, Any] | None = None, **options: Any) -> CallResult:
        """`role` calls `to` (a number at the trunk's domain, or a sip: URI); bounded. ua-only: a number is
        replaced by the scenario's test number."""
        to = self._remote_target(role, to)
        ua = self.agent(role, **(settings or {}))
        s = ua.settings
        midcall = sum(step.after_ms for step in options.get("midcall", ())) / 1000  # hold, resume, DTMF
        bound = (options.get("hold_ms") or s.hold_ms) / 1000 + s.ring_timeout_ms / 1000 + midcall + CALL_SLACK
        what = f"the {role}'s call to {to}"
        result = self.run(self._bounded(ua.call(to, **options), ua, what), bound, what)
        self.calls.append(result)
        if self.tls is not None:
            self.tls.check_reached(result.status, result.reason)
        return result

    def call_with_expired_nonce(self, role: str, to: str, *, hold_ms: int) -> CallResult:
        """Get a 407 (the UA gives up on it), wait until its nonce has expired, then call again with
        credentials computed for that old nonce: the trunk must answer stale=TRUE, the UA then answers
        the fresh challenge. The nonce is read from the UA's record (driving, not asserting)."""
        lifetime = self.trunk.nonce_lifetime
        if lifetime is None or lifetime > 5:
            raise RuntimeError("set a short nonce lifetime first (Given the trunk's nonces expire after N ms)")
        first = self.call(role, to, settings={"on_challenge": "give-up"})
        issued_before = time.monotonic()  # the nonce was issued before the UA had its 407
        challenges = challenges_in(first)
        if not challenges:
            raise AssertionError(f"the first call got {first.status} {first.reason}, not a 407 challenge")
        # the reference server dates its nonces on this clock (time.monotonic, its loop's): just past the
        # lifetime is enough; equipment under test has a clock of its own
        margin = 0.2 if self.topology.external_trunk else 0.01
        time.sleep(max(0.0, issued_before + lifetime + margin - time.monotonic()))
        s = self.ua_settings(role)
        uri = to if to.lower().startswith("sip:") else f"sip:{to}@{s.domain}"
        credentials = DigestClient(s.username, s.password or "").authorize(challenges, "INVITE", uri)
        return self.call(role, to, hold_ms=hold_ms, headers=[("Proxy-Authorization", credentials.to_header())])

    def register(self, role: str, extension: str, password: str, expires: int | None = None) -> RegistrationResult:
        ua = self.agent(role, username=extension, password=password)
        what = f"the {role}'s REGISTER as {extension}"
        result = self.run(self._bounded(ua.register(expires, refresh=False), ua, what), 40.0, what)
        self.registrations.append(result)
        return result

    def unregister(self, role: str) -> RegistrationResult:
        ua = self.agents.get(role)
        if ua is None:
            raise RuntimeError(f"the {role} never registered in this scenario")
        result = self.run(ua.unregister(), 40.0, f"the {role}'s de-registration")
        self.registrations.append(result)
        return result

    # -- observation -----------------------------------------------------------------------------------
    def stop_capture(self) -> None:
        """Let the traffic settle (harness.suite.settle), stop the capture and hand the pcap to the decoder (at most once)."""
        if self._future is not None or self.capture is None:
            return
        capture = self.capture
        settle(capture, self.session.loop if self._all_roles_in_process() else None, started=self._traffic_started)
        try:
            self.record.packets = capture.stop()
        finally:
            self.capture = None
        if self.session.options.decode == "file" or self.tls is not None:  # a tshark of its own, on a thread
            future: Future[list[Decoded]] = Future()
            ports = self.topology.sip_ports() + ([self.equipment.tls.address.port]
                                                  if self.equipment is not None and self.equipment.tls else [])
            threading.Thread(target=decode_into, args=(future, self.pcap, ports, self.tls),
                             name=f"decode {self.pcap.name}", daemon=True).start()
            self._future = future
        else:
            self._future = self.session.decoder.submit(self.pcap)

    def _all_roles_in_process(self) -> bool:
        """Whether everything that sends in this scenario runs on the session's event loop: the reference
        server and the simulators, no equipment under test, SIPp or DNS server (their traffic cannot be
        foreseen from here: the capture waits for it to pause)."""
        return self.equipment is None and self.sipp_destination is None and self.dns is None

    def observation(self) -> Observation:
        """The decoded capture (stops the capture on first use)."""
        if self._observation is not None:
            return self._observation
        self.stop_capture()
        assert self._future is not None
        waited = time.monotonic()
        decoded = self._future.result(DECODE_TIMEOUT)
        self.record.decode_wait = time.monotonic() - waited
        self._observation = Observation.build(self.pcap, decoded, self.topology.roles())
        return self._observation

    def expect_flow(self, ladder: Ladder, title: str) -> None:
        """Assert the observed flow follows `ladder` (kept for the report either way); ua-only: its UA leg."""
        if self.ua_only:
            ladder, title = ua_leg(ladder), f"{title}, its UA leg (ua-only)"
            if not ladder.steps:
                self.record.notes.append(f"not checked: {title} has no message between the UA and VoIPBin")
                return
        self.expected.append((title, ladder))
        result, _ = check_flow(self.observation(), ladder)
        self.record.notes.extend(result.notes)

    def check_media(self) -> str | None:
        """Two-way media on every answered call (harness.suite.media_checks), for a scenario whose steps
        all passed: the failure's message, or None (the notes go to the report)."""
        try:
            self.record.notes.extend(check_two_way_media(self.observation(), remote_far_end=self.ua_only))
        except AssertionError as err:
            return str(err)
        return None

    # -- end -------------------------------------------------------------------------------------------
    def finish(self, status: str, error: str | None = None) -> ScenarioRecord:
        """Stop everything, write `<scenario>.ladder.txt` and `<scenario>.json`; idempotent."""
        record = self.record
        try:
            self.stop_capture()
            obs = self.observation()
            columns = self.expected[0][1].columns if self.expected else self._default_columns(obs)
            record.observed = render_observed(obs.observed, columns) if obs.observed else ""
        except Exception as err:  # noqa: BLE001 - the report says why there is no ladder
            record.observed = ""
            record.notes.append(f"no observed ladder: {err}")
        self.close()
        if self.tls is not None and self.tls.keep_decryptable(self.pcap) is not None:
            record.notes.append(f"TLS: {self.pcap.with_suffix('.pcapng').name} opens decrypted in Wireshark (secrets "
                                f"inside); {self.tls.keylog.name} is the key log")
        ladder_path = self.stem.with_name(self.stem.name + ".ladder.txt")
        ladder_path.write_text(record.observed or "(no SIP or RTP in the capture)\n", encoding="utf-8")
        record.ladder = self._rel(ladder_path)
        record.status = status
        record.error = error
        record.expected = [{"title": t, "text": lad.text} for t, lad in self.expected]
        record.seconds = time.monotonic() - self.started_at
        if self._uut is not None and self._uut.driven:
            log_path = self.stem.with_name(self.stem.name + ".equipment.log")
            log_path.write_text(self._uut.log_text() + "\n", encoding="utf-8")
            record.equipment_log = self._rel(log_path)
        if status != "passed":
            record.explain = self._explain()
        self.stem.with_name(self.stem.name + ".json").write_text(record.to_json(), encoding="utf-8")
        return record

    def _default_columns(self, obs: Observation) -> list[str]:
        return column_order({r for o in obs.observed for r in (o.src, o.dst)})

    def _explain(self) -> list[str]:
        lines: list[str] = self._uut.explain() if self._uut is not None else []
        if self.sipp_destination is not None:
            lines += ["-- what SIPp as the destination reported:", *self.sipp_destination.lines()]
        for name, agent in [*self.agents.items(), ("Destination", self.destination)]:
            if agent is None:
                continue
            lines.append(f"-- what the simulated {name} recorded:")
            lines += agent.record.lines()
        lines += self.far_ends.explain()
        return lines

    def close(self) -> None:
        """Stop the UAs, destination and trunk (bounded) and the capture; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.capture is not None:
            try:
                self.capture.stop(raise_errors=False)
            finally:
                self.capture = None
        if self._uut is not None:
            self._uut.close()
        for name, ua in list(self.agents.items()):
            if self.topology.external_trunk and ua.registration is not None and ua.registration.results:
                # equipment outlives the scenario: leave no binding for the next one to fork to
                self._stop(self._unregister(ua), f"removing the {name}'s registration")
            self._stop(ua.stop(), f"stopping the {name}")
        if self.destination is not None:
            self._stop(self.destination.stop(), "stopping the destination")
        self.far_ends.close(self._stop, trunk_outlives=self.topology.external_trunk)
        if self.sipp_destination is not None:
            self._stop(self.sipp_destination.stop(), "stopping SIPp as the destination")
        if self.server is not None:
            self._stop(self.server.stop(), "stopping the reference server")
        if self.dns is not None:
            self.record.notes.extend(self.dns.notes())
            self.dns.close()

    @staticmethod
    async def _unregister(ua: UserAgent) -> None:
        if ua.registrations and ua.registrations[-1].ok:
            await asyncio.wait_for(ua.unregister(), 3.0)

    def _stop(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        try:
            self.run(coro, START_TIMEOUT, what)
        except Exception:  # noqa: BLE001 - teardown goes on; the log says what failed
            log.exception("%s failed", what)
