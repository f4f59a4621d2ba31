"""trunkcheck's conformance harness: it runs the behave suite (features/, steps/) against a SIP trunk, the
embedded reference server by default, captures every scenario and asserts it from tshark's decode.

Its parts, each a subpackage (docs/architecture.md draws how a scenario goes through them):
``cli`` (the ``trunkcheck`` command), ``suite`` (the runner, behave's hooks, the scenario world),
``capture`` (capture and decode), ``ladder`` (the spec's ladders and the comparison), ``equipment`` (the
equipment file), ``adapters`` (SIPp, baresip, Kamailio, the UA drivers), ``docker`` (the docker topology)
and ``reports``. At the top: ``topology`` (where each role lives), ``settings`` (a run's options and the
conditions that differ from the defaults) and ``suite_root`` (where the suite is).
"""

from __future__ import annotations

__all__: list[str] = []
