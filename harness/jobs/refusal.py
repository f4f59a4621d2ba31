"""When ``trunkcheck run --jobs N`` (N > 1) cannot be used, and why.

Equipment under test is refused, on purpose, rather than serialised: a trunk under test listens at one
fixed address and sends every call to one fixed destination address (``[trunk] destination``), which only
one process can bind; a UA under test sends every request to one fixed trunk address. Two workers would
contend for those sockets, and each scenario's capture, filtered by the equipment's address because its
media ports are unknown, would hold the other worker's calls. Serialising those scenarios would make
--jobs a no-op for them while suggesting otherwise. To spread a validation over machines, run one
equipment instance per machine (or network namespace) with ``--shard I/N`` and join the reports with
``trunkcheck merge``.
"""

from __future__ import annotations

import ipaddress

from harness.settings import RunSettings
from harness.topology import RoleAddresses

__all__ = ["MAX_JOBS", "jobs_refusal", "worker_roles"]

MAX_JOBS = 16


def worker_roles(roles: RoleAddresses, k: int) -> RoleAddresses:
    """Worker ``k``'s roles: the /24 ``k`` blocks after the run's (ValueError when it leaves 127.0.0.0/8)."""
    base = ipaddress.IPv4Network(f"{roles['UA']}/24", strict=False).network_address + 256 * k
    return RoleAddresses.loopback(str(base))


def jobs_refusal(settings: RunSettings) -> str | None:
    """Why ``settings.jobs`` cannot be used as given (a sentence naming the option), or None."""
    n = settings.jobs
    if not 1 <= n <= MAX_JOBS:
        return f"--jobs {n}: give 1 <= N <= {MAX_JOBS} (more workers than cores only add start-up time)"
    if n == 1:
        return None
    if settings.equipment is not None:
        return (f"--jobs {n} with --equipment: the equipment under test has fixed addresses (its own, and the "
                "destination it sends calls to) that every scenario shares: concurrent scenarios would contend for "
                "them and their captures would hold each other's calls. Leave out --jobs, or spread the suite over "
                "several equipment instances with --shard I/N and join the reports with trunkcheck merge")
    if settings.topology != "local":
        return f"--jobs {n} is for a local run: in the docker topology leave out --jobs"
    if settings.interface != "lo":
        return f"--jobs {n} with --interface {settings.interface}: the workers keep apart by loopback address; leave out --jobs"
    try:
        worker_roles(settings.roles, n - 1)
    except ValueError:
        return (f"--jobs {n}: the workers take the /24 loopback blocks after the run's ({settings.roles['UA']}'s), "
                "and the last would leave 127.0.0.0/8: give a lower --loopback")
    return None
