"""Which scenarios run against equipment: only those whose features it claims; the rest are reported
not applicable, with the reason, never as passed."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.equipment import applicable, load_equipment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "equipment"


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
                   "cancel, registration, tcp)")


def test_the_kamailio_example_does_not_claim_what_a_proxy_does_differently(kamailio) -> None:  # type: ignore[no-untyped-def]
    """No media relay and no Reason header of its own (examples/kamailio/README.md): not claimed, so
    those scenarios are not applicable rather than failed."""
    for feature in ("early-media", "reason-relay"):
        ok, why = applicable({"@basic-auth", f"@{feature}"}, kamailio)
        assert not ok and f"does not claim {feature}" in why


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
