"""A blocking client for the hook endpoint, for scripts, tests and the CLI.

It speaks to a server of its own protocol only: each connection starts with a ``ping``,
and a server whose major protocol version differs is refused (as qutebrowser's
``misc/ipc.py`` refuses a mismatched ``protocol_version``), naming both versions.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from mma_qt import PROTOCOL_VERSION
from mma_qt.hooks.client_history import HistoryCalls
from mma_qt.hooks.client_steering import SteeringCalls, given
from mma_qt.hooks.protocol import EVENT_METHOD, request_line, resolve_hook_address
from mma_qt.hooks.transport import HookError, HookUnavailableError, Transport, connect

__all__ = [
    "ApiHookClient",
    "HookCallError",
    "HookError",
    "HookProtocolError",
    "HookUnavailableError",
]

logger = logging.getLogger(__name__)


class HookCallError(HookError):
    """The server answered a call with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message
        self.data = data


class HookProtocolError(HookError):
    """The server speaks another major version of the hook protocol, or names none."""

    def __init__(self, address: str, server_version: object) -> None:
        if server_version is None:
            reason = "does not report its protocol version"
        else:
            reason = f"speaks protocol {server_version}"
        super().__init__(
            f"the mma-qt hook at {address} {reason}; this client speaks protocol "
            f"{PROTOCOL_VERSION}: use the mma-qt-hook of the same mma-qt release"
        )
        self.address = address
        self.server_version = server_version


def protocol_major(version: object) -> int | None:
    """The major version in ``1`` or ``"1.2"``; None when there is none to read."""
    if isinstance(version, int) and not isinstance(version, bool):
        return version
    if isinstance(version, str) and (match := re.fullmatch(r"(\d+)(\.\d+)*", version)):
        return int(match.group(1))
    return None


class ApiHookClient(HistoryCalls, SteeringCalls):
    """One connection to mma-qt; calls are serialised by a lock and matched by id.

    Event notifications that arrive while waiting for an answer are queued for
    :meth:`next_event`. A blocking :meth:`next_event` holds the lock, so a client that
    streams events should not also be used for calls from another thread.
    """

    def __init__(self, address: str | None = None, timeout: float = 10.0) -> None:
        self.address = resolve_hook_address(address)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._transport: Transport | None = None
        self._buffer = bytearray()
        self._scan_from = 0
        self._events: deque[dict[str, Any]] = deque()
        self._ids = itertools.count(1)
        #: The server's ``ping`` answer (version, protocol, provider), once connected.
        self.server_info: dict[str, Any] = {}

    # -- connection ----------------------------------------------------------------------

    def connect(self) -> None:
        """Connect now rather than at the first call; raises HookUnavailableError."""
        with self._lock:
            self._ensure_connected()

    def _ensure_connected(self) -> Transport:
        if self._transport is None:
            self._transport = connect(self.address, self.timeout)
            try:
                self._check_protocol(self._transport)
            except BaseException:
                self._drop_connection()
                raise
        return self._transport

    def _check_protocol(self, transport: Transport) -> None:
        """Refuse a server whose major protocol version is not ours."""
        answer = self._exchange(transport, "ping", None)
        version = answer.get("protocol") if isinstance(answer, dict) else None
        major = protocol_major(version)
        if major is None or major != protocol_major(PROTOCOL_VERSION):
            raise HookProtocolError(self.address, version)
        self.server_info = answer

    def _drop_connection(self) -> None:
        transport, self._transport = self._transport, None
        self._buffer.clear()
        self._scan_from = 0
        if transport is not None:
            transport.close()

    def close(self) -> None:
        transport = self._transport
        if transport is not None:
            transport.interrupt()  # wake a next_event() blocked in another thread
        with self._lock:
            self._drop_connection()

    def __enter__(self) -> ApiHookClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- framing -------------------------------------------------------------------------

    def _read_message(self, transport: Transport, deadline: float | None) -> dict[str, Any]:
        """The next JSON object; keeps bytes past the newline for the next message."""
        while True:
            newline = self._buffer.find(b"\n", self._scan_from)
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                self._scan_from = 0
                if not line.strip():
                    continue
                try:
                    message = json.loads(line)
                except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
                    raise HookError(f"invalid JSON from the hook server: {exc}") from exc
                if not isinstance(message, dict):
                    raise HookError(f"unexpected message from the hook server: {message!r}")
                return message
            self._scan_from = len(self._buffer)
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            chunk = transport.recv(timeout)
            if not chunk:
                raise ConnectionError("the hook server closed the connection")
            self._buffer += chunk

    def _queue_notification(self, message: dict[str, Any]) -> None:
        params = message.get("params")
        if message.get("method") == EVENT_METHOD and isinstance(params, dict):
            self._events.append(params)
        else:
            logger.debug("queueing unexpected notification %r", message.get("method"))
            self._events.append(message)

    def _guarded(self, operation: Callable[[Transport], Any]) -> Any:
        """Run ``operation`` under the lock; a broken connection is dropped for a retry."""
        with self._lock:
            transport = self._ensure_connected()
            try:
                return operation(transport)
            except TimeoutError:
                raise  # the connection is fine; a late answer is discarded by id
            except OSError:
                self._drop_connection()
                raise

    # -- calls ---------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call ``method`` and return its result; raises HookCallError on an error answer."""
        return self._guarded(lambda transport: self._exchange(transport, method, params))

    def _exchange(self, transport: Transport, method: str, params: dict[str, Any] | None) -> Any:
        """Send one request and read until its answer; events that come first are queued."""
        request_id = next(self._ids)
        deadline = time.monotonic() + self.timeout
        try:
            transport.send(request_line(request_id, method, params), self.timeout)
        except TimeoutError:
            self._drop_connection()  # a half-sent line would corrupt the next request
            raise
        while True:
            try:
                message = self._read_message(transport, deadline)
            except TimeoutError:
                raise TimeoutError(f"no answer to {method!r} within {self.timeout:g} s") from None
            if "id" not in message:
                self._queue_notification(message)
                continue
            # id null answers a request the server could not read: ours.
            if message["id"] == request_id or (message["id"] is None and "error" in message):
                return self._result(message)
            logger.debug("discarding a stale answer to id %r", message["id"])

    @staticmethod
    def _result(message: dict[str, Any]) -> Any:
        error = message.get("error")
        if error is not None:
            if not isinstance(error, dict):
                raise HookError(f"malformed error from the hook server: {error!r}")
            raise HookCallError(
                int(error.get("code", 0)), str(error.get("message", "")), error.get("data")
            )
        if "result" not in message:
            raise HookError(f"answer without result or error: {message!r}")
        return message["result"]

    # -- events --------------------------------------------------------------------------

    def subscribe(self, types: Iterable[str] | None = None) -> Any:
        """Start receiving events on this connection, optionally only of some types."""
        return self.call("subscribe", None if types is None else {"types": list(types)})

    def unsubscribe(self) -> Any:
        return self.call("unsubscribe")

    def next_event(self, timeout: float | None = None) -> dict[str, Any]:
        """The next event (``params`` of an ``event`` notification); blocks on the socket.

        ``timeout=None`` waits forever; ``0`` only looks at what already arrived.
        """
        with self._lock:
            if self._events:
                return self._events.popleft()
        deadline = None if timeout is None else time.monotonic() + timeout

        def receive(transport: Transport) -> dict[str, Any]:
            if self._events:
                return self._events.popleft()
            while True:
                try:
                    message = self._read_message(transport, deadline)
                except TimeoutError:
                    raise TimeoutError(f"no hook event within {timeout:g} s") from None
                if "id" in message:
                    logger.debug("discarding a stale answer to id %r", message["id"])
                    continue
                self._queue_notification(message)
                return self._events.popleft()

        result: dict[str, Any] = self._guarded(receive)
        return result

    def drain_events(self) -> list[dict[str, Any]]:
        """Queued events plus everything already readable, without blocking."""
        events: list[dict[str, Any]] = []
        while True:
            try:
                events.append(self.next_event(0))
            except TimeoutError:
                return events

    def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float,
        *,
        types: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Block until ``predicate(get_mma_status())`` holds; returns that status.

        Subscribes on a second connection before the first status fetch, so no change
        between the fetch and the wait can be missed; status is re-fetched after each
        batch of events rather than after each event.
        """
        deadline = time.monotonic() + timeout
        with ApiHookClient(self.address, self.timeout) as watcher:
            watcher.subscribe(types)
            status = self.get_mma_status()
            while not predicate(status):
                remaining = deadline - time.monotonic()
                try:
                    if remaining <= 0:
                        raise TimeoutError
                    watcher.next_event(remaining)
                except TimeoutError:
                    raise TimeoutError(
                        f"timed out after {timeout:g} s waiting for mma-qt; "
                        f"last status: {status.get('status')!r}"
                    ) from None
                watcher.drain_events()
                status = self.get_mma_status()
            return status

    # -- application methods -------------------------------------------------------------

    def ping(self) -> Any:
        return self.call("ping")

    def get_mma_status(self, **params: Any) -> dict[str, Any]:
        status = self.call("get_mma_status", params or None)
        if not isinstance(status, dict):
            raise HookError(f"get_mma_status returned {type(status).__name__}, not an object")
        return status

    def start_epic(
        self, epic: str, workspace: str | None = None, *, auto: bool | None = None
    ) -> Any:
        """Start a run; ``auto`` True approves every spawn, None keeps the app's setting."""
        return self.call("start_epic", given(epic=epic, workspace=workspace, auto=auto))

    def get_approvals(self) -> Any:
        return self.call("get_approvals")

    def approve(self, key: str) -> Any:
        """Approve one pending request, by key (``"T-001:spawn"``)."""
        return self.call("approve", {"key": key})

    def approve_all(self) -> Any:
        """Approve every request pending now; returns their keys."""
        return self.call("approve", {"all": True})

    def reject(self, key: str, reason: str = "") -> Any:
        """Reject one pending request; the model (or the ticket's stream) reads ``reason``."""
        return self.call("reject", given(key=key, reason=reason or None))

    def reject_all(self, reason: str = "") -> Any:
        return self.call("reject", given(all=True, reason=reason or None))

    def pause(self) -> Any:
        return self.call("pause")

    def resume(self) -> Any:
        return self.call("resume")

    def cancel(self, ticket_id: str | None = None) -> Any:
        return self.call("cancel", None if ticket_id is None else {"ticket_id": ticket_id})

    def get_stream(self, stream_id: str, offset: int = 0) -> Any:
        return self.call("get_stream", {"stream_id": stream_id, "offset": offset})

    def click(self, name: str) -> Any:
        return self.call("click", {"name": name})

    def set_value(self, name: str, value: Any) -> Any:
        return self.call("set_value", {"name": name, "value": value})

    def get_value(self, name: str) -> Any:
        return self.call("get_value", {"name": name})

    def select(self, target: str) -> Any:
        return self.call("select", {"target": target})

    def get_tool_calls(self, ticket_id: str) -> Any:
        """The ticket's tool calls: arguments, decisions, edits and results."""
        return self.call("get_tool_calls", {"ticket_id": ticket_id})

    def get_changes(self, ticket_id: str) -> Any:
        """The files the ticket changed: ``[{path, status, diff}]``."""
        return self.call("get_changes", {"ticket_id": ticket_id})

    def merge_track(self, track_id: str) -> Any:
        """Start merging a done track; a ``merge`` event says how it ended."""
        return self.call("merge_track", {"track_id": track_id})

    def set_tool_policy(self, policy: str) -> Any:
        """``ask``, ``auto-edits`` or ``auto``: for the running run and the next ones."""
        return self.call("set_tool_policy", {"policy": policy})
