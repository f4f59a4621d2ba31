"""The run's HTML page: every scenario with its status and time, the documented and the observed ladder side
by side, notes, the failure (a divergence shows both ladders with `>>` on the divergent lines), and links
to the scenario's pcap and ladder. One self-contained file, no scripts: `captures/<run-id>/report.html`.
Scenarios that do not apply to the equipment under test are listed as N/A with the reason (and marked
skipped, with that reason as the message, in the JUnit XML). Under the verdict, the run's conditions that
differ from the defaults (harness.settings); a run with a test fault says TEST ONLY in its title. In the
docker topology the end of the equipment container's log closes the page (``equipment_log``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from harness.equipment import Equipment
from harness.reports.record import NOT_APPLICABLE, RunSummary, ScenarioRecord
from harness.settings import DEFAULTS_TEXT, Condition, is_test_only

__all__ = ["LOG_TAIL_LINES", "conditions_html", "write_report"]

LOG_TAIL_LINES = 200

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin: 1.2em 0 0.3em; }
.summary { font-size: 1.05em; margin-bottom: 1em; }
table.index { border-collapse: collapse; margin-bottom: 2em; }
table.index td, table.index th { padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: left; }
.passed { color: #176317; } .na { color: #666; } .failed, .error, .hook_error, .undefined { color: #b00020; font-weight: bold; }
.scenario { border-top: 2px solid #ccc; padding-top: 0.5em; margin-top: 1.5em; }
.ladders { display: flex; gap: 2em; flex-wrap: wrap; }
pre { background: #f6f6f6; padding: 0.6em; font-size: 12px; line-height: 1.25; overflow-x: auto; }
pre.error { background: #fff0f0; }
.meta { color: #555; font-size: 0.9em; }
.testonly { background: #fff3cd; border: 1px solid #c9a400; padding: 0.4em 0.8em; font-weight: bold; }
table.conditions td { padding: 1px 10px 1px 0; vertical-align: top; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _anchor(k: int) -> str:
    return f"s{k}"


def conditions_html(conditions: Sequence[Condition]) -> str:
    """The run's conditions as a small table (or the sentence saying every option was at its default)."""
    if not conditions:
        return f'<p class="meta">Run conditions: {_e(DEFAULTS_TEXT)}.</p>'
    rows = "".join(f"<tr><td><code>{_e(c)}</code></td><td>{_e(c.meaning)}</td></tr>" for c in conditions)
    return f'<p class="meta">Run conditions that differ from the defaults:</p><table class="conditions">{rows}</table>'


def write_report(path: Path, summary: RunSummary, records: Sequence[ScenarioRecord],
                 conditions: Sequence[Condition] = (), equipment_log: tuple[Equipment, Path] | None = None) -> Path:
    """report.html at ``path``; ``equipment_log``: the equipment and its log (in the run folder), whose end
    closes the page."""
    verdict = "passed" if summary.ok else "failed"
    test_only = is_test_only(conditions)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{'TEST ONLY: ' if test_only else ''}trunkcheck run {_e(summary.run_id)}: {verdict}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>trunkcheck conformance run {_e(summary.run_id)}</h1>",
        *(['<p class="testonly">TEST ONLY: the reference trunk was broken on purpose (--fault); these verdicts '
           "test the suite itself, not any trunk.</p>"] if test_only else []),
        f'<p class="summary"><span class="{verdict}">{verdict.upper()}</span>: {summary.total} scenarios, '
        f"{summary.passed} passed, {summary.failed} failed"
        + (f", {summary.not_applicable} not applicable (N/A)" if summary.not_applicable else "")
        + (f", {summary.skipped} skipped" if summary.skipped else "")
        + f" in {summary.seconds:.1f} s. JUnit XML: <a href=\"junit/\">junit/</a>.</p>",
        conditions_html(conditions),
        '<table class="index"><tr><th>status</th><th>time</th><th>feature</th><th>scenario</th>'
        "<th>capture</th></tr>",
    ]
    for k, rec in enumerate(records):
        if rec.status == NOT_APPLICABLE:
            out.append(f'<tr><td class="na">N/A</td><td></td><td>{_e(rec.feature)}</td><td>{_e(rec.scenario)}</td>'
                       f'<td class="na">{_e("; ".join(rec.notes))}</td></tr>')
            continue
        out.append(
            f'<tr><td class="{_e(rec.status)}">{_e(rec.status)}</td><td>{rec.seconds:.2f} s</td>'
            f'<td>{_e(rec.feature)}</td><td><a href="#{_anchor(k)}">{_e(rec.scenario)}</a></td>'
            f'<td><a href="{_e(rec.pcap)}">pcap</a> <a href="{_e(rec.ladder)}">ladder</a></td></tr>'
        )
    out.append("</table>")
    for k, rec in enumerate(records):
        if rec.status != NOT_APPLICABLE:
            out.append(_scenario_html(k, rec))
    if equipment_log is not None:
        out.append(_equipment_html(*equipment_log, path.parent))
    out.append("</body></html>\n")
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def _scenario_html(k: int, rec: ScenarioRecord) -> str:
    parts = [
        f'<div class="scenario" id="{_anchor(k)}">',
        f'<h2><span class="{_e(rec.status)}">{_e(rec.status)}</span> {_e(rec.feature)}: {_e(rec.scenario)}</h2>',
        f'<p class="meta">{_e(rec.location)} &middot; {rec.seconds:.2f} s &middot; {rec.packets} packets '
        f'&middot; <a href="{_e(rec.pcap)}">{_e(rec.pcap)}</a> &middot; <a href="{_e(rec.ladder)}">ladder</a>'
        + (f" &middot; tags {_e(' '.join('@' + t for t in rec.tags))}" if rec.tags else "")
        + "</p>",
    ]
    if rec.error:
        parts.append(f'<pre class="error">{_e(rec.error)}</pre>')
    parts.append('<div class="ladders">')
    for exp in rec.expected:
        parts.append(f"<div><h3>documented: {_e(exp['title'])}</h3><pre>{_e(exp['text'])}</pre></div>")
    parts.append(f"<div><h3>observed</h3><pre>{_e(rec.observed or '(nothing decoded)')}</pre></div>")
    parts.append("</div>")
    if rec.notes:
        parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in rec.notes) + "</ul>")
    if rec.explain:
        parts.append("<details><summary>what the simulators recorded (for explaining, not asserting)</summary>"
                     f"<pre>{_e(chr(10).join(rec.explain))}</pre></details>")
    parts.append("</div>")
    return "\n".join(parts)


def _equipment_html(eq: Equipment, log: Path, folder: Path, tail_lines: int = LOG_TAIL_LINES) -> str:
    """The equipment under test and the last ``tail_lines`` lines of its log."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").rstrip().splitlines()
    except OSError:
        lines = []
    try:
        link = str(log.relative_to(folder))
    except ValueError:
        link = str(log)
    shown = "\n".join(lines[-tail_lines:]) or "(it wrote nothing)"
    image = eq.image.name if eq.image else ""
    more = f", the last {tail_lines} below" if len(lines) > tail_lines else ""
    return (f'<div class="scenario" id="equipment"><h2>Equipment under test: {_e(eq.name)}</h2>'
            f'<p class="meta">image {_e(image)} at {_e(eq.address)} &middot; '
            f'<a href="{_e(link)}">{_e(link)}</a> ({len(lines)} lines{more})</p>'
            f"<pre>{_e(shown)}</pre></div>")
