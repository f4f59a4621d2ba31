"""The workers of a --jobs run decode with the run's one tshark (harness.capture.decode_relay): through the
relay a worker gets what a decoder of its own gives, a failure as DecodeError, and never a hang."""

from __future__ import annotations

import multiprocessing
import shutil
import threading
from dataclasses import replace

import pytest

from harness.capture.decode import DecodedMessage, DecodeError, decode_file
from harness.capture.decode_relay import RemoteDecoder, serve
from harness.capture.decode_stream import StreamDecoder

from .bench_decode import SIP_PORTS, write_scenario

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _no_resend(items):
    return [replace(d, wireshark_resend=False) if isinstance(d, DecodedMessage) else d for d in items]


def _relay(decoder: StreamDecoder) -> tuple[RemoteDecoder, threading.Thread]:
    ours, theirs = multiprocessing.Pipe()
    server = threading.Thread(target=serve, args=(ours, decoder), daemon=True)
    server.start()
    return RemoteDecoder(theirs), server


@needs_tshark
def test_captures_decoded_through_the_relay_are_what_the_worker_would_decode_itself(tmp_path):
    paths = [tmp_path / f"scenario-{k}.pcap" for k in range(2)]
    for k, path in enumerate(paths):
        write_scenario(path, k)
    with StreamDecoder(sip_ports=SIP_PORTS) as decoder:
        remote, server = _relay(decoder)
        futures = [remote.submit(p) for p in [*paths, paths[0]]]  # in flight at once
        results = [f.result(60) for f in futures]
        remote.close()
        server.join(5)
    assert not server.is_alive()  # the run's thread for this worker ends when the worker is done
    for path, got in zip([*paths, paths[0]], results, strict=True):
        assert _no_resend(got) == _no_resend(decode_file(path, sip_ports=SIP_PORTS))
    assert decoder.files_decoded == 3


def test_a_decode_that_fails_in_the_run_fails_the_workers_future_with_its_reason(tmp_path):
    pcap = tmp_path / "one.pcap"
    write_scenario(pcap, 0)
    decoder = StreamDecoder(sip_ports=SIP_PORTS, tshark="/nonexistent/tshark")
    remote, _ = _relay(decoder)
    with pytest.raises(DecodeError, match="tshark is not installed"):
        remote.submit(pcap).result(10)
    remote.close()
    with pytest.raises(DecodeError, match="no longer reachable"):
        remote.submit(pcap).result(1)


def test_when_the_run_goes_away_a_pending_decode_fails_at_once(tmp_path):
    ours, theirs = multiprocessing.Pipe()
    remote = RemoteDecoder(theirs)
    future = remote.submit(tmp_path / "x.pcap")
    assert ours.recv()[0] == "decode"
    ours.close()  # the run's end, gone without an answer
    with pytest.raises(DecodeError, match="went away"):
        future.result(5)


@needs_tshark
def test_the_runs_tshark_starts_before_the_workers_fork_without_a_thread_and_then_decodes(tmp_path):
    pcap = tmp_path / "one.pcap"
    write_scenario(pcap, 1)
    before = threading.active_count()
    decoder = StreamDecoder(sip_ports=SIP_PORTS)
    decoder.spawn()  # a --jobs run: tshark starts up while the run lists its scenarios and forks
    try:
        assert threading.active_count() == before  # so the workers still fork from a single thread
        got = decoder.decode(pcap, timeout=60)
    finally:
        decoder.close()
    assert _no_resend(got) == _no_resend(decode_file(pcap, sip_ports=SIP_PORTS))
