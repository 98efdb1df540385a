"""One hook client's connection: line framing, its read timeout, its event subscription,
and its :class:`~mma_qt.hooks.outbox.Outbox`.

Requests are answered on the GUI thread as their lines arrive. An answer goes out at once
when it fits in one slice of work (:data:`SLICE_S`); a larger one (a :class:`LargeResult`, such as
``get_mma_status`` with every stream's text) is encoded and written in slices between
events, pumped by the server, and everything queued behind it keeps its order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, Final

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtNetwork import QLocalSocket

from mma_qt.hooks.outbox import Outbox
from mma_qt.hooks.protocol import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    MAX_LINE_BYTES,
    Dispatcher,
    RpcError,
    error_line,
    respond,
    response_pieces,
)

logger = logging.getLogger(__name__)

MAX_PENDING_EVENT_BYTES: Final = 64 * 1024 * 1024
"""A subscriber that lets this much pile up unread is dropped instead of eating memory."""

SLICE_S: Final = 0.002
"""Longest the GUI thread spends on sending in one go before other events are served."""

_Connected: Final = QLocalSocket.LocalSocketState.ConnectedState


class Connection(QObject):
    """One client: line framing, its read timeout, its event subscription and its outbox."""

    closed = Signal(object)
    #: Has more to send than fits in one slice: the server pumps it between events.
    backlogged = Signal(object)

    def __init__(
        self,
        sock: QLocalSocket,
        dispatcher: Dispatcher,
        read_timeout_ms: int,
        parent: QObject,
        *,
        slice_s: float = SLICE_S,
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
        self._outbox = Outbox(self._write)
        self._slice_s = slice_s
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

    @property
    def finished(self) -> bool:
        return self._finished

    def _write(self, data: bytes) -> None:
        """Write unless the client is gone; a vanished client is not an error."""
        if self._finished or self._socket.state() != _Connected:
            logger.debug("dropping %d bytes for a closed hook connection", len(data))
            return
        if self._socket.write(data) < 0:
            logger.debug("hook write failed: %s", self._socket.errorString())

    def send(self, pieces: Iterable[bytes]) -> None:
        """Queue one message behind the others; send at once what fits in a slice."""
        if self._finished:
            logger.debug("dropping a message for a closed hook connection")
            return
        backlogged = self._outbox.pending
        self._outbox.put(pieces)
        if not backlogged and not self.pump(time.perf_counter() + self._slice_s):
            self.backlogged.emit(self)

    def pump(self, deadline: float | None) -> bool:
        """Send queued messages until ``deadline``; True when nothing is left."""
        return self._finished or self._outbox.pump(deadline)

    def send_event(self, line: bytes) -> None:
        if self._socket.bytesToWrite() > MAX_PENDING_EVENT_BYTES:
            logger.warning(
                "dropping hook subscriber: %d bytes of events unread", self._socket.bytesToWrite()
            )
            self.abort()
            return
        self.send((line,))

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
                try:
                    self._outbox.pump(None)
                except Exception:
                    logger.exception("failed to send the last hook answers")
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
        if unsent := self._outbox.clear():
            logger.debug("hook connection closed with %d messages unsent", unsent)
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
            response = respond(line, self.call)
            if response is not None:
                self.send(response_pieces(response))

    def _reject_oversized(self, size: int) -> None:
        logger.warning("hook request line of %d+ bytes exceeds 1 MiB; closing connection", size)
        self._outbox.pump(None)  # answers already due go out whole, ahead of the error
        self._write(error_line(None, INVALID_REQUEST, "line exceeds 1 MiB"))
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
