"""A trunk's destinations (:mod:`reference_server.destination` parses each) and the per-trunk options of ``[[trunk]]`` beyond its account: the OPTIONS
keep-alive toward its destinations (:mod:`reference_server.keepalive`) and its caller-identity policy
(:mod:`reference_server.identity`). :mod:`reference_server.config` reads the rest of the file.

``destination`` is one address or an array of them, tried in order: a destination marked down by the
keep-alive is skipped, and a call that meets a timeout, a transport error or a 503 moves on to the next.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from reference_server.destination import Destination, parse_destination
from reference_server.tomlfile import KeyPath, TableReader

from .identity import NUMBER_FORMATS, PAI_POLICIES, IdentityPolicy
from .keepalive import KeepAliveSettings

__all__ = ["OPTION_KEYS", "TrunkOptions", "read_destinations", "read_trunk_options"]

OPTION_KEYS = ("options_interval", "options_timeout", "pai", "destination_trusted", "number_format",
               "country_code", "national_prefix", "international_prefix")
MAX_OPTIONS_TIMEOUT = 32.0  # Timer F with the RFC's T1: a ping's transaction gives up then anyway


@dataclass(frozen=True)
class TrunkOptions:
    keepalive: KeepAliveSettings = KeepAliveSettings()
    identity: IdentityPolicy = IdentityPolicy()


def read_destinations(reader: TableReader, t: dict[str, Any], p: KeyPath) -> tuple[Destination, ...]:
    """``destination``: one address, or a non-empty array of distinct ones (IP addresses only, when more
    than one: a host name is a list of its own, located through DNS)."""
    raw = t.get("destination")
    texts = reader.strings(t, p, "destination") if isinstance(raw, list) else [reader.get(t, p, "destination", str)]
    if not texts:
        raise reader.error((*p, "destination"), "give at least one destination")
    out: list[Destination] = []
    for i, text in enumerate(texts):
        where = (*p, "destination", i) if isinstance(raw, list) else (*p, "destination")
        try:
            dest = parse_destination(text)
        except ValueError as exc:
            raise reader.error(where, str(exc)) from None
        if dest in out:
            raise reader.error(where, f"{json.dumps(text)} is listed twice")
        if dest.by_dns and len(texts) > 1:
            raise reader.error(where, f"{json.dumps(text)}: a host name stands alone (DNS gives its list); "
                               "list IP addresses only")
        out.append(dest)
    return tuple(out)


def read_trunk_options(reader: TableReader, t: dict[str, Any], p: KeyPath) -> TrunkOptions:
    """The keep-alive and identity keys of one ``[[trunk]]`` (all optional)."""
    interval = reader.get(t, p, "options_interval", (int, float), 0)
    if interval < 0:
        raise reader.error((*p, "options_interval"), f"must be 0 (no pings) or above, got {interval}")
    timeout = reader.get(t, p, "options_timeout", (int, float), 5)
    if not 0 < timeout <= MAX_OPTIONS_TIMEOUT:
        raise reader.error((*p, "options_timeout"), f"must be above 0 and at most {MAX_OPTIONS_TIMEOUT:g} "
                           f"(Timer F), got {timeout}")
    pai = reader.get(t, p, "pai", str, "strip")
    if pai not in PAI_POLICIES:
        raise reader.error((*p, "pai"), f"{json.dumps(pai)} is not one of {', '.join(PAI_POLICIES)}")
    number_format = reader.get(t, p, "number_format", str, "as-is")
    if number_format not in NUMBER_FORMATS:
        raise reader.error((*p, "number_format"),
                           f"{json.dumps(number_format)} is not one of {', '.join(NUMBER_FORMATS)}")
    prefixes = {}
    for key, default in (("country_code", None), ("national_prefix", "0"), ("international_prefix", "00")):
        value = reader.get(t, p, key, str, default)
        if value is not None and not (value.isdigit() or (value == "" and key != "country_code")):
            raise reader.error((*p, key), f"{json.dumps(value)} is not a string of digits")
        prefixes[key] = value
    identity = IdentityPolicy(pai, reader.get(t, p, "destination_trusted", bool, True), number_format,
                              prefixes["country_code"], prefixes["national_prefix"] or "",
                              prefixes["international_prefix"] or "")
    return TrunkOptions(KeepAliveSettings(float(interval), float(timeout)), identity)
