"""How the hook client reaches the server: a plain ``AF_UNIX`` socket on Unix (as fast as
QLocalSocket, and no Qt start-up cost); on Windows a QLocalSocket, imported only there.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Protocol

logger = logging.getLogger(__name__)

_RECV_CHUNK = 256 * 1024


class HookError(Exception):
    """Something went wrong talking to the hook endpoint."""


class HookUnavailableError(HookError, ConnectionError):
    """Nothing is listening at the address: mma-qt is not running, or it is elsewhere."""

    def __init__(self, address: str) -> None:
        super().__init__(f"no mma-qt hook listening at {address}: start mma-qt or pass --hook")
        self.address = address


class Transport(Protocol):
    def send(self, data: bytes, timeout: float | None) -> None: ...

    def recv(self, timeout: float | None) -> bytes:
        """Some bytes, ``b""`` at end of stream; TimeoutError if none came in time."""
        ...

    def interrupt(self) -> None:
        """Wake a reader blocked in another thread (best effort)."""
        ...

    def close(self) -> None: ...


class _UnixTransport:
    def __init__(self, path: str, timeout: float) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise HookUnavailableError(path) from exc
        except BaseException:
            sock.close()
            raise
        self._sock = sock

    def send(self, data: bytes, timeout: float | None) -> None:
        self._sock.settimeout(timeout)
        self._sock.sendall(data)

    def recv(self, timeout: float | None) -> bytes:
        self._sock.settimeout(timeout)
        try:
            return self._sock.recv(_RECV_CHUNK)
        except BlockingIOError as exc:  # timeout 0: a non-blocking poll found nothing
            raise TimeoutError("no data ready") from exc

    def interrupt(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            logger.debug("shutdown of hook socket failed", exc_info=True)

    def close(self) -> None:
        self._sock.close()


class _QtTransport:
    """Windows named pipes via QLocalSocket's blocking API (usable without an event loop)."""

    def __init__(self, name: str, timeout: float) -> None:
        from PySide6.QtNetwork import QLocalSocket

        self._states = QLocalSocket.LocalSocketState
        self._sock = QLocalSocket()
        self._sock.connectToServer(name)
        if not self._sock.waitForConnected(_ms(timeout)):
            raise HookUnavailableError(name)

    def send(self, data: bytes, timeout: float | None) -> None:
        if self._sock.write(data) < 0:
            raise ConnectionError(self._sock.errorString())
        while self._sock.bytesToWrite() > 0:
            if not self._sock.waitForBytesWritten(_ms(timeout)):
                if self._sock.state() != self._states.ConnectedState:
                    raise ConnectionError(self._sock.errorString())
                raise TimeoutError("timed out sending to the hook server")

    def recv(self, timeout: float | None) -> bytes:
        if self._sock.bytesAvailable() == 0 and not self._sock.waitForReadyRead(_ms(timeout)):
            if self._sock.state() != self._states.ConnectedState:
                return b""
            raise TimeoutError("no data ready")
        return bytes(self._sock.readAll().data())

    def interrupt(self) -> None:
        """QLocalSocket is not thread-safe; a blocked reader ends at its own timeout."""

    def close(self) -> None:
        self._sock.abort()


def _ms(timeout: float | None) -> int:
    return -1 if timeout is None else max(0, round(timeout * 1000))


def connect(address: str, timeout: float) -> Transport:
    if sys.platform == "win32":
        return _QtTransport(address, timeout)
    return _UnixTransport(address, timeout)
