"""Test faults are typed and map to the server's policies once; the policies default to the spec."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reference_server.call_policy import HangupPolicy, MediaPolicy
from reference_server.faults import NO_FAULTS, Fault, InjectedFaults

ROOT = Path(__file__).resolve().parents[2]


def test_no_fault_is_the_spec_s_behaviour() -> None:
    assert NO_FAULTS.media_policy == MediaPolicy(early_media=True)
    assert NO_FAULTS.hangup_policy == HangupPolicy(relay_status=True, q850_reason=True)
    assert not NO_FAULTS and NO_FAULTS.describe() == ""


@pytest.mark.parametrize(("name", "media", "hangup"), [
    ("no-early-media", MediaPolicy(early_media=False), HangupPolicy()),
    ("no-q850-reason", MediaPolicy(), HangupPolicy(q850_reason=False)),
    ("one-way-media", MediaPolicy(two_way=False), HangupPolicy()),
    ("status-rewrite", MediaPolicy(), HangupPolicy(relay_status=False)),
    ("hold-ignored", MediaPolicy(honour_directions=False), HangupPolicy()),
])
def test_each_fault_changes_one_policy(name: str, media: MediaPolicy, hangup: HangupPolicy) -> None:
    faults = InjectedFaults.parse([name])
    assert faults.faults == {Fault(name)}
    assert (faults.media_policy, faults.hangup_policy) == (media, hangup)
    assert faults.describe().startswith(f"{name} (")


def test_an_unknown_fault_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown fault 'no-reason-relay'; known: no-early-media, no-q850-reason, "
                                         "one-way-media, status-rewrite"):
        InjectedFaults.parse(["no-reason-relay"])


def test_the_server_command_refuses_an_unknown_fault_before_listening() -> None:
    proc = subprocess.run([sys.executable, "-m", "reference_server", "--fault", "bogus", "--listen",
                           "udp:127.0.0.1:1"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "invalid choice: 'bogus'" in proc.stderr and "Traceback" not in proc.stderr
