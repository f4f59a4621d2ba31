"""SIPp as the destination of a scenario (``trunkcheck run --destination sipp``): the far end the trunk
relays calls to, played by SIPp's shipped UAS scenarios instead of the simulator.

    dest = await SippDestination.start(script, ("127.0.0.30", 5080), workdir)   # bound and listening
    ...
    await dest.stop()                                                           # bounded

The destination behaviours of the scenarios map to SIPp scenarios:

    rings, then answers                       uas.xml            100, 180, 200; ACK, BYE, 200
    183 with early media, then answers        uas_early_media.xml with an RTP stream added here (SIPp's
                                              rtp_stream plays a generated PCMU tone from the 183 on)
    rejects the call with STATUS "REASON"     uas_reject.xml with that status line

Any other behaviour raises :class:`SippDestinationUnsupported` naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.adapters.sipp import AsyncSippProcess, SippOptions, SippResult, SippRun, shipped_scenario
from simulator.settings import Answer, Reject, Send100, Send180, Send183, Step
from sipcore.rtp import pcmu_tone

__all__ = ["SippDestination", "SippDestinationUnsupported", "sipp_run_for"]

Addr = tuple[str, int]
TONE_SECONDS = 4


class SippDestinationUnsupported(ValueError):
    """The scenario asks the destination for something SIPp's UAS scenarios do not do."""


def _early_media_xml(workdir: Path) -> Path:
    """uas_early_media.xml with an RTP stream from the 183 until the BYE."""
    tone = workdir / "tone.pcmu"
    tone.write_bytes(pcmu_tone(440.0, samples=8000 * TONE_SECONDS))
    text = shipped_scenario("uas_early_media.xml").read_text(encoding="ISO-8859-1")
    play = f'<nop><action><exec rtp_stream="{tone},-1,0"/></action></nop>\n  <pause/>'
    pause = '<recv request="BYE"/>\n  <nop><action><exec rtp_stream="pause"/></action></nop>'
    if text.count("<pause/>") != 1 or text.count('<recv request="BYE"/>') != 1:
        raise SippDestinationUnsupported("uas_early_media.xml changed shape: cannot add the RTP stream to it")
    path = workdir / "uas_early_media_rtp.xml"
    path.write_text(text.replace("<pause/>", play).replace('<recv request="BYE"/>', pause), encoding="ISO-8859-1")
    return path


def sipp_run_for(script: Sequence[Step], listen: Addr, workdir: Path, *, timeout: float = 60.0) -> SippRun:
    """The SIPp run that plays ``script`` on ``listen``."""
    steps = tuple(script)
    common: SippOptions = {"calls": 1, "timeout": timeout, "workdir": workdir}
    match steps:
        case (Send100(), Send180(), Answer()):
            return SippRun.uas(listen, **common)
        case (Send100(), Send183() as ringing, Answer() as answer) if ringing.early_media:
            return SippRun(_early_media_xml(workdir), listen, **common | {"hold_ms": answer.after_ms})
        case (Send100(), Reject() as reject) if reject.reason_header is None:
            return SippRun.uas(listen, reject=(reject.status, reject.reason or "Rejected"), **common)
    described = ", ".join(type(s).__name__ for s in steps)
    raise SippDestinationUnsupported(
        f"SIPp as the destination plays 'rings, then answers', '183 with early media, then answers' and "
        f"'rejects the call': not this scenario's destination ({described})")


class SippDestination:
    def __init__(self, run: SippRun, proc: AsyncSippProcess) -> None:
        self.run = run
        self.proc = proc
        self.result: SippResult | None = None

    @classmethod
    async def start(cls, script: Sequence[Step], listen: Addr, workdir: Path, *,
                    ready_timeout: float = 5.0) -> SippDestination:
        workdir.mkdir(parents=True, exist_ok=True)
        run = sipp_run_for(script, listen, workdir)
        proc = await run.start_async()
        try:
            await proc.wait_ready(ready_timeout)
        except BaseException:
            await proc.stop(grace=0.5)
            raise
        return cls(run, proc)

    async def stop(self, grace: float = 0.5) -> None:
        """SIPp keeps a finished call a few seconds to absorb retransmissions: the scenario is over, so
        it gets ``grace`` seconds and is then killed."""
        if self.result is None:
            self.result = await self.proc.stop(grace)

    def lines(self) -> list[str]:
        if self.result is None:
            return ["SIPp destination still running"]
        return [*self.result.describe().splitlines(), *self.result.screen_excerpt.splitlines()[-40:]]
