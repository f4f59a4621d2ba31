"""The [session_timer] table: RFC 4028's 90 s floor kept unless the test-only switch lowers it, every
mistake named with its file and line."""

from __future__ import annotations

import pytest

from reference_server.config import ConfigError, parse_config
from reference_server.session_config import SessionTimerConfig

BASE = """[[trunk]]
domain_name = "example"
username = "alice"
password = "secret"
destination = "sip:127.0.0.1:5080"
"""


def test_the_defaults_are_rfc_4028s() -> None:
    assert parse_config(BASE).session_timer == SessionTimerConfig(1800, 90, False)


def test_below_90_seconds_is_refused_naming_the_line_and_the_switch() -> None:
    with pytest.raises(ConfigError, match=r"t.toml:8: session_timer.min_se: 30 is below the 90 s minimum "
                                          r"\(RFC 4028 §4; allow_below_rfc_minimum"):
        parse_config(BASE + "\n[session_timer]\nmin_se = 30\n", "t.toml")


def test_the_test_only_switch_allows_seconds() -> None:
    config = parse_config(BASE + "[session_timer]\nsession_expires = 4\nmin_se = 2\nallow_below_rfc_minimum = true\n")
    assert config.session_timer == SessionTimerConfig(4, 2, True)
    with pytest.raises(ConfigError, match="session_timer.min_se: 1 is below the 2 s minimum"):
        parse_config(BASE + "[session_timer]\nmin_se = 1\nallow_below_rfc_minimum = true\n")


def test_an_interval_under_min_se_and_unknown_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="session_timer.session_expires: 100 is below min_se 120"):
        parse_config(BASE + "[session_timer]\nsession_expires = 100\nmin_se = 120\n")
    with pytest.raises(ConfigError, match='did you mean "min_se"'):
        parse_config(BASE + "[session_timer]\nmin_sE = 120\n")
