"""A destination whose behaviour depends on the number called (a carrier's test numbers): the library's
``DestinationSettings.numbers`` and ``trunkcheck simulate destination --number NUMBER:BEHAVIOUR``."""

from __future__ import annotations

import pytest

from simulator.cli import main
from simulator.destination import Destination
from simulator.settings import (
    Answer,
    DestinationSettings,
    Reject,
    Send100,
    Send183,
    SettingsError,
    UaSettings,
)
from simulator.ua import UserAgent

from .helpers import DEST_IP, UA_IP, run


async def _calls(numbers: list[str]) -> list[tuple[int | None, list[int]]]:
    settings = DestinationSettings(listen=(DEST_IP, 0), script=(Send100(), Answer()), numbers={
        "+15550404": (Send100(), Reject(404, "Not Found")),
        "+15550183": (Send100(), Send183(early_media=True), Answer(after_ms=100)),
    })
    dest = await Destination.start(settings)
    ua = await UserAgent.start(UaSettings(listen=(UA_IP, 0), target=dest.local_addr, hold_ms=100))
    try:
        out = []
        for number in numbers:
            result = await ua.call(number)
            out.append((result.status, result.provisional))
        return out
    finally:
        await ua.stop()
        await dest.stop()


def test_each_number_gets_its_own_behaviour_and_others_the_script() -> None:
    calls = run(_calls(["+15550404", "+15550183", "+15550100"]))
    assert [status for status, _ in calls] == [404, 200, 200]
    assert 183 in calls[1][1] and 183 not in calls[2][1]


def test_a_number_that_cannot_be_a_request_uri_user_is_refused() -> None:
    with pytest.raises(SettingsError, match="is not a number"):
        DestinationSettings(numbers={"+1@x": (Send100(), Answer())})


@pytest.mark.parametrize(("option", "message"), [
    ("+15550404", "give NUMBER:BEHAVIOUR"),
    ("+15550404:bogus", "unknown '--bogus'"),
    ("+15550404:reject=99", "99 is not a final status"),
    ("+15550404:answer-after=soon", "invalid"),
    ("+15550404:reject-after=300", "needs a reject status"),
])
def test_a_bad_number_option_says_what_is_wrong(option: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["destination", "--listen", f"{DEST_IP}:0", "--number", option, "--calls", "1"]) == 2
    err = capsys.readouterr().err
    assert f"--number {option!r}" in err and message in err, err
