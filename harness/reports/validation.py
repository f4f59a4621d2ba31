"""The validation report of a run against equipment under test, for the equipment's vendor or customer:
`captures/<run-id>/validation-report.html` (self-contained, no scripts) and `validation-report.md`.

It says what was tested (the equipment's identity, role, address and the features it claims), the
verdict of every scenario (passed, failed, or not applicable: a feature the equipment does not claim),
each failure with the documented and the observed message flow side by side, where they diverge and a
link to its packet capture, an excerpt of the equipment's own log, and when and with what it was run:
the run's conditions that differ from the defaults (harness.settings) stand under the verdict, and a
run that selected only part of the suite (--features, --tags) says so in the verdict itself.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.equipment import FEATURES, Equipment
from harness.reports.record import NOT_APPLICABLE, RunSummary, ScenarioRecord
from harness.settings import DEFAULTS_TEXT, Condition, narrowed

__all__ = ["FEATURE_TEXT", "EquipmentRunInfo", "verdict_of", "write_validation_report"]

FEATURE_TEXT = {
    "basic-auth": "Digest authentication: 407 challenge in the trunk's realm, then the call",
    "ip-auth": "Authentication by source IP address",
    "early-media": "Early media: 183 Session Progress with SDP, and its audio, before the answer",
    "status-relay": "Hangup status relay: the far end's final status reaches the caller unchanged (404 -> 404)",
    "q850-reason": "Q.850 Reason: the far end's hangup cause added to the final status as a Reason header "
                   "(RFC 3326)",
    "registration": "Registration: REGISTER challenged with 401, calls to the registered extension",
    "cancel": "Call cancellation: CANCEL while ringing, 487 Request Terminated",
    "tcp": "SIP over TCP",
    "options-keepalive": "OPTIONS keep-alive: answers OPTIONS (Allow, Accept, Supported), pings its destination "
                         "at a sane interval, stops calling a destination that no longer answers",
    "caller-identity": "Caller identity: P-Asserted-Identity (RFC 3325) and Privacy (RFC 3323) toward the "
                       "destination, numbers in E.164",
    "srtp": "SRTP keyed by SDES (RFC 3711, RFC 4568): RTP/SAVP with a=crypto, every packet authentic",
    "tls": "SIP over TLS (RFC 3261 §26): the caller checks the trunk's certificate as RFC 5922 says",
    "hold": "Hold and resume: re-INVITE with a=sendonly / a=inactive relayed from either side, no RTP towards "
            "a party that will not receive, a=sendrecv resumes",
    "dtmf-rfc4733": "DTMF as RFC 4733 telephone-events relayed in the media: digits, marker, timestamp, "
                    "duration and end bit, the negotiated payload type",
    "forking": "Forking: every registered contact rings, each early dialog under its own To tag, the others "
               "cancelled as completed elsewhere (RFC 3326)",
    "destination-failover": "Destination failover: the next destination on 503 (Retry-After honoured), no "
                            "response or a transport error; other statuses relayed",
    "session-timers": "Session timers (RFC 4028): 422 with Min-SE, refreshes relayed, BYE on both legs when none "
                      "comes",
    "100rel": "Reliable provisional responses (RFC 3262): a reliable 183 and its PRACK end to end, or absorbed",
    "long-calls": "Long calls: held across session refreshes with steady RTP both ways",
}
ROLE_TEXT = {
    "trunk": "SIP trunk (SBC, PBX or proxy) standing in for VoIPBin; trunkcheck played the caller (UA) and "
             "the called party (Destination)",
    "ua": "User agent (phone, softphone or PBX calling out); trunkcheck played the trunk (VoIPBin) and the "
          "called party (Destination)",
}
COLUMN = {"trunk": "VoIPBin", "ua": "UA"}
VERDICT = {"passed": "Passed", NOT_APPLICABLE: "Not applicable"}
LOG_EXCERPT = 6000
LOG_HEAD = 1500

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1em; } td, th { padding: 3px 12px; border-bottom: 1px solid #e3e3e3;
text-align: left; vertical-align: top; } th { background: #f3f3f3; }
.Passed { color: #176317; font-weight: bold; } .Failed { color: #b00020; font-weight: bold; }
.na { color: #666; } .banner { font-size: 1.15em; padding: 0.6em 1em; border-radius: 4px; }
.ok { background: #e8f5e9; } .bad { background: #fdecea; }
pre { background: #f6f6f6; padding: 0.6em; font-size: 12px; line-height: 1.25; overflow-x: auto; }
.failure { border-top: 2px solid #ccc; margin-top: 1.5em; } .meta { color: #555; font-size: 0.9em; }
"""


@dataclass(frozen=True)
class EquipmentRunInfo:
    equipment: Equipment
    file: Path
    started: float  # wall clock (time.time())
    ended: float
    log: Path | None = None  # the log of the process the harness started for the equipment
    conditions: tuple[Condition, ...] = ()  # the run's options that differ from the defaults

    @property
    def stated_conditions(self) -> tuple[Condition, ...]:
        """The conditions this report states (the equipment file has its own row in "About this run")."""
        return tuple(c for c in self.conditions if c.option != "--equipment")


def verdict_of(rec: ScenarioRecord) -> str:
    return VERDICT.get(rec.status, "Failed")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("trunkcheck")
    except Exception:  # noqa: BLE001 - running from a source tree that was never installed
        return "unknown (source tree)"


def _clean_error(text: str | None) -> str:
    """The failure as a reader needs it: no test-framework prefixes, no Python tracebacks."""
    if not text:
        return "the scenario failed without a message"
    text = re.sub(r"^(Assertion Failed|ASSERT FAILED): ", "", text.strip())
    if text.startswith("Traceback"):
        lines = [line for line in text.splitlines() if line.strip()]
        text = lines[-1] if lines else text
        text = re.sub(r"^[\w.]*(Error|Timeout|Exception)\w*: ", "", text)
    return text


def _log_excerpt(path: Path | None) -> str:
    """The log's start (version, addresses it listens on) and its end, at most about LOG_EXCERPT characters."""
    if path is None:
        return ""
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    if len(text) <= LOG_EXCERPT + LOG_HEAD:
        return text
    head = text[:LOG_HEAD].rsplit("\n", 1)[0]
    tail = text[-LOG_EXCERPT:].split("\n", 1)[-1]
    left_out = text.count("\n") - head.count("\n") - tail.count("\n")
    return f"{head}\n[... {left_out} lines left out: see the full log ...]\n{tail}"


def _facts(info: EquipmentRunInfo, summary: RunSummary) -> list[tuple[str, str]]:
    eq = info.equipment
    assert eq.trunk is not None
    claimed = [f for f in FEATURES if f in eq.features]
    rows = [("Equipment", eq.name), ("Vendor", eq.vendor or "-"), ("Version", eq.version or "-"),
            ("Role", ROLE_TEXT[eq.role]), ("SIP address", str(eq.address)),
            ("Trunk domain", eq.trunk.domain)]
    if eq.registrar_domain:
        rows.append(("Registrar domain", eq.registrar_domain))
    rows += [("Features claimed", "; ".join(FEATURE_TEXT[f] for f in claimed) or "none"),
             ("Features not claimed", "; ".join(FEATURE_TEXT[f] for f in FEATURES if f not in eq.features) or "none")]
    return rows


def _meta(info: EquipmentRunInfo, summary: RunSummary) -> list[tuple[str, str]]:
    try:
        digest = hashlib.sha256(info.file.read_bytes()).hexdigest()[:16]
    except OSError:
        digest = "-"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(info.started))
    return [("Run", summary.run_id), ("Date", stamp), ("Duration", f"{info.ended - info.started:.1f} s"),
            ("Tool", f"trunkcheck {_version()}"), ("Equipment file", f"{info.file.name} (SHA-256 {digest}...)")]


def _headline(summary: RunSummary, conditions: tuple[Condition, ...] = ()) -> tuple[bool, str]:
    ok = summary.ok
    text = (f"{summary.passed} passed, {summary.failed} failed, {summary.not_applicable} not applicable "
            f"(of {summary.total + summary.not_applicable} scenarios)")
    if ok and narrowed(conditions):
        chosen = ", ".join(str(c) for c in conditions if c.option in ("--features", "--tags", "--shard"))
        return True, (f"Conforms in the scenarios selected ({chosen}; not the whole suite, see Run conditions): "
                      f"{text}.")
    if ok:
        return True, f"Conforms for every feature it claims: {text}."
    if summary.total == 0:
        return False, f"No scenario applied to this equipment: {text}."
    return False, f"Does not conform: {text}."


def write_validation_report(run_dir: Path, info: EquipmentRunInfo, summary: RunSummary,
                            records: Sequence[ScenarioRecord]) -> Path:
    shown = [r for r in records if r.status not in ("skipped", "untested")]
    path = run_dir / "validation-report.html"
    path.write_text(_html(info, summary, shown, run_dir), encoding="utf-8")
    (run_dir / "validation-report.md").write_text(_markdown(info, summary, shown), encoding="utf-8")
    return path


def _rows(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"


def _html(info: EquipmentRunInfo, summary: RunSummary, records: Sequence[ScenarioRecord], run_dir: Path) -> str:
    eq = info.equipment
    ok, headline = _headline(summary, info.conditions)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>Validation report: {_e(eq.name)}</title><style>{_CSS}</style></head><body>",
           f"<h1>SIP trunk conformance: validation report for {_e(eq.name)}</h1>",
           '<p class="meta">Against the VoIPBin SIP trunk specification. Each scenario follows a message flow '
           "of the specification; its verdict comes from the captured packets.</p>",
           f'<p class="banner {"ok" if ok else "bad"}">{_e(headline)}</p>',
           "<h2>Run conditions</h2>", _conditions_html(info),
           "<h2>Equipment under test</h2>", _rows(_facts(info, summary)),
           f'<p class="meta">In the message flows below, the column <b>{COLUMN[eq.role]}</b> is {_e(eq.name)} '
           f"at {_e(eq.address)}.</p>",
           "<h2>Results</h2>",
           "<table><tr><th>Verdict</th><th>Area</th><th>Scenario</th><th>Time</th><th>Evidence</th></tr>"]
    for k, rec in enumerate(records):
        verdict = verdict_of(rec)
        if rec.status == NOT_APPLICABLE:
            evidence = f'<span class="na">{_e(_reason(rec))}</span>'
            out.append(f'<tr><td class="na">Not applicable</td><td>{_e(rec.feature)}</td><td>{_e(rec.scenario)}'
                       f"</td><td></td><td>{evidence}</td></tr>")
            continue
        name = f'<a href="#f{k}">{_e(rec.scenario)}</a>' if verdict == "Failed" else _e(rec.scenario)
        links = f'<a href="{_e(rec.pcap)}">capture (pcap)</a> &middot; <a href="{_e(rec.ladder)}">message flow</a>'
        if rec.equipment_log:
            links += f' &middot; <a href="{_e(rec.equipment_log)}">equipment log</a>'
        out.append(f'<tr><td class="{verdict}">{verdict}</td><td>{_e(rec.feature)}</td><td>{name}</td>'
                   f"<td>{rec.seconds:.1f} s</td><td>{links}</td></tr>")
    out.append("</table>")
    failures = [(k, r) for k, r in enumerate(records) if verdict_of(r) == "Failed"]
    if failures:
        out.append("<h2>Failures</h2>")
    for k, rec in failures:
        side_by_side = "divergence:" in (rec.error or "")
        out += [f'<div class="failure" id="f{k}"><h3>{_e(rec.feature)}: {_e(rec.scenario)}</h3>',
                f'<p class="meta">Capture: <a href="{_e(rec.pcap)}">{_e(rec.pcap)}</a> (open it in Wireshark)</p>',
                "<p>What went wrong" + (" (documented flow left, observed flow right; <code>&gt;&gt;</code> marks "
                                        "where they part)" if side_by_side else "") + ":</p>",
                f"<pre>{_e(_clean_error(rec.error))}</pre>"]
        if not side_by_side:
            for exp in rec.expected[:1]:
                out.append(f"<p>Documented flow ({_e(exp['title'])}):</p><pre>{_e(exp['text'])}</pre>")
            out.append(f"<p>Observed flow:</p><pre>{_e(rec.observed or '(no SIP or RTP was captured)')}</pre>")
        if rec.equipment_log:
            excerpt = _log_excerpt(run_dir / rec.equipment_log)
            out.append(f"<details><summary>Equipment log for this scenario</summary><pre>{_e(excerpt)}</pre></details>")
        out.append("</div>")
    log = _log_excerpt(info.log)
    if log:
        out += ["<h2>Equipment log</h2>", f'<p class="meta">Full log: <a href="equipment/'
                f'{_e(info.log.name if info.log else "")}">equipment/{_e(info.log.name if info.log else "")}</a></p>',
                f"<pre>{_e(log)}</pre>"]
    out += ["<h2>About this run</h2>", _rows(_meta(info, summary)), "</body></html>\n"]
    return "\n".join(out)


def _conditions_html(info: EquipmentRunInfo) -> str:
    stated = info.stated_conditions
    if not stated:
        return f"<p>{_e(DEFAULTS_TEXT[0].upper() + DEFAULTS_TEXT[1:])}.</p>"
    return ("<p>Options of this run that differ from trunkcheck's defaults:</p><table><tr><th>Option</th>"
            "<th>What it changed</th></tr>"
            + "".join(f"<tr><td><code>{_e(c)}</code></td><td>{_e(c.meaning)}</td></tr>" for c in stated)
            + "</table>")


def _conditions_markdown(info: EquipmentRunInfo) -> list[str]:
    stated = info.stated_conditions
    if not stated:
        return [DEFAULTS_TEXT[0].upper() + DEFAULTS_TEXT[1:] + "."]
    return ["Options of this run that differ from trunkcheck's defaults:", "", "| Option | What it changed |",
            "|---|---|", *(f"| `{c}` | {c.meaning} |" for c in stated)]


def _reason(rec: ScenarioRecord) -> str:
    text = re.sub(r"^not applicable: ", "", "; ".join(rec.notes) or "not applicable")
    return text.replace("the scenario reconfigures the trunk as it runs (reference server only)",
                        "the scenario changes the trunk's settings while it runs (digest algorithm, nonce lifetime, "
                        "ring timeout), which only trunkcheck's own reference trunk allows")


def _markdown(info: EquipmentRunInfo, summary: RunSummary, records: Sequence[ScenarioRecord]) -> str:
    eq = info.equipment
    _, headline = _headline(summary, info.conditions)
    out = [f"# SIP trunk conformance: validation report for {eq.name}", "", f"**{headline}**", "",
           "## Run conditions", "", *_conditions_markdown(info), "",
           "## Equipment under test", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in _facts(info, summary)]
    out += ["", f"In the message flows, the column **{COLUMN[eq.role]}** is {eq.name} at {eq.address}.", "",
            "## Results", "", "| Verdict | Area | Scenario | Evidence |", "|---|---|---|---|"]
    for rec in records:
        verdict = verdict_of(rec)
        evidence = _reason(rec) if rec.status == NOT_APPLICABLE else f"[pcap]({rec.pcap}), [flow]({rec.ladder})"
        out.append(f"| {verdict} | {rec.feature} | {rec.scenario} | {evidence} |")
    failures = [r for r in records if verdict_of(r) == "Failed"]
    if failures:
        out += ["", "## Failures"]
    for rec in failures:
        out += ["", f"### {rec.feature}: {rec.scenario}", "", f"Capture: [{rec.pcap}]({rec.pcap})", "", "```",
                _clean_error(rec.error), "```"]
    log = _log_excerpt(info.log)
    if log:
        out += ["", "## Equipment log", "", "```", log, "```"]
    out += ["", "## About this run", "", "| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in _meta(info, summary)), ""]
    return "\n".join(out)
