"""The history's rows: its statements, and each row built from the run's objects and
events. Pure, no Qt; values to store as JSON are :class:`~.writer.Json`, encoded by the
writer thread."""

from __future__ import annotations

from typing import Any

from ..model.domain import Attempt, Ticket, ToolCallRecord, Track
from ..model.records import StreamRecord
from .writer import Json

RUN_INSERT = (
    "INSERT INTO runs (run_id, parent_run_id, epic, workspace, provider, mode, tool_policy,"
    " status, active_tier, error, started_at, owner) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
STREAM_KEY_INSERT = "INSERT OR IGNORE INTO stream_keys (run_id, stream_id) VALUES (?, ?)"
#: Rows: (run_id, stream_id, seq, offset, at, text); the stream's key must exist.
CHUNK_INSERT = (
    'INSERT INTO chunks (stream_key, seq, "offset", at, text) VALUES ((SELECT stream_key'
    " FROM stream_keys WHERE run_id = ? AND stream_id = ?), ?, ?, ?, ?)"
)
STREAM_UPSERT = (
    "INSERT OR REPLACE INTO streams (run_id, stream_id, tier, ticket_id, track_id, title,"
    " status, model, models, input, output, cache_read, cache_write, reasoning, estimated,"
    " cost_usd, cost_known, calls, started_at, finished_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
TICKET_UPSERT = (
    "INSERT OR REPLACE INTO tickets (run_id, ticket_id, track_id, position, title, status,"
    " model, retry_count, depends_on, error, started_at, finished_at, data)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
TRACK_UPSERT = (
    "INSERT OR REPLACE INTO tracks (run_id, track_id, position, title, description, status,"
    " error, accepted, tickets, data) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
ATTEMPT_UPSERT = (
    "INSERT OR REPLACE INTO attempts (run_id, ticket_id, attempt, model, status, prompt,"
    " edited, reason, usage, cost_usd, error, qa_hint, started_at, finished_at, data)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
APPROVAL_UPSERT = (
    "INSERT INTO approvals (run_id, key, kind, ticket_id, requested_at, state, decided_at,"
    " decided_by, edited, reason, data) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (run_id, key) DO UPDATE SET state = excluded.state,"
    " decided_at = excluded.decided_at, decided_by = excluded.decided_by,"
    " edited = excluded.edited, reason = excluded.reason, data = excluded.data"
)
TOOL_UPSERT = (
    "INSERT OR REPLACE INTO tool_calls (run_id, ticket_id, idx, name, arguments, decision,"
    " ok, result, data) VALUES (?,?,?,?,?,?,?,?,?)"
)
USAGE_INSERT = (
    "INSERT INTO usage_records (run_id, stream_id, tier, model, at, input, output,"
    " cache_read, cache_write, reasoning, estimated, cost_usd)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
EVENT_INSERT = "INSERT INTO events (run_id, seq, at, type, data) VALUES (?,?,?,?,?)"

Row = tuple[Any, ...]


def event_data(event: dict[str, Any]) -> dict[str, Any]:
    """An event without its envelope (type, seq, time)."""
    return {k: v for k, v in event.items() if k not in ("type", "seq", "time")}


def stream_row(run_id: str, r: StreamRecord) -> Row:
    u = r.usage
    return (run_id, r.stream_id, int(r.tier), r.ticket_id, r.track_id, r.title, str(r.status),
            r.model, Json(dict(r.models_used)), u.input, u.output, u.cache_read,
            u.cache_write, u.reasoning, int(u.estimated), r.cost_usd, int(r.cost_known),
            r.calls, r.started_at, r.finished_at)


def ticket_row(run_id: str, ticket: Ticket, track_id: str | None, position: int) -> Row:
    return (run_id, ticket.id, track_id, position, ticket.title, str(ticket.status),
            ticket.model, ticket.retry_count, Json(list(ticket.depends_on)), ticket.error,
            ticket.started_at, ticket.finished_at, Json(ticket.to_dict()))


def track_row(run_id: str, track: Track, position: int) -> Row:
    return (run_id, track.id, position, track.title, track.description, str(track.status),
            track.error, 1, Json([t.id for t in track.tickets]), Json(track.to_dict()))


def attempt_row(run_id: str, ticket_id: str, attempt: Attempt) -> Row:
    data = attempt.to_dict()
    return (run_id, ticket_id, attempt.number, attempt.model, str(attempt.status),
            attempt.prompt, int(attempt.edited), attempt.reason, Json(data["usage"]),
            attempt.cost_usd, attempt.error, attempt.qa_hint, attempt.started_at,
            attempt.finished_at, Json(data))


def tool_row(run_id: str, ticket_id: str, call: ToolCallRecord) -> Row:
    data = call.to_dict()
    return (run_id, ticket_id, call.index, call.name, Json(data["arguments"]),
            data["decision"], None if call.ok is None else int(call.ok), call.result,
            Json(data))


def usage_row(run_id: str, event: dict[str, Any]) -> Row:
    usage = event["usage"]
    return (run_id, event["stream_id"], event["tier"], event["model"], event["time"],
            usage["input"], usage["output"], usage["cache_read"], usage["cache_write"],
            usage["reasoning"], int(usage["estimated"]), event["cost_usd"])


def approval_row(run_id: str, event: dict[str, Any]) -> Row:
    """An approval requested, or decided (``by``, ``edited``, ``reason``)."""
    state = str(event.get("state", ""))
    decided = state != "requested"
    return (run_id, event["key"], event.get("kind", ""), event.get("ticket_id"),
            event.get("requested_at"), state, event["time"] if decided else None,
            event.get("by"), int(bool(event.get("edited"))), event.get("reason") or "",
            Json(event_data(event)))
