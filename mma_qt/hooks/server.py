"""The hook endpoint: JSON-RPC 2.0 lines on a QLocalServer, answered on the GUI thread.

Follows qutebrowser's ``misc/ipc.py``: ``removeServer`` before ``listen``, ``chmod 0700``
on the socket instead of ``UserAccessOption`` (which hides AddressInUseError, QTBUG-48635),
a read timeout per connection, and invalid data answered and logged, never raised.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import sys
from typing import Any, Final

from PySide6.QtCore import QDir, QObject, QTimer, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from mma_qt.hooks.protocol import (
    EVENT_METHOD,
    INVALID_PARAMS,
    INVALID_REQUEST,
    MAX_LINE_BYTES,
    Dispatcher,
    RpcError,
    error_line,
    handle_line,
    notification_line,
)

logger = logging.getLogger(__name__)

MAX_PENDING_EVENT_BYTES: Final = 64 * 1024 * 1024
"""A subscriber that lets this much pile up unread is dropped instead of eating memory."""

_Connected: Final = QLocalSocket.LocalSocketState.ConnectedState


class HookServerError(RuntimeError):
    """The hook endpoint could not be opened."""


class _Connection(QObject):
    """One client: line framing, its read timeout and its event subscription."""

    closed = Signal(object)

    def __init__(
        self,
        sock: QLocalSocket,
        dispatcher: Dispatcher,
        read_timeout_ms: int,
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        sock.setParent(self)
        self._socket = sock
        self._dispatcher = dispatcher
        self._buffer = bytearray()
        self._scan_from = 0
        self._in_read = False
        self._closing = False
        self._finished = False
        self.subscribed = False
        self.event_types: frozenset[str] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(read_timeout_ms)
        self._timer.timeout.connect(self._on_read_timeout)
        sock.readyRead.connect(self._on_ready_read)
        sock.disconnected.connect(self._on_disconnected)
        sock.errorOccurred.connect(self._on_error)

    def start(self) -> None:
        """Handle whatever arrived before the signals were connected."""
        if self._socket.bytesAvailable() > 0:
            self._on_ready_read()
        if self._socket.state() != _Connected and not self._finished:
            self._finish()

    # -- sending -------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Write unless the client is gone; a vanished client is not an error."""
        if self._finished or self._socket.state() != _Connected:
            logger.debug("dropping %d bytes for a closed hook connection", len(data))
            return
        if self._socket.write(data) < 0:
            logger.debug("hook write failed: %s", self._socket.errorString())

    def send_event(self, line: bytes) -> None:
        if self._socket.bytesToWrite() > MAX_PENDING_EVENT_BYTES:
            logger.warning(
                "dropping hook subscriber: %d bytes of events unread", self._socket.bytesToWrite()
            )
            self.abort()
            return
        self.send(line)

    def wants(self, event_type: object) -> bool:
        if not self.subscribed or self._finished:
            return False
        return self.event_types is None or event_type in self.event_types

    # -- closing -------------------------------------------------------------------------

    def abort(self, *, flush: bool = False) -> None:
        """Hang up now; ``flush`` first hands what is queued to the OS, without blocking."""
        self._closing = True
        self._timer.stop()
        if not self._finished:
            if flush and self._socket.state() == _Connected:
                self._socket.flush()
            self._socket.abort()
            self._finish()

    def _close_after_flush(self) -> None:
        """Let the last answer go out, then hang up; the timer bounds a stuck flush."""
        self._closing = True
        self._buffer.clear()
        self._scan_from = 0
        self._socket.flush()
        self._timer.start()
        self._socket.disconnectFromServer()

    def _finish(self) -> None:
        if self._finished:
            return
        self._finished = True
        self._closing = True
        self._timer.stop()
        self.closed.emit(self)
        self.deleteLater()

    # -- slots ---------------------------------------------------------------------------

    @Slot()
    def _on_ready_read(self) -> None:
        try:
            self._read()
        except Exception:
            logger.exception("hook connection failed while reading; closing it")
            self.abort()

    @Slot()
    def _on_disconnected(self) -> None:
        try:
            self._finish()
        except Exception:
            logger.exception("error while closing a hook connection")

    @Slot(QLocalSocket.LocalSocketError)
    def _on_error(self, error: QLocalSocket.LocalSocketError) -> None:
        if error == QLocalSocket.LocalSocketError.PeerClosedError:
            logger.debug("hook client closed the connection")
        else:
            logger.debug("hook connection error %s: %s", error, self._socket.errorString())

    @Slot()
    def _on_read_timeout(self) -> None:
        try:
            if not self._closing:
                logger.warning(
                    "closing hook connection: partial request idle for %.1f s",
                    self._timer.interval() / 1000,
                )
            self.abort()
        except Exception:
            logger.exception("error while timing out a hook connection")

    # -- framing -------------------------------------------------------------------------

    def _read(self) -> None:
        data = self._socket.readAll().data()
        if self._closing:
            return
        self._buffer += data
        if self._in_read:  # re-entered from a dispatcher that spun the event loop
            return
        self._in_read = True
        try:
            self._process_lines()
        finally:
            self._in_read = False
        if self._closing:
            return
        if self._buffer:
            self._timer.start()
        else:
            self._timer.stop()

    def _process_lines(self) -> None:
        while not self._closing:
            newline = self._buffer.find(b"\n", self._scan_from)
            if newline < 0:
                if len(self._buffer) > MAX_LINE_BYTES:
                    self._reject_oversized(len(self._buffer))
                else:
                    self._scan_from = len(self._buffer)
                return
            line = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            self._scan_from = 0
            if len(line) > MAX_LINE_BYTES:
                self._reject_oversized(len(line))
                return
            response = handle_line(line, self.call)
            if response is not None:
                self.send(response)

    def _reject_oversized(self, size: int) -> None:
        logger.warning("hook request line of %d+ bytes exceeds 1 MiB; closing connection", size)
        self.send(error_line(None, INVALID_REQUEST, "line exceeds 1 MiB"))
        self._close_after_flush()

    # -- methods -------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any]) -> Any:
        """Subscriptions are per connection, so they are answered here, not by the app."""
        if method == "subscribe":
            types = params.get("types")
            if types is not None and (
                not isinstance(types, list) or not all(isinstance(t, str) for t in types)
            ):
                raise RpcError(INVALID_PARAMS, "types must be a list of strings")
            self.event_types = None if types is None else frozenset(types)
            self.subscribed = True
            return {"subscribed": True}
        if method == "unsubscribe":
            self.subscribed = False
            self.event_types = None
            return {"subscribed": False}
        return self._dispatcher.call(method, params)


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
    is called synchronously, so it must not block.
    """

    def __init__(
        self,
        address: str,
        dispatcher: Dispatcher,
        parent: QObject | None = None,
        *,
        read_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(parent)
        self._address = address
        self._dispatcher = dispatcher
        self._read_timeout_ms = max(1, round(read_timeout_s * 1000))
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._on_new_connection)
        self._connections: set[_Connection] = set()

    @property
    def address(self) -> str:
        return self._address

    @property
    def path(self) -> str:
        """The full socket path (pipe name on Windows); empty while not listening."""
        return self._server.fullServerName() if self._server.isListening() else ""

    def is_listening(self) -> bool:
        return self._server.isListening()

    def connection_count(self) -> int:
        return len(self._connections)

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
                conn = _Connection(
                    self._server.nextPendingConnection(),
                    self._dispatcher,
                    self._read_timeout_ms,
                    self,
                )
                conn.closed.connect(self._on_connection_closed)
                self._connections.add(conn)
                conn.start()
        except Exception:
            logger.exception("failed to accept a hook connection")

    @Slot(object)
    def _on_connection_closed(self, conn: object) -> None:
        if isinstance(conn, _Connection):
            self._connections.discard(conn)
