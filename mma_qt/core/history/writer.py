"""The history's one writer: a thread that owns the database connection.

The GUI thread hands it batches of :class:`Write` s (:meth:`HistoryWriter.submit`, a
thread-safe queue: no SQL on the GUI thread, never one transaction per token). The thread
commits what it was handed in one transaction at most :attr:`HistoryWriter.flush_s` after
the first of it arrived (a group commit under load; a lone batch when idle), so what the
window has shown is on disk within a second.

When the database cannot be opened or written (a read-only file or folder, a full disk, a
database from a newer mma-qt), the writer says so once: through ``on_failure`` (called in
the writer thread), else as a warning in the log; and in :attr:`HistoryWriter.failure`.
From then on it drops what it is handed: the run goes on without history, and nothing
raises into the caller. Pure stdlib.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .schema import SchemaError, open_database

log = logging.getLogger(__name__)

#: Commit at most this long after the first uncommitted batch arrived.
FLUSH_S = 0.25
#: ... or as soon as this many rows wait.
FLUSH_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class Json:
    """A value stored as JSON text, encoded in the writer thread (not the caller's)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Write:
    """One statement and its rows (``executemany``); ``encode``: some values are
    :class:`Json`."""

    sql: str
    rows: Sequence[Sequence[Any]]
    encode: bool = False

    def params(self) -> Sequence[Sequence[Any]]:
        if not self.encode:
            return self.rows
        return [tuple(_encoded(v) for v in row) for row in self.rows]


def _encoded(value: Any) -> Any:
    if isinstance(value, Json):
        return json.dumps(value.value, ensure_ascii=False, separators=(",", ":"))
    return value


Batch = list[Write]
#: Runs in the writer thread, inside the transaction of the batch it was handed with.
Task = Callable[[sqlite3.Connection], None]


class _Stop:
    pass


@dataclass(slots=True)
class _Flush:
    done: threading.Event


_Item = Batch | Task | _Stop | _Flush


class HistoryWriter:
    """Writes batches to one history database from its own thread (``mma-history``)."""

    def __init__(
        self,
        path: Path,
        on_failure: Callable[[str], None] | None = None,
        *,
        flush_s: float = FLUSH_S,
        connect: Callable[[Path], sqlite3.Connection] = open_database,
    ) -> None:
        self.path = path
        self.flush_s = flush_s
        self._on_failure = on_failure
        self._connect = connect
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        #: Why history is off (None while it works).
        self.failure: str | None = None
        #: Rows committed, and batches dropped after a failure.
        self.rows_written = 0
        self.dropped = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mma-history", daemon=True)
        self._thread.start()

    # -- any thread ------------------------------------------------------------------------
    def submit(self, batch: Batch) -> None:
        """Hand a batch over (cheap: a queue put). Dropped once history is off."""
        if self.failure is not None:
            self.dropped += 1
        elif batch and not self._closed:
            self._queue.put(batch)

    def run_task(self, task: Task) -> None:
        """Run ``task(conn)`` in the writer thread, in the next commit (e.g. indexing)."""
        if not self._closed:
            self._queue.put(task)

    def flush(self, timeout: float = 5.0) -> bool:
        """Commit everything handed over so far; False if that took over ``timeout``."""
        if self._closed or not self._thread.is_alive():
            return True
        done = threading.Event()
        self._queue.put(_Flush(done))
        return done.wait(timeout)

    def stop(self) -> None:
        """Commit what is pending and end the thread, without waiting for it."""
        if not self._closed:
            self._closed = True
            self._queue.put(_Stop())

    def close(self, timeout: float = 5.0) -> bool:
        """Commit what is pending and end the thread (waits at most ``timeout`` s)."""
        self.stop()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the history writer did not stop within %.1f s", timeout)
            return False
        return True

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the writer thread -------------------------------------------------------------------
    def _run(self) -> None:
        conn = self._open()
        pending: list[Batch | Task] = []
        rows = 0
        first_at = 0.0
        flushes: list[_Flush] = []
        while True:
            timeout = None if not pending else max(0.0, first_at + self.flush_s - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            stop = isinstance(item, _Stop)
            if isinstance(item, _Flush):
                flushes.append(item)
            elif isinstance(item, list) or callable(item):
                if not pending:
                    first_at = time.monotonic()
                pending.append(item)
                rows += sum(len(w.rows) for w in item) if isinstance(item, list) else 1
            due = item is None or stop or flushes or rows >= FLUSH_ROWS
            if due and pending:
                conn = self._commit(conn, pending, rows)
                pending, rows = [], 0
            for flush in flushes:
                flush.done.set()
            flushes.clear()
            if stop:
                break
        if conn is not None:
            conn.close()

    def _open(self) -> sqlite3.Connection | None:
        try:
            return self._connect(self.path)
        except SchemaError as exc:
            self._fail(str(exc))
        except (sqlite3.Error, OSError) as exc:
            self._fail(f"cannot open {self.path}: {_reason(exc)}")
        return None

    def _commit(self, conn: sqlite3.Connection | None, pending: list[Batch | Task],
                rows: int) -> sqlite3.Connection | None:
        if conn is None:
            self.dropped += len(pending)
            return None
        try:
            conn.execute("BEGIN IMMEDIATE")
            for item in pending:
                if isinstance(item, list):
                    for write in item:
                        conn.executemany(write.sql, write.params())
                else:
                    item(conn)
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            self._abandon(conn, pending)
            self._fail(f"cannot write {self.path}: {_reason(exc)}")
            return None
        except Exception as exc:  # a bug: logged with its traceback, history goes off
            log.exception("internal error in the history writer")
            self._abandon(conn, pending)
            self._fail(f"internal error: {type(exc).__name__}: {exc}")
            return None
        self.rows_written += rows
        return conn

    def _abandon(self, conn: sqlite3.Connection, pending: list[Batch | Task]) -> None:
        """Roll back the failed transaction and close: nothing more is written."""
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.warning("rollback after a failed history write failed too: %s", exc)
        conn.close()
        self.dropped += len(pending)

    def _fail(self, reason: str) -> None:
        """Say once why history is off."""
        if self.failure is not None:
            return
        self.failure = reason
        if self._on_failure is None:
            log.warning("history is off: %s", reason)
            return
        try:
            self._on_failure(reason)  # the owner says it (the recorder: on the GUI thread)
        except RuntimeError as exc:  # its receiver is gone (the app is closing)
            log.warning("history is off: %s (%s)", reason, exc)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
