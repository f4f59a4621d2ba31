"""trunkcheck from ``pip install``: the wheel built from this tree carries the suite (features, steps,
environment.py, the spec, the examples) and ``trunkcheck run`` works in a fresh virtual environment from a
folder that is not a checkout, its captures landing under that folder.

The wheel is built from a copy of the tree (nothing is written into the checkout), installed with its
dependencies into a new venv (pip's configured index and cache), and run with this test process's own
loopback block (``--loopback``), so concurrent test runs do not collide.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from setuptools import find_packages

from tests.addresses import block
from tests.harness.test_capture import needs_capture

REPO = Path(__file__).resolve().parents[2]
SUITE_PARTS = ("features", "steps", "spec", "examples/equipment", "examples/kamailio")
# Not part of a build: the checkout's own environments, caches, outputs and earlier builds.
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", ".tox", "build", "dist", "captures", "wheels", "*.egg-info",
                                     "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis")

# pip's words when no index answers at all (as opposed to a dependency the index does not have)
_UNREACHABLE = re.compile(r"Failed to establish a new connection|Temporary failure in name resolution|"
                          r"Network is unreachable")


def test_every_package_in_the_tree_is_in_the_wheel_list() -> None:
    """pyproject.toml lists the packages (it maps the suite to trunkcheck_suite, which `find` cannot do): a
    subpackage added to the tree but not to the list would be missing from the wheel."""
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = find_packages(str(REPO), include=["sipcore*", "reference_server*", "simulator*", "harness*"])
    assert sorted(p for p in tool["packages"] if not p.startswith("trunkcheck_suite")) == sorted(found)
    assert tool["package-dir"]["trunkcheck_suite"] == "."


@dataclass(frozen=True)
class Installed:
    venv: Path
    site: Path  # the venv's site-packages

    @property
    def trunkcheck(self) -> str:
        return str(self.venv / "bin" / "trunkcheck")


def _env() -> dict[str, str]:
    """The environment of a user's shell: no pointer back to this checkout."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "TRUNKCHECK_SUITE", "TRUNKCHECK_LOOPBACK", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    return env


def _run(cmd: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} -> {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCE, symlinks=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(source)], base, 300)
    wheels = list((base / "dist").glob("trunkcheck-*.whl"))
    assert len(wheels) == 1, wheels
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], base, 120)
    install = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q", str(wheels[0])]
    done = subprocess.run(install, cwd=base, env=_env(), capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and _UNREACHABLE.search(done.stderr):
        pytest.skip("the wheel's dependencies come from the package index, which cannot be reached from here (no "
                    "network, e.g. inside `unshare -n`): run this test with network access, as `make test` in CI does")
    assert done.returncode == 0, f"{' '.join(install)} -> {done.returncode}\n{done.stderr[-3000:]}"
    site = Path(_run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     base, 30).stdout.strip())
    yield Installed(venv, site)


@pytest.mark.slow
def test_the_installed_package_carries_the_suite(installed: Installed) -> None:
    suite = installed.site / "trunkcheck_suite"
    assert (suite / "environment.py").read_bytes() == (REPO / "environment.py").read_bytes()
    for part in SUITE_PARTS:
        ours = sorted(p.relative_to(REPO).as_posix() for p in (REPO / part).iterdir()
                      if p.is_file() and p.suffix != ".pyc" and not p.name.startswith("."))  # .gitignore
        shipped = sorted(p.relative_to(suite).as_posix() for p in (suite / part).iterdir()
                         if p.is_file() and p.suffix != ".pyc")
        assert shipped == ours, part
    assert (suite / "spec" / "voipbin-trunk.txt").read_text() == (REPO / "spec" / "voipbin-trunk.txt").read_text()
    assert (installed.site / "reference_server" / "defaults.toml").is_file()
    assert list((installed.site / "harness" / "adapters" / "sipp_scenarios").glob("*.xml"))


@pytest.mark.slow
def test_version_and_help_from_anywhere(installed: Installed, tmp_path: Path) -> None:
    version = _run([installed.trunkcheck, "--version"], tmp_path, 30).stdout
    assert re.match(r"trunkcheck \d+\.\d+\.\d+ ", version), version
    assert str(installed.site / "trunkcheck_suite") in version  # the installed suite, not this checkout's
    run_help = _run([installed.trunkcheck, "run", "--help"], tmp_path, 30).stdout
    assert "--tags" in run_help and "--equipment" in run_help
    where = _run([str(installed.venv / "bin" / "python"), "-c", "import harness; print(harness.__file__)"],
                 tmp_path, 30).stdout
    assert where.startswith(str(installed.site)), where


@pytest.mark.slow
@needs_capture
@pytest.mark.skipif(shutil.which("tshark") is None, reason="the suite decodes captures with tshark (Debian tshark)")
def test_trunkcheck_run_outside_any_checkout(installed: Installed, tmp_path: Path) -> None:
    work = tmp_path / "anywhere"
    work.mkdir()
    done = _run([installed.trunkcheck, "run", "--tags", "(@early-media or @cancel) and not @role-ua",
                 "--run-id", "from-wheel", "--loopback", block().base], work, 300)
    out = done.stdout
    assert "passed    " in out and "Early media: The documented early media flow" in out, out
    counted = re.search(r"(\d+) scenarios, \1 passed, 0 failed", out)  # other features tag @early-media too
    assert counted and int(counted[1]) >= 3, out
    run_dir = work / "captures" / "from-wheel"
    assert (run_dir / "report.html").is_file() and (run_dir / "run.json").is_file()
    ladder = list(run_dir.glob("early-media/the-documented-early-media-flow*.pcap"))
    assert ladder and ladder[0].stat().st_size > 100, sorted(p.name for p in run_dir.rglob("*"))[:40]
    assert not (installed.site / "trunkcheck_suite" / "captures").exists()  # nothing written into site-packages

    # --output puts the run elsewhere; a feature file of the installed suite named by path runs too
    feature = installed.site / "trunkcheck_suite" / "features" / "domains.feature"
    done = _run([installed.trunkcheck, "run", "--features", str(feature), "--run-id", "domains",
                 "--output", str(tmp_path / "elsewhere"), "--loopback", block().base], work, 300)
    assert re.search(r"2 scenarios, 2 passed, 0 failed", done.stdout), done.stdout
    assert (tmp_path / "elsewhere" / "domains" / "report.html").is_file()


@pytest.mark.slow
def test_trunkcheck_serve_starts(installed: Installed, tmp_path: Path) -> None:
    listen = f"udp:{block().ip(40, subnet=13)}:5060"
    proc = subprocess.Popen([installed.trunkcheck, "serve", "--listen", listen], cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import selectors

        sel = selectors.DefaultSelector()
        assert proc.stdout is not None
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout=30)
        line = proc.stdout.readline() if ready else ""
        assert line.strip() == f"listening on {listen}", (line, proc.poll())
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
