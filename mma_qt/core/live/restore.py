"""Filling a session with a past run read back from the history (QtCore, GUI thread).

One function serves both uses of a past run: a read-only session that shows it (the
History dock's view) and the live session of a new run that goes on from it (Resume, a
re-run from history). The session is filled through its own API, so its signals and bus
events say what was added, as they do during a run: a model on the session shows it, and
a recorder on its bus records it into the new run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..model.domain import Attempt, Ticket, Tier, Track
from ..model.records import StreamRecord
from ..model.status import TicketStatus, TrackStatus
from ..model.usage import Usage
from .session import MmaSession


def usage_of(data: Mapping[str, Any] | None) -> Usage:
    data = data or {}
    return Usage(int(data.get("input", 0)), int(data.get("output", 0)),
                 int(data.get("cache_read", 0)), int(data.get("cache_write", 0)),
                 int(data.get("reasoning", 0)), bool(data.get("estimated", False)))


def attempt_of(data: Mapping[str, Any], prompt: str = "") -> Attempt:
    return Attempt(
        int(data["attempt"]), str(data.get("model", "")), TicketStatus(data["status"]),
        prompt=prompt, edited=bool(data.get("edited", False)),
        reason=str(data.get("reason", "")), usage=usage_of(data.get("usage")),
        cost_usd=data.get("cost_usd"), error=str(data.get("error") or ""),
        qa_hint=str(data.get("qa_hint") or ""), started_at=data.get("started_at"),
        finished_at=data.get("finished_at"))


def ticket_of(data: Mapping[str, Any],
              prompts: Mapping[tuple[str, int], str] | None = None) -> Ticket:
    """A ticket from its ``get_mma_status`` dict (tool calls are counted there, not kept)."""
    prompts = prompts or {}
    tid = str(data["id"])
    return Ticket(
        tid, str(data.get("title", "")), str(data.get("description", "")),
        depends_on=tuple(data.get("depends_on", ())),
        target_files=tuple(data.get("target_files", ())),
        status=TicketStatus(data.get("status", TicketStatus.TODO)),
        blocked_reason=str(data.get("blocked_reason") or ""),
        blocked_by=data.get("blocked_by"), retry_count=int(data.get("retry_count", 0)),
        model_override=data.get("model_override"), model=str(data.get("model") or ""),
        usage=usage_of(data.get("usage")), cost_usd=data.get("cost_usd"),
        error=str(data.get("error") or ""), commit=data.get("commit"),
        patch=data.get("patch"), step=bool(data.get("step", False)),
        answer=str(data.get("answer") or ""),
        attempts=[attempt_of(a, prompts.get((tid, int(a["attempt"])), ""))
                  for a in data.get("attempts", [])])


def _tracks(document: Mapping[str, Any], tickets: Mapping[str, Ticket]) -> list[Track]:
    """The run's tracks with their tickets; tickets of no track (a run planned before
    tracks) go to the document's ``track``."""
    tracks = [Track(str(t["id"]), str(t.get("title", "")), str(t.get("description", "")),
                    [tickets[i] for i in t.get("tickets", []) if i in tickets],
                    TrackStatus(t.get("status", TrackStatus.QUEUED)), str(t.get("error") or ""))
              for t in document.get("tracks", [])]
    placed = {x.id for t in tracks for x in t.tickets}
    loose = [t for tid, t in tickets.items() if tid not in placed]
    if loose:
        first = document.get("track") or {"id": "TR-1", "title": "Track 1"}
        tracks.append(Track(str(first["id"]), str(first.get("title", "")),
                            str(first.get("description", "")), loose))
    return tracks


def restore_run(session: MmaSession, document: Mapping[str, Any],
                records: Sequence[StreamRecord],
                prompts: Mapping[tuple[str, int], str] | None = None) -> None:
    """Fill ``session`` (reset by the caller) with a past run: its tracks and tickets (with
    their attempts), every stream with its usage, cost, models and status, and the
    streams' texts (``document["mma_streams"]``, read with ``streams=True``). The run's
    own status is left to the caller."""
    tickets = {str(t["id"]): ticket_of(t, prompts) for t in document.get("tickets", [])}
    tracks = _tracks(document, tickets)
    session.set_tracks(tracks)
    position = {tid: n for n, tid in enumerate(tickets)}
    planned = [t for t in tracks if t.tickets]  # in the order their plans came
    planned.sort(key=lambda t: min(position[x.id] for x in t.tickets))
    for track in planned:
        session.set_plan(track, list(track.tickets))
    active = (document.get("track") or {}).get("id")
    session.active_track = next((t for t in tracks if t.id == active),
                                tracks[-1] if tracks else None)
    _streams(session, records, _track_of(tracks))
    texts = document.get("mma_streams") or {}
    for sid in session.records:
        text = texts.get(sid)
        if isinstance(text, str) and text:
            session.hub.write(sid, text)
    session.hub.drain()


def _track_of(tracks: Iterable[Track]) -> dict[str, str]:
    return {ticket.id: track.id for track in tracks for ticket in track.tickets}


def _streams(session: MmaSession, records: Sequence[StreamRecord],
             track_of: Mapping[str, str]) -> None:
    for past in records:
        track_id = past.track_id or track_of.get(past.ticket_id or "")
        record = session.open_stream(past.tier, past.ticket_id, past.title, track_id,
                                     sid=past.stream_id)
        record.track_id = record.track_id or track_id
        record.models_used = dict(past.models_used)
        record.model, record.calls = past.model, past.calls
        record.usage, record.cost_usd, record.cost_known = (past.usage, past.cost_usd,
                                                            past.cost_known)
        record.started_at, record.finished_at = past.started_at, past.finished_at
        if past.tier is not Tier.WORKER or past.ticket_id not in session.tickets:
            record.status = past.status
        session.stream_restored(record.stream_id)
