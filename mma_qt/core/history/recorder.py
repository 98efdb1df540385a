"""Recording a live run into its workspace's history: the one module of the history room
that meets the session (QtCore, GUI thread).

The recorder listens to the session's event bus. A run starts being recorded at its first
active status after :meth:`MmaSession.reset` (so a reset alone records nothing), into
``<workspace>/.mma/history.sqlite3``. Each event becomes rows, read from the event and
from the session's own objects (a ticket as ``get_mma_status`` shows it, a stream's usage
and models). The ``text`` events (one per hub drain) of a hand-over become one chunk per
stream (its deltas joined), numbered per stream, with its offset in the stream. Rows
gather for :data:`FLUSH_MS` and go to the :class:`HistoryWriter` as one batch: no SQL, no
JSON encoding and no file access on the GUI thread. The run's status document
(``get_mma_status`` without the stream texts) is stored at most once a second while it
changes, at once when the run ends, and then kept as it ended.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ..live.session import MmaSession
from ..model.domain import Ticket, Track
from ..model.records import StreamRecord
from ..model.status import RunStatus
from . import rows
from .schema import history_path, index_run
from .writer import HistoryWriter, Json, Write

log = logging.getLogger(__name__)

#: Rows wait at most this long on the GUI thread before they are handed over.
FLUSH_MS = 200
#: The status document is stored at most this often while the run changes.
DOCUMENT_EVERY_S = 1.0

Document = Callable[[], dict[str, Any]]
WriterFactory = Callable[[Path, Callable[[str], None]], HistoryWriter]

def new_run_id(now: float | None = None) -> str:
    """``20261201-160212-3fa9c1``: sorts by start time, unique per workspace."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{secrets.token_hex(3)}"


def owner_id() -> str:
    """``host:pid`` of this process: a run whose owner is gone was interrupted."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _writer(path: Path, on_failure: Callable[[str], None]) -> HistoryWriter:
    return HistoryWriter(path, on_failure)


class HistoryRecorder(QObject):
    """Records each run of ``session`` into its workspace's history."""

    #: History is off for the current run: why (GUI thread; logged as a warning).
    failed = Signal(str)
    #: A run started being recorded: its id.
    recording = Signal(str)
    _failure = Signal(str)

    def __init__(
        self,
        session: MmaSession,
        document: Document,
        parent: QObject | None = None,
        *,
        flush_ms: int = FLUSH_MS,
        writer: WriterFactory = _writer,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._document = document
        self._make_writer = writer
        self.writer: HistoryWriter | None = None
        self._retired: list[HistoryWriter] = []
        self.run_id: str | None = None
        #: Why history is off for the current run (None: it is on, or no run yet).
        self.failure: str | None = None
        #: The next run re-runs or resumes this one (set by whoever starts it).
        self.parent_run_id: str | None = None
        #: The run being recorded re-runs or resumes this one.
        self.run_parent_id: str | None = None
        self._armed = False
        #: Whether the next runs are recorded (a benchmark compares with and without).
        self.enabled = True
        #: The last run whose streams were handed over for indexing.
        self._indexed: str | None = None
        self._seq: dict[str, int] = {}
        #: Text gathered per stream since the last hand-over: offset, time, parts.
        self._texts: dict[str, tuple[int, float, list[str]]] = {}
        self._writes: list[Write] = []
        self._upserts: dict[tuple[str, ...], tuple[str, tuple[Any, ...]]] = {}
        self._doc_dirty = False
        self._doc_at = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(flush_ms)
        self._timer.timeout.connect(self.flush)
        self._failure.connect(self._on_failure)
        session.streamsReset.connect(self._on_reset)
        session.bus.published.connect(self._on_event)

    @property
    def path(self) -> Path | None:
        return None if self.writer is None else self.writer.path

    # -- runs ----------------------------------------------------------------------------
    @Slot()
    def _on_reset(self) -> None:
        """A new run's state: the previous run's rows go now; recording starts with its
        first active status."""
        self._doc_dirty = False  # the session holds the new run now: its document is gone
        self.flush()
        self.run_id = None
        self._armed = self.enabled

    def _begin(self, status: str) -> None:
        session = self.session
        self._armed = False
        path = history_path(session.workspace)
        if self.writer is None or self.writer.path != path:
            if self.writer is not None:
                self._retire(self.writer)
            self.failure = None
            self.writer = self._make_writer(path, self._failure.emit)
        elif self.writer.failure is not None:
            # The same file failed before: try again, it may have been fixed.
            self._retire(self.writer)
            self.failure = None
            self.writer = self._make_writer(path, self._failure.emit)
        self.run_id = run_id = new_run_id(session.started_at)
        self._seq = {}
        self._writes.append(Write(rows.RUN_INSERT, [(
            run_id, self.parent_run_id, session.epic, session.workspace,
            session.provider_label, None, None, status, None, session.error,
            session.started_at or time.time(), owner_id(),
        )]))
        self.run_parent_id, self.parent_run_id = self.parent_run_id, None
        self.recording.emit(run_id)

    def _retire(self, writer: HistoryWriter) -> None:
        """Stop a writer without waiting for it here (joined in :meth:`close`)."""
        writer.stop()
        self._retired.append(writer)

    # -- events --------------------------------------------------------------------------
    @Slot(object)
    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if self.run_id is None:
            if not (self._armed and kind == "status" and RunStatus(event["status"]).is_active):
                return
            self._begin(event["status"])
        run_id = self.run_id
        assert run_id is not None
        if kind == "text":
            texts = self._texts
            for part in event["streams"]:
                pending = texts.get(part["stream_id"])
                if pending is None:
                    delta = part["delta"]
                    texts[part["stream_id"]] = (part["length"] - len(delta), event["time"],
                                                [delta])
                else:
                    pending[2].append(part["delta"])
        else:
            handler = self._HANDLERS.get(kind)
            if handler is not None:
                handler(self, run_id, event)
            self._writes.append(Write(rows.EVENT_INSERT, [
                (run_id, event["seq"], event["time"], kind, Json(rows.event_data(event)))],
                encode=True))
            # An ended run's document stays as it ended (a later tool policy is the next
            # run's); it changes again only if the run goes on.
            self._doc_dirty = not self.session.status.is_final
        if not self._timer.isActive():
            self._timer.start()

    def _status(self, run_id: str, event: dict[str, Any]) -> None:
        status = RunStatus(event["status"])
        ended = self.session.finished_at if status.is_final else None
        self._writes.append(Write(
            "UPDATE runs SET status = ?, active_tier = ?, error = ?, ended_at = ?"
            " WHERE run_id = ?",
            [(str(status), event["active_tier"], event["error"], ended, run_id)]))
        self._writes.append(Write(
            "INSERT INTO run_statuses (run_id, at, status, active_tier, error)"
            " VALUES (?,?,?,?,?)",
            [(run_id, event["time"], str(status), event["active_tier"], event["error"])]))
        if status.is_final:
            self._sync_all(run_id)
            self._store_document(run_id)

    def _stream(self, run_id: str, event: dict[str, Any]) -> None:
        record = self.session.records.get(event["stream_id"])
        if record is not None:
            self._upsert_stream(run_id, record)

    def _usage(self, run_id: str, event: dict[str, Any]) -> None:
        self._writes.append(Write(rows.USAGE_INSERT, [rows.usage_row(run_id, event)]))
        record = self.session.records.get(event["stream_id"])
        if record is not None:
            self._upsert_stream(run_id, record)
            ticket = self.session.tickets.get(record.ticket_id or "")
            if ticket is not None:
                self._upsert_ticket(run_id, ticket)

    def _ticket(self, run_id: str, event: dict[str, Any]) -> None:
        self._writes.append(Write(
            "INSERT INTO ticket_statuses (run_id, ticket_id, at, status, reason, error)"
            " VALUES (?,?,?,?,?,?)",
            [(run_id, event["ticket_id"], event["time"], event["status"],
              event.get("blocked_reason") or "", event.get("error") or "")]))
        self._ticket_by_id(run_id, event["ticket_id"])

    def _ticket_by_id(self, run_id: str, ticket_id: str) -> None:
        ticket = self.session.tickets.get(ticket_id)
        if ticket is not None:
            self._upsert_ticket(run_id, ticket)

    def _tracks(self, run_id: str, event: dict[str, Any]) -> None:
        for position, track in enumerate(self.session.tracks):
            self._upsert_track(run_id, track, position)

    def _plan(self, run_id: str, event: dict[str, Any]) -> None:
        self._tracks(run_id, event)
        for ticket_id in event["tickets"]:
            self._ticket_by_id(run_id, ticket_id)

    def _proposal(self, run_id: str, event: dict[str, Any]) -> None:
        self._writes.append(Write(
            "INSERT INTO proposals (run_id, at, state, tracks) VALUES (?,?,?,?)",
            [(run_id, event["time"], event.get("state", ""), Json(event.get("tracks", [])))],
            encode=True))

    def _attempt(self, run_id: str, event: dict[str, Any]) -> None:
        ticket = self.session.tickets.get(event["ticket_id"])
        if ticket is None:
            return
        self._upsert_ticket(run_id, ticket)
        for attempt in ticket.attempts:
            self._upsert(("attempt", ticket.id, str(attempt.number)), rows.ATTEMPT_UPSERT,
                         rows.attempt_row(run_id, ticket.id, attempt))

    def _approval(self, run_id: str, event: dict[str, Any]) -> None:
        self._writes.append(Write(rows.APPROVAL_UPSERT, [rows.approval_row(run_id, event)],
                                  encode=True))

    def _tool(self, run_id: str, event: dict[str, Any]) -> None:
        ticket = self.session.tickets.get(event["ticket_id"])
        if ticket is None:
            return
        self._upsert_ticket(run_id, ticket)
        for call in ticket.tool_calls:
            if call.index == event["index"]:
                self._upsert(("tool", ticket.id, str(call.index)), rows.TOOL_UPSERT,
                             rows.tool_row(run_id, ticket.id, call))

    def _setting(self, run_id: str, event: dict[str, Any]) -> None:
        column = "mode" if event["type"] == "mode" else "tool_policy"
        value = event.get("mode") if column == "mode" else event.get("policy")
        self._writes.append(Write(f"UPDATE runs SET {column} = ? WHERE run_id = ?",
                                  [(value, run_id)]))

    _HANDLERS: dict[str, Callable[[HistoryRecorder, str, dict[str, Any]], None]] = {
        "status": _status, "stream": _stream, "usage": _usage, "ticket": _ticket,
        "tracks": _tracks, "plan": _plan, "proposal": _proposal, "track": _tracks,
        "attempt": _attempt, "approval": _approval, "tool": _tool, "mode": _setting,
        "tool_policy": _setting,
    }

    # -- rows from the session's objects ------------------------------------------------
    def _upsert(self, key: tuple[str, ...], sql: str, row: tuple[Any, ...]) -> None:
        self._upserts.pop(key, None)  # re-inserted last: rows keep the order of changes
        self._upserts[key] = (sql, row)

    def _upsert_stream(self, run_id: str, record: StreamRecord) -> None:
        self._upsert(("stream", record.stream_id), rows.STREAM_UPSERT,
                     rows.stream_row(run_id, record))

    def _upsert_ticket(self, run_id: str, ticket: Ticket) -> None:
        track_id = next((t.id for t in self.session.tracks
                         if any(x is ticket for x in t.tickets)), None)
        position = list(self.session.tickets).index(ticket.id)
        self._upsert(("ticket", ticket.id), rows.TICKET_UPSERT,
                     rows.ticket_row(run_id, ticket, track_id, position))

    def _upsert_track(self, run_id: str, track: Track, position: int) -> None:
        self._upsert(("track", track.id), rows.TRACK_UPSERT,
                     rows.track_row(run_id, track, position))

    def _sync_all(self, run_id: str) -> None:
        """Every ticket, stream and track as the session has them (the run ended)."""
        session = self.session
        for position, track in enumerate(session.tracks):
            self._upsert_track(run_id, track, position)
        for ticket in session.tickets.values():
            if ticket.attempts:
                self._attempt(run_id, {"ticket_id": ticket.id})
            else:
                self._upsert_ticket(run_id, ticket)
        for record in session.records.values():
            self._upsert_stream(run_id, record)

    def _store_document(self, run_id: str) -> None:
        document = self._document()  # drains the hub: its text event lands in _texts
        self._doc_dirty = False
        self._doc_at = time.monotonic()
        self._writes.append(Write("UPDATE runs SET document = ? WHERE run_id = ?",
                                  [(Json(document), run_id)], encode=True))

    # -- handing over --------------------------------------------------------------------
    @Slot()
    def flush(self, *, document: bool = False) -> None:
        """Hand everything gathered to the writer as one batch (GUI thread, no I/O);
        ``document``: with the run's document, if it changed, even before its time."""
        run_id = self.run_id
        if run_id is not None and self._doc_dirty:
            wait = self._doc_at + DOCUMENT_EVERY_S - time.monotonic()
            if wait <= 0 or document:
                self._store_document(run_id)
            elif not self._timer.isActive():
                self._timer.start(max(1, int(wait * 1000)))
        batch = list(self._writes)
        if self._texts and run_id is not None:
            chunks = self._chunk_rows(run_id)
            new = [(run_id, sid) for _r, sid, seq, *_rest in chunks if seq == 0]
            if new:
                batch.append(Write(rows.STREAM_KEY_INSERT, new))
            batch.append(Write(rows.CHUNK_INSERT, chunks))
        for sql, row in self._upserts.values():
            batch.append(Write(sql, [row], encode=True))
        self._writes, self._texts, self._upserts = [], {}, {}
        if batch and self.writer is not None:
            self.writer.submit(batch)
            if run_id is not None and run_id != self._indexed and self.session.status.is_final:
                self._indexed = run_id
                self.writer.run_task(_Indexer(run_id))

    def _chunk_rows(self, run_id: str) -> list[tuple[Any, ...]]:
        """One chunk per stream per hand-over (the drains' deltas joined), numbered per
        stream: a chunk row per drain cost ~100 bytes per token at 100 tokens/s."""
        chunks = []
        for sid, (offset, at, parts) in self._texts.items():
            seq = self._seq.get(sid, 0)
            self._seq[sid] = seq + 1
            chunks.append((run_id, sid, seq, offset, at, "".join(parts)))
        return chunks

    @Slot(str)
    def _on_failure(self, reason: str) -> None:
        log.warning("history is off: %s", reason)  # here, not in the writer's thread
        self.failure = reason
        self.failed.emit(reason)

    def close(self, timeout: float = 5.0) -> None:
        """Hand over what is left and stop the writers (waits at most ``timeout`` s each)."""
        self.flush(document=True)
        self._timer.stop()
        self.run_id = None
        self._armed = False
        writers = [*self._retired, *([self.writer] if self.writer is not None else [])]
        self._retired = []
        for writer in writers:
            writer.close(timeout)


class _Indexer:
    """A writer task: (re)index one ended run's streams for search."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def __call__(self, conn: Any) -> None:
        index_run(conn, self.run_id)
