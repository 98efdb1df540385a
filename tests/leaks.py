"""What a test leaves running: timers, threads, hook servers, their connections, sockets.

Modelled on napari's ``_dangling_qtimers`` fixture (``src/napari/conftest.py``): the calls
that start something are wrapped to note each object and where it was started, and at the
end of the test whatever is still running is reported with that place. Tracked:

- ``QTimer.start`` (every started timer) and ``QTimer.singleShot`` with a callable (a call
  still pending at the end would fire in a later test);
- ``QThread.start``, Python threads named ``mma-worker*`` and any non-daemon thread;
- ``QLocalServer.listen`` and the connections it accepts (``nextPendingConnection``);
- top-level widgets (a window) still alive: PySide's signal connections put a window in
  reference cycles, so a window its test did not delete is freed by the garbage collector
  on whichever thread collects, e.g. a worker's in a later test: a segfault there. Give
  windows to ``qtbot.addWidget``, which closes and deletes them on the GUI thread;
- on Linux, every socket descriptor the process opened during the test (hook clients,
  HTTP clients), from ``/proc/self/fd``;
- on Linux, child processes started during the test and still running (an MCP server,
  a sandboxed command, an ``mma-qt`` under test), from ``/proc/*/stat``: each gets the
  same grace as a thread, then is reported and killed.

:meth:`LeakWatch.leaks` lists the leaks and stops what can be stopped, so that one test's
leak fails that test and cannot fail (or crash) the next one.
"""

from __future__ import annotations

import inspect
import os
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, QThread, QTimer
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QWidget

#: How long a thread that is still alive at the end of a test may take to finish: a worker
#: whose result was delivered is running its last lines. Only a leak ever waits this long.
THREAD_GRACE_S = 5.0
WORKER_PREFIX = "mma-worker"
_ROOT = Path(__file__).resolve().parent.parent


class _Place:
    """Where something was started; formatted only when a leak is reported."""

    __slots__ = ("_filename", "_function", "_line")

    def __init__(self) -> None:
        frame = inspect.currentframe()
        while frame is not None and frame.f_globals.get("__name__") == __name__:
            frame = frame.f_back
        self._filename = frame.f_code.co_filename if frame is not None else "<unknown>"
        self._line = frame.f_lineno if frame is not None else 0
        self._function = frame.f_code.co_name if frame is not None else "?"

    def __str__(self) -> str:
        path = Path(self._filename)
        shown = path.relative_to(_ROOT) if path.is_relative_to(_ROOT) else path
        return f"{shown}:{self._line} in {self._function}"


def _alive(obj: QObject | None) -> bool:
    return obj is not None and shiboken6.isValid(obj)


@dataclass(slots=True)
class _PendingCall:
    """A ``QTimer.singleShot`` call: pending until it fires; cancelled at the test's end."""

    where: _Place
    context: weakref.ref[QObject] | None
    fired: bool = False
    cancelled: bool = False

    def pending(self) -> bool:
        if self.fired or self.cancelled:
            return False
        if self.context is None:
            return True
        # Qt drops the call when its context object is destroyed.
        return _alive(self.context())


def _top_level_widgets() -> list[QWidget]:
    """Parentless widgets (windows, dialogs); popups and docks have a parent."""
    if not isinstance(QCoreApplication.instance(), QApplication):
        return []
    return [w for w in QApplication.topLevelWidgets() if w.parent() is None]


def _socket_inodes() -> set[str]:
    """The sockets this process holds open (Linux), as ``socket:[inode]`` link texts."""
    fds = Path("/proc/self/fd")
    inodes = set()
    for fd in os.listdir(fds):
        try:
            target = os.readlink(fds / fd)
        except OSError:  # closed while we looked (the listing's own descriptor)
            continue
        if target.startswith("socket:"):
            inodes.add(target)
    return inodes


def _unix_paths() -> dict[str, str]:
    """``socket:[inode]`` -> path of the AF_UNIX sockets that have one."""
    paths = {}
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8:
            paths[f"socket:[{fields[6]}]"] = fields[7]
    return paths


def _children() -> dict[int, str]:
    """This process's running children (Linux): pid -> command name. Zombies (ended, not
    yet reaped by their ``Popen``) are not running."""
    me = os.getpid()
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # ended while we looked
            continue
        name, _, rest = stat[stat.index("(") + 1:].rpartition(")")
        fields = rest.split()
        if len(fields) >= 2 and int(fields[1]) == me and fields[0] != "Z":
            found[int(entry)] = name
    return found


class LeakWatch:
    """Notes what is started between :meth:`watch` and :meth:`leaks`, and where."""

    def __init__(self, *, thread_grace_s: float = THREAD_GRACE_S) -> None:
        self._thread_grace_s = thread_grace_s
        self._timers: weakref.WeakKeyDictionary[QTimer, _Place] = weakref.WeakKeyDictionary()
        self._calls: list[_PendingCall] = []
        self._qthreads: weakref.WeakKeyDictionary[QThread, _Place] = weakref.WeakKeyDictionary()
        self._servers: weakref.WeakKeyDictionary[QLocalServer, _Place] = weakref.WeakKeyDictionary()
        self._sockets: weakref.WeakKeyDictionary[QLocalSocket, str] = weakref.WeakKeyDictionary()
        self._threads_before: set[threading.Thread] = set()
        self._widgets_before: weakref.WeakSet[QWidget] = weakref.WeakSet()
        self._sockets_before: set[str] | None = None
        self._children_before: set[int] | None = None

    @contextmanager
    def watch(self) -> Iterator[LeakWatch]:
        """Wrap the starting calls for the duration of the ``with`` block."""
        self._threads_before = set(threading.enumerate())
        self._widgets_before = weakref.WeakSet(_top_level_widgets())
        self._sockets_before = _socket_inodes() if Path("/proc/self/fd").is_dir() else None
        self._children_before = set(_children()) if Path("/proc/self/stat").is_file() else None
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(QTimer, "start", self._noting(QTimer.start, self._timers))
            patch.setattr(QTimer, "singleShot", self._wrap_single_shot(QTimer.singleShot))
            patch.setattr(QThread, "start", self._noting(QThread.start, self._qthreads))
            patch.setattr(QLocalServer, "listen", self._noting(QLocalServer.listen, self._servers))
            patch.setattr(
                QLocalServer, "nextPendingConnection",
                self._wrap_accept(QLocalServer.nextPendingConnection),
            )
            yield self

    # -- the wrappers ----------------------------------------------------------------------

    @staticmethod
    def _noting(
        start: Callable[..., Any], into: weakref.WeakKeyDictionary[Any, _Place]
    ) -> Callable[..., Any]:
        """``start`` (a method) that first notes its object and where it was called."""

        def tracked_start(obj: Any, *args: Any, **kwargs: Any) -> Any:
            into[obj] = _Place()
            return start(obj, *args, **kwargs)

        return tracked_start

    def _wrap_single_shot(self, single_shot: Callable[..., None]) -> Any:
        calls = self._calls

        def tracked_single_shot(msec: int, *rest: Any) -> None:
            functor = rest[-1] if rest else None
            if not callable(functor) or len(rest) > 2:
                single_shot(msec, *rest)  # the SIGNAL/SLOT-string forms: not tracked
                return
            context = rest[0] if len(rest) == 2 else None
            call = _PendingCall(
                _Place(), weakref.ref(context) if context is not None else None
            )
            calls.append(call)

            def fire() -> None:
                call.fired = True
                if not call.cancelled:
                    functor()

            single_shot(msec, *((context,) if context is not None else ()), fire)

        return staticmethod(tracked_single_shot)

    def _wrap_accept(
        self, accept: Callable[[QLocalServer], QLocalSocket | None]
    ) -> Callable[[QLocalServer], QLocalSocket | None]:
        sockets = self._sockets

        def tracked_accept(server: QLocalServer) -> QLocalSocket | None:
            sock = accept(server)
            if sock is not None:
                sockets[sock] = f"accepted by the server listening at {server.fullServerName()}"
            return sock

        return tracked_accept

    # -- the end of the test -----------------------------------------------------------------

    def leaks(self) -> list[str]:
        """Everything still running, each with where it was started; stops what it can."""
        app = QCoreApplication.instance()
        if app is not None:
            # Objects the test asked to delete (deleteLater) go now, as the event loop
            # would: their timers and sockets go with them.
            app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        found = [
            *self._running_timers(),
            *self._pending_calls(),
            *self._live_threads(app),
            *self._open_servers(),
            *self._open_connections(),
            *self._live_windows(app),
            *self._live_children(app),
        ]
        found.extend(self._open_sockets())  # last: what stopping the above did not close
        return found

    def _running_timers(self) -> Iterator[str]:
        for timer, where in list(self._timers.items()):
            if _alive(timer) and timer.isActive():
                timer.stop()
                yield f"QTimer still running, started at {where}"

    def _pending_calls(self) -> Iterator[str]:
        for call in self._calls:
            if call.pending():
                call.cancelled = True
                yield f"QTimer.singleShot call still pending, from {call.where}"

    def _live_threads(self, app: QCoreApplication | None) -> Iterator[str]:
        deadline = time.monotonic() + self._thread_grace_s

        def wait(alive: Callable[[], bool], join: Callable[[], object]) -> bool:
            while alive() and time.monotonic() < deadline:
                if app is not None:  # a finishing worker may wait on the GUI thread
                    app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
                join()
            return alive()

        for qthread, where in list(self._qthreads.items()):
            if _alive(qthread) and wait(qthread.isRunning, lambda t=qthread: t.wait(10)):
                qthread.quit()
                yield f"QThread still running, started at {where}"
        for thread in threading.enumerate():
            if thread in self._threads_before or thread is threading.current_thread():
                continue
            if not (thread.name.startswith(WORKER_PREFIX) or not thread.daemon):
                continue
            if wait(thread.is_alive, lambda t=thread: t.join(0.01)):
                kind = "daemon" if thread.daemon else "non-daemon"
                yield f"thread {thread.name!r} ({kind}) still alive"

    def _open_servers(self) -> Iterator[str]:
        for server, where in list(self._servers.items()):
            if _alive(server) and server.isListening():
                name = server.fullServerName()
                server.close()
                yield f"QLocalServer still listening at {name}, listen() at {where}"

    def _open_connections(self) -> Iterator[str]:
        unconnected = QLocalSocket.LocalSocketState.UnconnectedState
        for sock, where in list(self._sockets.items()):
            if _alive(sock) and sock.state() != unconnected:
                sock.abort()
                yield f"hook connection still open, {where}"

    def _live_windows(self, app: QCoreApplication | None) -> Iterator[str]:
        left = [w for w in _top_level_widgets() if w not in self._widgets_before]
        for widget in left:
            yield (f"top-level {type(widget).__name__} {widget.windowTitle()!r} never deleted "
                   "(give it to qtbot.addWidget)")
            widget.close()
            widget.deleteLater()
        if left and app is not None:
            app.sendPostedEvents(None, QEvent.Type.DeferredDelete)

    def _live_children(self, app: QCoreApplication | None) -> Iterator[str]:
        if self._children_before is None:
            return
        before = self._children_before
        deadline = time.monotonic() + self._thread_grace_s
        left = {pid: name for pid, name in _children().items() if pid not in before}
        while left and time.monotonic() < deadline:
            if app is not None:  # its owner may be stopping it on the GUI thread
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
            time.sleep(0.01)
            left = {pid: name for pid, name in _children().items() if pid in left}
        for pid, name in sorted(left.items()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended just now
                continue
            yield f"child process {pid} ({name}) still running"

    def _open_sockets(self) -> Iterator[str]:
        if self._sockets_before is None:
            return
        opened = _socket_inodes() - self._sockets_before
        if not opened:
            return
        paths = _unix_paths()
        for inode in sorted(opened):
            yield f"socket {inode} still open" + (
                f" (AF_UNIX, {paths[inode]})" if inode in paths else ""
            )
