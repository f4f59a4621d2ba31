"""UA drivers without a UA: the SIPp call scenario the harness generates, the manual driver's prompts and
bounds, which driver an equipment file gets, and which destination behaviours SIPp can play."""

from __future__ import annotations

import asyncio
import io
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.adapters.sipp_destination import SippDestinationUnsupported, sipp_run_for
from harness.adapters.ua_driver import ManualDriver, adapter_missing, make_driver
from harness.adapters.ua_driver_baresip import BaresipDriver
from harness.adapters.ua_driver_sipp import ERROR_STATUSES, SippDriver, call_scenario_xml
from harness.equipment import load_equipment, parse_equipment
from simulator.destination import script_for
from simulator.settings import Reject, Send100, Send183, Wait

from ..addresses import loopback

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "equipment"


def test_the_generated_call_scenario_acks_a_rejection_on_the_invites_branch() -> None:
    root = ET.fromstring(call_scenario_xml().split("\n", 2)[2])  # after the XML and DOCTYPE lines
    elements = [e for e in root if e.tag != "label"]
    sends = [(i, e.text or "") for i, e in enumerate(elements) if e.tag == "send"]
    invite_2 = next(i for i, text in sends if "CSeq: 2 INVITE" in text)
    assert invite_2 == 4 and "[authentication]" in elements[invite_2].text  # type: ignore[operator]
    rejected_ack = next(i for i, text in sends if "CSeq: 2 ACK" in text and "[next_url]" not in text)
    assert f"branch=[branch-{rejected_ack - invite_2}]" in elements[rejected_ack].text  # type: ignore[operator]
    first_ack = next(i for i, text in sends if "CSeq: 1 ACK" in text)
    assert f"branch=[branch-{first_ack}]" in elements[first_ack].text  # type: ignore[operator]
    optional = {e.get("response"): e.get("next") for e in elements if e.tag == "recv" and e.get("optional")}
    assert all(optional[str(s)] == "rejected" for s in ERROR_STATUSES) and optional["183"] is None
    assert [e.get("id") for e in root if e.tag == "label"] == ["rejected", "end"]
    first_invite = elements[0].text or ""
    assert "\n\n      Contact" not in first_invite, "no empty header line where credentials are left out"


def test_the_sipp_driver_generates_its_scenario_unless_the_file_names_one(tmp_path: Path) -> None:
    eq = load_equipment(EXAMPLES / "sipp-ua.toml")
    driver = make_driver(eq, workdir=tmp_path)
    assert isinstance(driver, SippDriver) and driver.call_scenario == tmp_path / "uac_auth_call.xml"
    assert (tmp_path / "uac_auth_call.xml").read_text(encoding="ISO-8859-1") == call_scenario_xml()
    text = (EXAMPLES / "sipp-ua.toml").read_text().replace("[equipment.sipp]", '[equipment.sipp]\nscenario = "uac_auth"')
    named = SippDriver(parse_equipment(text, "s.toml"), workdir=tmp_path / "other")
    assert named.call_scenario == "uac_auth"


def test_each_adapter_gets_its_driver(tmp_path: Path) -> None:
    assert isinstance(make_driver(load_equipment(EXAMPLES / "baresip-ua.toml"), workdir=tmp_path), BaresipDriver)
    assert isinstance(make_driver(load_equipment(EXAMPLES / "manual-phone.toml"), workdir=tmp_path), ManualDriver)
    with pytest.raises(ValueError, match="has no UA adapter"):
        make_driver(load_equipment(EXAMPLES / "kamailio-trunk.toml"), workdir=tmp_path)


def test_a_missing_program_is_named_with_its_debian_package() -> None:
    text = (EXAMPLES / "sipp-ua.toml").read_text().replace("[equipment.sipp]", '[equipment.sipp]\nbinary = "no-sipp"')
    assert "sip-tester" in (adapter_missing(parse_equipment(text, "s.toml")) or "")
    assert adapter_missing(load_equipment(EXAMPLES / "manual-phone.toml")) is None


def _manual(wait: float) -> tuple[ManualDriver, io.StringIO]:
    text = (EXAMPLES / "manual-phone.toml").read_text().replace("wait = 60", f"wait = {wait}")
    out = io.StringIO()
    return ManualDriver(parse_equipment(text, "m.toml"), out=out, poll=0.01), out


def test_the_manual_driver_says_what_to_do_then_carries_on_after_its_bound() -> None:
    driver, out = _manual(0.3)
    started = time.monotonic()
    outcome = asyncio.run(driver.place_call((loopback(20), 5060), "+15550100", hold_ms=2000, timeout=20))
    assert 0.3 <= time.monotonic() - started < 1.5
    assert not outcome.ok and outcome.detail == "the harness saw nothing within 0.3 s"
    text = out.getvalue()
    assert ">>> Desk phone in the lab: ACTION NEEDED" in text and "Use the line registered as 1001" in text
    assert f"Dial +15550100 now (through {loopback(20)}:5060). If the call is answered, hang up after about 2 s" in text
    asyncio.run(driver.register((loopback(20), 5060), timeout=5))
    assert out.getvalue().count("Use the line registered as 1001") == 1, "the file's instructions once per scenario"
    assert "Register extension 1001 now" in out.getvalue() and "Register extension 1001" in driver.log_text()


def test_the_manual_driver_stops_waiting_once_the_harness_saw_it_happen() -> None:
    driver, _ = _manual(30)
    seen = {"done": False}

    async def later() -> None:
        await asyncio.sleep(0.1)
        seen["done"] = True

    async def scenario() -> tuple[bool, float]:
        ready = asyncio.Event()
        started = time.monotonic()
        task = asyncio.ensure_future(later())
        outcome = await driver.answer(timeout=30, ready=ready, done=lambda: seen["done"])
        await task
        assert ready.is_set()
        return outcome.ok, time.monotonic() - started

    ok, seconds = asyncio.run(scenario())
    assert ok and seconds < 2


def test_sipp_as_destination_plays_answer_early_media_and_reject(tmp_path: Path) -> None:
    listen = (loopback(30), 5080)
    assert sipp_run_for(script_for(answer_after_ms=50), listen, tmp_path).scenario == "uas.xml"
    early = sipp_run_for(script_for(ringing=False, early_media=True, answer_after_ms=300), listen, tmp_path)
    assert early.hold_ms == 300 and Path(early.scenario).name == "uas_early_media_rtp.xml"
    text = Path(early.scenario).read_text(encoding="ISO-8859-1")
    assert f'rtp_stream="{tmp_path / "tone.pcmu"},-1,0"' in text and 'rtp_stream="pause"' in text
    assert (tmp_path / "tone.pcmu").stat().st_size == 8000 * 4
    reject = sipp_run_for(script_for(ringing=False, reject=404, reason="Not Found"), listen, tmp_path)
    assert reject.reject == (404, "Not Found") and reject.scenario == "uas_reject.xml"
    for script in (script_for(never_answer=True), (Send100(), Send183(), Wait(10), Reject(486, "Busy Here"))):
        with pytest.raises(SippDestinationUnsupported, match="SIPp as the destination plays"):
            sipp_run_for(script, listen, tmp_path)
