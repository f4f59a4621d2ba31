"""The equipment file loader: every example loads, and every mistake is refused with the file, the exact
line and the key, before anything is started or sent."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.equipment import FEATURES, EquipmentError, load_equipment, parse_address, parse_equipment
from reference_server.config import Extension, default_config_text, parse_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "equipment"

TRUNK = """\
[equipment]
name = "Kamailio trunk"
role = "trunk"
address = "udp:127.0.5.50:5060"
features = [
    "basic-auth",
    "registration",
]

[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"
destination = "127.0.5.30:5080"

[equipment.registrar]
domain = "example.registrar.voipbin.net"

[[equipment.registrar.extension]]
extension = "1001"
password = "pass1001"
"""


def refused(text: str, tmp_path: Path) -> EquipmentError:
    path = tmp_path / "eq.toml"
    path.write_text(text)
    with pytest.raises(EquipmentError) as info:
        load_equipment(path)
    assert str(info.value).startswith(f"{path}:{info.value.line}: "), str(info.value)
    return info.value


def edit(old: str, new: str, text: str = TRUNK) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize("name", ["kamailio-trunk", "reference-trunk", "sipp-ua", "baresip-ua", "manual-phone"])
def test_every_example_loads(name: str) -> None:
    eq = load_equipment(EXAMPLES / f"{name}.toml")
    assert eq.role == ("trunk" if name.endswith("trunk") else "ua")
    assert eq.features <= set(FEATURES) and "basic-auth" in eq.features
    assert eq.trunk is not None and eq.trunk.password == "secret" and eq.trunk.realm == "example.trunk.voipbin.net"
    assert eq.address.host.startswith("127.")
    if eq.role == "trunk":
        assert eq.trunk.destination is not None and str(eq.trunk.destination) == "udp:127.0.0.30:5080"
        assert eq.process is not None and eq.process.cwd == EXAMPLES.parents[1]
    else:
        assert eq.adapter == name.split("-")[0] and eq.trunk.proxy is not None and len(eq.extensions) == 1


def test_the_kamailio_example_describes_the_example_cfg() -> None:
    eq = load_equipment(EXAMPLES / "kamailio-trunk.toml")
    assert eq.process is not None
    command = eq.process.command
    assert command[:3] == ("kamailio", "-f", "examples/kamailio/kamailio.cfg")
    assert (eq.process.cwd / command[2]).is_file()
    defines = dict(arg.split("=", 1) for arg in command[command.index("-A") + 1::2] if "=" in arg)
    assert defines["LISTEN_IP"] == eq.address.host and int(defines["LISTEN_PORT"]) == eq.address.port
    assert eq.trunk is not None and eq.trunk.destination is not None
    assert (defines["DEST_IP"], int(defines["DEST_PORT"])) == eq.trunk.destination.addr
    assert defines["TRUSTED_PEER"] + "/32" == eq.trusted_peers[0]
    assert {e.extension: e.password for e in eq.extensions} == {"1001": "pass1001", "1002": "pass1002"}
    assert "ip-auth" not in eq.features


def test_a_valid_file_gives_what_it_says(tmp_path: Path) -> None:
    eq = parse_equipment(TRUNK, "eq.toml")
    assert (eq.name, eq.role, str(eq.address)) == ("Kamailio trunk", "trunk", "udp:127.0.5.50:5060")
    assert eq.features == {"basic-auth", "registration"} and eq.registrar_domain == "example.registrar.voipbin.net"
    assert eq.where("equipment.trunk.password") == "eq.toml:13: equipment.trunk.password"
    assert eq.where("equipment.process") == "eq.toml:1: equipment.process"  # absent: its table, then line 1


def test_the_equipments_extensions_are_what_a_reference_server_registrar_is_configured_with() -> None:
    eq = parse_equipment(TRUNK, "eq.toml")
    server = dataclasses.replace(parse_config(default_config_text()), extensions=eq.extensions)
    assert eq.extensions == (Extension("1001", "pass1001"),)
    assert server.extension_password("1001") == "pass1001"


@pytest.mark.parametrize(("old", "new", "line", "key", "problem"), [
    ('password = "secret"', 'pasword = "secret"', 13, "equipment.trunk.pasword",
     'unknown key; did you mean "password"?'),
    ('role = "trunk"', 'rol = "trunk"', 3, "equipment.rol", 'unknown key; did you mean "role"?'),
    ('[equipment.registrar]', '[equipment.registar]', 16, "equipment.registar",
     'unknown key; did you mean "registrar"?'),
    ('extension = "1001"', 'extention = "1001"', 20, "equipment.registrar.extension[0].extention",
     'unknown key; did you mean "extension"?'),
    ('password = "secret"\n', '', 10, "equipment.trunk",
     "claims basic-auth but has no password: give the digest password of the trunk account"),
    ('password = "secret"', 'password = ""', 13, "equipment.trunk.password",
     "claims basic-auth but gives an empty password"),
    ('"udp:127.0.5.50:5060"', '"udp:127.0.5.500:5060"', 4, "equipment.address",
     '"udp:127.0.5.500:5060": "127.0.5.500" is not an IP address'),
    ('"udp:127.0.5.50:5060"', '"sctp:127.0.5.50:5060"', 4, "equipment.address",
     "transport sctp is not supported (udp, tcp or tls)"),
    ('"udp:127.0.5.50:5060"', '"udp:127.0.5.50:70000"', 4, "equipment.address", 'port "70000" is not 1-65535'),
    ('"udp:127.0.5.50:5060"', '"udp:trunk_example.com:5060"', 4, "equipment.address",
     '"trunk_example.com" is not an IP address (use an IP address'),  # names: tests/equipment/test_equipment_dns.py
    ('destination = "127.0.5.30:5080"', 'destination = 5080', 14, "equipment.trunk.destination",
     "expected a string, got an integer (5080)"),
    ('    "registration",', '    "registation",', 7, "equipment.features[1]",
     '"registation" is not a feature; did you mean "registration"?'),
    ('    "registration",', '    "basic-auth",', 7, "equipment.features[1]", '"basic-auth" is listed twice'),
    ('    "registration",', '    "registration",\n    "status-rely",', 8, "equipment.features[2]",
     '"status-rely" is not a feature; did you mean "status-relay"?'),
    ('role = "trunk"', 'role = "sbc"', 3, "equipment.role", '"sbc" is not one of trunk, ua'),
    ('destination = "127.0.5.30:5080"\n', '', 10, "equipment.trunk", 'missing required key "destination"'),
    ('domain = "example.trunk.voipbin.net"\n', '', 10, "equipment.trunk", 'missing required key "domain"'),
    ('address = "udp:127.0.5.50:5060"\n', '', 1, "equipment", 'missing required key "address"'),
    ('[equipment.registrar]\ndomain = "example.registrar.voipbin.net"\n\n[[equipment.registrar.extension]]\n'
     'extension = "1001"\npassword = "pass1001"\n', '', 5, "equipment.features",
     "claims registration: add [equipment.registrar]"),
    ('destination = "127.0.5.30:5080"', 'destination = "127.0.5.30:5080"\nproxy = "127.0.5.20:5060"', 15,
     "equipment.trunk.proxy", 'only for role "ua" (this equipment plays "trunk")'),
    ('"basic-auth",\n    "registration",', '"registration",', 5, "equipment.features",
     'a trunk authenticates calls: claim "basic-auth", "ip-auth" or both'),
])
def test_mistakes_are_refused_with_file_line_and_key(tmp_path: Path, old: str, new: str, line: int, key: str,
                                                     problem: str) -> None:
    error = refused(edit(old, new), tmp_path)
    assert (error.line, error.key) == (line, key), str(error)
    assert f": {key}: " in str(error) and problem in str(error), str(error)


def test_a_toml_syntax_error_names_its_line(tmp_path: Path) -> None:
    error = refused(edit('username = "alice"', 'username = "alice'), tmp_path)
    assert error.line == 12 and "TOML syntax error" in str(error)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(EquipmentError, match=r"nowhere\.toml: cannot read the equipment file"):
        load_equipment(tmp_path / "nowhere.toml")


UA = """\
[equipment]
name = "Phone"
role = "ua"
address = "udp:127.0.5.10:5070"
adapter = "sipp"
features = ["basic-auth"]

[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"
proxy = "udp:127.0.5.20:5060"

[equipment.sipp]
timeout = 30
"""


@pytest.mark.parametrize(("old", "new", "line", "key", "problem"), [
    ('adapter = "sipp"', 'adapter = "linphone"', 5, "equipment.adapter", '"linphone" is not one of sipp, baresip, manual'),
    ('adapter = "sipp"\n', '', 1, "equipment", 'missing required key "adapter" for role "ua"'),
    ('[equipment.sipp]', '[equipment.baresip]', 14, "equipment.baresip",
     'settings for adapter "baresip", but the adapter is "sipp"'),
    ('timeout = 30', 'timout = 30', 15, "equipment.sipp.timout", 'did you mean "timeout"?'),
    ('timeout = 30', 'timeout = -1', 15, "equipment.sipp.timeout", "-1 s is not above 0"),
    ('proxy = "udp:127.0.5.20:5060"', 'destination = "udp:127.0.5.30:5080"', 12, "equipment.trunk.destination",
     'only for role "trunk" (this equipment plays "ua")'),
    ('proxy = "udp:127.0.5.20:5060"\n', '', 8, "equipment.trunk", 'missing required key "proxy"'),
])
def test_ua_mistakes_are_refused_with_file_line_and_key(tmp_path: Path, old: str, new: str, line: int, key: str,
                                                        problem: str) -> None:
    error = refused(edit(old, new, UA), tmp_path)
    assert (error.line, error.key) == (line, key), str(error)
    assert problem in str(error), str(error)


PROCESS = '\n[equipment.process]\ncommand = ["kamailio", "-f", "k.cfg"]\nstart_timeout = "10"\n'
IMAGE = '\n[equipment.image]\nname = "vendor/sbc:1.2"\nports = ["5060/udp", "5060/sctp"]\n'


def test_process_and_image_settings_are_checked(tmp_path: Path) -> None:
    error = refused(TRUNK + PROCESS, tmp_path)
    assert (error.line, error.key) == (25, "equipment.process.start_timeout") and "expected a number" in str(error)
    error = refused(TRUNK + IMAGE, tmp_path)
    assert (error.line, error.key) == (25, "equipment.image.ports[1]")
    assert '"5060/sctp" is not PORT or PORT/udp or PORT/tcp' in str(error)
    both = TRUNK + PROCESS.replace('"10"', "10") + IMAGE.replace("5060/sctp", "5060/tcp")
    error = refused(both, tmp_path)
    assert (error.line, error.key) == (27, "equipment.image") and "not both" in str(error)


def test_a_process_command_may_be_one_string_and_python_is_this_interpreter(tmp_path: Path) -> None:
    import sys
    text = TRUNK + '\n[equipment.process]\ncommand = "{python} -m reference_server --listen \'udp:127.0.5.50:5060\'"\n'
    eq = parse_equipment(text, "eq.toml", base_dir=tmp_path)
    assert eq.process is not None and eq.process.cwd == tmp_path.resolve()
    assert eq.process.command == (sys.executable, "-m", "reference_server", "--listen", "udp:127.0.5.50:5060")
    assert (eq.process.start_timeout, eq.process.stop_timeout) == (10.0, 3.0)


def test_an_image_is_parsed_for_the_docker_runner() -> None:
    text = TRUNK + ('\n[equipment.image]\nname = "vendor/sbc:1.2"\nports = ["5060/udp", "5061"]\n'
                    'env = { SIP_DOMAIN = "example.trunk.voipbin.net" }\n'
                    '[equipment.image.healthcheck]\ntest = ["CMD", "sbc-ping"]\nretries = 5\n')
    eq = parse_equipment(text)
    assert eq.image is not None and eq.image.ports == ("5060/udp", "5061")
    assert eq.image.env == {"SIP_DOMAIN": "example.trunk.voipbin.net"}
    assert eq.image.healthcheck == {"test": ["CMD", "sbc-ping"], "interval": 1.0, "timeout": 3.0, "retries": 5}


@pytest.mark.parametrize(("text", "expected"), [
    ("udp:127.0.0.50:5060", "udp:127.0.0.50:5060"),
    ("TCP:127.0.0.50:5061", "tcp:127.0.0.50:5061"),
    ("127.0.0.30:5080", "udp:127.0.0.30:5080"),
    ("127.0.0.30", "udp:127.0.0.30:5060"),
    ("tcp:[::1]:5060", "tcp:[::1]:5060"),
])
def test_addresses(text: str, expected: str) -> None:
    assert str(parse_address(text)) == expected


def test_the_hangup_cause_claims_are_two_and_the_former_name_reads_as_both(tmp_path: Path) -> None:
    """A proxy relays the destination's status but adds no Q.850 Reason: the two are claimed apart. A file
    written when they were one claim (reason-relay) still means what it meant: both."""
    status_only = parse_equipment(edit('    "registration",', '    "registration",\n    "status-relay",'))
    assert "status-relay" in status_only.features and "q850-reason" not in status_only.features
    former = parse_equipment(edit('    "registration",', '    "registration",\n    "reason-relay",'))
    assert {"status-relay", "q850-reason"} <= former.features and "reason-relay" not in former.features
