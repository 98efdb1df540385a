"""JSON-RPC 2.0 over newline-delimited UTF-8 JSON, shared by the hook server and client.

One line carries one request or one batch (an array of requests), and gets one response
line back, or none (notifications). Pure Python (no Qt), so the framing and error rules
are tested without an event loop and the stdlib client and CLI start fast.
"""

from __future__ import annotations

import getpass
import json
import logging
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import platformdirs

from mma_qt.hooks.encoding import json_pieces

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

RequestId = int | float | str | None


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
    mistakes; any other exception is reported as ``INTERNAL_ERROR`` and logged. Return a
    :class:`LargeResult` for an answer of unbounded size, so that it is sent in slices.
    """

    def call(self, method: str, params: dict[str, Any]) -> Any: ...


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    id: RequestId = None
    notification: bool = False


@dataclass(frozen=True, slots=True)
class LargeResult:
    """A result of unbounded size (say, every stream's full text), for a dispatcher to return.

    It is encoded in pieces, between events, after :meth:`Dispatcher.call` has returned:
    ``value`` must hold fresh containers and immutable leaves, never live state. Other
    results are encoded at once, in one step of the C encoder (faster when small).
    """

    value: Any


@dataclass(frozen=True, slots=True)
class Reply:
    """One response object, not yet encoded: the result of, or an error for, one request."""

    id: RequestId
    result: Any = None
    error: RpcError | None = None
    method: str = ""


#: What one line gets back: one reply, or a batch's replies (never an empty list).
Response = Reply | list[Reply]


def _valid_id(value: object) -> bool:
    # A string, a number or null; bool is an int subclass, but true/false are not ids.
    if isinstance(value, bool):
        return False
    return value is None or isinstance(value, (str, int)) or (
        isinstance(value, float) and math.isfinite(value)
    )


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


#: Refuses NaN and Infinity, which Python's json accepts but JSON has not. One decoder for
#: all lines: json.loads with a keyword builds a new one per call (~8 us of a 16 us ping).
_DECODER: Final = json.JSONDecoder(parse_constant=_not_json)


def decode_line(line: bytes | str) -> Any:
    """The JSON value of one line; raises :class:`RequestError` (parse error)."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError as exc:
        raise RequestError(PARSE_ERROR, f"invalid UTF-8: {exc}") from exc
    try:
        return _DECODER.decode(text)
    except ValueError as exc:  # JSONDecodeError, and NaN/Infinity
        raise RequestError(PARSE_ERROR, f"parse error: {exc}") from exc


def validate_request(obj: object) -> Request:
    """Check one request object against JSON-RPC 2.0; raises :class:`RequestError`."""
    if not isinstance(obj, dict):
        raise RequestError(INVALID_REQUEST, "a request must be a JSON object")
    notification = "id" not in obj
    request_id = obj.get("id")
    if not _valid_id(request_id):
        raise RequestError(INVALID_REQUEST, "id must be a string, a number or null")
    if obj.get("jsonrpc") != "2.0":
        raise RequestError(INVALID_REQUEST, 'jsonrpc must be "2.0"', request_id=request_id)
    method = obj.get("method")
    if not isinstance(method, str):
        raise RequestError(INVALID_REQUEST, "method must be a string", request_id=request_id)
    params = obj.get("params", {})
    if params == []:
        params = {}  # no parameters, by position
    if isinstance(params, list):
        raise RequestError(
            INVALID_PARAMS,
            "params must be an object: methods take their parameters by name",
            request_id=request_id,
            notification=notification,
        )
    if not isinstance(params, dict):
        raise RequestError(
            INVALID_REQUEST, "params must be an object or an array", request_id=request_id
        )
    return Request(method, params, request_id, notification)


def parse_request(line: bytes | str) -> Request:
    """One line holding one request (not a batch); raises :class:`RequestError`."""
    return validate_request(decode_line(line))


def execute(request: Request, call: Callable[[str, dict[str, Any]], Any]) -> Reply | None:
    """Run one request; returns its reply, or None for a notification."""
    try:
        result = call(request.method, request.params)
    except RpcError as exc:
        if request.notification:
            logger.warning("hook notification %r failed: %s", request.method, exc.message)
            return None
        return Reply(request.id, error=exc, method=request.method)
    except Exception as exc:
        logger.exception("hook method %r raised", request.method)
        if request.notification:
            return None
        error = RpcError(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        return Reply(request.id, error=error, method=request.method)
    if request.notification:
        return None
    return Reply(request.id, result, method=request.method)


def _respond_one(obj: object, call: Callable[[str, dict[str, Any]], Any]) -> Reply | None:
    try:
        request = validate_request(obj)
    except RequestError as exc:
        logger.warning("invalid hook request (%d): %s", exc.code, exc.message)
        return None if exc.notification else Reply(exc.request_id, error=exc)
    return execute(request, call)


def respond(line: bytes, call: Callable[[str, dict[str, Any]], Any]) -> Response | None:
    """Parse and run one line, a request or a batch; None when nothing is to be answered.

    JSON-RPC 2.0 batches: an array of requests gets an array of replies in the same order,
    notifications left out, and no answer at all when every member is a notification; an
    empty array gets one error; an invalid member gets its own error in the array.
    Invalid input is answered and logged, never raised.
    """
    if not line.strip():
        return None
    try:
        message = decode_line(line)
    except RequestError as exc:
        logger.warning("invalid hook request (%d): %s", exc.code, exc.message)
        return Reply(None, error=exc)
    if not isinstance(message, list):
        return _respond_one(message, call)
    if not message:
        logger.warning("invalid hook request: an empty batch")
        return Reply(None, error=RpcError(INVALID_REQUEST, "an empty batch is not a request"))
    replies = [reply for obj in message if (reply := _respond_one(obj, call)) is not None]
    return replies or None


# -- encoding ------------------------------------------------------------------------------

def _compact(value: Any) -> bytes:
    """Compact UTF-8 JSON; raises TypeError/ValueError if ``value`` is not serializable.

    NaN and infinities are refused: they are not JSON and break strict clients.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")


def encode_message(message: dict[str, Any]) -> bytes:
    """One line: compact UTF-8 JSON plus newline."""
    return _compact(message) + b"\n"


def request_line(request_id: RequestId, method: str, params: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        message["params"] = params
    return encode_message(message)


def notification_line(method: str, params: dict[str, Any]) -> bytes:
    return encode_message({"jsonrpc": "2.0", "method": method, "params": params})


def _error_object(request_id: RequestId, error: RpcError) -> bytes:
    """Unserializable ``data`` is dropped (and logged) rather than the error lost."""
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    try:
        return _compact({"jsonrpc": "2.0", "error": body, "id": request_id})
    except (TypeError, ValueError):
        logger.exception("error data for %r is not JSON-serializable; sent without", error.message)
        del body["data"]
        return _compact({"jsonrpc": "2.0", "error": body, "id": request_id})


def error_line(request_id: RequestId, code: int, message: str, data: Any = None) -> bytes:
    return _error_object(request_id, RpcError(code, message, data)) + b"\n"


def _not_serializable(reply: Reply, exc: Exception) -> bytes:
    logger.error(
        "result of hook method %r is not JSON-serializable", reply.method, exc_info=exc
    )
    message = f"result is not JSON-serializable: {type(exc).__name__}: {exc}"
    return _error_object(reply.id, RpcError(INTERNAL_ERROR, message))


def _large_result_pieces(reply: Reply, value: Any) -> Iterator[bytes]:
    """Encoded in steps (empty pieces are pauses); sent only once all of it encoded."""
    parts: list[bytes] = []
    try:
        for piece in json_pieces(value):
            parts.append(piece)
            yield b""
    except (TypeError, ValueError) as exc:
        yield _not_serializable(reply, exc)
        return
    yield b'{"jsonrpc":"2.0","result":'
    yield from parts
    yield b',"id":' + _compact(reply.id) + b"}"


def _encoded(reply: Reply) -> bytes | Iterator[bytes]:
    """A reply's response object: bytes, encoded now, or for a LargeResult, pieces to come."""
    if reply.error is not None:
        return _error_object(reply.id, reply.error)
    if isinstance(reply.result, LargeResult):
        return _large_result_pieces(reply, reply.result.value)
    try:
        return _compact({"jsonrpc": "2.0", "result": reply.result, "id": reply.id})
    except (TypeError, ValueError) as exc:
        return _not_serializable(reply, exc)


def _in_pieces(members: list[bytes | Iterator[bytes]], batch: bool) -> Iterator[bytes]:
    if batch:
        yield b"["
    for index, member in enumerate(members):
        if index:
            yield b","
        if isinstance(member, bytes):
            yield member
        else:
            yield from member
    yield b"]\n" if batch else b"\n"


def response_pieces(response: Response) -> Iterable[bytes]:
    """The response line in pieces; an empty piece marks where a sender may pause.

    Results are encoded here, at once, except a :class:`LargeResult`, which is encoded as
    its pieces are taken. Without one, the line is a single piece.
    """
    batch = isinstance(response, list)
    replies = response if isinstance(response, list) else [response]
    members = [_encoded(reply) for reply in replies]
    done = [member for member in members if isinstance(member, bytes)]
    if len(done) < len(members):
        return _in_pieces(members, batch)
    return (b"[" + b",".join(done) + b"]\n" if batch else done[0] + b"\n",)


def encode_response(response: Response) -> bytes:
    return b"".join(response_pieces(response))


def handle_line(line: bytes, call: Callable[[str, dict[str, Any]], Any]) -> bytes | None:
    """Parse, run and encode one line in one go; None when nothing is to be answered."""
    response = respond(line, call)
    return None if response is None else encode_response(response)


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
