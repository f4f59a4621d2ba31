"""behave step definitions for the conformance suite (behave loads every module here; the package lets
step modules share :mod:`steps.world` and :mod:`steps.parameter_types`, and lets mypy check them)."""
