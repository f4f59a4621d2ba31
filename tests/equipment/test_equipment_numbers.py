"""A remote trunk's equipment file (``destination = "remote"``, ``[[equipment.trunk.number]]``): the test
numbers load with their behaviours, and every mistake is refused naming the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.equipment import EquipmentError, load_equipment, parse_equipment
from harness.suite.equipment_setup import check_usable, fixed_addresses

from .test_equipment_file import TRUNK, edit

REMOTE = edit('destination = "127.0.5.30:5080"', '''destination = "remote"

[[equipment.trunk.number]]
number = "+15550100"
behaviour = "answers"

[[equipment.trunk.number]]
number = "+15550404"
behaviour = "rejects"
status = 404

[[equipment.trunk.number]]
number = "+15550999"
behaviour = "never-answers"
cancel_after = 2.5
''')


def line_of(text: str, needle: str) -> int:
    """The line of ``text`` where ``needle`` (its first line) starts."""
    return text[:text.index(needle)].count("\n") + 1


def refused(text: str, tmp_path: Path) -> str:
    path = tmp_path / "eq.toml"
    path.write_text(text)
    with pytest.raises(EquipmentError) as info:
        load_equipment(path)
    assert str(info.value).startswith(f"{path}:{info.value.line}: "), str(info.value)
    return str(info.value).removeprefix(f"{path}:")


def test_the_numbers_load_and_the_harness_plays_the_ua_only() -> None:
    eq = parse_equipment(REMOTE)
    assert eq.ua_only and eq.trunk is not None and eq.trunk.destination is None
    assert [(n.number, n.behaviour, n.status, n.cancel_after) for n in eq.trunk.numbers] == [
        ("+15550100", "answers", None, 5.0), ("+15550404", "rejects", 404, 5.0),
        ("+15550999", "never-answers", None, 2.5)]
    tables = [k for k, line in enumerate(REMOTE.splitlines(), 1) if line == "[[equipment.trunk.number]]"]
    assert [n.line for n in eq.trunk.numbers] == tables
    check_usable(eq)  # no destination of the harness to check
    assert set(fixed_addresses(eq)) == {"VoIPBin"}
    assert not parse_equipment(TRUNK).ua_only


@pytest.mark.parametrize(("old", "new", "at", "key", "message"), [
    ('behaviour = "rejects"\nstatus = 404', 'behaviour = "rejects"', "[[equipment.trunk.number]]\nnumber = \"+15550404",
     "equipment.trunk.number[1]", 'behaviour "rejects" needs the status'),
    ("status = 404", "status = 200", "status = 200", "equipment.trunk.number[1].status",
     "200 is not a final error status"),
    ('behaviour = "answers"', 'behaviour = "answer"', 'behaviour = "answer"', "equipment.trunk.number[0].behaviour",
     'did you mean "answers"?'),
    ('behaviour = "answers"', 'behaviour = "answers"\nstatus = 486', "status = 486",
     "equipment.trunk.number[0].status", 'only with behaviour "rejects"'),
    ('number = "+15550404"', 'number = "+1555010"', 'number = "+1555010"', "equipment.trunk.number[1].number",
     "listed twice"),
    ('number = "+15550404"', 'number = "555 0404"', 'number = "555 0404"', "equipment.trunk.number[1].number",
     "is not a number or user part"),
    ("cancel_after = 2.5", "cancel_after = 0", "cancel_after = 0", "equipment.trunk.number[2].cancel_after",
     "not above 0"),
    ('behaviour = "answers"', 'behaviour = "answers"\nring = 3', "ring = 3", "equipment.trunk.number[0].ring",
     "unknown key"),
])
def test_a_mistake_in_a_number_names_its_line(old: str, new: str, at: str, key: str, message: str,
                                              tmp_path: Path) -> None:
    text = edit(old, new, REMOTE)
    if "listed twice" in message:
        text = text.replace('"+1555010"', '"+15550100"')
        at = at.replace('"+1555010"', '"+15550100"\nbehaviour = "rejects"')
    error = refused(text, tmp_path)
    assert error.startswith(f"{line_of(text, at)}: {key}: ") and message in error, error


def test_a_remote_destination_needs_numbers_and_numbers_need_a_remote_destination(tmp_path: Path) -> None:
    no_numbers = REMOTE.split("\n[[equipment.trunk.number]]")[0] + "\n"
    error = refused(no_numbers, tmp_path)
    assert error.startswith(f"{line_of(no_numbers, 'destination =')}: equipment.trunk.destination: "), error
    assert "add [[equipment.trunk.number]]" in error, error
    numbers_only = edit('destination = "remote"', 'destination = "127.0.5.30:5080"', REMOTE)
    error = refused(numbers_only, tmp_path)
    assert error.startswith(f"{line_of(numbers_only, '[[equipment.trunk.number]]')}: equipment.trunk.number[0]: "), error
    assert 'set destination = "remote"' in error, error


def test_a_remote_trunk_needs_no_address_but_its_domain_must_then_be_found(tmp_path: Path) -> None:
    """Without ``address`` the trunk is its server address sip:DOMAIN, located through DNS (here: a name
    that cannot exist, asked of a DNS server that is not there, so the refusal is quick and certain)."""
    text = edit('address = "udp:127.0.5.50:5060"\n', 'dns = "127.0.5.53:5399"\n', REMOTE)
    text = text.replace("example.trunk.voipbin.net", "nowhere.invalid")
    error = refused(text, tmp_path)
    assert error.startswith(f"{line_of(text, 'domain =')}: equipment.trunk.domain: ") and "sip:nowhere.invalid cannot be located" in error, error


def test_the_remote_trunk_example_loads_with_its_numbers() -> None:
    """examples/equipment/remote-trunk.toml, pinned to an address (the example locates its domain in DNS)."""
    from .test_equipment_file import EXAMPLES

    text = (EXAMPLES / "remote-trunk.toml").read_text()
    eq = parse_equipment(text.replace('role = "trunk"\n', 'role = "trunk"\naddress = "udp:127.0.5.50:5060"\n', 1))
    assert eq.ua_only and eq.trunk is not None
    assert {n.behaviour for n in eq.trunk.numbers} == {"answers", "early-media-then-answers", "rejects",
                                                        "early-media-then-rejects", "never-answers"}
