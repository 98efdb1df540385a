"""The window's task runner: blocking calls on its own thread, answers on the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from PySide6.QtCore import QObject

from mma_qt.ui.tasks import TaskRunner


@pytest.fixture
def tasks(qapp: Any) -> Iterator[TaskRunner]:
    runner = TaskRunner(name="test-ui-task")
    yield runner
    runner.shutdown()
    runner.deleteLater()


def runner_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("test-ui-task")]


def test_a_task_runs_off_the_gui_thread_and_answers_on_it(
    tasks: TaskRunner, qtbot: Any
) -> None:
    owner = QObject()
    answers: list[tuple[str, str]] = []

    def on_done(future: Future[str]) -> None:
        answers.append((future.result(), threading.current_thread().name))

    tasks.submit(lambda: threading.current_thread().name, on_done, owner=owner)
    qtbot.waitUntil(lambda: bool(answers))
    ((ran_on, answered_on),) = answers
    assert ran_on.startswith("test-ui-task")
    assert answered_on == threading.main_thread().name
    assert not tasks.busy


def test_what_a_task_raised_is_raised_where_its_answer_is_read(
    tasks: TaskRunner, qtbot: Any
) -> None:
    owner = QObject()
    errors: list[str] = []

    def fail() -> None:
        raise OSError("the keyring is locked")

    def on_done(future: Future[None]) -> None:
        with pytest.raises(OSError, match="locked") as info:
            future.result()
        errors.append(str(info.value))

    tasks.submit(fail, on_done, owner=owner)
    qtbot.waitUntil(lambda: bool(errors))
    assert errors == ["the keyring is locked"]


def test_an_answer_for_a_deleted_owner_is_dropped(tasks: TaskRunner, qtbot: Any) -> None:
    gate = threading.Event()
    owner = QObject()
    witness = QObject()
    answers: list[str] = []
    tasks.submit(gate.wait, lambda future: answers.append("owner"), owner=owner)
    tasks.submit(lambda: None, lambda future: answers.append("witness"), owner=witness)
    with qtbot.waitSignal(owner.destroyed):
        owner.deleteLater()
    gate.set()
    qtbot.waitUntil(lambda: not tasks.busy)
    assert answers == ["witness"]


def test_shutdown_waits_for_the_running_task_and_leaves_no_thread(qapp: Any) -> None:
    runner = TaskRunner(name="test-ui-task")
    done = threading.Event()
    runner.submit(done.set, lambda future: None, owner=runner)
    runner.shutdown()
    assert done.is_set()
    assert runner_threads() == []
    with pytest.raises(RuntimeError, match="shut down"):
        runner.submit(done.set, lambda future: None, owner=runner)
    runner.deleteLater()
