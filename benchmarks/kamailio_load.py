"""Kamailio as the server of ``sipp_load.py --against kamailio``: the same ramp, the same SIPp caller and
destination, the same definition of clean, against ``examples/kamailio/kamailio.cfg`` (Debian's Kamailio,
its SIP workers as the cfg sets them: ``children=2``), started and stopped by the benchmark.

The calls are the same authenticated ladder: Kamailio challenges the INVITE with 407 (qop=auth, realm
example.trunk.voipbin.net), checks the credentials (alice/secret, as the reference server's trunk), adds
Record-Route and relays statefully to the destination. It logs at WARNING (``LOG_LEVEL=0``), as the
reference server runs at ``--log-level WARNING`` here, and gets 512 MB of shared memory (the example's
README: ``-m 512`` under load; its transactions linger as the reference server's do).

Its CPU and RSS figures add up the main process and the SIP workers it forked, as the reference server's
add up its dispatcher and workers.
"""

from __future__ import annotations

from pathlib import Path

from harness.adapters.kamailio import KamailioProcess
from harness.adapters.server_process import Usage, tree_usage

__all__ = ["CFG", "KAMAILIO_RATES", "KamailioUnderLoad", "kamailio_server", "ratio_line"]

CFG = Path(__file__).resolve().parents[1] / "examples" / "kamailio" / "kamailio.cfg"
KAMAILIO_RATES = (1000, 1500, 2000, 2500, 3000, 3500)
Address = tuple[str, int]


class KamailioUnderLoad(KamailioProcess):
    """Kamailio on ``listen`` relaying to ``destination``, with the figures :mod:`sipp_load` reads."""

    def __init__(self, listen: Address, destination: Address, *, workdir: Path | None = None) -> None:
        super().__init__(CFG, listen=listen, destination=destination, defines={"LOG_LEVEL": 0},
                         shm_mb=512, pkg_mb=16, start_timeout=15.0, workdir=workdir)

    @property
    def stderr_path(self) -> Path:
        return self.log_path

    def usage(self) -> Usage:
        """Kamailio's CPU and memory, its forked SIP workers included."""
        return tree_usage(self.pid)


def ratio_line(reference: int | None, kamailio: int | None) -> str:
    """``ratio: R (max_clean_cps / kamailio_max_clean_cps)``, or why there is none."""
    if reference is None or kamailio is None:
        return "ratio: none (quick, not per definition)"
    if kamailio == 0:
        return "ratio: none (Kamailio held none of its rates clean)"
    return f"ratio: {reference / kamailio:.2f} (max_clean_cps / kamailio_max_clean_cps = {reference} / {kamailio})"


def kamailio_server(addresses: tuple[str, str, str], server_args: object = ()) -> KamailioUnderLoad:
    """Kamailio on the first address, relaying to the destination on the third (``server_args`` are the
    reference server's and do not apply)."""
    return KamailioUnderLoad((addresses[0], 5060), (addresses[2], 5080))
