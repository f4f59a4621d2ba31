"""Steps of the scenarios that locate the trunk through DNS (RFC 3263; harness.suite.dns_failover)."""

from __future__ import annotations

from behave import given, then
from behave.runner import Context

from harness.suite.dns_failover import DnsFailover, check_failover, check_located
from steps.world import world


def _dns(context: Context) -> DnsFailover:
    found = world(context).dns
    if found is None:
        raise RuntimeError("no DNS for this scenario: start with \"Given the trunk's domain is published in DNS, "
                           "its first SRV target silent\"")
    return found


@given("the trunk's domain is published in DNS, its first SRV target silent")
def step_dns_silent_first(context: Context) -> None:
    scenario = world(context)
    if scenario.dns is None:
        log = scenario.stem.with_name(scenario.stem.name + ".dnsmasq.log")
        scenario.dns = DnsFailover.start(scenario.trunk.host, scenario.topology, log)


@given("the UA's T1 is {ms:d} ms, so its Timer B is {seconds:g} s")
def step_ua_t1(context: Context, ms: int, seconds: float) -> None:
    """T1 shortened for the scenario (RFC 3261 §17.1.1.1 allows it in a closed network); Timer B is 64*T1."""
    if abs(64 * ms / 1000 - seconds) > 1e-9:
        raise ValueError(f"Timer B is 64*T1: {64 * ms / 1000:g} s with T1 {ms} ms, not {seconds:g} s")
    _dns(context).t1 = ms / 1000


@then("the UA located the trunk through DNS: NAPTR, then SRV, then the A record of each target")
def step_located(context: Context) -> None:
    check_located(_dns(context))


@then("the UA retransmitted the INVITE to the silent target until Timer B, then sent it to VoIPBin")
def step_failover(context: Context) -> None:
    scenario = world(context)
    scenario.record.notes.append(check_failover(scenario.observation(), _dns(context)))
