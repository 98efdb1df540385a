"""The MCP servers' own asyncio event loop, in a daemon thread (never the app's qasync loop).

The official ``mcp`` SDK is anyio-based; every server's connection lives on this loop, and
the worker pool's threads reach it through :meth:`LoopThread.submit`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

#: Extra seconds the calling thread waits past a call's own timeout before giving up on
#: the server's event loop itself.
CALL_GRACE_S = 5.0

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread of its own, from construction to :meth:`close`."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=_run_loop, args=(self.loop,), name=name,
                                        daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the loop; :class:`RuntimeError` once the loop is closed."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """``coro``'s result; after ``timeout`` seconds it is cancelled (:class:`TimeoutError`)."""
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        """Stop the loop (its tasks cancelled); waits :data:`CALL_GRACE_S` for the thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(CALL_GRACE_S)
        if self._thread.is_alive():
            log.warning("the MCP servers' event loop did not end within %g s", CALL_GRACE_S)


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=CALL_GRACE_S))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
