"""The run's worker pool: each model call on its own named daemon thread. Pure logic.

Why not ``ThreadPoolExecutor``: its shutdown cannot be bounded, and its threads are joined
at interpreter exit, so one provider read that ignores cancellation (a hung socket) would
hang closing the app. Here shutdown waits at most ``timeout`` and names what is still
running; daemon threads never block exit. Concurrency is bounded by the conductor
(``max_workers``), so a thread per call costs nothing that matters next to a model call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

THREAD_PREFIX = "mma-worker"


class PoolClosed(RuntimeError):
    """Work submitted after :meth:`WorkerPool.close`: the run was shut down (the app is
    closing), so the caller stops as cancelled rather than failing."""


class WorkerPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._closed = False

    def submit(
        self, name: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> Future[R]:
        future: Future[R] = Future()

        def target() -> None:
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(*args, **kwargs))
                    except BaseException as exc:  # noqa: BLE001 - handed on, not swallowed
                        # Handed to the awaiting coroutine, which reports it.
                        future.set_exception(exc)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=target, name=f"{THREAD_PREFIX}: {name}", daemon=True)
        with self._lock:
            if self._closed:
                raise PoolClosed("the worker pool is shut down")
            self._threads.add(thread)
        thread.start()
        return future

    def running(self) -> list[str]:
        with self._lock:
            return sorted(t.name for t in self._threads)

    def close(self) -> None:
        """Refuse new work; running calls finish on their own (they hold no GUI state)."""
        with self._lock:
            self._closed = True

    def shutdown(self, timeout: float | None = None) -> list[str]:
        """Refuse new work; wait up to ``timeout`` s for running calls. Returns stragglers."""
        self.close()
        with self._lock:
            threads = list(self._threads)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        stragglers = self.running()
        if stragglers:
            log.warning("worker threads still running after shutdown: %s", ", ".join(stragglers))
        return stragglers
