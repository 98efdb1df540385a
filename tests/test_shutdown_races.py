"""Closing the app while a worker is between two steps: nothing is submitted to the run's
worker pool once it is shut down, and no ERROR is logged for it.

Found by sending SIGTERM to ``mma-qt`` mid-run (tests/test_cli_errors.py's signal test
failed now and then): "internal error in the run (RuntimeError: the worker pool is shut
down)" when a read-only tool call ran after the shutdown, and "committing the changes of
T-007 failed" when a ticket completed just before it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.context import ContextBuilder
from mma_qt.core.model.domain import Tier, stream_id
from mma_qt.core.model.status import RunStatus, TicketStatus, ToolPolicy
from mma_qt.core.run.workbench import TrackBench
from mma_qt.core.tools import ToolRegistry

from .scripted import EPIC, ScriptedFactory, call, plain_workspace, rounds
from .test_conductor import finish


def held(monkeypatch: pytest.MonkeyPatch, cls: type, name: str,
         ) -> tuple[threading.Event, threading.Event]:
    """Make ``cls.name`` (run in a worker thread) wait until released: (entered, release)."""
    entered, release = threading.Event(), threading.Event()
    original = getattr(cls, name)

    def wait_then_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(30)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, wait_then_run)
    return entered, release


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_tool_call_after_the_shutdown_is_not_run(
        qtbot: Any, start: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The app closes while the track's working directory is being prepared for the
    ticket's first (read-only) tool call: the call is not run, the ticket is cancelled."""
    entered, release = held(monkeypatch, TrackBench, "_prepare")
    factory = ScriptedFactory({"T-001": rounds([call("read_file", path="calc.py")], "Done.")})
    runner, task = start(factory, workspace=str(plain_workspace(tmp_path / "ws")), epic=EPIC)
    qtbot.waitUntil(entered.is_set, timeout=30_000)
    runner.shutdown(timeout=0)  # as the app closing: cancelled, the pool refuses new work
    release.set()
    assert finish(qtbot, task) is RunStatus.CANCELLED
    assert errors(caplog) == []
    ticket = runner.session.tickets["T-001"]
    assert ticket.status is TicketStatus.CANCELLED
    assert ticket.tool_calls == []  # never run, never shown as run


def test_a_ticket_that_completes_as_the_app_closes_is_cancelled_not_failed(
        qtbot: Any, start: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Its final answer arrived, then the app closed before its changes were kept: the
    ticket is cancelled with the reason (its changes stay where it made them), no ERROR."""
    factory = ScriptedFactory({"T-001": rounds(
        [call("write_file", path="notes.txt", content="new\n")], "Done.")})
    runner, task = start(factory, workspace=str(plain_workspace(tmp_path / "ws")), epic=EPIC)
    worker = stream_id(Tier.WORKER, "T-001")
    usages: list[int] = []

    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == "usage" and event["stream_id"] == worker:
            usages.append(1)
            if len(usages) == 2:  # the final answer's: shut down before its changes are kept
                runner.shutdown(timeout=0)

    runner.session.bus.published.connect(on_event)
    assert finish(qtbot, task) is RunStatus.CANCELLED
    assert len(usages) == 2
    assert errors(caplog) == []
    ticket = runner.session.tickets["T-001"]
    assert ticket.status is TicketStatus.CANCELLED
    assert "not kept" in ticket.blocked_reason
    assert (tmp_path / "ws" / "notes.txt").read_text(encoding="utf-8") == "new\n"


def test_tool_calls_that_arrive_as_the_app_closes_are_not_run(
        qtbot: Any, start: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The model's round with tool calls came back, then the app closed before the loop
    went on: the working directory is not even prepared (the pool is shut down)."""
    factory = ScriptedFactory({"T-001": rounds([call("read_file", path="calc.py")], "Done.")})
    runner, task = start(factory, workspace=str(plain_workspace(tmp_path / "ws")), epic=EPIC)
    worker = stream_id(Tier.WORKER, "T-001")

    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == "usage" and event["stream_id"] == worker:
            runner.shutdown(timeout=0)  # the first round's: its tool calls are not run

    runner.session.bus.published.connect(on_event)
    assert finish(qtbot, task) is RunStatus.CANCELLED
    assert errors(caplog) == []
    ticket = runner.session.tickets["T-001"]
    assert (ticket.status, ticket.tool_calls) == (TicketStatus.CANCELLED, [])


def test_a_spawn_whose_context_was_read_as_the_run_was_cancelled_asks_nothing(
        qtbot: Any, start: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cancel while a ticket's context is read (step mode): its spawn was asked for after
    the run had rejected every approval, so it waited forever and the run never ended
    (tests/test_approvals_panel.py's dock test timed out now and then)."""
    reading, release = held(monkeypatch, ContextBuilder, "tier3")
    factory = ScriptedFactory({"T-001": rounds("Done.")})
    runner, task = start(factory, workspace=str(plain_workspace(tmp_path / "ws")), epic=EPIC,
                         auto=False)
    qtbot.waitUntil(reading.is_set, timeout=30_000)
    runner.cancel()
    release.set()
    assert finish(qtbot, task) is RunStatus.CANCELLED
    assert runner.ctx.approvals.pending() == []
    ticket = runner.session.tickets["T-001"]
    assert (ticket.status, ticket.attempts) == (TicketStatus.CANCELLED, [])


def test_a_tool_call_previewed_as_the_run_was_cancelled_asks_nothing(
        qtbot: Any, start: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same for a tool call's approval (tool policy ask): cancelled while previewed."""
    previewing, release = held(monkeypatch, ToolRegistry, "preview")
    factory = ScriptedFactory({"T-001": rounds(
        [call("write_file", path="notes.txt", content="new\n")], "Done.")})
    runner, task = start(factory, workspace=str(plain_workspace(tmp_path / "ws")), epic=EPIC,
                         policy=ToolPolicy.ASK)
    qtbot.waitUntil(previewing.is_set, timeout=30_000)
    runner.cancel()
    release.set()
    assert finish(qtbot, task) is RunStatus.CANCELLED
    assert runner.ctx.approvals.pending() == []
    assert (tmp_path / "ws" / "notes.txt").read_text(encoding="utf-8") == "notes\n"
