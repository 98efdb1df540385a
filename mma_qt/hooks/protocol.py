"""JSON-RPC 2.0 over newline-delimited UTF-8 JSON, shared by the hook server and client.

Pure Python (no Qt), so the framing and error rules are tested without an event loop and
the stdlib client and CLI start fast.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import platformdirs

logger = logging.getLogger(__name__)

MAX_LINE_BYTES: Final = 1024 * 1024
"""Longest request line the server accepts; bounds what one client can make us buffer."""

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603

ENV_VAR: Final = "MMA_QT_HOOK"
DEFAULT_SOCKET_NAME: Final = "hook.sock"
EVENT_METHOD: Final = "event"

RequestId = int | str | None


class RpcError(Exception):
    """An error a method reports to the caller; becomes the JSON-RPC ``error`` member."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def __repr__(self) -> str:
        return f"RpcError({self.code}, {self.message!r})"


class RequestError(RpcError):
    """A line that is not a usable request; carries the id when one could be read."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        request_id: RequestId = None,
        notification: bool = False,
    ) -> None:
        super().__init__(code, message)
        self.request_id = request_id
        self.notification = notification


class Dispatcher(Protocol):
    """What the application supplies to answer hook calls.

    Raise :class:`RpcError` with ``METHOD_NOT_FOUND`` or ``INVALID_PARAMS`` for caller
    mistakes; any other exception is reported as ``INTERNAL_ERROR`` and logged.
    """

    def call(self, method: str, params: dict[str, Any]) -> Any: ...


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    id: RequestId = None
    notification: bool = False


def _valid_id(value: object) -> bool:
    # bool is an int subclass, but true/false are not valid ids.
    return (
        value is None
        or isinstance(value, str)
        or (isinstance(value, int) and not isinstance(value, bool))
    )


def parse_request(line: bytes | str) -> Request:
    """Validate one line; raises :class:`RequestError` with the code to answer with."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError as exc:
        raise RequestError(PARSE_ERROR, f"invalid UTF-8: {exc}") from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(PARSE_ERROR, f"parse error: {exc}") from exc
    if isinstance(obj, list):
        raise RequestError(INVALID_REQUEST, "batches are not supported")
    if not isinstance(obj, dict):
        raise RequestError(INVALID_REQUEST, "a request must be a JSON object")
    notification = "id" not in obj
    request_id = obj.get("id")
    if not _valid_id(request_id):
        raise RequestError(INVALID_REQUEST, "id must be an integer, a string or null")
    if obj.get("jsonrpc") != "2.0":
        raise RequestError(INVALID_REQUEST, 'jsonrpc must be "2.0"', request_id=request_id)
    method = obj.get("method")
    if not isinstance(method, str) or not method:
        raise RequestError(
            INVALID_REQUEST, "method must be a non-empty string", request_id=request_id
        )
    params = obj.get("params", {})
    if not isinstance(params, dict):
        raise RequestError(
            INVALID_PARAMS,
            "params must be an object",
            request_id=request_id,
            notification=notification,
        )
    return Request(method, params, request_id, notification)


def encode_message(message: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON plus newline; raises TypeError/ValueError if not serializable.

    NaN and infinities are refused: they are not JSON and break strict clients.
    """
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8") + b"\n"


def request_line(request_id: RequestId, method: str, params: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        message["params"] = params
    return encode_message(message)


def result_line(request_id: RequestId, result: Any) -> bytes:
    return encode_message({"jsonrpc": "2.0", "result": result, "id": request_id})


def error_line(request_id: RequestId, code: int, message: str, data: Any = None) -> bytes:
    """Error response; unserializable ``data`` is dropped (and logged) rather than lost."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    try:
        return encode_message({"jsonrpc": "2.0", "error": error, "id": request_id})
    except (TypeError, ValueError):
        logger.exception("error data for %r is not JSON-serializable; sending without it", message)
        del error["data"]
        return encode_message({"jsonrpc": "2.0", "error": error, "id": request_id})


def notification_line(method: str, params: dict[str, Any]) -> bytes:
    return encode_message({"jsonrpc": "2.0", "method": method, "params": params})


def execute(request: Request, call: Callable[[str, dict[str, Any]], Any]) -> bytes | None:
    """Run one request; returns the response line, or None for a notification."""
    try:
        result = call(request.method, request.params)
    except RpcError as exc:
        if request.notification:
            logger.warning("hook notification %r failed: %s", request.method, exc.message)
            return None
        return error_line(request.id, exc.code, exc.message, exc.data)
    except Exception as exc:
        logger.exception("hook method %r raised", request.method)
        if request.notification:
            return None
        return error_line(request.id, INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
    if request.notification:
        return None
    try:
        return result_line(request.id, result)
    except (TypeError, ValueError) as exc:
        logger.exception("result of hook method %r is not JSON-serializable", request.method)
        return error_line(
            request.id,
            INTERNAL_ERROR,
            f"result is not JSON-serializable: {type(exc).__name__}: {exc}",
        )


def handle_line(line: bytes, call: Callable[[str, dict[str, Any]], Any]) -> bytes | None:
    """Parse and run one line; invalid input is answered and logged, never raised."""
    if not line.strip():
        return None
    try:
        request = parse_request(line)
    except RequestError as exc:
        logger.warning("invalid hook request (%d): %s", exc.code, exc.message)
        if exc.notification:
            return None
        return error_line(exc.request_id, exc.code, exc.message)
    return execute(request, call)


def qt_temp_dir() -> str:
    """Where QLocalServer puts a bare name on Unix: ``QDir::tempPath()``.

    Qt reads ``$TMPDIR`` (made absolute, trailing slash dropped) or uses ``/tmp``; unlike
    :func:`tempfile.gettempdir` it does not skip a missing or unwritable directory, and it
    is not cached, so the rule is mirrored here rather than borrowed from :mod:`tempfile`.
    """
    value = os.environ.get("TMPDIR", "")
    return os.path.abspath(value) if value else "/tmp"


def default_hook_address() -> str:
    if sys.platform == "win32":
        return f"mma-qt-{getpass.getuser()}"
    # Without $XDG_RUNTIME_DIR platformdirs falls back to a private folder of its own
    # (/run/user/<uid> or /tmp/runtime-<uid>, mode 0700) and warns; that folder is what
    # server and client both use, and the app prints the socket path, so the warning
    # would only be noise on a user's console.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)
        return os.path.join(platformdirs.user_runtime_dir("mma-qt"), DEFAULT_SOCKET_NAME)


def _has_separator(value: str) -> bool:
    return os.sep in value or "/" in value or (os.altsep is not None and os.altsep in value)


def resolve_hook_address(name_or_path: str | None = None) -> str:
    """The socket path (or, on Windows, pipe name) that server and client agree on.

    ``None`` falls back to ``$MMA_QT_HOOK``, then to a per-user default. A value with a path
    separator is a path; a bare name is resolved the way QLocalServer resolves it, so a
    stdlib ``AF_UNIX`` client finds the server that listened on that name.
    """
    if name_or_path is None:
        name_or_path = os.environ.get(ENV_VAR) or None
        if name_or_path is None:
            return default_hook_address()
    if not name_or_path:
        raise ValueError("the hook address must not be empty")
    if _has_separator(name_or_path) or sys.platform == "win32":
        return name_or_path
    return os.path.join(qt_temp_dir(), name_or_path)
