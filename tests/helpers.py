"""Shared test helpers: short socket paths, blocking clients off the GUI thread, app processes."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
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


def close_qloop(loop: asyncio.AbstractEventLoop, app: Any) -> None:
    """Cancel a test's qasync loop's tasks, close the loop and delete its timer object.

    qasync's ``close()`` only flags its timer QObject stopped: the Qt timers of handles
    still scheduled (the cancelled timeout of a ``wait_for``) stay registered with the GUI
    thread's event dispatcher until they fire. The loop sits in reference cycles, so the
    garbage collector may free it, and that QObject, on whichever thread collects, e.g. a
    worker's in a later test: ``~QObject`` cannot unregister timers there ("Timers cannot
    be stopped from another thread") and the next one fires at freed memory, a segfault
    (seen under xcb). Deleting the object here, on the GUI thread, unregisters them. The
    app never does this: it runs one loop for its whole life.
    """
    import shiboken6

    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    while any(not t.done() for t in pending):
        app.processEvents()
    asyncio.events._set_running_loop(None)
    loop.close()
    asyncio.set_event_loop(None)
    timer = getattr(loop, "_timer", None)  # qasync's _SimpleTimer: no public handle on it
    if timer is not None and shiboken6.isValid(timer):
        shiboken6.delete(timer)


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("mma-worker") and t.is_alive()]


#: What an orderly app never prints: a traceback, or an asyncio callback that failed (as
#: one emitting on a deleted Qt object does).
NOISE = ("Traceback", "Exception in callback", "Signal source has been deleted")


def assert_quiet(stderr: str) -> None:
    for noise in NOISE:
        assert noise not in stderr, stderr


def slow_ticket(folder: Path, ticket_id: str = "T-001") -> Path:
    """A demo scenario whose ``ticket_id`` streams slowly: at ``--demo-delay 0`` the plans
    arrive at once, then that worker runs long enough to be interrupted mid-stream."""
    path = folder / f"slow-{ticket_id}.toml"
    path.write_text(f"[tickets.{ticket_id}]\ndelay = 0.5\n", encoding="utf-8")
    return path


def slow_first_ticket(folder: Path) -> Path:
    return slow_ticket(folder, "T-001")


def kill_while_streaming(workspace: Path, tmp_path: Path, ticket_id: str) -> dict[str, Any]:
    """Run the demo in ``workspace`` until ``ticket_id``'s worker streams, wait one more
    second of events, then SIGKILL the app. Returns the status the window showed first."""
    from mma_qt.core.model.prompts import sample_epic
    from mma_qt.hooks.client import ApiHookClient

    app = AppProcess(["--provider", "demo", "--demo-delay", "0.01", "--scenario",
                      str(slow_ticket(tmp_path, ticket_id)), "--epic", sample_epic(),
                      "--workspace", str(workspace), "--auto"], app_env(tmp_path), tmp_path)
    sid = f"Tier 3 (Worker): {ticket_id}"
    try:
        app.expect("hook listening on")
        with ApiHookClient(app.hook) as client:
            client.wait_for(lambda s: len(s["mma_streams"].get(sid, "")) > 0, 60,
                            types=["text"])
            shown = client.get_mma_status()
            shown_at = time.time()
            client.subscribe(["text", "status"])
            while client.next_event(30)["time"] < shown_at + 1.0:
                pass
        os.kill(app.proc.pid, signal.SIGKILL)
        app.finish()
    finally:
        app.kill()
    return shown


def app_env(folder: Path) -> dict[str, str]:
    """Environment for an ``mma-qt`` subprocess: offscreen, with its own private runtime,
    config, log and hook, so it never touches (or collides with) a real profile."""
    runtime = folder / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "XDG_STATE_HOME": str(folder / "state"),
        "XDG_DATA_HOME": str(folder / "data"),
        "MMA_QT_HOOK": short_socket_path(),
    }


class AppProcess:
    """``python -m mma_qt ARGS`` with its stderr read line by line on a thread, so a test
    waits for a given line (never for a time) and can still read everything at the end."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.hook = env["MMA_QT_HOOK"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mma_qt", *args], env=env, cwd=cwd,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="test-stderr", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, text: str, timeout: float = 60) -> str:
        """Read stderr until a line containing ``text``; fail at end of output or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} in {timeout} s:\n" +
                                     "\n".join(self.lines)) from None
            if line is None:
                raise AssertionError(f"stderr ended without {text!r}:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if text in line:
                return line

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the exit; the exit code and the whole of stderr."""
        try:
            code = self.proc.wait(timeout)
        finally:
            self.kill()
        self._reader.join(timeout)
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.lines.append(line)
        return code, "".join(f"{line}\n" for line in self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
