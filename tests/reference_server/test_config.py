"""Reference server configuration: embedded defaults, validation errors at FILE:LINE, overrides."""

from __future__ import annotations

import ipaddress
import textwrap
from pathlib import Path

import pytest

from reference_server.config import (
    ConfigError,
    Destination,
    ListenAddress,
    Overrides,
    apply_overrides,
    default_config_text,
    load_config,
    parse_config,
)

TRUNK = """\
[[trunk]]
domain_name = "acme"
username = "alice"
password = "secret"
destination = "127.0.0.1:5080"
"""


def error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), "server.toml")
    return str(info.value)


# --- the embedded default ------------------------------------------------------------------------------

def test_defaults_match_the_documented_values() -> None:
    c = load_config(None)
    assert c.listen == (ListenAddress("udp", "127.0.0.1", 5060), ListenAddress("tcp", "127.0.0.1", 5060))
    assert (c.nonce_lifetime, c.algorithms, c.trusted_peers) == (300.0, ("MD5",), ())
    (trunk,) = c.trunks
    assert trunk.domain_name == "example" and trunk.address == "sip:example.trunk.voipbin.net"
    assert trunk.realm == "example.trunk.voipbin.net"
    assert (trunk.auth_types, trunk.username, trunk.password) == (("basic",), "alice", "secret")
    assert trunk.destination == Destination("127.0.0.1", 5080, "udp")
    assert c.registrar.domain == "example.registrar.voipbin.net"
    assert (c.registrar.min_expires, c.registrar.default_expires, c.registrar.max_expires,
            c.registrar.max_contacts) == (60, 3600, 7200, 3)
    assert [(e.extension, e.password) for e in c.extensions] == [("1001", "pass1001"), ("1002", "pass1002")]
    assert (c.media.address, c.media.port_min, c.media.port_max) == ("127.0.0.1", 30000, 30999)
    assert (c.security.max_failed_attempts, c.security.failure_window, c.security.block_duration) == (5, 60, 300)
    assert c.extension_password("1002") == "pass1002" and c.extension_password("1003") is None


def test_every_default_key_is_documented_by_a_comment() -> None:
    lines = default_config_text().splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            j = i - 1
            while j >= 0 and "=" in lines[j] and not lines[j].startswith("#"):
                j -= 1  # one comment may cover a group of keys
            assert j >= 0 and lines[j].startswith(("#", "[[")), f"undocumented: {line}"


def test_a_file_gets_default_settings_but_only_its_own_trunks_and_extensions() -> None:
    c = parse_config(TRUNK, "server.toml")
    assert [t.domain_name for t in c.trunks] == ["acme"] and c.extensions == ()
    assert c.registrar.max_contacts == 3 and c.security.max_failed_attempts == 5
    assert c.trunks[0].name == "acme" and c.source == "server.toml"


def test_trunk_options_parse() -> None:
    c = parse_config(textwrap.dedent("""\
        [server]
        algorithms = ["sha-512-256", "MD5"]
        trusted_peers = ["192.0.2.7", "198.51.100.0/24"]
        [[trunk]]
        name = "Dotted"
        domain_name = "a.b-c"
        auth_types = ["ip", "basic"]
        username = "u"
        password = "p"
        realm = "custom"
        allowed_ips = ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]
        destination = "sip:[::1]:5090;transport=TCP"
        """), "s.toml")
    t = c.trunks[0]
    assert c.algorithms == ("SHA-512-256", "MD5")
    assert c.trusted_peers[1] == ipaddress.ip_network("198.51.100.0/24")
    assert (t.host, t.realm, t.auth_types) == ("a.b-c.trunk.voipbin.net", "custom", ("ip", "basic"))
    assert t.allows_ip("10.9.8.7") and t.allows_ip("192.0.2.1") and t.allows_ip("2001:db8::5")
    assert not t.allows_ip("192.0.2.2") and not t.allows_ip("not-an-ip")
    assert t.destination == Destination("::1", 5090, "tcp")


def test_ip_only_trunk_needs_no_credentials() -> None:
    c = parse_config('[[trunk]]\ndomain_name = "pbx"\nauth_types = ["ip"]\nallowed_ips = ["127.0.0.1"]\n'
                     'destination = "127.0.0.1"\n', "s.toml")
    assert c.trunks[0].username is None and c.trunks[0].destination == Destination("127.0.0.1", 5060, "udp")


# --- errors, with the line ---------------------------------------------------------------------------

ERRORS = [
    # domain_name: VoIPBin's rule, in the second [[trunk]]
    (TRUNK + '\n[[trunk]]\ndomain_name = "9bad"\n',
     """server.toml:8: trunk[1].domain_name: "9bad" must start with a letter and be 2-31 characters of """
     """letters, digits, '-' and '.'"""),
    ('[[trunk]]\ndomain_name = "a"\n', "server.toml:2: trunk[0].domain_name: \"a\" must start"),
    ('[[trunk]]\ndomain_name = "' + "a" * 32 + '"\n', "server.toml:2: trunk[0].domain_name:"),
    ('[[trunk]]\ndomain_name = "has_underscore"\n', "server.toml:2: trunk[0].domain_name:"),
    (TRUNK + TRUNK.replace('"acme"', '"ACME"'),
     'server.toml:7: trunk[1].domain_name: "ACME" is already used by trunk[0]'),
    # unknown keys, with a suggestion
    ('[server]\nnonce_lifetime = 10\nlisen = ["udp:127.0.0.1:5060"]\n',
     'server.toml:3: server.lisen: unknown key; did you mean "listen"?'),
    (TRUNK + 'pasword = "x"\n', 'server.toml:6: trunk[0].pasword: unknown key; did you mean "password"?'),
    ('\n[sever]\n', 'server.toml:2: sever: unknown key; did you mean "server"?'),
    ('[media]\nzzz = 1\n', "server.toml:2: media.zzz: unknown key; known keys: address, port_min, port_max"),
    ('[[extension]]\nextension = "1"\npassword = "p"\nrealm = "x"\n',
     "server.toml:4: extension[0].realm: unknown key; known keys: extension, password"),
    # wrong types
    ('[server]\nnonce_lifetime = "300"\n', 'server.toml:2: server.nonce_lifetime: expected a number, got a string ("300")'),
    ('[registrar]\nmax_contacts = 3.5\n', "server.toml:2: registrar.max_contacts: expected an integer, got a number (3.5)"),
    ('[security]\n\nmax_failed_attempts = true\n',
     "server.toml:3: security.max_failed_attempts: expected an integer, got a boolean (true)"),
    ('[[extension]]\nextension = 1001\npassword = "p"\n',
     "server.toml:2: extension[0].extension: expected a string, got an integer (1001)"),
    ('[trunk]\ndomain_name = "x"\n', "server.toml:1: trunk: expected an array of tables ([[trunk]]), got a table"),
    ('server = 5\n', "server.toml:1: server: expected a table, got an integer (5)"),
    ('[server]\nalgorithms = "MD5"\n', "server.toml:2: server.algorithms: expected an array, got a string"),
    ('[server]\nlisten = [\n  "udp:127.0.0.1:5060",\n  5060,\n]\n',
     "server.toml:4: server.listen[1]: expected a string, got an integer (5060)"),
    # addresses, ports, networks
    ('[server]\nlisten = [\n  "udp:127.0.0.1:5060",\n  "tcp:127.0.0.1:99999",\n]\n',
     'server.toml:4: server.listen[1]: "tcp:127.0.0.1:99999": port "99999" is not 1-65535'),
    ('[server]\nlisten = ["sctp:127.0.0.1:5060"]\n',
     'server.toml:2: server.listen[0]: "sctp:127.0.0.1:5060": transport sctp is not supported (udp, tcp or tls)'),
    ('[server]\nlisten = ["udp:localhost:5060"]\n',
     'server.toml:2: server.listen[0]: "udp:localhost:5060": "localhost" is not an IP address (use an IP address, '
     'IPv6 in brackets: [::1]:5060)'),
    ('[server]\nlisten = ["udp:127.0.0.1:5060", "udp:127.0.0.1"]\n',
     'server.toml:2: server.listen[1]: "udp:127.0.0.1" is listed twice'),
    ('[server]\nlisten = []\n', "server.toml:2: server.listen: needs at least one address"),
    ('[server]\ntrusted_peers = ["10.0.0.300"]\n',
     'server.toml:2: server.trusted_peers[0]: "10.0.0.300" is not an IP address or CIDR network'),
    (TRUNK + 'allowed_ips = [\n  "192.0.2.0/24",\n  "10.0.0.1/24",\n]\n',
     'server.toml:8: trunk[0].allowed_ips[1]: "10.0.0.1/24" is not an IP address or CIDR network '
     '(10.0.0.1/24 has host bits set)'),
    ('[media]\naddress = "media.example"\n', 'server.toml:2: media.address: "media.example" is not an IP address'),
    ('[media]\nport_min = 31000\nport_max = 30999\n', "server.toml:2: media.port_min: 31000 is above port_max 30999"),
    ('[media]\nport_min = 30001\nport_max = 30004\n',
     "server.toml:2: media.port_min: 30001-30004 holds fewer than 2 RTP/RTCP port pairs"),
    ('[media]\nport_max = 70000\n', "server.toml:2: media.port_max: 70000 is not 1024-65535"),
    # destinations
    (TRUNK.replace('"127.0.0.1:5080"', '"sips:carrier.example.net;transport=udp"'),
     'server.toml:5: trunk[0].destination: "sips:carrier.example.net;transport=udp": a sips: URI is reached over '
     'TLS, not udp'),
    (TRUNK.replace('"127.0.0.1:5080"', '"sip:127.0.0.1;transport=sctp"'),
     "server.toml:5: trunk[0].destination: \"sip:127.0.0.1;transport=sctp\": transport 'sctp' is not udp, tcp or tls"),
    (TRUNK.replace('"127.0.0.1:5080"', '"sip:bob@127.0.0.1"'),
     'server.toml:5: trunk[0].destination: "sip:bob@127.0.0.1": only host, port and ;transport= are allowed'),
    (TRUNK.replace('"127.0.0.1:5080"', '"127.0.0.1:0"'),
     'server.toml:5: trunk[0].destination: "127.0.0.1:0": port "0" is not 1-65535'),
    (TRUNK.replace('"127.0.0.1:5080"', '"sip:127.0.0.1:0"'), 'server.toml:5: trunk[0].destination: "sip:127.0.0.1:0" is '
     "not a valid sip: URI (SIP URI 'sip:127.0.0.1:0' has an invalid port '0')"),
    (TRUNK.replace('destination = "127.0.0.1:5080"\n', ""), 'server.toml:1: trunk[0]: missing required key "destination"'),
    # auth types and their requirements
    (TRUNK + 'auth_types = ["basic", "digest"]\n', 'server.toml:6: trunk[0].auth_types[1]: "digest" is not "basic" or "ip"'),
    (TRUNK + 'auth_types = ["basic", "basic"]\n', 'server.toml:6: trunk[0].auth_types[1]: "basic" is listed twice'),
    (TRUNK + "auth_types = []\n", 'server.toml:6: trunk[0].auth_types: needs "basic", "ip" or both'),
    (TRUNK.replace('username = "alice"\n', ""), 'server.toml:1: trunk[0]: missing required key "username"'),
    (TRUNK.replace('"secret"', '""'), "server.toml:4: trunk[0].password: must not be empty with basic auth"),
    (TRUNK + 'auth_types = ["ip"]\n',
     "server.toml:1: trunk[0]: ip auth needs allowed_ips (IP addresses or CIDR networks)"),
    (TRUNK + 'auth_types = ["ip"]\nallowed_ips = []\n',
     "server.toml:7: trunk[0].allowed_ips: ip auth needs allowed_ips (IP addresses or CIDR networks)"),
    # server settings
    ('[server]\nalgorithms = ["MD5", "SHA-1"]\n',
     'server.toml:2: server.algorithms[1]: "SHA-1" is not one of MD5, SHA-256, SHA-512-256'),
    ('[server]\nalgorithms = []\n', "server.toml:2: server.algorithms: needs at least one of MD5, SHA-256, SHA-512-256"),
    ('[server]\nnonce_lifetime = 0\n', "server.toml:2: server.nonce_lifetime: must be above 0, got 0"),
    ('[security]\nblock_duration = -1\n', "server.toml:2: security.block_duration: must be above 0, got -1"),
    # registrar and extensions
    ('[registrar]\nmin_expires = 8000\n', "server.toml:2: registrar.min_expires: 8000 is above max_expires 7200"),
    ('[registrar]\ndefault_expires = 30\n',
     "server.toml:2: registrar.default_expires: 30 is not within min_expires 60 .. max_expires 7200"),
    ('[registrar]\ndomain = "x.trunk.voipbin.net"\n',
     'server.toml:2: registrar.domain: "x.trunk.voipbin.net" is not a host name outside trunk.voipbin.net'),
    ('[[extension]]\nextension = "1001"\npassword = "a"\n\n[[extension]]\nextension = "1001"\npassword = "b"\n',
     'server.toml:6: extension[1].extension: "1001" is defined twice'),
    ('[[extension]]\nextension = "10 01"\npassword = "a"\n',
     "server.toml:2: extension[0].extension: \"10 01\" is not a plain SIP user part (letters, digits, -_.!~*'())"),
    ('[[extension]]\nextension = "1001"\n', 'server.toml:1: extension[0]: missing required key "password"'),
    # inline tables and dotted keys are located too
    ('trunk = [\n  {domain_name = "ok", username = "u", password = "p", destination = "h"},\n'
     '  {domain_name = "9x", destination = "h"},\n]\n', "server.toml:3: trunk[1].domain_name:"),
    ('server.nonce_lifetime = "x"\n', "server.toml:1: server.nonce_lifetime: expected a number"),
]


@pytest.mark.parametrize(("text", "expected"), ERRORS, ids=[e[1].split(": ")[1] + f"-{i}" for i, e in enumerate(ERRORS)])
def test_config_error_names_file_line_key_and_problem(text: str, expected: str) -> None:
    assert error(text).startswith(expected)


def test_toml_syntax_error_keeps_the_line() -> None:
    message = error('[server]\nnonce_lifetime = 300\nlisten = ["udp:127.0.0.1:5060"\n\n')
    assert message == "server.toml:3: TOML syntax error: Unclosed array (at end of document)"
    e = pytest.raises(ConfigError, parse_config, "a = 1\nb = = 2\n", "x.toml").value
    assert str(e).startswith("x.toml:2: TOML syntax error:") and e.line == 2 and e.filename == "x.toml"


def test_config_error_carries_structured_location() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(TRUNK + '\n[[trunk]]\ndomain_name = "9bad"\n', "server.toml")
    assert (info.value.filename, info.value.line, info.value.key) == ("server.toml", 8, "trunk[1].domain_name")


# --- files and overrides -------------------------------------------------------------------------------

def test_load_config_from_a_file_with_overrides(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text(TRUNK + TRUNK.replace('"acme"', '"beta"'))
    c = load_config(path, overrides=Overrides(listen=["tcp:127.0.0.2:5070"], destination="sip:127.0.0.9:6000"))
    assert c.listen == (ListenAddress("tcp", "127.0.0.2", 5070),)
    assert {t.destination for t in c.trunks} == {Destination("127.0.0.9", 6000, "udp")}
    assert c.source == str(path)


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read: No such file"):
        load_config(tmp_path / "nope.toml")


def test_apply_overrides_keeps_what_is_not_overridden() -> None:
    base = load_config(None)
    assert apply_overrides(base, None, None) == base
    c = apply_overrides(base, ["udp:[::1]:5062"], None)
    assert c.listen == (ListenAddress("udp", "::1", 5062),) and str(c.listen[0]) == "udp:[::1]:5062"
    assert c.trunks == base.trunks


@pytest.mark.parametrize(("listen", "destination", "expected"), [
    (["udp:127.0.0.1:5060", "udp:127.0.0.1:5060"], None, "--listen: give one or more distinct addresses"),
    ([], None, "--listen: give one or more distinct addresses"),
    (["udp:127.0.0.1:x"], None, '--listen: "udp:127.0.0.1:x": port "x" is not 1-65535'),
    (None, "sip:127.0.0.1;transport=sctp", "--destination: \"sip:127.0.0.1;transport=sctp\": transport 'sctp'"),
])
def test_bad_overrides(listen: list[str] | None, destination: str | None, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides(load_config(None), listen, destination)
    assert str(info.value).startswith(expected)


def test_ip_port_without_a_transport_is_udp_in_the_file_and_on_the_command_line() -> None:
    """The same address text means the same thing everywhere: ``ip:port`` is UDP (as in equipment files)."""
    c = parse_config('[server]\nlisten = ["127.0.0.1:5070", "[::1]:5070", "tcp:127.0.0.1:5070"]\n', "s.toml")
    assert c.listen == (ListenAddress("udp", "127.0.0.1", 5070), ListenAddress("udp", "::1", 5070),
                        ListenAddress("tcp", "127.0.0.1", 5070))
    c = apply_overrides(load_config(None), ["127.0.0.2:5071"], "tcp:127.0.0.9:6000")
    assert c.listen == (ListenAddress("udp", "127.0.0.2", 5071),)
    assert {t.destination for t in c.trunks} == {Destination("127.0.0.9", 6000, "tcp")}
