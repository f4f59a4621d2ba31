"""The harness container's entry in the docker topology (harness.docker.topology): give this container
the addresses of the roles it plays, then run `trunkcheck run` with them.

    python -m harness.cli.container --interface eth0 --address 198.18.60.11/24 --address 198.18.60.30/24 \
        -- run --equipment /run/trunkcheck/equipment.toml

``$TRUNKCHECK_ROLE_ADDRESSES`` (``UA=198.18.60.10,UA2=...``) says which role has which address
(harness.docker.roles.role_addresses); the extra ones are added to the interface first. The equipment's
``[equipment.image]`` stands for the container the host started (harness.docker.roles.StartedByHost).

Exit status: the run's, or 2 when an address cannot be added or the command is not `run` (the reason on
stderr).
"""

from __future__ import annotations

import argparse
import os
import sys

from harness.cli.run import main as trunkcheck_run
from harness.docker.roles import ROLE_ADDRESSES_ENV, StartedByHost, add_address, role_addresses
from harness.topology import LOOPBACK_ROLES

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    split = args.index("--") if "--" in args else len(args)
    parser = argparse.ArgumentParser(prog="python -m harness.cli.container",
                                     description="Add role addresses to this container, then run trunkcheck.")
    parser.add_argument("--interface", default="eth0")
    parser.add_argument("--address", action="append", default=[], metavar="IP/PREFIX")
    options = parser.parse_args(args[:split])
    command = args[split + 1:]
    if not command or command[0] != "run":
        print(f"trunkcheck: the harness container runs `run ...`, not {' '.join(command) or 'nothing'!r}",
              file=sys.stderr)
        return 2
    try:
        # the roles live on this container's interface; the trunk is the equipment, in a container of its own
        roles = LOOPBACK_ROLES.with_roles(role_addresses(os.environ.get(ROLE_ADDRESSES_ENV, "")))
        for address in options.address:
            add_address(options.interface, address)
    except (RuntimeError, ValueError) as exc:
        print(f"trunkcheck: {exc}", file=sys.stderr)
        return 2
    return trunkcheck_run(command[1:], container_roles=roles, image_starter=StartedByHost)


if __name__ == "__main__":
    sys.exit(main())
