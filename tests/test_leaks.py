"""The leak watch behind the autouse ``_nothing_left_running`` fixture catches each leak.

Each test starts its own :class:`LeakWatch` inside the fixture's, leaks one thing on
purpose, checks that the watch names it, then lets the watch stop it.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QObject, QThread, QTimer
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from mma_qt.hooks.server import HookServer

from .helpers import short_socket_path
from .leaks import LeakWatch


class _Echo:
    def call(self, method: str, params: dict[str, Any]) -> Any:
        return params


def test_a_timer_left_running_is_reported_with_where_it_started(qapp: Any) -> None:
    with LeakWatch().watch() as watch:
        timer = QTimer()
        timer.start(60_000)
        stopped = QTimer()
        stopped.start(60_000)
        stopped.stop()
        leaks = watch.leaks()
    assert leaks == [f"QTimer still running, started at tests/test_leaks.py:{_line('timer.start')}"
                     " in test_a_timer_left_running_is_reported_with_where_it_started"]
    assert not timer.isActive()  # stopped, so it cannot fire into the next test


def test_a_pending_single_shot_call_is_reported_and_never_fires(qtbot: QtBot) -> None:
    calls: list[str] = []
    with LeakWatch().watch() as watch:
        QTimer.singleShot(0, lambda: calls.append("fired"))
        QTimer.singleShot(0, lambda: calls.append("done"))
        qtbot.waitUntil(lambda: calls == ["fired", "done"])
        QTimer.singleShot(0, lambda: calls.append("left behind"))
        leaks = watch.leaks()
        QTimer.singleShot(0, lambda: calls.append("after"))
        qtbot.waitUntil(lambda: "after" in calls)
    assert leaks == ["QTimer.singleShot call still pending, from tests/test_leaks.py:"
                     f"{_line('left behind')} in "
                     "test_a_pending_single_shot_call_is_reported_and_never_fires"]
    assert calls == ["fired", "done", "after"]


def test_a_single_shot_call_dropped_with_its_context_is_not_reported(qapp: Any) -> None:
    with LeakWatch().watch() as watch:
        context = QObject()
        QTimer.singleShot(60_000, context, lambda: None)
        shiboken6.delete(context)  # Qt drops the call with its context
        assert watch.leaks() == []


def test_a_worker_thread_still_alive_is_reported(qapp: Any) -> None:
    release = threading.Event()
    with LeakWatch(thread_grace_s=0.05).watch() as watch:
        worker = threading.Thread(target=release.wait, name="mma-worker: T-001", daemon=True)
        plain = threading.Thread(target=release.wait, name="a daemon helper", daemon=True)
        foreground = threading.Thread(target=release.wait, name="client")
        for thread in (worker, plain, foreground):
            thread.start()
        leaks = watch.leaks()
        release.set()
        for thread in (worker, plain, foreground):
            thread.join()
    assert leaks == ["thread 'mma-worker: T-001' (daemon) still alive",
                     "thread 'client' (non-daemon) still alive"]


def test_a_qthread_still_running_is_reported(qapp: Any) -> None:
    with LeakWatch(thread_grace_s=0.05).watch() as watch:
        thread = QThread()
        thread.start()  # runs its event loop until quit()
        leaks = watch.leaks()
        thread.wait()  # the watch asked it to quit
    assert len(leaks) == 1 and leaks[0].startswith("QThread still running, started at tests/")


def test_a_finished_thread_is_not_reported(qapp: Any) -> None:
    with LeakWatch().watch() as watch:
        thread = threading.Thread(target=lambda: None, name="mma-worker: T-002")
        thread.start()  # finishing: the watch waits for it rather than report it
        assert watch.leaks() == []


@pytest.mark.skipif(sys.platform != "linux", reason="counts sockets in /proc/self/fd")
def test_a_hook_server_its_connection_and_its_client_left_open_are_reported(
    qtbot: QtBot,
) -> None:
    with LeakWatch().watch() as watch:
        server = HookServer(short_socket_path(), _Echo())
        path = server.listen()
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(path)
        qtbot.waitUntil(lambda: server.connection_count() == 1)
        leaks = watch.leaks()
        client.close()
        assert not server.is_listening()
        assert watch.leaks() == []
    assert leaks[0].startswith(f"QLocalServer still listening at {path}, listen() at ")
    assert leaks[1] == f"hook connection still open, accepted by the server listening at {path}"
    assert leaks[2].startswith("socket socket:[") and len(leaks) == 3  # the client's


def test_a_window_never_deleted_is_reported_and_deleted(qapp: Any) -> None:
    with LeakWatch().watch() as watch:
        window = QWidget()
        window.setWindowTitle("forgotten")
        window.show()
        leaks = watch.leaks()
    assert leaks == ["top-level QWidget 'forgotten' never deleted (give it to qtbot.addWidget)"]
    assert not shiboken6.isValid(window)


@pytest.mark.skipif(sys.platform != "linux", reason="lists children in /proc")
def test_a_child_process_still_running_is_reported_and_killed(qapp: Any) -> None:
    with LeakWatch(thread_grace_s=0.1).watch() as watch:
        done = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.DEVNULL)
        done.wait(timeout=30)
        running = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
        )
        leaks = watch.leaks()
    assert running.stdin is not None
    running.stdin.close()
    command = Path(sys.executable).name[:15]  # what Linux keeps of the program's name
    assert leaks == [f"child process {running.pid} ({command}) still running"]
    assert running.wait(timeout=30) == -signal.SIGKILL


def _line(marker: str) -> int:
    """The line of this file that contains ``marker`` (so the expectations stay exact)."""
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if marker in line and "_line(" not in line)
