"""Blocking calls of the window (the keyring, building providers) off the GUI thread.

As Anki keeps collection work on its own executor (``qt/aqt/taskman.py``): a
:class:`TaskRunner` runs each call on its one worker thread, in the order submitted, and
hands the finished :class:`~concurrent.futures.Future` back on the GUI thread through a
queued signal, to a callback that reads ``future.result()`` (raising there what the call
raised). One runner belongs to the window and is shut down when it closes; nothing is
process-global.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal, Slot
from shiboken6 import Shiboken

T = TypeVar("T")


class TaskRunner(QObject):
    """Runs blocking calls on its own thread; each result comes back on the GUI thread."""

    #: A finished future (emitted from the worker thread, delivered queued).
    _finished = Signal(object)

    def __init__(self, parent: QObject | None = None, *, name: str = "mma-ui-task") -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._waiting: dict[Future[Any], tuple[Callable[[Future[Any]], None], QObject]] = {}
        self._closed = False
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def submit(
        self, fn: Callable[[], T], on_done: Callable[[Future[T]], None], *, owner: QObject
    ) -> Future[T]:
        """Run ``fn`` on the runner's thread; then ``on_done(future)`` on the GUI thread,
        unless ``owner`` (whose method ``on_done`` usually is) was deleted meanwhile."""
        if self._closed:
            raise RuntimeError("the task runner is shut down")
        future = self._executor.submit(fn)
        self._waiting[future] = (on_done, owner)
        future.add_done_callback(self._finished.emit)
        return future

    @property
    def closed(self) -> bool:
        """Whether :meth:`shutdown` was called (nothing more may be submitted)."""
        return self._closed

    @property
    def busy(self) -> bool:
        """Whether a submitted call has not been delivered yet."""
        return bool(self._waiting)

    def shutdown(self) -> None:
        """Drop the calls not started, wait for the running one, deliver nothing more.

        The owner calls this before it goes, so no worker thread outlives it and no result
        reaches a closed window.
        """
        self._closed = True
        self._waiting.clear()
        self._executor.shutdown(wait=True, cancel_futures=True)

    @Slot(object)
    def _deliver(self, future: Future[Any]) -> None:
        waiting = self._waiting.pop(future, None)
        if waiting is None or self._closed:
            return
        on_done, owner = waiting
        if Shiboken.isValid(owner):
            on_done(future)
