"""Helpers for tests that need the user's MCP servers: the echo server, by config or HTTP.

For a run's tests (acceptance 7)::

    config = Config.model_validate({"mcp": {"servers": {"echo": echo_server(auto_approve=[])}}})
    with McpServers(config.mcp.servers) as servers:    # started; stopped on leaving
        servers.register(registry)                     # "echo__echo", "echo__add", ...
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: The test server (stdio by default; ``--http PORT``; ``--stubborn``).
ECHO_SERVER = Path(__file__).with_name("mcp_echo_server.py")


def echo_server(*flags: str, **settings: Any) -> dict[str, Any]:
    """The ``[mcp.servers.NAME]`` table that runs the echo server over stdio."""
    return {"command": [sys.executable, str(ECHO_SERVER), *flags], **settings}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    """Until something accepts on 127.0.0.1:``port`` (bounded; fails if ``process`` exits)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            try:
                probe.connect(("127.0.0.1", port))
                return
            except OSError:
                # Not listening yet: connect fails at once, so wait for the process a bit.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout_s:g} s")


@contextlib.contextmanager
def http_echo_server() -> Iterator[str]:
    """The echo server over streamable HTTP on loopback; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ECHO_SERVER), "--http", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for an absent reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Until ``condition()`` holds (checked every 50 ms), or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {timeout_s:g} s: {condition}")
        pause.wait(0.05)
