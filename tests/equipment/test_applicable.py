"""Which scenarios run against equipment: only those whose features it claims; the rest are reported
not applicable, with the reason, never as passed."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.equipment import applicable, load_equipment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "equipment"
FEATURES = Path(__file__).resolve().parents[2] / "features"


@pytest.fixture(scope="module")
def kamailio():  # type: ignore[no-untyped-def]
    return load_equipment(EXAMPLES / "kamailio-trunk.toml")


@pytest.fixture(scope="module")
def sipp():  # type: ignore[no-untyped-def]
    return load_equipment(EXAMPLES / "sipp-ua.toml")


def test_claimed_features_apply(kamailio) -> None:  # type: ignore[no-untyped-def]
    ok, why = applicable({"@basic-auth", "@registration"}, kamailio)
    assert ok and why == "Kamailio trunk example (trunk) claims basic-auth, registration"


@pytest.mark.parametrize("tags", [{"@ip-auth"}, {"ip-auth", "wip"}, {"@basic-auth", "@IP-Auth"}])
def test_an_unclaimed_feature_is_not_applicable_and_says_which(kamailio, tags: set[str]) -> None:  # type: ignore[no-untyped-def]
    ok, why = applicable(tags, kamailio)
    assert not ok
    assert why == ("not applicable: Kamailio trunk example (trunk) does not claim ip-auth (claims: basic-auth, "
                   "cancel, registration, status-relay, tcp)")


def test_the_kamailio_example_does_not_claim_what_a_proxy_does_differently(kamailio) -> None:  # type: ignore[no-untyped-def]
    """No media relay and no Reason header of its own (examples/kamailio/README.md): not claimed, so
    those scenarios are not applicable rather than failed. The status it relays unchanged is claimed."""
    for feature in ("early-media", "q850-reason"):
        ok, why = applicable({"@basic-auth", f"@{feature}"}, kamailio)
        assert not ok and f"does not claim {feature}" in why
    assert applicable({"@basic-auth", "@status-relay"}, kamailio)[0]


def test_a_trunk_relaying_the_status_without_a_reason_gets_the_spec_s_404_ladder(kamailio) -> None:  # type: ignore[no-untyped-def]
    """The spec's hangup-cause ladder (404 -> 404) and the outline of statuses need status-relay only; the
    Q.850 Reason is checked in scenarios of its own."""
    from behave.parser import parse_file

    verdicts: dict[str, bool] = {}
    for path in (FEATURES / "hangup_cause.feature", FEATURES / "early_media.feature"):
        for scenario in parse_file(str(path)).walk_scenarios():
            tags = [str(t) for t in scenario.effective_tags]
            verdicts[scenario.name] = applicable(tags, kamailio)[0]
            if "q850-reason" in tags:
                assert not verdicts[scenario.name], scenario.name
    assert verdicts["The documented flow, the destination answers 404 Not Found"]
    status_outline = [n for n in verdicts if n.startswith("The destination's") and "reaches the UA unchanged" in n]
    assert len(status_outline) >= 7 and all(verdicts[n] for n in status_outline)
    assert not any(v for n, v in verdicts.items() if "Q.850 cause" in n)


def test_a_former_feature_tag_needs_both_claims_it_became(kamailio) -> None:  # type: ignore[no-untyped-def]
    ok, why = applicable({"@basic-auth", "@reason-relay"}, kamailio)
    assert not ok and "does not claim q850-reason" in why


def test_a_ua_claims_less(sipp) -> None:  # type: ignore[no-untyped-def]
    assert applicable({"@registration", "@early-media"}, sipp)[0]
    ok, why = applicable({"@cancel", "@tcp"}, sipp)
    assert not ok and "does not claim cancel, tcp" in why


def test_untagged_and_unknown_tags_apply_to_everyone(kamailio, sipp) -> None:  # type: ignore[no-untyped-def]
    for eq in (kamailio, sipp):
        assert applicable(set(), eq) == (True, "no feature is needed beyond the basics")
        assert applicable({"@wip", "@slow"}, eq)[0]


def test_role_tags_select_the_role(kamailio, sipp) -> None:  # type: ignore[no-untyped-def]
    assert applicable({"@role-trunk"}, kamailio)[0]
    ok, why = applicable({"@role-trunk"}, sipp)
    assert not ok and why == ("not applicable: the scenario needs equipment in role trunk, SIPp caller (ua) "
                              "plays ua")


def test_scenarios_that_reconfigure_the_trunk_are_for_the_reference_server_only(kamailio) -> None:  # type: ignore[no-untyped-def]
    ok, why = applicable({"@basic-auth", "@reference-only"}, kamailio)
    assert not ok and "reference server only" in why
    assert applicable({"@reference-only", "@ip-auth"}, None)[0]


def test_without_equipment_everything_applies() -> None:
    assert applicable({"@ip-auth", "@tcp", "@role-ua"}, None) == (
        True, "the embedded reference server implements every feature")


@pytest.mark.parametrize("feature, claim", [("session_timers.feature", "session-timers"),
                                            ("reliable_provisionals.feature", "100rel"),
                                            ("long_calls.feature", "long-calls")])
def test_the_beyond_the_ladders_scenarios_need_their_claim(kamailio, feature: str, claim: str) -> None:  # type: ignore[no-untyped-def]
    """Session timers, 100rel and long calls: not applicable unless claimed (Kamailio's file claims none),
    and claimable."""
    first = (FEATURES / feature).read_text().splitlines()[0]
    tags = set(first.split())
    assert f"@{claim}" in tags
    ok, why = applicable(tags, kamailio)
    assert not ok and f"does not claim {claim}" in why
    claimed = load_equipment(EXAMPLES / "kamailio-trunk.toml")
    object.__setattr__(claimed, "features", claimed.features | {claim})
    assert applicable(tags, claimed)[0]
