"""Test configuration: offscreen Qt (unless QT_QPA_PLATFORM asks for another platform), a
qasync loop per test, isolated settings, and nothing left running after a test."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
# No test (nor an app it starts) may touch the real keyring; tests that need one set an
# in-memory backend explicitly.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"

import keyring
import keyring.backend
import keyring.errors
import PySide6.QtCore  # noqa: F401  - PySide6 must be imported before qasync
import pytest
import qasync
import shiboken6
from PySide6.QtCore import QCoreApplication, QSettings
from pytestqt.qtbot import QtBot

from .helpers import close_qloop
from .leaks import LeakWatch

if TYPE_CHECKING:
    from mma_qt.wiring import AppParts


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """QSettings and per-user files go to a temporary folder, never the real profile."""
    folder = tmp_path_factory.mktemp("settings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder)
    )
    old = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "XDG_DATA_HOME")}
    os.environ["XDG_CONFIG_HOME"] = str(folder / "config")
    os.environ["XDG_DATA_HOME"] = str(folder / "data")
    os.environ["XDG_RUNTIME_DIR"] = str(folder / "run")
    yield
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _nothing_left_running(qapp: QCoreApplication) -> Iterator[None]:
    """Fail the test that leaves a timer, a thread, a hook server, a socket or a window.

    See tests/leaks.py. ``qapp`` first, so the application's own connections (the X
    server's, under xcb) exist before the test's sockets are counted.
    """
    watch = LeakWatch()
    with watch.watch():
        yield
        leaks = watch.leaks()
    if leaks:
        pytest.fail("the test left these running:\n  " + "\n  ".join(leaks), pytrace=False)


@pytest.fixture
def qloop(qapp: QCoreApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop set as the current, running loop for the test's duration.

    Created without ``already_running=True`` (whose teardown calls ``loop.stop()`` and
    thereby ``QApplication.exit()``, which breaks every later nested wait). qtbot's waits
    spin a nested Qt loop, in which qasync's timers and notifiers fire, so coroutines run
    while a test waits on a signal or a condition.
    """
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(loop)
    try:
        yield loop
    finally:
        close_qloop(loop, qapp)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives in a dict; never picked by keyring's own backend detection."""

    priority = -1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.store:
            raise keyring.errors.PasswordDeleteError(username)
        del self.store[(service, username)]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """An empty in-memory keyring for the test, never the real one."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def make_app(qtbot: QtBot, qloop: object) -> Iterator[Any]:
    """``make_app(factory, options=None, *, auto=True)``: the real window, session,
    controller and hook on ``factory`` (e.g. a provider that records what it was sent).

    After the test, each window is closed (which stops the run), the run is awaited as the
    app does, and the window is deleted with its children, the hook server among them, on
    the GUI thread.
    """
    from mma_qt.core.model.options import RunOptions
    from mma_qt.core.model.pricing import PricingTable
    from mma_qt.wiring import assemble

    from .helpers import short_socket_path

    made: list[AppParts] = []

    def make(factory: Any, options: Any = None, *, auto: bool = True) -> AppParts:
        parts = assemble(factory, PricingTable.load(), options or RunOptions(), auto=auto,
                         hook_address=short_socket_path())
        parts.window.show()
        made.append(parts)
        return parts

    yield make
    for parts in made:
        close_app(parts, qtbot)


@pytest.fixture
def demo_app(make_app: Any, request: pytest.FixtureRequest) -> AppParts:
    """The real window, session, controller and hook on the demo provider, auto-approved
    (``make_app``). Parametrize indirectly with the demo delay (default 0: full speed)."""
    from mma_qt.core.providers.demo import DemoProviderFactory

    parts: AppParts = make_app(DemoProviderFactory(delay=getattr(request, "param", 0.0)))
    return parts


def close_app(parts: AppParts, qtbot: QtBot) -> None:
    """End the app as ``mma-qt`` does: closing the window stops the run, which ends (and
    says so, ``Controller.aclose``) before the window and its children (session,
    controller, hook server) are deleted, here on the GUI thread."""
    if not shiboken6.isValid(parts.window):
        return
    parts.window.close()
    closing = asyncio.ensure_future(parts.controller.aclose())
    qtbot.waitUntil(closing.done, timeout=10_000)
    closing.result()
    parts.history.close()
    parts.hook.close()
    parts.window.deleteLater()


@pytest.fixture
def start(qloop: asyncio.AbstractEventLoop,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Start an epic run on the test's qasync loop; every run is torn down afterwards.

    ``start(factory, options=None, *, auto=True, workspace=None, **runner_options)`` (e.g.
    ``policy=``, ``mcp=``) returns the runner and its task; the workspace is a new empty
    folder unless one is given. The task only starts once a qtbot wait spins the loop, so callers
    may still adjust the runner before that.

    Teardown shuts the runner down, finishes its task, then destroys the session's C++
    objects here, in the GUI thread. Left to the garbage collector, a session caught in a
    reference cycle (asyncio tasks and tracebacks make them) may be destroyed from
    whichever thread triggers a collection, e.g. a worker of a later test; its hub's
    active QTimer then stays registered with the GUI thread ("Timers cannot be stopped
    from another thread") and the next timer event segfaults.
    """
    from mma_qt.core.live.session import MmaSession
    from mma_qt.core.model.pricing import PricingTable
    from mma_qt.core.model.prompts import sample_epic
    from mma_qt.core.run.runner import EpicRunner

    runs: list[tuple[EpicRunner, asyncio.Task[Any]]] = []

    def start_run(factory: Any, options: Any = None, *, auto: bool = True,
                  workspace: str | None = None, epic: str | None = None,
                  **runner_options: Any) -> tuple[EpicRunner, asyncio.Task[Any]]:
        session = MmaSession(PricingTable.load(), factory.label)
        runner = EpicRunner(session, factory, options, auto=auto, **runner_options)
        folder = workspace or str(tmp_path_factory.mktemp("workspace"))
        task = qloop.create_task(runner.run(epic or sample_epic(), folder))
        runs.append((runner, task))
        return runner, task

    yield start_run
    for runner, task in runs:
        runner.shutdown()
        task.cancel()
        while not task.done():
            QCoreApplication.processEvents()
        if shiboken6.isValid(runner.session):
            shiboken6.delete(runner.session)


@pytest.fixture
def controller_for(qloop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    """``controller_for(factory, options, *, auto)``: a controller on a fresh session; each
    is closed as the app closes it (its run stopped and awaited), then deleted here."""
    from mma_qt.core.live.session import MmaSession
    from mma_qt.core.model.pricing import PricingTable
    from mma_qt.core.run.controller import Controller

    controllers: list[Controller] = []

    def make(factory: Any, options: Any, *, auto: bool) -> Controller:
        session = MmaSession(PricingTable.load(), factory.label)
        controller = Controller(session, factory, options, auto=auto)
        controllers.append(controller)
        return controller

    yield make
    for controller in controllers:
        closing = qloop.create_task(controller.aclose())
        while not closing.done():
            QCoreApplication.processEvents()
        if shiboken6.isValid(controller.session):
            shiboken6.delete(controller.session)
        shiboken6.delete(controller)
