"""Shared pieces of the `trunkcheck run --equipment` tests: the run as a subprocess (as CI and a vendor run
it), its summary line and per-scenario records, the scenarios an equipment file makes applicable (counted
from the features, so the tests follow the feature files), and a SIP socket that answers OPTIONS only."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.equipment import Equipment, applicable

from ..addresses import block
from ..harness.test_capture import needs_capture

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "equipment"
FEATURES = REPO / "features"
SUMMARY = re.compile(
    r"^trunkcheck: (?P<total>\d+) scenarios, (?P<passed>\d+) passed, (?P<failed>\d+) failed"
    r"(, (?P<na>\d+) not applicable)? in (?P<seconds>[\d.]+) s — (?P<report>\S+)$", re.M)

needs_run = [needs_capture, pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed "
                                               "(Debian package tshark)")]


def trunkcheck_run(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`trunkcheck run --output TMP --run-id r --loopback BLOCK ARGS` from the repository root (bounded): the
    harness's roles in this test process's own loopback block (tests/addresses.py)."""
    return subprocess.run([sys.executable, "-m", "harness.cli", "run", "--output", str(tmp_path), "--run-id", "r",
                           "--loopback", block().base, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def examples_in_block(folder: Path) -> Path:
    """``folder`` filled with the example equipment files, every 127.0.S.H moved into this test process's
    loopback block (their processes' command lines too) and their relative paths made absolute: the
    examples as a vendor runs them, at addresses no concurrent test run uses."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted(EXAMPLES.glob("*.toml")):
        text = block().rewrite(source.read_text())
        text = text.replace('cwd = "../.."', f'cwd = "{REPO}"').replace('"examples/equipment/', f'"{folder}/')
        (folder / source.name).write_text(text)
    return folder


def summary(proc: subprocess.CompletedProcess[str]) -> dict[str, int]:
    found = SUMMARY.search(proc.stdout)
    assert found, f"no summary line:\n{proc.stdout}\n{proc.stderr}"
    return {k: int(found[k] or 0) for k in ("total", "passed", "failed", "na")}


def statuses(run_dir: Path) -> dict[str, str]:
    """Scenario name -> status ("passed", "failed", "n/a" ...) from the run's per-scenario records."""
    out = {}
    for path in run_dir.glob("*/*.json"):
        data = json.loads(path.read_text())
        out[data["scenario"]] = data["status"]
    return out


def applicable_scenarios(eq: Equipment, paths: list[Path] | None = None) -> tuple[list[str], list[str]]:
    """(applicable, not applicable) scenario names of the feature files for ``eq``, as the run decides."""
    from behave.parser import parse_file

    yes, no = [], []
    for path in sorted(paths or FEATURES.glob("*.feature")):
        feature = parse_file(str(path))
        for scenario in feature.walk_scenarios():
            ok, _ = applicable([str(t) for t in scenario.effective_tags], eq)
            (yes if ok else no).append(scenario.name.strip())  # the run's outline names end in the row id
    return yes, no


class OptionsOnly:
    """A UDP SIP socket that answers OPTIONS with 200 (so pre-flight finds the equipment) and stays silent
    to everything else (counting what it ignored)."""

    def __init__(self, addr: tuple[str, int]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(addr)
        self.sock.settimeout(0.05)
        self.options = self.ignored = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data.startswith(b"OPTIONS "):
                self.ignored += 1
                continue
            self.options += 1
            head = data.decode(errors="replace").split("\r\n\r\n")[0].split("\r\n")[1:]
            copied = [h for h in head if re.match(r"(Via|From|To|Call-ID|CSeq):", h, re.I)]
            self.sock.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(copied) + "\r\nContent-Length: 0\r\n\r\n").encode(),
                             peer)

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()
