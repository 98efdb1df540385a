"""A run's report, from its ``get_mma_status`` document (live, or read back with
:meth:`HistoryStore.get_run`): Markdown, one self-contained HTML file (inline CSS, no
link to anything outside it) or JSON (the document itself). Pure, no Qt.

It holds the run's tracks, the ticket DAG, usage and cost per tier, track and ticket,
durations, retries and QA hints, and each ticket's final answer (the last attempt's part
of its Tier 3 stream). The totals are the document's own ``totals``, never re-added.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..model.status import RunStatus, TicketStatus, TrackStatus

FORMATS = ("md", "html", "json")
#: Where a later attempt starts in a Tier 3 stream (the conductor writes it).
_RETRY = re.compile(r"\n*--- retry \d+ on [^\n]* ---\n")
#: A final answer longer than this is cut to its end.
ANSWER_CHARS = 4000


@dataclass(frozen=True, slots=True)
class _Table:
    head: tuple[str, ...]
    rows: list[tuple[str, ...]]


def render(document: dict[str, Any], fmt: str) -> str:
    """The report of ``document`` in ``fmt`` (``md``, ``html`` or ``json``)."""
    renderers: dict[str, Callable[[dict[str, Any]], str]] = {
        "md": markdown, "html": html_report, "json": json_report}
    try:
        return renderers[fmt](document)
    except KeyError:
        raise ValueError(f"unknown report format {fmt!r}; use one of: "
                         + ", ".join(FORMATS)) from None


def json_report(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# -- the parts, format-free ------------------------------------------------------------
def _cost(value: Any) -> str:
    return "unknown" if value is None else f"${value:.6f}"


def _usage_cells(usage: dict[str, Any]) -> tuple[str, ...]:
    mark = "~" if usage.get("estimated") else ""
    return (f"{mark}{usage.get('input', 0)}", f"{mark}{usage.get('output', 0)}",
            str(usage.get("cache_read", 0)), str(usage.get("cache_write", 0)))


_USAGE_HEAD = ("input", "output", "cache read", "cache write", "cost")


def _when(stamp: Any) -> str:
    if not isinstance(stamp, int | float):
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _seconds(value: Any) -> str:
    return "—" if value is None else f"{value:.1f} s"


def _summary(doc: dict[str, Any]) -> list[tuple[str, str]]:
    totals = doc.get("totals", {})
    tickets = doc.get("tickets", [])
    done = sum(1 for t in tickets if t.get("status") == TicketStatus.COMPLETED)
    return [
        ("run", str(doc.get("run_id") or "(live)")),
        ("status", str(doc.get("status")) + (f": {doc['error']}" if doc.get("error") else "")),
        ("provider", str(doc.get("provider", ""))),
        ("workspace", str(doc.get("workspace", ""))),
        ("elapsed", _seconds(doc.get("elapsed_s"))),
        ("tickets", f"{done} of {len(tickets)} completed"),
        ("total input tokens", str(totals.get("input", 0))),
        ("total output tokens", str(totals.get("output", 0))),
        ("total cache read tokens", str(totals.get("cache_read", 0))),
        ("total cache write tokens", str(totals.get("cache_write", 0))),
        ("total cost", _cost(totals.get("cost_usd"))),
    ]


def _tiers(doc: dict[str, Any]) -> _Table:
    rows = [(tier, u.get("model", ""), *_usage_cells(u), _cost(u.get("cost_usd")))
            for tier, u in doc.get("tier_usage", {}).items()]
    return _Table(("tier", "model", *_USAGE_HEAD), rows)


def _tracks(doc: dict[str, Any]) -> _Table:
    rows = []
    for track in doc.get("tracks", []):
        usage = track.get("usage", {})
        rows.append((str(track.get("id")), str(track.get("title", "")),
                     str(track.get("status", "")), ", ".join(track.get("tickets", [])),
                     *_usage_cells(usage), _cost(usage.get("cost_usd"))))
    return _Table(("track", "title", "status", "tickets", *_USAGE_HEAD), rows)


def _durations(doc: dict[str, Any]) -> dict[str, Any]:
    return {s.get("ticket_id"): s.get("elapsed_s") for s in doc.get("streams", [])
            if s.get("tier") == "Tier 3" and s.get("ticket_id")}


def _tickets(doc: dict[str, Any]) -> _Table:
    durations = _durations(doc)
    rows = []
    for t in doc.get("tickets", []):
        rows.append((str(t.get("id")), str(t.get("title", "")), str(t.get("status", "")),
                     ", ".join(t.get("depends_on", [])) or "—", str(t.get("model", "")),
                     str(t.get("retry_count", 0)), _seconds(durations.get(t.get("id"))),
                     *_usage_cells(t.get("usage", {})), _cost(t.get("cost_usd"))))
    return _Table(("ticket", "title", "status", "depends on", "model", "retries", "duration",
                   *_USAGE_HEAD), rows)


def _notes(ticket: dict[str, Any]) -> list[str]:
    """A ticket's error, blocked reason and the QA hints its retries were given."""
    notes = []
    if ticket.get("error"):
        notes.append(f"error: {ticket['error']}")
    if ticket.get("blocked_reason"):
        notes.append(f"reason: {ticket['blocked_reason']}")
    for attempt in ticket.get("attempts", []):
        if attempt.get("qa_hint"):
            notes.append(f"QA hint for attempt {attempt.get('attempt')}: {attempt['qa_hint']}")
    return notes


def final_answer(doc: dict[str, Any], ticket_id: str) -> str:
    """The last attempt's part of the ticket's Tier 3 stream (its end when long)."""
    text = doc.get("mma_streams", {}).get(f"Tier 3 (Worker): {ticket_id}", "")
    if not isinstance(text, str):
        return ""
    last = _RETRY.split(text)[-1].strip()
    return last if len(last) <= ANSWER_CHARS else "…" + last[-ANSWER_CHARS:]


def _dag(doc: dict[str, Any]) -> list[str]:
    """``T-001 → T-003`` edges, then lone tickets."""
    lines: list[str] = []
    linked: set[str] = set()
    for t in doc.get("tickets", []):
        for dep in t.get("depends_on", []):
            lines.append(f"{dep} → {t['id']}")
            linked.update((dep, t["id"]))
    lines += [t["id"] for t in doc.get("tickets", []) if t["id"] not in linked]
    return lines


# -- Markdown --------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(table: _Table) -> list[str]:
    lines = ["| " + " | ".join(table.head) + " |", "|" + " --- |" * len(table.head)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return [*lines, ""]


def markdown(doc: dict[str, Any]) -> str:
    epic = str(doc.get("epic") or "").strip()
    out = [f"# Run report: {_md_cell(epic.splitlines()[0] if epic else '(no epic)')}", ""]
    out += [f"- **{k}**: {_md_cell(v)}" for k, v in _summary(doc)] + [""]
    out += ["## Usage per tier", "", *_md_table(_tiers(doc))]
    out += ["## Tracks", "", *_md_table(_tracks(doc))]
    out += ["## Ticket DAG", "", "```", *_dag(doc), "```", ""]
    out += ["## Tickets", "", *_md_table(_tickets(doc))]
    for t in doc.get("tickets", []):
        out += [f"### {t['id']}: {_md_cell(str(t.get('title', '')))}", ""]
        out += [f"- {_md_cell(n)}" for n in _notes(t)]
        answer = final_answer(doc, t["id"])
        fence = "````" if "```" in answer else "```"
        out += ["", "Final answer:", "", fence, answer, fence, ""]
    return "\n".join(out)


# -- HTML ----------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:80em}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
pre{background:#f7f7f7;border:1px solid #ddd;padding:0.6em;white-space:pre-wrap}
dt{font-weight:bold}
.completed,.done{color:#1b7f3b}.failed{color:#b3261e}.blocked,.cancelled{color:#8a6d00}
.interrupted{color:#6b4fbb}
"""


#: Status cells get their status as a class (coloured by _CSS).
_STATUS_CLASSES = frozenset(str(s) for kind in (RunStatus, TicketStatus, TrackStatus)
                            for s in kind)


def _html_table(table: _Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.head)
    body = "".join(
        "<tr>" + "".join(f'<td class="{c}">{c}</td>' if c in _STATUS_CLASSES else
                         f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_report(doc: dict[str, Any]) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Run report: {e(str(doc.get('run_id') or ''))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Run report</h1><p>{e(str(doc.get('epic', '')))}</p>",
        "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in _summary(doc)) + "</dl>",
        "<h2>Usage per tier</h2>", _html_table(_tiers(doc)),
        "<h2>Tracks</h2>", _html_table(_tracks(doc)),
        "<h2>Ticket DAG</h2><pre>" + e("\n".join(_dag(doc))) + "</pre>",
        "<h2>Tickets</h2>", _html_table(_tickets(doc)),
    ]
    for t in doc.get("tickets", []):
        parts.append(f"<h3>{e(t['id'])}: {e(str(t.get('title', '')))}</h3>")
        notes = _notes(t)
        if notes:
            parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
        parts.append(f"<pre>{e(final_answer(doc, t['id']))}</pre>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
