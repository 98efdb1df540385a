"""The history database's schema: its tables, its version and its ordered migrations.

One file per workspace, ``<workspace>/.mma/history.sqlite3``, opened by
:func:`open_database`: WAL journal (readers never wait for the writer, and a process killed
mid-write leaves the last committed transaction intact), ``synchronous=NORMAL`` (a commit
is not fsynced; an operating-system crash may lose the last commits, a killed process
never does) and foreign keys on. ``PRAGMA user_version`` is the schema version.

:data:`MIGRATIONS` ``[n]`` takes a database from version ``n`` to ``n + 1`` (version 0 is
an empty file), each in its own transaction. A database of a newer version than
:data:`SCHEMA_VERSION` is refused (:class:`SchemaError`) before anything is written to it.
Pure stdlib, no Qt.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

#: The version this mma-qt writes and reads.
SCHEMA_VERSION = 2
#: The history file inside a workspace.
HISTORY_FILE = Path(".mma") / "history.sqlite3"


class SchemaError(RuntimeError):
    """The database cannot be used by this mma-qt (one line, says why)."""


def history_path(workspace: str | Path) -> Path:
    return Path(workspace) / HISTORY_FILE


_V1 = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    -- the run this one re-runs or resumes
    parent_run_id TEXT REFERENCES runs(run_id) ON DELETE SET NULL,
    epic TEXT NOT NULL,
    workspace TEXT NOT NULL,
    provider TEXT NOT NULL,
    mode TEXT,
    tool_policy TEXT,
    status TEXT NOT NULL,
    active_tier TEXT,
    error TEXT NOT NULL DEFAULT '',
    started_at REAL NOT NULL,
    ended_at REAL,
    -- host:pid of the process that records it (a dead owner: the run was interrupted)
    owner TEXT NOT NULL,
    -- the latest status document of the run, without the stream texts (JSON)
    document TEXT
);
CREATE TABLE run_statuses (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    at REAL NOT NULL,
    status TEXT NOT NULL,
    active_tier TEXT,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX run_statuses_run ON run_statuses(run_id);
CREATE TABLE tracks (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    track_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT,
    error TEXT NOT NULL DEFAULT '',
    -- accepted: the run went on with it (Tier 1's tracks, or an accepted proposal)
    accepted INTEGER NOT NULL DEFAULT 1,
    tickets TEXT NOT NULL DEFAULT '[]',
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, track_id)
);
CREATE TABLE proposals (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    at REAL NOT NULL,
    state TEXT NOT NULL,
    tracks TEXT NOT NULL
);
CREATE TABLE tickets (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    ticket_id TEXT NOT NULL,
    track_id TEXT,
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    retry_count INTEGER NOT NULL DEFAULT 0,
    depends_on TEXT NOT NULL DEFAULT '[]',
    error TEXT NOT NULL DEFAULT '',
    started_at REAL,
    finished_at REAL,
    -- the ticket as get_mma_status shows it (JSON)
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, ticket_id)
);
CREATE TABLE ticket_statuses (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    ticket_id TEXT NOT NULL,
    at REAL NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_statuses_ticket ON ticket_statuses(run_id, ticket_id);
CREATE TABLE attempts (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    ticket_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    -- the user prompt as it was sent
    prompt TEXT NOT NULL DEFAULT '',
    edited INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    usage TEXT NOT NULL DEFAULT '{}',
    cost_usd REAL,
    error TEXT NOT NULL DEFAULT '',
    qa_hint TEXT NOT NULL DEFAULT '',
    started_at REAL,
    finished_at REAL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, ticket_id, attempt)
);
CREATE TABLE streams (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    stream_id TEXT NOT NULL,
    tier INTEGER NOT NULL,
    ticket_id TEXT,
    track_id TEXT,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    -- {model: first use} in order of first use
    models TEXT NOT NULL DEFAULT '{}',
    input INTEGER NOT NULL DEFAULT 0,
    output INTEGER NOT NULL DEFAULT 0,
    cache_read INTEGER NOT NULL DEFAULT 0,
    cache_write INTEGER NOT NULL DEFAULT 0,
    reasoning INTEGER NOT NULL DEFAULT 0,
    estimated INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    cost_known INTEGER NOT NULL DEFAULT 1,
    calls INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    PRIMARY KEY (run_id, stream_id)
);
-- One key per run and stream: chunk rows carry two integers, not two strings.
CREATE TABLE stream_keys (
    stream_key INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    stream_id TEXT NOT NULL,
    UNIQUE (run_id, stream_id)
);
-- Append-only: a stream's text as it was handed over, numbered per stream from 0.
CREATE TABLE chunks (
    stream_key INTEGER NOT NULL REFERENCES stream_keys(stream_key) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    at REAL NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (stream_key, seq)
);
CREATE TABLE usage_records (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    stream_id TEXT NOT NULL,
    tier TEXT NOT NULL,
    model TEXT NOT NULL,
    at REAL NOT NULL,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    cache_write INTEGER NOT NULL,
    reasoning INTEGER NOT NULL,
    estimated INTEGER NOT NULL,
    cost_usd REAL
);
CREATE INDEX usage_records_run ON usage_records(run_id, stream_id);
CREATE TABLE approvals (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    ticket_id TEXT,
    requested_at REAL,
    -- requested, approved, rejected
    state TEXT NOT NULL,
    decided_at REAL,
    decided_by TEXT,
    edited INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE TABLE tool_calls (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    ticket_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    decision TEXT NOT NULL,
    ok INTEGER,
    result TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, ticket_id, idx)
);
-- Every other event of the bus, as published (a journal: merges, modes, policies...).
CREATE TABLE events (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX events_run ON events(run_id, seq);
"""


def _create_v1(conn: sqlite3.Connection) -> None:
    """0 → 1: the tables."""
    for statement in _V1.split(";"):
        if statement.strip():
            conn.execute(statement)


def fts5_available(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite was built with FTS5 (most are; a plain scan serves otherwise)."""
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    conn.execute("DROP TABLE temp.fts5_probe")
    return True


def _add_stream_index(conn: sqlite3.Connection) -> None:
    """1 → 2: a full-text index of whole stream texts (one row per run and stream, filled
    as each run ends; a run not indexed yet is scanned). Without FTS5: nothing to add."""
    conn.execute("CREATE TABLE stream_index_state (run_id TEXT PRIMARY KEY "
                 "REFERENCES runs(run_id) ON DELETE CASCADE, indexed_at REAL NOT NULL)")
    if not fts5_available(conn):
        return
    conn.execute("CREATE VIRTUAL TABLE stream_fts USING fts5("
                 "run_id UNINDEXED, stream_id UNINDEXED, text, tokenize='unicode61')")
    runs = [r[0] for r in conn.execute("SELECT run_id FROM runs WHERE ended_at IS NOT NULL")]
    for run_id in runs:
        index_run(conn, run_id)


#: (stream id, text) of a run's chunks, in order.
CHUNK_TEXTS = ("SELECT k.stream_id, c.text FROM chunks c JOIN stream_keys k USING (stream_key)"
               " WHERE k.run_id = ? ORDER BY c.stream_key, c.seq")


def index_run(conn: sqlite3.Connection, run_id: str) -> None:
    """(Re)build the full-text rows of one run's streams from its chunks."""
    if not _has_table(conn, "stream_fts"):
        return
    conn.execute("DELETE FROM stream_fts WHERE run_id = ?", (run_id,))
    texts: dict[str, list[str]] = {}
    for stream, text in conn.execute(CHUNK_TEXTS, (run_id,)):
        texts.setdefault(stream, []).append(text)
    conn.executemany("INSERT INTO stream_fts (run_id, stream_id, text) VALUES (?, ?, ?)",
                     [(run_id, sid, "".join(parts)) for sid, parts in texts.items()])
    conn.execute("INSERT OR REPLACE INTO stream_index_state VALUES (?, ?)", (run_id, time.time()))


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    return row is not None


Migration = Callable[[sqlite3.Connection], None]
#: ``MIGRATIONS[n]`` takes version ``n`` to ``n + 1``.
MIGRATIONS: tuple[Migration, ...] = (_create_v1, _add_stream_index)
assert len(MIGRATIONS) == SCHEMA_VERSION


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_version(path: Path) -> int:
    """The version of the database at ``path``, read without writing anything to it.

    Raises :class:`SchemaError` for a newer version, sqlite3.Error for a file that is not
    a database.
    """
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        version = schema_version(conn)
    finally:
        conn.close()
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"{path} was written by a newer mma-qt (history schema {version}; this one "
            f"reads up to {SCHEMA_VERSION}); left untouched"
        )
    return version


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the migrations from the database's version up to ``target``, each in its own
    transaction (``conn`` in autocommit mode). Returns the version it started from."""
    start = version = schema_version(conn)
    while version < target:
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](conn)
            version += 1
            conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return start


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (explicit transactions) with the store's pragmas."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True, timeout=5.0)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def open_database(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (creating the folder and file when ``create``) and migrate the history at
    ``path``. A newer database is refused untouched (:class:`SchemaError`); a missing one
    without ``create`` is FileNotFoundError."""
    if path.exists():
        check_version(path)
    elif not create:
        raise FileNotFoundError(f"no history at {path}")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    try:
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn
