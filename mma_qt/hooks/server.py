"""The hook endpoint: JSON-RPC 2.0 lines on a QLocalServer, answered on the GUI thread.

Follows qutebrowser's ``misc/ipc.py``: ``removeServer`` before ``listen``, ``chmod 0700``
on the socket instead of ``UserAccessOption`` (which hides AddressInUseError, QTBUG-48635),
a read timeout per connection, and invalid data answered and logged, never raised.

A large answer is sent in slices between events, each connection's messages in order;
see :mod:`mma_qt.hooks.connection`.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import sys
import time
from typing import Any

from PySide6.QtCore import QDir, QObject, QTimer, Slot
from PySide6.QtNetwork import QLocalServer

from mma_qt.hooks.connection import SLICE_S, Connection
from mma_qt.hooks.protocol import EVENT_METHOD, Dispatcher, notification_line

logger = logging.getLogger(__name__)


class HookServerError(RuntimeError):
    """The hook endpoint could not be opened."""


def _socket_path(address: str) -> str:
    """The file QLocalServer will create for ``address`` (Unix only)."""
    if "/" in address:
        return address
    return os.path.join(QDir.tempPath(), address)


def _is_live(path: str) -> bool:
    """True if a server answers at ``path``; removeServer would otherwise steal its socket."""
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return False
    except FileNotFoundError:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError:
            logger.debug("could not probe hook socket %s", path, exc_info=True)
            return False
    return True


class HookServer(QObject):
    """Serves the :class:`~mma_qt.hooks.protocol.Dispatcher` to local scripts and tests.

    Everything runs on the thread that owns this object (the GUI thread); the dispatcher
    is called synchronously, so it must not block. ``slice_s`` bounds how long sending
    may hold that thread in one go: a larger answer goes out in slices between events.
    """

    def __init__(
        self,
        address: str,
        dispatcher: Dispatcher,
        parent: QObject | None = None,
        *,
        read_timeout_s: float = 30.0,
        slice_s: float = SLICE_S,
    ) -> None:
        super().__init__(parent)
        self._address = address
        self._dispatcher = dispatcher
        self._read_timeout_ms = max(1, round(read_timeout_s * 1000))
        self._slice_s = slice_s
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._on_new_connection)
        self._connections: set[Connection] = set()
        #: Connections with more to send, in turn order (a dict is an ordered set).
        self._backlogged: dict[Connection, None] = {}
        self._slicer = QTimer(self)
        self._slicer.setInterval(0)  # once per pass of the event loop, after waiting events
        self._slicer.timeout.connect(self._on_slice)

    @property
    def path(self) -> str:
        """The full socket path (pipe name on Windows); empty while not listening."""
        return self._server.fullServerName() if self._server.isListening() else ""

    def is_listening(self) -> bool:
        return self._server.isListening()

    def connection_count(self) -> int:
        return len(self._connections)

    def sending_count(self) -> int:
        """Connections with an answer still being sent, in slices between events."""
        return len(self._backlogged)

    def subscriber_count(self) -> int:
        return sum(1 for conn in self._connections if conn.subscribed)

    def listen(self) -> str:
        """Open the endpoint, private to this user; returns the full socket path."""
        if self._server.isListening():
            return self._server.fullServerName()
        if sys.platform != "win32":
            path = _socket_path(self._address)
            parent = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(parent):
                os.makedirs(parent, mode=0o700)
                os.chmod(parent, 0o700)  # makedirs' mode is masked by the umask
            if _is_live(path):
                raise HookServerError(f"another mma-qt hook is already listening at {path}")
        QLocalServer.removeServer(self._address)
        if not self._server.listen(self._address):
            raise HookServerError(
                f"cannot listen for hooks at {self._address}: {self._server.errorString()}"
            )
        full = self._server.fullServerName()
        if sys.platform != "win32":
            try:
                os.chmod(full, 0o700)
            except OSError as exc:
                self._server.close()
                raise HookServerError(f"cannot restrict hook socket {full}: {exc}") from exc
        logger.info("hook endpoint listening at %s", full)
        return full

    def close(self) -> None:
        """Stop listening (Qt removes the socket file) and hang up on every client."""
        self._server.close()
        self._slicer.stop()
        self._backlogged.clear()
        for conn in list(self._connections):
            conn.abort(flush=True)  # answers and events already published still go out
        self._connections.clear()

    def publish(self, event: dict[str, Any]) -> int:
        """Send ``event`` to matching subscribers; returns how many it was sent to.

        Encodes only when someone wants the event: the app publishes on every stream
        drain, and JSON-encoding unseen text deltas cost GUI time (benchmarks/README.md).
        Raises TypeError/ValueError if ``event`` is not JSON-serializable: that is the
        caller's bug and should surface there.
        """
        event_type = event.get("type")
        targets = [conn for conn in self._connections if conn.wants(event_type)]
        if not targets:
            return 0
        line = notification_line(EVENT_METHOD, event)
        for conn in targets:
            conn.send_event(line)
        return len(targets)

    @Slot()
    def _on_new_connection(self) -> None:
        try:
            while self._server.hasPendingConnections():
                conn = Connection(
                    self._server.nextPendingConnection(),
                    self._dispatcher,
                    self._read_timeout_ms,
                    self,
                    slice_s=self._slice_s,
                )
                conn.closed.connect(self._on_connection_closed)
                conn.backlogged.connect(self._on_backlogged)
                self._connections.add(conn)
                conn.start()
        except Exception:
            logger.exception("failed to accept a hook connection")

    @Slot(object)
    def _on_connection_closed(self, conn: object) -> None:
        if isinstance(conn, Connection):
            self._connections.discard(conn)
            self._backlogged.pop(conn, None)

    @Slot(object)
    def _on_backlogged(self, conn: object) -> None:
        if isinstance(conn, Connection) and not conn.finished:
            self._backlogged[conn] = None
            self._slicer.start()

    @Slot()
    def _on_slice(self) -> None:
        """Send for one slice of work, each backlogged connection in turn."""
        deadline = time.perf_counter() + self._slice_s
        for conn in list(self._backlogged):
            del self._backlogged[conn]
            try:
                done = conn.pump(deadline)
            except Exception:
                logger.exception("failed to send a hook answer; closing its connection")
                conn.abort()
                continue
            if not done:
                self._backlogged[conn] = None  # its next turn comes after the others
            if time.perf_counter() >= deadline:
                break
        if not self._backlogged:
            self._slicer.stop()
