"""Instructions the reference server executes per authenticated call, counted by valgrind's callgrind.

    .venv/bin/python benchmarks/server_instructions.py              # 100 calls at 4 cps, about a minute
    .venv/bin/python benchmarks/server_instructions.py --calls 200
    .venv/bin/python benchmarks/server_instructions.py --loop uvloop    # the server's event loop (serve --loop)

CPU time per call (``server_cpu.py``) moves by 10-20 % with whatever else runs on a shared machine;
an instruction count does not (the same code and inputs give the same total to about 0.5 %), so this is the
figure to compare two versions of the server with. It runs the ladder of ``sipp_load.py`` (SIPp caller
with [authentication] -> ``python -m reference_server`` under ``valgrind --tool=callgrind`` -> SIPp
destination) at a low rate, because the server runs ~50 times slower under valgrind: 5 warm-up calls, then
the counters are zeroed (``callgrind_control -z``), ``--calls`` calls are made and the counters dumped.
The last line is ``instructions_per_call: N M``. Fewer instructions is not always less time (cache
misses, system calls), so confirm a change with ``sipp_load.py`` too.

The count includes what the server does between calls: mostly the admission control's 100 Hz probe, about
0.8 M instructions per call at 4 cps, and more when the run takes longer (a busy machine slows SIPp's
pacing). Admission control runs with ``--max-loop-lag-ms 60000``: under valgrind every message waits far
longer than the 30 ms that means overload, and a refused call would leave the count short.
"""

from __future__ import annotations

import argparse
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.adapters.server_process import trunk_config  # noqa: E402
from harness.adapters.sipp import SIPP_MISSING, SippRun, find_sipp, port_bound  # noqa: E402

TRUNK = "example.trunk.voipbin.net"
START_TIMEOUT = 120.0  # the server's start-up under valgrind


def _callgrind_total(path: Path) -> int:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"{path}: no summary line")


def _wait_listening(proc: subprocess.Popen[str]) -> str:
    """The server's first stdout line ("listening on ..."), within START_TIMEOUT."""
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=1.0):
                line = proc.stdout.readline()
                if line:
                    return line.strip()
            if proc.poll() is not None:
                break
    raise RuntimeError(f"the server under valgrind did not start within {START_TIMEOUT:g} s")


def _calls(caller: tuple[str, int], server: tuple[str, int], calls: int, rate: float) -> SippRun:
    bound = calls / rate * 3 + 60
    return SippRun.uac_auth(caller, server, user="alice", password="secret", domain=TRUNK, calls=calls,
                            rate=rate, concurrency=100, hold_ms=0, recv_timeout_ms=20_000, timeout=bound,
                            max_recv_loops=10_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100, help="calls counted (default 100)")
    parser.add_argument("--rate", type=float, default=4.0, help="calls per second (default 4)")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], help="the server's --loop (default: its own)")
    parser.add_argument("--keep", type=Path, help="copy callgrind's dump here (for callgrind_annotate)")
    parser.add_argument("--addresses", default="127.0.2.40,127.0.2.41,127.0.2.42",
                        help="SERVER,CALLER,DESTINATION loopback IPs")
    args = parser.parse_args(argv)
    for tool, package in (("valgrind", "valgrind"), ("callgrind_control", "valgrind")):
        if shutil.which(tool) is None:
            print(f"server_instructions: {tool} is missing: install the Debian package {package}", file=sys.stderr)
            return 2
    if find_sipp() is None:
        print(f"server_instructions: {SIPP_MISSING}", file=sys.stderr)
        return 2
    server_ip, caller_ip, dest_ip = (a.strip() for a in args.addresses.split(","))
    server, caller, dest = (server_ip, 5060), (caller_ip, 5070), (dest_ip, 5080)
    busy = [f"{ip}:{port}" for ip, port in (server, caller, dest) if port_bound(ip, port)]
    if busy:
        print(f"server_instructions: {', '.join(busy)} already in use; choose --addresses", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="server-instructions-") as tmp:
        config = Path(tmp) / "server.toml"
        config.write_text(trunk_config(server, dest, port_min=20000, port_max=39999))
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m", "reference_server",
             "--config", str(config), "--log-level", "WARNING", "--workers", "1",
             # under valgrind every message waits far past the 30 ms that means overload: admission control
             # stays on (its probe's instructions are counted) but must not refuse the measured calls
             "--max-loop-lag-ms", "60000", *(["--loop", args.loop] if args.loop else [])],
            cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            print(f"server: {_wait_listening(proc)}", file=sys.stderr)
            with SippRun.uas(dest, calls=args.calls + 5, timeout=args.calls / args.rate * 3 + 120,
                             max_recv_loops=10_000).start() as destination:
                destination.wait_ready()
                warm = _calls(caller, server, 5, 2.0).run()
                subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True,
                               timeout=30)
                result = _calls(caller, server, args.calls, args.rate).run()
                time.sleep(1.0)  # let the last BYE's 200 be sent before the dump
                subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True,
                               timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        dumps = sorted(Path(tmp).glob("callgrind.out.*"))
        if not dumps:
            print("server_instructions: callgrind wrote no dump", file=sys.stderr)
            return 1
        total = _callgrind_total(dumps[0])
        if args.keep:
            shutil.copyfile(dumps[0], args.keep)
    print(f"calls={args.calls} ok={result.successful} failed={result.failed} retrans={result.retransmissions} "
          f"(warm-up ok={warm.successful})  instructions={total:,}")
    if result.successful != args.calls or result.failed:
        print("server_instructions: not every call succeeded; the count is not comparable", file=sys.stderr)
        return 1
    if result.retransmissions:
        print(f"server_instructions: SIPp retransmitted {result.retransmissions} times (the server under valgrind "
              "fell behind): the count includes the retransmissions; for a comparable figure run at a lower --rate "
              "or on a quieter machine", file=sys.stderr)
    print(f"instructions_per_call: {total / args.calls / 1e6:.3f} M")
    return 0


if __name__ == "__main__":
    sys.exit(main())
