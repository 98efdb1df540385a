"""Cooperative cancellation and pause for worker threads. Pure logic, no Qt.

Every worker gets its own :class:`CancelToken`, a child of its run's token, so cancelling
one ticket or the whole run reaches exactly the workers it should. A :class:`PauseGate`
holds running streams between chunks; cancelling wakes a paused worker at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside a worker when its token is cancelled."""


class CancelToken:
    def __init__(self, parent: CancelToken | None = None) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        self.reason = ""
        if parent is not None:
            parent.on_cancel(lambda: self.cancel(parent.reason))

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                # A failing callback must not stop the others from running; it is logged
                # with its traceback, not swallowed.
                log.exception("cancel callback %r failed", callback)

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` (in the cancelling thread) when cancelled; at once if already."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to ``timeout`` seconds, waking early on cancel. True if cancelled."""
        return self._event.wait(timeout)

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled(self.reason)


class PauseGate:
    """Open by default; while closed, :meth:`wait_open` blocks worker threads."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def wait_open(self, token: CancelToken) -> None:
        """Block while paused; raise :class:`Cancelled` if ``token`` is cancelled."""
        token.raise_if_cancelled()
        if not self._paused:
            return
        token.on_cancel(self.wake)
        with self._cond:
            while self._paused and not token.cancelled:
                self._cond.wait()
        token.raise_if_cancelled()
