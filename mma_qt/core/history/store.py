"""Reading a workspace's history: its runs, one run in the ``get_mma_status`` shape, and
a search across its streams. Pure stdlib, no Qt.

:meth:`HistoryStore.get_run` returns the document ``get_mma_status`` gave for the run (the
recorder stores it, without the stream texts, as the run goes and when it ends), with the
stream texts joined from their chunks, the tickets from their own rows (written at every
change) and the usage roll-ups recomputed from the streams' rows with the session's own
:class:`Rollup`: for a finished run it equals the live document's streams, usage and
statuses. A run still marked active whose recording process is gone (a crash, a kill) is
reported ``interrupted``, and so are its running tickets and streams; the file is not
changed by reading.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model.domain import Tier
from ..model.records import Rollup, StreamRecord
from ..model.status import RunStatus, StreamStatus, TicketStatus
from ..model.usage import Usage
from .schema import CHUNK_TEXTS, history_path, open_database


class RunNotFound(LookupError):
    """No run of that id in this history."""


def owner_alive(owner: str, run_id: str, live: Collection[str] = ()) -> bool:
    """Whether the process recording a run (``host:pid``) may still be running it.

    This process owns only the runs in ``live``; a process on another host is taken to be
    alive (it cannot be asked).
    """
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return run_id in live
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class PastRun:
    """What reopening a run needs: its ``get_run`` document (with the stream texts), its
    streams as records (usage, cost, models, track: what the roll-ups are made of, in the
    order they were opened) and each attempt's prompt as sent, by (ticket id, number)."""

    run_id: str
    document: dict[str, Any]
    records: list[StreamRecord]
    prompts: dict[tuple[str, int], str]


class HistoryStore:
    """The history at ``path``; each call opens its own short-lived connection (migrating
    an older database; a newer one raises :class:`SchemaError`, untouched)."""

    def __init__(self, path: Path, *, live: Collection[str] = ()) -> None:
        self.path = path
        #: Runs this process is recording now (never reported interrupted).
        self.live = live

    @classmethod
    def of_workspace(cls, workspace: str | Path, *, live: Collection[str] = ()) -> HistoryStore:
        return cls(history_path(workspace), live=live)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = open_database(self.path, create=False)
        try:
            yield conn
        finally:
            conn.close()

    # -- runs ------------------------------------------------------------------------------
    def list_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest runs first: date, epic, status, tickets done/total, tokens, cost."""
        with self._conn() as conn:
            runs = conn.execute(
                "SELECT run_id, parent_run_id, epic, provider, status, error, started_at,"
                " ended_at, owner FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?",
                (limit,)).fetchall()
            answer = []
            for run_id, parent, epic, provider, status, error, started, ended, owner in runs:
                done, total = conn.execute(
                    "SELECT COUNT(*) FILTER (WHERE status = ?), COUNT(*) FROM tickets"
                    " WHERE run_id = ?", (str(TicketStatus.COMPLETED), run_id)).fetchone()
                totals = self._rollups(conn, run_id)["*"].to_dict()
                answer.append({
                    "run_id": run_id,
                    "parent_run_id": parent,
                    "date": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
                    "started_at": started,
                    "ended_at": ended,
                    "epic": epic,
                    "provider": provider,
                    "status": self._status(status, owner, run_id),
                    "error": error,
                    "tickets_done": done,
                    "tickets_total": total,
                    "tokens": totals["input"] + totals["output"],
                    "input": totals["input"],
                    "output": totals["output"],
                    "cost_usd": totals["cost_usd"],
                })
            return answer

    def _status(self, status: str, owner: str, run_id: str) -> str:
        if RunStatus(status).is_active and not owner_alive(owner, run_id, self.live):
            return str(RunStatus.INTERRUPTED)
        return status

    def latest_run_id(self) -> str:
        runs = self.list_runs(1)
        if not runs:
            raise RunNotFound(f"no runs in {self.path}")
        return str(runs[0]["run_id"])

    def get_run(self, run_id: str, *, streams: bool = True) -> dict[str, Any]:
        """The run as ``get_mma_status`` showed it (``streams=False``: stream lengths)."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT epic, workspace, provider, mode, tool_policy, status, active_tier,"
                " error, started_at, ended_at, owner, document, parent_run_id FROM runs"
                " WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(f"no run {run_id!r} in {self.path}")
            (epic, workspace, provider, mode, policy, status, tier, error, started, ended,
             owner, document, parent) = row
            doc: dict[str, Any] = json.loads(document) if document else {
                "status": status, "active_tier": tier, "error": error, "provider": provider,
                "epic": epic, "workspace": workspace, "track": None, "tracks": [],
                "tickets": [], "streams": [], "approvals": [], "tool_policy": policy,
                "elapsed_s": None if ended is None else round(ended - started, 3),
            }
            if mode is not None:
                doc.setdefault("mode", mode)
            doc["status"], doc["active_tier"], doc["error"] = status, tier, error
            tickets = [json.loads(d) for (d,) in conn.execute(
                "SELECT data FROM tickets WHERE run_id = ? ORDER BY position", (run_id,))]
            if tickets:
                doc["tickets"] = tickets
            texts = self._texts(conn, run_id) if streams else None
            lengths = ({sid: len(t) for sid, t in texts.items()} if texts is not None
                       else self._lengths(conn, run_id))
            self._streams(conn, run_id, doc, lengths, texts)
            rollups = self._rollups(conn, run_id)
            doc["tier_usage"] = {t.label: rollups[t.label].to_dict() for t in Tier}
            doc["totals"] = rollups["*"].to_dict()
            self._tracks(conn, run_id, doc)
            for track in doc["tracks"]:
                rollup = rollups.get(f"track:{track['id']}", Rollup.of([]))
                track["usage"] = rollup.to_dict()
                track["cost_usd"] = round(rollup.cost_usd, 6) if rollup.cost_known else None
        if self._status(status, owner, run_id) == RunStatus.INTERRUPTED:
            interrupt(doc)
        doc["run_id"], doc["parent_run_id"] = run_id, parent
        return doc

    @staticmethod
    def _tracks(conn: sqlite3.Connection, run_id: str, doc: dict[str, Any]) -> None:
        """The tracks from their own rows (written at every change: fresher than a
        document stored before a crash, and there when none was stored)."""
        entries = {t["id"]: t for t in doc.get("tracks", [])}
        rows = conn.execute(
            "SELECT track_id, title, description, status, error, tickets FROM tracks"
            " WHERE run_id = ? AND accepted = 1 ORDER BY position", (run_id,)).fetchall()
        for track_id, title, description, status, error, tickets in rows:
            entry = entries.setdefault(track_id, {"id": track_id})
            entry.update(title=title, description=description, status=status,
                         error=error, tickets=json.loads(tickets))
        doc["tracks"] = list(entries.values())

    @staticmethod
    def _texts(conn: sqlite3.Connection, run_id: str) -> dict[str, str]:
        parts: dict[str, list[str]] = {}
        for sid, text in conn.execute(CHUNK_TEXTS, (run_id,)):
            parts.setdefault(sid, []).append(text)
        return {sid: "".join(p) for sid, p in parts.items()}

    @staticmethod
    def _lengths(conn: sqlite3.Connection, run_id: str) -> dict[str, int]:
        """Each stream's length: where its last chunk ends (one row read per stream)."""
        return {sid: int(n) for sid, n in conn.execute(
            'SELECT k.stream_id, c."offset" + length(c.text) FROM stream_keys k JOIN chunks c'
            " ON c.stream_key = k.stream_key AND c.seq = (SELECT MAX(seq) FROM chunks"
            " WHERE stream_key = k.stream_key) WHERE k.run_id = ?", (run_id,))}

    @staticmethod
    def _streams(conn: sqlite3.Connection, run_id: str, doc: dict[str, Any],
                 lengths: dict[str, int], texts: dict[str, str] | None) -> None:
        """The stream rows (fresher than a document stored before a crash), their lengths
        and, unless ``texts`` is None, their texts."""
        entries = {s["stream_id"]: s for s in doc.get("streams", [])}
        for sid, tier, ticket, title, status, model, started, finished in conn.execute(
            "SELECT stream_id, tier, ticket_id, title, status, model, started_at, finished_at"
            " FROM streams WHERE run_id = ? ORDER BY rowid", (run_id,)):
            entry = entries.setdefault(sid, {
                "stream_id": sid, "tier": Tier(tier).label, "ticket_id": ticket,
                "title": title,
                "elapsed_s": None if started is None or finished is None
                else round(max(0.0, finished - started), 3),
            })
            entry["status"], entry["model"] = status, model
        for sid in lengths.keys() - entries.keys():  # text whose stream row was not written
            entries[sid] = {"stream_id": sid, "tier": sid.split(" (")[0].split(":")[0],
                            "ticket_id": None, "title": sid, "status": None, "model": "",
                            "elapsed_s": None}
        for sid, entry in entries.items():
            entry["length"] = lengths.get(sid, 0)
        doc["streams"] = list(entries.values())
        doc["mma_streams"] = {sid: lengths.get(sid, 0) if texts is None else texts.get(sid, "")
                              for sid in entries}

    @staticmethod
    def _records(conn: sqlite3.Connection, run_id: str) -> list[StreamRecord]:
        """The run's streams as the session kept them (usage, cost, models, status)."""
        records = []
        for (sid, tier, track, ticket, title, status, model, models, inp, out, read, write,
             reasoning, estimated, cost, known, calls, started, finished) in conn.execute(
            "SELECT stream_id, tier, track_id, ticket_id, title, status, model, models,"
            " input, output, cache_read, cache_write, reasoning, estimated, cost_usd,"
            " cost_known, calls, started_at, finished_at FROM streams WHERE run_id = ?"
            " ORDER BY rowid", (run_id,)):
            record = StreamRecord(sid, Tier(tier), title or sid, ticket, track)
            record.models_used = json.loads(models)
            record.model, record.calls = model or "", calls or 0
            record.usage = Usage(inp, out, read, write, reasoning, bool(estimated))
            record.cost_usd, record.cost_known = cost, bool(known)
            record.started_at, record.finished_at = started, finished
            if status:
                record.status = _row_status(record.tier, status)
            records.append(record)
        return records

    @classmethod
    def _rollups(cls, conn: sqlite3.Connection, run_id: str) -> dict[str, Rollup]:
        """Roll-ups by tier label, ``track:ID`` and ``*``, as the session computes them."""
        records = cls._records(conn, run_id)
        rollups = {t.label: Rollup.of(r for r in records if r.tier is t) for t in Tier}
        for track in {r.track_id for r in records if r.track_id is not None}:
            rollups[f"track:{track}"] = Rollup.of(r for r in records if r.track_id == track)
        rollups["*"] = Rollup.of(records)
        return rollups

    def load(self, run_id: str) -> PastRun:
        """Everything needed to show a past run again, or to go on from it."""
        document = self.get_run(run_id, streams=True)
        with self._conn() as conn:
            records = self._records(conn, run_id)
            prompts = {(ticket, int(n)): prompt for ticket, n, prompt in conn.execute(
                "SELECT ticket_id, attempt, prompt FROM attempts WHERE run_id = ?", (run_id,))}
        if document["status"] == RunStatus.INTERRUPTED:
            unfinished = {str(StreamStatus.RUNNING), str(TicketStatus.IN_PROGRESS)}
            for record in records:
                if str(record.status) in unfinished:
                    record.status = TicketStatus.INTERRUPTED
        return PastRun(run_id, document, records, prompts)

    def attempts(self, run_id: str, ticket_id: str) -> list[dict[str, Any]]:
        """A ticket's attempts, in order, each with the prompt as it was sent (what a
        re-run from history starts from)."""
        with self._conn() as conn:
            return [{**json.loads(data), "prompt": prompt} for prompt, data in conn.execute(
                "SELECT prompt, data FROM attempts WHERE run_id = ? AND ticket_id = ?"
                " ORDER BY attempt", (run_id, ticket_id))]

    def ticket_statuses(self, run_id: str, ticket_id: str) -> list[dict[str, Any]]:
        """Every status change of a ticket: ``at``, ``status``, ``reason``, ``error``."""
        with self._conn() as conn:
            return [{"at": at, "status": status, "reason": reason, "error": error}
                    for at, status, reason, error in conn.execute(
                        "SELECT at, status, reason, error FROM ticket_statuses"
                        " WHERE run_id = ? AND ticket_id = ? ORDER BY id", (run_id, ticket_id))]

    def chunks(self, run_id: str, stream_id: str) -> list[tuple[int, int, str]]:
        """A stream's chunks as stored: (seq, offset, text), in order."""
        with self._conn() as conn:
            return [(s, o, t) for s, o, t in conn.execute(
                'SELECT c.seq, c."offset", c.text FROM chunks c JOIN stream_keys k'
                " USING (stream_key) WHERE k.run_id = ? AND k.stream_id = ? ORDER BY c.seq",
                (run_id, stream_id))]

    def stream_text(self, run_id: str, stream_id: str) -> str:
        return "".join(t for _s, _o, t in self.chunks(run_id, stream_id))

    # -- search ------------------------------------------------------------------------------
    def search_streams(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Streams whose text holds ``query`` (a phrase, case-insensitive), newest run
        first: ``run_id``, ``stream_id``, ``epic``, ``started_at``, ``snippet``. Indexed
        runs (ended ones, with FTS5) are searched with the index, the rest by a scan."""
        query = query.strip()
        if not query:
            return []
        with self._conn() as conn:
            indexed = _has_fts(conn)
            hits: list[dict[str, Any]] = []
            if indexed:
                hits += self._search_index(conn, query, limit)
            hits += self._scan(conn, query, limit, skip_indexed=indexed)
        hits.sort(key=lambda h: (-h["started_at"], h["run_id"], h["stream_id"]))
        return hits[:limit]

    @staticmethod
    def _search_index(conn: sqlite3.Connection, query: str, limit: int) -> list[dict[str, Any]]:
        phrase = '"' + query.replace('"', '""') + '"'
        rows = conn.execute(
            "SELECT f.run_id, f.stream_id, r.epic, r.started_at,"
            " snippet(stream_fts, 2, '[', ']', '…', 12) FROM stream_fts f"
            " JOIN runs r ON r.run_id = f.run_id WHERE stream_fts MATCH ?"
            " ORDER BY r.started_at DESC LIMIT ?", (phrase, limit)).fetchall()
        return [{"run_id": r, "stream_id": s, "epic": e, "started_at": t, "snippet": snip}
                for r, s, e, t, snip in rows]

    def _scan(self, conn: sqlite3.Connection, query: str, limit: int, *,
              skip_indexed: bool) -> list[dict[str, Any]]:
        where = (" WHERE run_id NOT IN (SELECT run_id FROM stream_index_state)"
                 if skip_indexed else "")
        runs = conn.execute(f"SELECT run_id, epic, started_at FROM runs{where}"
                            " ORDER BY started_at DESC").fetchall()
        needle = query.casefold()
        hits: list[dict[str, Any]] = []
        for run_id, epic, started in runs:
            for sid, text in self._texts(conn, run_id).items():
                at = text.casefold().find(needle)
                if at >= 0:
                    hits.append({"run_id": run_id, "stream_id": sid, "epic": epic,
                                 "started_at": started,
                                 "snippet": _snippet(text, at, len(query))})
                    if len(hits) >= limit:
                        return hits
        return hits


def _has_fts(conn: sqlite3.Connection) -> bool:
    return conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'stream_fts'").fetchone() is not None


def _snippet(text: str, at: int, length: int, around: int = 60) -> str:
    start, end = max(0, at - around), min(len(text), at + length + around)
    return ("…" if start else "") + text[start:at] + "[" + text[at:at + length] + "]" + \
        text[at + length:end] + ("…" if end < len(text) else "")


def _row_status(tier: Tier, status: str) -> StreamStatus | TicketStatus:
    """A stream row's status as stored: its ticket's (Tier 3) or the stream's own."""
    if tier is Tier.WORKER or status not in {str(s) for s in StreamStatus}:
        return TicketStatus(status)
    return StreamStatus(status)


def interrupt(doc: dict[str, Any]) -> None:
    """Mark a run document whose process died mid-run: the run, its running tickets (and
    their running attempts) and its unfinished streams are ``interrupted``."""
    interrupted = str(RunStatus.INTERRUPTED)
    doc["status"], doc["active_tier"] = interrupted, None
    running = str(TicketStatus.IN_PROGRESS)
    for ticket in doc.get("tickets", []):
        if ticket.get("status") == running:
            ticket["status"] = interrupted
        for attempt in ticket.get("attempts", []):
            if attempt.get("status") == running:
                attempt["status"] = interrupted
    unfinished = {str(StreamStatus.RUNNING), running}
    for stream in doc.get("streams", []):
        if stream.get("status") in unfinished:
            stream["status"] = interrupted
