"""``--loop auto|asyncio|uvloop``: the server on libuv's event loop behaves as on asyncio's (a call with
media both ways, the process answering OPTIONS), and asking for uvloop where it is missing is a clear
error, not a traceback."""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from reference_server.event_loop import LOOP_CHOICES, loop_factory

from ..addresses import loopback
from .support import WAIT, Addr, RtpSocket, ServerRig, establish, sdp_addr
from .test_server_cli import _free_port, _options, _ready_line

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
HOST = loopback(1)
HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None
needs_uvloop = pytest.mark.skipif(not HAVE_UVLOOP, reason="uvloop is not installed (pip install 'trunkcheck[fast]')")
NO_UVLOOP = "import sys; sys.modules['uvloop'] = None; from reference_server.cli import main; sys.exit(main())"


def _run_on(choice: str, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
    name, factory = loop_factory(choice)
    assert name == choice

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(bounded())


def test_asyncio_is_asyncio_and_an_unknown_loop_is_refused() -> None:
    name, factory = loop_factory("asyncio")
    loop = factory()
    try:
        assert name == "asyncio" and type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()
    with pytest.raises(ValueError, match="trio"):
        loop_factory("trio")
    assert set(LOOP_CHOICES) == {"auto", "asyncio", "uvloop"}


@needs_uvloop
def test_auto_takes_uvloop_where_installed() -> None:
    name, factory = loop_factory("auto")
    loop = factory()
    try:
        assert name == "uvloop" and type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()


async def _source_of_next(rtp: RtpSocket) -> Addr:
    """Where the next datagram on ``rtp`` came from (uvloop has no loop.sock_recvfrom: a reader instead)."""
    loop = asyncio.get_running_loop()
    readable = loop.create_future()
    loop.add_reader(rtp.sock.fileno(), lambda: readable.done() or readable.set_result(None))
    try:
        await asyncio.wait_for(readable, WAIT)
    finally:
        loop.remove_reader(rtp.sock.fileno())
    _, addr = rtp.sock.recvfrom(2048)
    return str(addr[0]), int(addr[1])


@needs_uvloop
def test_a_call_with_media_both_ways_and_bye_on_uvloop() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            call = await establish(rig)
            relay = rig.server.relays.get(next(iter(rig.server.b2bua.calls)))
            assert relay is not None
            call.dest_rtp.send(sdp_addr(call.b_invite.request.body))  # destination -> relay -> caller
            assert await _source_of_next(call.ua_rtp) == (HOST, relay.a_port)
            call.ua_rtp.send(sdp_addr(call.ok.body))  # caller -> relay -> destination
            assert await _source_of_next(call.dest_rtp) == (HOST, relay.b_port)
            bye = call.ua_request(rig, "BYE")
            rig.dest.respond(await rig.dest.next_request("BYE"), 200)
            assert (await bye.final()).status == 200
            await rig.wait_until(lambda: not rig.server.b2bua.calls and rig.server.relays.active == 0)

    _run_on("uvloop", main())


def _serve(*args: str, code: str | None = None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "reference_server"]
    return subprocess.Popen([*command, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=5)
    return err.decode()


@needs_uvloop
def test_serve_loop_uvloop_answers_options_and_says_which_loop() -> None:
    port = _free_port()
    proc = _serve("--loop", "uvloop", "--listen", f"udp:{HOST}:{port}")
    try:
        assert _ready_line(proc).startswith("listening on udp:")
        assert _options(port).startswith(b"SIP/2.0 200 OK")
    finally:
        err = _stop(proc)
    assert proc.returncode == 0 and "event loop: uvloop" in err and "Traceback" not in err


def test_serve_loop_uvloop_without_uvloop_exits_2_with_a_clear_message() -> None:
    proc = _serve("--loop", "uvloop", "--listen", f"udp:{HOST}:{_free_port()}", code=NO_UVLOOP)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    text = err.decode()
    assert "uvloop is not installed" in text and "trunkcheck[fast]" in text and "Traceback" not in text


def test_serve_loop_auto_without_uvloop_runs_on_asyncio() -> None:
    port = _free_port()
    proc = _serve("--loop", "auto", "--listen", f"udp:{HOST}:{port}", code=NO_UVLOOP)
    try:
        assert _ready_line(proc).startswith("listening on udp:")
        assert _options(port).startswith(b"SIP/2.0 200 OK")
    finally:
        err = _stop(proc)
    assert "event loop: asyncio" in err
