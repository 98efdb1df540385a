"""The history's schema, writer, store and reports, without Qt (issue 12)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.history import report
from mma_qt.core.history.rows import CHUNK_INSERT, STREAM_KEY_INSERT
from mma_qt.core.history.schema import (
    SCHEMA_VERSION,
    SchemaError,
    history_path,
    open_database,
    schema_version,
)
from mma_qt.core.history.store import HistoryStore, RunNotFound, interrupt
from mma_qt.core.history.writer import HistoryWriter, Json, Write

FIXTURES = Path(__file__).parent / "fixtures"
RUN_INSERT = ("INSERT INTO runs (run_id, epic, workspace, provider, status, started_at, owner)"
              " VALUES (?,?,?,?,?,?,?)")


def dead_owner() -> str:
    """``host:pid`` of a process that has ended."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    import socket

    return f"{socket.gethostname()}:{proc.stdout.strip()}"


def write_run(path: Path, run_id: str, status: str, owner: str, chunks: list[str],
              stream: str = "Tier 1") -> None:
    writer = HistoryWriter(path)
    rows = []
    offset = 0
    for seq, text in enumerate(chunks):
        rows.append((run_id, stream, seq, offset, 1.0, text))
        offset += len(text)
    writer.submit([Write(RUN_INSERT, [(run_id, "epic", "/ws", "demo", status, time.time(),
                                       owner)]),
                   Write(STREAM_KEY_INSERT, [(run_id, stream)]), Write(CHUNK_INSERT, rows)])
    writer.close()
    assert writer.failure is None


def test_a_new_history_has_the_current_schema_wal_and_foreign_keys(tmp_path: Path) -> None:
    conn = open_database(history_path(tmp_path))
    try:
        assert schema_version(conn) == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(STREAM_KEY_INSERT, ("no-such-run", "Tier 1"))
    finally:
        conn.close()


def test_a_version_1_history_is_migrated_on_open(tmp_path: Path) -> None:
    path = history_path(tmp_path)
    path.parent.mkdir()
    shutil.copy(FIXTURES / "history-v1.sqlite3", path)
    store = HistoryStore(path)
    [run] = store.list_runs()
    assert (run["run_id"], run["status"], run["tickets_done"], run["output"]) == (
        "20260101-120000-abcdef", "done", 1, 9)
    conn = sqlite3.connect(path)
    try:
        assert schema_version(conn) == SCHEMA_VERSION
    finally:
        conn.close()
    document = store.get_run(run["run_id"])
    assert document["mma_streams"]["Tier 3 (Worker): T-001"] == (
        "Writing the CSV exporter with RFC 4180 quoting.\nDone.")
    # The migration indexed the run's streams: found across chunk boundaries.
    [hit] = store.search_streams("exporter with RFC")
    assert hit["stream_id"] == "Tier 3 (Worker): T-001"


def test_a_newer_history_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = history_path(tmp_path)
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (run_id TEXT)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaError, match="written by a newer mma-qt") as caught:
        HistoryStore(path).list_runs()
    assert "\n" not in str(caught.value)
    failures: list[str] = []
    writer = HistoryWriter(path, failures.append)
    writer.submit([Write(RUN_INSERT, [("r", "e", "/ws", "demo", "done", 1.0, "x:1")])])
    writer.close()
    assert failures == [str(caught.value)]
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_the_writer_commits_without_being_asked(tmp_path: Path) -> None:
    """A batch is committed by the writer's own timer: a reader sees it while the writer
    is still open (no flush, no close)."""
    path = history_path(tmp_path)
    writer = HistoryWriter(path, flush_s=0.05)
    try:
        writer.submit([Write(RUN_INSERT, [("r", "e", "/ws", "demo", "running", 1.0, "x:1")])])
        deadline = time.monotonic() + 10
        seen: list[Any] = []
        while not seen and time.monotonic() < deadline:
            if path.exists():
                conn = sqlite3.connect(path)
                try:
                    seen = conn.execute("SELECT run_id FROM runs").fetchall()
                except sqlite3.OperationalError:  # the schema is being created
                    seen = []
                finally:
                    conn.close()
        assert seen == [("r",)]
    finally:
        writer.close()


def test_a_writer_encodes_json_values_in_its_own_thread(tmp_path: Path) -> None:
    path = history_path(tmp_path)
    writer = HistoryWriter(path)
    writer.submit([Write(RUN_INSERT, [("r", "e", "/ws", "demo", "done", 1.0, "x:1")]),
                   Write("UPDATE runs SET document = ? WHERE run_id = ?",
                         [(Json({"status": "done", "é": [1]}), "r")], encode=True)])
    writer.close()
    conn = sqlite3.connect(path)
    try:
        [(text,)] = conn.execute("SELECT document FROM runs").fetchall()
    finally:
        conn.close()
    assert json.loads(text) == {"status": "done", "é": [1]}


def test_an_unopenable_history_is_reported_once_and_batches_are_dropped(tmp_path: Path) -> None:
    path = history_path(tmp_path)
    path.mkdir(parents=True)  # a folder where the file should be
    failures: list[str] = []
    writer = HistoryWriter(path, failures.append)
    for _ in range(3):
        writer.submit([Write(RUN_INSERT, [("r", "e", "/ws", "demo", "done", 1.0, "x:1")])])
    assert writer.flush()
    writer.submit([Write(RUN_INSERT, [("r", "e", "/ws", "demo", "done", 1.0, "x:1")])])
    writer.close()
    assert len(failures) == 1 and failures[0].startswith(f"cannot open {path}")
    assert writer.failure == failures[0]
    assert writer.dropped == 4 and writer.rows_written == 0


def test_a_run_whose_process_died_is_interrupted_with_its_running_tickets(
    tmp_path: Path,
) -> None:
    path = history_path(tmp_path)
    write_run(path, "gone", "running", dead_owner(), ["a", "b"])
    write_run(path, "mine", "running", f"{__import__('socket').gethostname()}:{os.getpid()}",
              ["c"])
    store = HistoryStore(path, live=("mine",))
    statuses = {r["run_id"]: r["status"] for r in store.list_runs()}
    assert statuses == {"gone": "interrupted", "mine": "running"}
    assert store.get_run("gone")["status"] == "interrupted"
    assert store.get_run("gone")["mma_streams"] == {"Tier 1": "ab"}
    # Not live any more in this process either: interrupted too.
    assert HistoryStore(path).get_run("mine")["status"] == "interrupted"


def test_interrupt_marks_the_running_tickets_attempts_and_streams() -> None:
    doc: dict[str, Any] = {
        "status": "running", "active_tier": "Tier 3",
        "tickets": [{"id": "A", "status": "in_progress",
                     "attempts": [{"attempt": 1, "status": "failed"},
                                  {"attempt": 2, "status": "in_progress"}]},
                    {"id": "B", "status": "completed", "attempts": []},
                    {"id": "C", "status": "todo", "attempts": []}],
        "streams": [{"stream_id": "Tier 1", "status": "done"},
                    {"stream_id": "Tier 4 (QA): A", "status": "running"}],
    }
    interrupt(doc)
    assert (doc["status"], doc["active_tier"]) == ("interrupted", None)
    assert [t["status"] for t in doc["tickets"]] == ["interrupted", "completed", "todo"]
    assert [a["status"] for a in doc["tickets"][0]["attempts"]] == ["failed", "interrupted"]
    assert [s["status"] for s in doc["streams"]] == ["done", "interrupted"]


def test_an_unknown_run_is_refused_by_name(tmp_path: Path) -> None:
    path = history_path(tmp_path)
    write_run(path, "r", "done", "x:1", ["a"])
    with pytest.raises(RunNotFound, match="no run 'nope'"):
        HistoryStore(path).get_run("nope")


def test_search_without_the_index_scans_unfinished_runs(tmp_path: Path) -> None:
    path = history_path(tmp_path)
    write_run(path, "r", "running", "elsewhere:1", ["The quick br", "own fox"])
    [hit] = HistoryStore(path).search_streams("BROWN fox")
    assert (hit["run_id"], hit["stream_id"]) == ("r", "Tier 1")
    assert hit["snippet"] == "The quick [brown fox]"
    assert HistoryStore(path).search_streams("wolf") == []


# -- acceptance 2 (the store's part): a writer killed mid-run ------------------------------

_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from mma_qt.core.history.rows import CHUNK_INSERT, STREAM_KEY_INSERT
    from mma_qt.core.history.writer import HistoryWriter, Write
    RUN = ("INSERT INTO runs (run_id, epic, workspace, provider, status, started_at, owner)"
           " VALUES (?,?,?,?,?,?,?)")
    writer = HistoryWriter(Path(sys.argv[1]))
    writer.submit([Write(RUN, [("r", "e", "/ws", "demo", "running", time.time(), "x:1")]),
                   Write(STREAM_KEY_INSERT, [("r", "A"), ("r", "B")])])
    seq = 0
    while True:
        rows = [("r", s, seq, seq * 10, time.time(), f"{s}{seq:08d}") for s in ("A", "B")]
        writer.submit([Write(CHUNK_INSERT, rows)])
        print(seq, time.monotonic(), flush=True)
        seq += 1
        time.sleep(0.01)
""")


def test_a_killed_writer_keeps_every_chunk_handed_over_a_second_before(tmp_path: Path) -> None:
    path = history_path(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        handed: dict[int, float] = {}
        for line in child.stdout:
            seq, at = line.split()
            handed[int(seq)] = float(at)
            if handed[int(seq)] >= handed[0] + 1.5:
                break
        os.kill(child.pid, signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        child.kill()
        child.wait()
    due = max(s for s, at in handed.items() if at <= killed_at - 1.0)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for stream in ("A", "B"):
            seqs = [s for (s,) in conn.execute(
                "SELECT seq FROM chunks JOIN stream_keys USING (stream_key)"
                " WHERE stream_id = ? ORDER BY seq", (stream,))]
            # Every chunk handed over a second before the kill, in order, no gaps.
            assert seqs == list(range(len(seqs))) and len(seqs) > due
    finally:
        conn.close()


# -- reports -------------------------------------------------------------------------------

def sample_document() -> dict[str, Any]:
    usage = {"input": 120, "output": 80, "cache_read": 5, "cache_write": 0, "reasoning": 0,
             "estimated": False}
    tier = {"model": "m", **usage, "cost_usd": 0.25, "cost_usd_known_part": 0.25}
    return {
        "run_id": "R1", "status": "failed", "error": "1 failed of 2 tickets",
        "provider": "demo", "epic": "Add <b>CSV</b> export\nmore", "workspace": "/ws",
        "elapsed_s": 12.5,
        "tracks": [{"id": "TR-1", "title": "Deliver", "status": "failed",
                    "tickets": ["T-001", "T-002"], "usage": tier}],
        "tickets": [
            {"id": "T-001", "title": "Writer", "status": "completed", "depends_on": [],
             "model": "m", "retry_count": 1, "usage": usage, "cost_usd": 0.25,
             "error": "", "blocked_reason": "",
             "attempts": [{"attempt": 1, "qa_hint": ""},
                          {"attempt": 2, "qa_hint": "quote the commas"}]},
            {"id": "T-002", "title": "CLI", "status": "failed", "depends_on": ["T-001"],
             "model": "m", "retry_count": 0, "usage": usage, "cost_usd": None,
             "error": "boom", "blocked_reason": "", "attempts": []},
        ],
        "streams": [{"stream_id": "Tier 3 (Worker): T-001", "tier": "Tier 3",
                     "ticket_id": "T-001", "elapsed_s": 4.0}],
        "mma_streams": {"Tier 3 (Worker): T-001":
                        "first try\n\n--- retry 1 on m2 ---\nthe final <answer>"},
        "tier_usage": {"Tier 1": tier, "Tier 2": tier, "Tier 3": tier, "Tier 4": tier},
        "totals": {**tier, "input": 480, "output": 320},
    }


def test_the_markdown_report_has_the_totals_dag_hints_and_final_answers() -> None:
    text = report.markdown(sample_document())
    assert "- **total input tokens**: 480" in text
    assert "- **total output tokens**: 320" in text
    assert "T-001 → T-002" in text
    assert "QA hint for attempt 2: quote the commas" in text
    assert "the final <answer>" in text and "first try" not in text
    assert "| T-002 | CLI | failed | T-001 | m | 0 | — |" in text


def test_the_json_report_is_the_document() -> None:
    doc = sample_document()
    assert json.loads(report.render(doc, "json")) == doc


def test_the_html_report_is_one_self_contained_file() -> None:
    text = report.render(sample_document(), "html")
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text
    for outside in ("http:", "https:", "//", "<link", "<script", "src=", "@import", "url("):
        assert outside not in text
    assert "Add &lt;b&gt;CSV&lt;/b&gt; export" in text
    assert "the final &lt;answer&gt;" in text


def test_an_unknown_report_format_is_refused() -> None:
    with pytest.raises(ValueError, match="use one of: md, html, json"):
        report.render(sample_document(), "pdf")
