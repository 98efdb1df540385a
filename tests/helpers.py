"""Shared test helpers: short socket paths, running blocking clients off the GUI thread."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

FINAL = ("done", "failed", "cancelled")


def short_socket_path() -> str:
    """AF_UNIX paths are limited to ~107 bytes: pytest's tmp_path can be longer."""
    return str(Path(tempfile.mkdtemp(prefix="mq")) / "hook.sock")


def run_off_gui_thread(qtbot: Any, fn: Callable[[], T], timeout_ms: int = 60_000) -> T:
    """Run a blocking (socket) client in a thread while the Qt loop keeps serving."""
    with ThreadPoolExecutor(1, thread_name_prefix="test-client") as pool:
        future: Future[T] = pool.submit(fn)
        qtbot.waitUntil(future.done, timeout=timeout_ms)
        return future.result()


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("mma-worker") and t.is_alive()]
