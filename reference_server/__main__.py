"""``python -m reference_server``: see :mod:`reference_server.cli`."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
