"""The one parser of transport addresses (serve, simulate, the server's config, equipment files)."""

from __future__ import annotations

import pytest

from sipcore.transport_address import AddressError, TransportAddress, parse_transport_address


@pytest.mark.parametrize(("text", "expected"), [
    ("udp:127.0.0.1:5060", TransportAddress("udp", "127.0.0.1", 5060)),
    ("TCP:127.0.0.1:5061", TransportAddress("tcp", "127.0.0.1", 5061)),
    ("127.0.0.1:5070", TransportAddress("udp", "127.0.0.1", 5070)),  # ip:port is UDP everywhere
    ("[::1]:5070", TransportAddress("udp", "::1", 5070)),
    ("tcp:[::1]:5060", TransportAddress("tcp", "::1", 5060)),
    ("127.0.0.30", TransportAddress("udp", "127.0.0.30", 5060)),
    ("[::1]", TransportAddress("udp", "::1", 5060)),
    ("::1", TransportAddress("udp", "::1", 5060)),
    ("  udp:127.0.0.1:5060 ", TransportAddress("udp", "127.0.0.1", 5060)),
    ("tls:127.0.0.1:5062", TransportAddress("tls", "127.0.0.1", 5062)),
    ("tls:127.0.0.1", TransportAddress("tls", "127.0.0.1", 5061)),  # RFC 3261 §19.1.2: 5061 for TLS
])
def test_addresses_with_and_without_transport_and_port(text: str, expected: TransportAddress) -> None:
    assert parse_transport_address(text) == expected


def test_the_written_form_round_trips() -> None:
    for text in ("udp:127.0.0.1:5060", "tcp:[::1]:5061", "tls:127.0.0.1:5061"):
        assert str(parse_transport_address(text)) == text
    assert parse_transport_address("[::1]:5070").hostport == "[::1]:5070"


@pytest.mark.parametrize(("text", "options", "message"), [
    ("sctp:127.0.0.1:5061", {}, '"sctp:127.0.0.1:5061": transport sctp is not supported (udp, tcp or tls)'),
    ("udp:localhost:5060", {}, '"localhost" is not an IP address (use an IP address, IPv6 in brackets'),
    ("127.0.0.1:99999", {}, 'port "99999" is not 1-65535'),
    ("127.0.0.1:0", {}, 'port "0" is not 1-65535'),
    ("127.0.0.1:x", {}, 'port "x" is not 1-65535'),
    ("127.0.0.1:", {}, "has an empty port"),
    ("[::1", {}, "has a malformed IPv6 reference"),
    ("[::1]5060", {}, "has a malformed IPv6 reference"),
    ("[127.0.0.1]:5060", {}, "in brackets is not an IPv6 address"),
    ("udp::5060", {}, "has no host"),
    ("127.0.0.1", {"default_port": None}, "has no port (expected IP:PORT"),
])
def test_mistakes_quote_the_text_and_say_what_is_wrong(text: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(AddressError) as err:
        parse_transport_address(text, **options)  # type: ignore[arg-type]
    assert message in str(err.value) and (f'"{text}"' in str(err.value) or f'"{text.strip()}"' in str(err.value))


def test_callers_choose_port_zero_names_and_the_default_transport() -> None:
    assert parse_transport_address("127.0.0.1:0", zero_port_ok=True).port == 0
    assert parse_transport_address("gw.example.com:5080", names_ok=True) == TransportAddress("udp", "gw.example.com", 5080)
    assert parse_transport_address("127.0.0.1:5060", default_transport="tcp").transport == "tcp"
