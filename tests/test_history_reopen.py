"""Going on from a past run (issue 12): a re-run of one ticket with an edited prompt, and
Resume of an interrupted run, in process, with the history recorded."""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication

from mma_qt.core.history.recorder import HistoryRecorder
from mma_qt.core.history.schema import history_path
from mma_qt.core.history.store import HistoryStore
from mma_qt.core.live.session import MmaSession
from mma_qt.core.model.domain import Tier
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.run.controller import Controller, ControllerError
from mma_qt.ui.hook_api import status_document

from .scripted import EPIC, PlannedTicket, ScriptedFactory, plain_workspace, rounds

RUN_TIMEOUT_MS = 60_000
WORKER = "Tier 3 (Worker): T-001"


class Bench:
    """A controller on scripted providers whose session is recorded."""

    def __init__(self, factory: ScriptedFactory) -> None:
        self.factory = factory
        self.session = MmaSession(PricingTable.load(), factory.label)
        self.controller = Controller(self.session, factory, RunOptions(), auto=True)
        self.recorder = HistoryRecorder(
            self.session, functools.partial(status_document, self.controller, streams=False))
        self.runs: list[str] = []
        self.recorder.recording.connect(self.runs.append)

    def run(self, qtbot: Any, workspace: Path) -> str:
        return self.finish(qtbot, lambda: self.controller.start_epic(EPIC, str(workspace)))

    def finish(self, qtbot: Any, start: Any) -> str:
        with qtbot.waitSignal(self.controller.finished, timeout=RUN_TIMEOUT_MS):
            start()
        return self.runs[-1]

    def store(self) -> HistoryStore:
        """The history with every row of the runs so far committed."""
        self.recorder.flush(document=True)
        assert self.recorder.writer is not None and self.recorder.writer.flush()
        return HistoryStore.of_workspace(self.session.workspace)


@pytest.fixture
def bench(qloop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    made: list[Bench] = []

    def make(factory: ScriptedFactory) -> Bench:
        made.append(Bench(factory))
        return made[-1]

    yield make
    for b in made:
        closing = qloop.create_task(b.controller.aclose())
        while not closing.done():
            QCoreApplication.processEvents()
        b.recorder.close()
        for obj in (b.recorder, b.controller, b.session):
            if shiboken6.isValid(obj):
                shiboken6.delete(obj)


def two_tickets() -> ScriptedFactory:
    return ScriptedFactory({"T-001": rounds("first answer"), "T-002": rounds("second")},
                           [PlannedTicket("T-001"), PlannedTicket("T-002", depends_on=["T-001"])])


def first_run(bench: Any, qtbot: Any, tmp_path: Path) -> tuple[Bench, Path, str]:
    """Two scripted tickets run to the end in a fresh workspace; the run's id."""
    b = bench(two_tickets())
    workspace = plain_workspace(tmp_path / "ws")
    return b, workspace, b.run(qtbot, workspace)


def test_a_rerun_from_history_sends_the_edited_prompt_and_keeps_both_attempts(
    qtbot: Any, bench: Any, tmp_path: Path
) -> None:
    """Acceptance 3: re-run a completed ticket with an edited prompt: a new run that
    records where it came from, two attempts with their own usage, both streams
    readable, and the provider received the edited prompt."""
    b, _workspace, first = first_run(bench, qtbot, tmp_path)
    past = b.store().load(first)
    first_text = past.document["mma_streams"][WORKER]
    b.recorder.parent_run_id = first
    second = b.finish(qtbot, lambda: b.controller.rerun_from(
        past.document, past.records, past.prompts, "T-001", prompt="EDITED: add, commuted"))
    store = b.store()

    sent = b.factory.of(Tier.WORKER, "T-001")
    assert len(sent) == 2 and sent[-1].prompt == "EDITED: add, commuted"
    assert sent[0].prompt != sent[-1].prompt
    new = store.get_run(second)
    assert new["parent_run_id"] == first and new["status"] == "done"
    attempts = store.attempts(second, "T-001")
    assert [(a["attempt"], a["edited"], a["reason"]) for a in attempts] == [
        (1, False, "first"), (2, True, "user retry")]
    assert attempts[1]["prompt"] == "EDITED: add, commuted"
    assert attempts[0]["prompt"] == sent[0].prompt
    assert [a["usage"]["output"] for a in attempts] == [10, 10]
    assert store.get_run(first)["mma_streams"][WORKER] == first_text  # the past run as it was
    new_text = new["mma_streams"][WORKER]
    assert new_text.startswith(first_text) and "--- attempt 2 on" in new_text
    assert new_text.count("first answer") == 2
    t2 = {t["id"]: t for t in new["tickets"]}["T-002"]
    assert len(t2["attempts"]) == 1 and t2["status"] == "completed"  # kept as it was
    assert new["totals"]["output"] > store.get_run(first)["totals"]["output"]


def test_a_rerun_of_an_unknown_ticket_or_with_an_empty_prompt_is_refused_unchanged(
    qtbot: Any, bench: Any, tmp_path: Path
) -> None:
    b, _workspace, first = first_run(bench, qtbot, tmp_path)
    past = b.store().load(first)
    with pytest.raises(ControllerError, match="no ticket 'T-009'"):
        b.controller.rerun_from(past.document, past.records, past.prompts, "T-009")
    with pytest.raises(ControllerError, match="prompt"):
        b.controller.rerun_from(past.document, past.records, past.prompts, "T-001",
                                prompt="  ")
    assert b.session.status == "done" and len(b.runs) == 1


def dead_pid() -> int:
    """The pid of a process that has ended (so no owner of a run)."""
    with subprocess.Popen([sys.executable, "-c", "pass"]) as process:
        process.wait()
    return process.pid


def interrupt_in_file(workspace: Path, run_id: str) -> None:
    """What a kill mid-run leaves: the run active under a dead owner, T-002 running."""
    conn = sqlite3.connect(history_path(workspace))
    try:
        conn.execute("UPDATE runs SET status = 'running', ended_at = NULL, document = NULL,"
                     " owner = ? WHERE run_id = ?",
                     (f"{socket.gethostname()}:{dead_pid()}", run_id))
        data = json.loads(conn.execute(
            "SELECT data FROM tickets WHERE run_id = ? AND ticket_id = 'T-002'",
            (run_id,)).fetchone()[0])
        data["status"] = "in_progress"
        conn.execute("UPDATE tickets SET status = 'in_progress', data = ? WHERE run_id = ?"
                     " AND ticket_id = 'T-002'", (json.dumps(data), run_id))
        conn.commit()
    finally:
        conn.close()


def test_resume_runs_the_unfinished_tickets_and_keeps_the_completed_ones(
    qtbot: Any, bench: Any, tmp_path: Path
) -> None:
    b, workspace, first = first_run(bench, qtbot, tmp_path)
    store = b.store()
    interrupt_in_file(workspace, first)
    past = store.load(first)
    assert past.document["status"] == "interrupted"
    b.recorder.parent_run_id = first
    second = b.finish(qtbot, lambda: b.controller.resume_from(
        past.document, past.records, past.prompts))
    new = b.store().get_run(second)
    assert new["status"] == "done" and new["parent_run_id"] == first
    tickets = {t["id"]: t for t in new["tickets"]}
    assert [len(tickets[t]["attempts"]) for t in ("T-001", "T-002")] == [1, 2]
    assert len(b.factory.of(Tier.WORKER, "T-001")) == 1  # kept, not run again
    assert new["mma_streams"][WORKER] == past.document["mma_streams"][WORKER]
    assert new["tier_usage"]["Tier 3"]["output"] == 30  # 10 + 10 kept, 10 new


def test_a_done_run_cannot_be_resumed(qtbot: Any, bench: Any, tmp_path: Path) -> None:
    b, _workspace, first = first_run(bench, qtbot, tmp_path)
    past = b.store().load(first)
    with pytest.raises(ControllerError, match="only an interrupted, failed or cancelled"):
        b.controller.resume_from(past.document, past.records, past.prompts)
    assert len(b.runs) == 1


def test_resume_plans_a_track_whose_planning_was_interrupted(
    qtbot: Any, bench: Any, tmp_path: Path
) -> None:
    b, workspace, first = first_run(bench, qtbot, tmp_path)
    b.store()
    interrupt_in_file(workspace, first)
    conn = sqlite3.connect(history_path(workspace))
    try:  # killed while Tier 2 planned TR-1: no tickets yet
        conn.execute("DELETE FROM tickets WHERE run_id = ?", (first,))
        conn.execute("DELETE FROM streams WHERE run_id = ? AND tier IN (3, 4)", (first,))
        conn.execute("UPDATE tracks SET tickets = '[]', status = 'planning' WHERE run_id = ?",
                     (first,))
        conn.commit()
    finally:
        conn.close()
    past = HistoryStore.of_workspace(workspace).load(first)
    assert [(t["id"], t["tickets"]) for t in past.document["tracks"]] == [("TR-1", [])]
    b.recorder.parent_run_id = first
    second = b.finish(qtbot, lambda: b.controller.resume_from(
        past.document, past.records, past.prompts))
    new = b.store().get_run(second)
    assert new["status"] == "done"
    assert [(t["id"], t["status"]) for t in new["tickets"]] == [
        ("T-001", "completed"), ("T-002", "completed")]
    assert len(b.factory.of(Tier.TECH_LEAD)) == 2 and len(b.factory.of(Tier.ORCHESTRATOR)) == 1
