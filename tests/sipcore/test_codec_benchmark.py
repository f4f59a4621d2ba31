"""benchmarks/sip_codec.py: its headline ``parses_per_second`` is the parse the server makes of each
datagram (the function UdpTransport calls, called the same way, validation included), the median of the
rounds, whatever the figures are. Nothing here is timed: the measuring is replaced by fixed figures."""

from __future__ import annotations

import importlib.util
import statistics
import sys
from collections.abc import Callable
from types import ModuleType

import pytest

from sipcore.aio import transport
from sipcore.aio.transport import UdpTransport
from sipcore.message import Request, Response
from sipcore.parser import parse_message

from ..paths import ROOT


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sip_codec_benchmark", ROOT / "benchmarks" / "sip_codec.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ServerParseRecorder:
    """Stands in for sipcore.aio.transport.parse_message: records each call and makes it."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[object, ...], dict[str, object]]] = []
        self.messages: list[Request | Response] = []

    def __call__(self, *args: object, **kwargs: object) -> Request | Response:
        self.calls.append((args, kwargs))
        message = parse_message(*args, **kwargs)  # type: ignore[arg-type]
        self.messages.append(message)
        return message


def test_the_benchmark_calls_what_the_udp_transport_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _benchmark()
    assert bench.server_parse().func is parse_message is transport.parse_message  # type: ignore[attr-defined]
    recorder = ServerParseRecorder()
    monkeypatch.setattr(transport, "parse_message", recorder)
    received: list[Request | Response] = []
    UdpTransport(lambda message, addr, t: received.append(message))._datagram_received(bench.INVITE, ("127.0.0.1", 5062))
    assert len(received) == 1 and len(recorder.calls) == 1
    bench.server_parse()()
    assert len(recorder.calls) == 2 and recorder.calls[1] == recorder.calls[0] == ((bench.INVITE,), {})
    # That parse validates: the views the server's transaction layer reads are parsed and cached.
    for message in recorder.messages:
        assert {"via", "from", "to", "cseq", "contact"} <= message.headers._cache.keys()


def test_parses_per_second_is_the_median_of_the_servers_parse(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    bench = _benchmark()
    recorder = ServerParseRecorder()
    monkeypatch.setattr(transport, "parse_message", recorder)
    # The server's parse under the target, the lazy parse far over it: the headline must stay the former.
    server_rounds, other_rounds = [41_000.0, 47_000.0, 44_000.0], [106_000.0, 120_000.0, 110_000.0]

    def measure(fn: Callable[[], object], rounds: int, round_seconds: float) -> list[float]:
        before = len(recorder.calls)
        fn()
        return server_rounds if len(recorder.calls) > before else other_rounds

    monkeypatch.setattr(bench, "measure", measure)
    bench.main(rounds=3, round_seconds=0.0)
    lines = capsys.readouterr().out.splitlines()
    figures = dict(line.split(": ", 1) for line in lines if ": " in line)
    assert figures["parses_per_second"] == f"{statistics.median(server_rounds):.0f}" == "44000"
    assert figures["lazy_parses_per_second"] == "110000"
    assert figures["rounds parses_per_second"] == "41000 47000 44000"
    assert [line.split(":")[0] for line in lines[-2:]] == ["parses_per_second", "serializes_per_second"]
    assert all(call == ((bench.INVITE,), {}) for call in recorder.calls)
    assert "sip_codec_benchmark" not in sys.modules
