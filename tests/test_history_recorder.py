"""Recording a live run into the workspace's history, and reading it back (issue 12)."""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication

from mma_qt.core.history.recorder import HistoryRecorder
from mma_qt.core.history.report import markdown
from mma_qt.core.history.schema import history_path
from mma_qt.core.history.store import HistoryStore
from mma_qt.core.live.session import MmaSession
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.providers.demo import DemoProviderFactory, Scenario
from mma_qt.core.run.controller import Controller
from mma_qt.ui.hook_api import status_document

RUN_TIMEOUT_MS = 60_000


class Recorded:
    """A controller on the demo provider whose session is recorded."""

    def __init__(self, scenario: Scenario | None = None, **recorder: Any) -> None:
        factory = DemoProviderFactory(delay=0, scenario=scenario or Scenario())
        self.session = MmaSession(PricingTable.load(), factory.label)
        self.controller = Controller(self.session, factory, RunOptions(), auto=True)
        self.recorder = HistoryRecorder(
            self.session, functools.partial(status_document, self.controller, streams=False),
            **recorder)
        self.runs: list[str] = []
        self.recorder.recording.connect(self.runs.append)

    def run(self, qtbot: Any, workspace: Path) -> str:
        with qtbot.waitSignal(self.controller.finished, timeout=RUN_TIMEOUT_MS):
            self.controller.start_epic(sample_epic(), str(workspace))
        return self.runs[-1]

    def run_once(self, qtbot: Any, workspace: Path) -> tuple[str, HistoryStore]:
        """One run, recorded to the end (the writer closed); its id and its history."""
        run_id = self.run(qtbot, workspace)
        self.recorder.close()
        return run_id, HistoryStore.of_workspace(workspace)


@pytest.fixture
def recorded(qloop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    made: list[Recorded] = []

    def make(scenario: Scenario | None = None, **recorder: Any) -> Recorded:
        made.append(Recorded(scenario, **recorder))
        return made[-1]

    yield make
    for r in made:
        closing = qloop.create_task(r.controller.aclose())
        while not closing.done():
            QCoreApplication.processEvents()
        r.recorder.close()
        for obj in (r.recorder, r.controller, r.session):
            if shiboken6.isValid(obj):
                shiboken6.delete(obj)


def test_a_recorded_demo_run_reads_back_as_its_final_status_document(
    qtbot: Any, recorded: Any, tmp_path: Path
) -> None:
    r = recorded(Scenario.load(Path("resources/scenarios/flaky-worker.toml")))
    run_id, store = r.run_once(qtbot, tmp_path)
    live = status_document(r.controller)
    assert live["status"] == "done" and len(live["tickets"]) >= 5
    stored = store.get_run(run_id)
    # The one difference: once a run ended, the live document's tool policy is the next
    # run's (the controller's); the history keeps the policy the run had.
    assert (stored.pop("tool_policy"), live.pop("tool_policy")) == ("auto", "ask")
    assert {k: stored[k] for k in live} == live
    assert stored["run_id"] == run_id
    assert any(t["retry_count"] for t in stored["tickets"])
    summary = store.get_run(run_id, streams=False)
    assert summary["mma_streams"] == status_document(r.controller, streams=False)["mma_streams"]


def test_every_chunk_is_stored_in_order_without_gaps(
    qtbot: Any, recorded: Any, tmp_path: Path
) -> None:
    r = recorded()
    run_id, store = r.run_once(qtbot, tmp_path)
    for sid in r.session.records:
        chunks = store.chunks(run_id, sid)
        assert [seq for seq, _o, _t in chunks] == list(range(len(chunks)))
        offsets = [0]
        for _seq, _offset, text in chunks:
            offsets.append(offsets[-1] + len(text))
        assert [o for _s, o, _t in chunks] == offsets[:-1]
        assert "".join(t for _s, _o, t in chunks) == r.session.hub.text(sid)


def test_two_runs_in_one_workspace_are_two_runs_newest_first(
    qtbot: Any, recorded: Any, tmp_path: Path
) -> None:
    r = recorded()
    first = r.run(qtbot, tmp_path)
    second = r.run(qtbot, tmp_path)
    r.recorder.close()
    runs = HistoryStore.of_workspace(tmp_path).list_runs(10)
    assert [run["run_id"] for run in runs] == [second, first]
    totals = status_document(r.controller)["totals"]
    assert runs[0]["tokens"] == totals["input"] + totals["output"]
    assert runs[0]["cost_usd"] == totals["cost_usd"]
    assert runs[0]["tickets_done"] == runs[0]["tickets_total"] == len(r.session.tickets)
    assert runs[0]["status"] == "done"


def test_the_report_of_a_recorded_run_has_its_status_totals(
    qtbot: Any, recorded: Any, tmp_path: Path
) -> None:
    run_id, store = (r := recorded()).run_once(qtbot, tmp_path)
    totals = status_document(r.controller)["totals"]
    text = markdown(store.get_run(run_id))
    assert f"- **total input tokens**: {totals['input']}" in text
    assert f"- **total output tokens**: {totals['output']}" in text


def test_search_finds_a_recorded_streams_text(
    qtbot: Any, recorded: Any, tmp_path: Path
) -> None:
    run_id, store = (r := recorded()).run_once(qtbot, tmp_path)
    word = "RFC 4180"
    holders = {sid for sid in r.session.records if word in r.session.hub.text(sid)}
    assert holders
    hits = store.search_streams(word, limit=100)
    assert {h["stream_id"] for h in hits} == holders
    assert all(h["run_id"] == run_id and "[" in h["snippet"] for h in hits)


def test_a_read_only_history_folder_leaves_the_run_going_and_says_history_is_off(
    qtbot: Any, recorded: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Acceptance 6. As root a folder's mode stops nothing: the history file is then a
    folder, which no one can open as a database either."""
    mma = tmp_path / ".mma"
    mma.mkdir()
    history_path(tmp_path).mkdir()
    mma.chmod(0o555)
    try:
        r = recorded()
        failures: list[str] = []
        r.recorder.failed.connect(failures.append)
        with caplog.at_level(logging.WARNING):
            r.run(qtbot, tmp_path)
            qtbot.waitUntil(lambda: bool(failures), timeout=5000)
        assert r.session.status == "done"
        assert failures == [r.recorder.failure]
        assert "cannot open" in failures[0]
        off = [m for m in caplog.messages if m.startswith("history is off")]
        assert len(off) == 1
    finally:
        mma.chmod(0o755)


def test_a_full_disk_turns_history_off_once_and_the_run_completes(
    qtbot: Any, recorded: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from mma_qt.core.history.schema import open_database
    from mma_qt.core.history.writer import HistoryWriter

    def tiny(path: Path) -> sqlite3.Connection:
        conn = open_database(path)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        return conn

    r = recorded(writer=lambda path, fail: HistoryWriter(path, fail, connect=tiny))
    with caplog.at_level(logging.WARNING):
        r.run(qtbot, tmp_path)
        r.recorder.close()
        qtbot.waitUntil(lambda: r.recorder.failure is not None, timeout=5000)
    assert r.session.status == "done"
    off = [m for m in caplog.messages if m.startswith("history is off")]
    assert len(off) == 1 and "full" in off[0]


def test_an_ended_runs_document_keeps_its_tool_policy(
    qtbot: Any, recorded: Any, tmp_path: Path
) -> None:
    """The next run's policy, set after the run ended, is not the recorded run's."""
    r = recorded()
    run_id = r.run(qtbot, tmp_path)
    r.controller.set_tool_policy("auto-edits")
    r.recorder.close()
    stored = HistoryStore.of_workspace(tmp_path).get_run(run_id)
    assert stored["tool_policy"] == "auto"


def test_each_ticket_status_change_is_kept_with_its_time(
    qtbot: Any, recorded: Any, tmp_path: Path
) -> None:
    r = recorded(Scenario.load(Path("resources/scenarios/flaky-worker.toml")))
    run_id, store = r.run_once(qtbot, tmp_path)
    changes = store.ticket_statuses(run_id, "T-003")
    assert [c["status"] for c in changes] == ["in_progress", "in_progress", "completed"]
    assert [c["at"] for c in changes] == sorted(c["at"] for c in changes)


def test_attempts_are_recorded_with_the_prompt_as_sent(qtbot: Any, tmp_path: Path) -> None:
    """The ``attempt`` event of issue 11's contract: the attempt, read from the session."""
    from mma_qt.core.model.domain import Attempt, Ticket, Track
    from mma_qt.core.model.status import RunStatus, TicketStatus
    from mma_qt.core.model.usage import Usage

    session = MmaSession(PricingTable.load(), "demo")
    recorder = HistoryRecorder(session, functools.partial(session.snapshot, streams=False))
    runs: list[str] = []
    recorder.recording.connect(runs.append)
    try:
        session.reset("epic", str(tmp_path))
        session.set_status(RunStatus.RUNNING)
        ticket = Ticket("T-001", "One")
        session.set_plan(Track("TR-1", "Track"), [ticket])
        ticket.attempts.append(Attempt(1, "demo-worker", TicketStatus.FAILED, prompt="first",
                                       usage=Usage(3, 4), cost_usd=None, reason="first"))
        ticket.attempts.append(Attempt(2, "demo-worker-pro", prompt="edited prompt",
                                       edited=True, reason="user retry"))
        session.bus.publish("attempt", ticket_id="T-001", attempt=2, model="demo-worker-pro",
                            status="in_progress", usage={}, reason="user retry")
        recorder.close()
        attempts = HistoryStore.of_workspace(tmp_path).attempts(runs[0], "T-001")
    finally:
        recorder.close()
        shiboken6.delete(recorder)
        shiboken6.delete(session)
    assert [(a["attempt"], a["prompt"], a["edited"], a["status"]) for a in attempts] == [
        (1, "first", False, "failed"), (2, "edited prompt", True, "in_progress")]
    assert attempts[0]["usage"]["output"] == 4


def test_a_reset_alone_records_nothing(qtbot: Any, tmp_path: Path) -> None:
    session = MmaSession(PricingTable.load(), "demo")
    recorder = HistoryRecorder(session, functools.partial(session.snapshot, streams=False))
    try:
        session.reset("epic", str(tmp_path))
        recorder.close()
    finally:
        shiboken6.delete(recorder)
        shiboken6.delete(session)
    assert not (tmp_path / ".mma").exists()
