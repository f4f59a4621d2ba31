"""The docker topology: every role on a host of its own, through a Docker engine.

- :mod:`~harness.docker.engine`: what the harness does with the engine (networks in 198.18.0.0/15,
  containers with bounded health checks, everything removed afterwards);
- :mod:`~harness.docker.tasks`: containers that run to completion, files in and out of them;
- :mod:`~harness.docker.image`: equipment shipped as an image (``[equipment.image]``), run as a container;
- :mod:`~harness.docker.topology`: `trunkcheck run --topology docker` on the host, which writes the run's
  reports once the equipment's container has stopped;
- :mod:`~harness.docker.roles`: the harness container's side (its role addresses, equipment the host
  started).
"""

from __future__ import annotations

from harness.docker.engine import (
    ContainerFailed,
    DockerError,
    DockerSession,
    EngineUnreachable,
    ImageMissing,
    connect,
)
from harness.docker.image import ImageEquipment, ImageStartError
from harness.docker.roles import StartedByHost
from harness.docker.topology import DockerRun, DockerRunResult, run_docker_topology, write_host_reports

__all__ = [
    "ContainerFailed",
    "DockerError",
    "DockerRun",
    "DockerRunResult",
    "DockerSession",
    "EngineUnreachable",
    "ImageEquipment",
    "ImageMissing",
    "ImageStartError",
    "StartedByHost",
    "connect",
    "run_docker_topology",
    "write_host_reports",
]
