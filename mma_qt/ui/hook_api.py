"""The hook's methods: everything the window can do, callable over JSON-RPC.

Params are validated with pydantic models (unknown fields are refused), so a bad call
gets -32602 naming the field. A request the app refuses in its current state (start while
running, pause when idle) gets -32000 with the reason. The window is driven through its
public methods only, never through its widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mma_qt import PROTOCOL_VERSION, __version__

from ..core.history.recorder import HistoryRecorder
from ..core.live.events import EVENT_TYPES
from ..core.model.status import ToolPolicy
from ..core.run.approvals import ApprovalError
from ..core.run.controller import Controller, ControllerError, InvalidEdit
from ..hooks.protocol import INVALID_PARAMS, METHOD_NOT_FOUND, LargeResult, RpcError
from .hook_history import history_methods
from .hook_steering import steering_methods
from .main_window import FIELD_NAMES, MainWindow

#: JSON-RPC "server error" range: the app refuses the request in its current state.
REFUSED = -32000
#: A longer stream text is sent in slices between events (a shorter one: in one go, faster).
LARGE_TEXT_CHARS = 64 * 1024

P = TypeVar("P", bound=BaseModel)


def status_document(controller: Controller, *, streams: bool = True) -> dict[str, Any]:
    """The ``get_mma_status`` answer; also what ``--report`` writes: one shape for both.

    ``streams=False`` gives each stream's length instead of its text. The document holds
    fresh containers and immutable leaves, so it can be encoded later, in slices.
    """
    status = controller.session.snapshot(streams=streams)
    status["approvals"] = controller.pending_approvals()
    status["tool_policy"] = str(controller.current_tool_policy)
    return status


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _NoParams(_Params):
    pass


class _StartEpic(_Params):
    epic: str = Field(min_length=1)
    workspace: str | None = None
    auto: bool | None = None


class _Cancel(_Params):
    ticket_id: str | None = None


class _Status(_Params):
    #: False (or ``summary: true``) gives stream lengths instead of full texts.
    streams: bool = True
    summary: bool = False


class _GetStream(_Params):
    stream_id: str
    offset: int = Field(default=0, ge=0)
    limit: int | None = Field(default=None, ge=0)


class _Resolve(_Params):
    key: str | None = None
    all: bool = False
    #: approve: the user's version of the call's editable argument (one key only).
    edited: str | None = None
    #: approve a spawn: the prompt and the model the worker gets (one key only).
    prompt: str | None = None
    model: str | None = Field(default=None, min_length=1)
    #: reject: why (the model reads it).
    reason: str = ""

    @model_validator(mode="after")
    def _one_of_key_or_all(self) -> _Resolve:
        if (self.key is None) == (not self.all):
            raise ValueError('give either "key" or "all": true')
        for name in ("edited", "prompt", "model"):
            if getattr(self, name) is not None and self.key is None:
                raise ValueError(f'"{name}" goes with one "key"')
        return self


class _Ticket(_Params):
    ticket_id: str


class _Track(_Params):
    track_id: str


class _Policy(_Params):
    policy: str

    @field_validator("policy")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in {p.value for p in ToolPolicy}:
            raise ValueError("one of: " + ", ".join(p.value for p in ToolPolicy))
        return value


class _Name(_Params):
    name: str


class _SetValue(_Params):
    name: str
    value: Any


class _Select(_Params):
    target: str


class AppHookApi:
    def __init__(self, window: MainWindow, history: HistoryRecorder) -> None:
        self.window = window
        self.controller = window.controller
        self.session = window.session
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "ping": self._ping,
            "describe": self._describe,
            "start_epic": self._start_epic,
            "pause": self._pause,
            "resume": self._resume,
            "cancel": self._cancel,
            "get_mma_status": self._get_status,
            "get_stream": self._get_stream,
            "get_approvals": self._get_approvals,
            "approve": self._approve,
            "reject": self._reject,
            "set_tool_policy": self._set_tool_policy,
            "get_tool_calls": self._get_tool_calls,
            "get_changes": self._get_changes,
            "merge_track": self._merge_track,
            "click": self._click,
            "set_value": self._set_value,
            "get_value": self._get_value,
            "select": self._select,
            **steering_methods(self.controller, self._parse, window.pipeline.plan),
            **history_methods(history, self.controller, self._live_document,
                              self._workspace, self._parse),
        }

    def _live_document(self, streams: bool) -> dict[str, Any]:
        return status_document(self.controller, streams=streams)

    def _workspace(self) -> str:
        return str(self.window.field_value("workspace"))

    @property
    def method_names(self) -> list[str]:
        return [*self._methods, "subscribe", "unsubscribe"]

    def call(self, method: str, params: dict[str, Any]) -> Any:
        handler = self._methods.get(method)
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
        try:
            return handler(params)
        except InvalidEdit as exc:
            raise RpcError(INVALID_PARAMS, f"Invalid params: {exc}") from exc
        except ControllerError as exc:
            raise RpcError(REFUSED, str(exc)) from exc

    @staticmethod
    def _parse(model: type[P], params: dict[str, Any]) -> P:
        try:
            return model.model_validate(params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}"
                for e in exc.errors()
            )
            raise RpcError(INVALID_PARAMS, f"Invalid params: {problems}") from exc

    # -- methods -------------------------------------------------------------------------
    def _ping(self, params: dict[str, Any]) -> dict[str, Any]:
        self._parse(_NoParams, params)
        return {
            "pong": True,
            "protocol": PROTOCOL_VERSION,
            "version": __version__,
            "provider": self.session.provider_label,
        }

    def _describe(self, params: dict[str, Any]) -> dict[str, Any]:
        self._parse(_NoParams, params)
        return {
            "methods": self.method_names,
            "actions": self.window.action_names(),
            "fields": list(FIELD_NAMES),
            "events": list(EVENT_TYPES),
        }

    def _start_epic(self, params: dict[str, Any]) -> dict[str, Any]:
        p = self._parse(_StartEpic, params)
        if p.auto is not None:
            self.window.set_auto(p.auto)
        self.window.start(p.epic, p.workspace)
        return {"started": True, "status": str(self.session.status)}  # the new run's

    def _pause(self, params: dict[str, Any]) -> dict[str, Any]:
        self._parse(_NoParams, params)
        self.controller.pause()
        return {"status": str(self.session.status)}

    def _resume(self, params: dict[str, Any]) -> dict[str, Any]:
        self._parse(_NoParams, params)
        self.controller.resume()
        return {"status": str(self.session.status)}

    def _cancel(self, params: dict[str, Any]) -> dict[str, Any]:
        p = self._parse(_Cancel, params)
        self.controller.cancel(p.ticket_id)
        return {"cancelled": p.ticket_id or "run"}

    def _get_status(self, params: dict[str, Any]) -> dict[str, Any] | LargeResult:
        p = self._parse(_Status, params)
        streams = p.streams and not p.summary
        status = status_document(self.controller, streams=streams)
        # Full texts are unbounded (64 streams x 100 KB is 6.4 MB): sent between events.
        return LargeResult(status) if streams else status

    def _get_stream(self, params: dict[str, Any]) -> dict[str, Any] | LargeResult:
        p = self._parse(_GetStream, params)
        hub = self.session.hub
        if p.stream_id not in self.session.records:
            raise RpcError(INVALID_PARAMS, f"Invalid params: no stream {p.stream_id!r}")
        hub.drain()
        text = hub.text(p.stream_id, p.offset)
        if p.limit is not None:
            text = text[: p.limit]
        result = {
            "stream_id": p.stream_id,
            "offset": p.offset,
            "text": text,
            "length": hub.length(p.stream_id),
            "chunks": hub.chunk_count(p.stream_id),
        }
        return LargeResult(result) if len(text) > LARGE_TEXT_CHARS else result

    def _get_approvals(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self._parse(_NoParams, params)
        return self.controller.pending_approvals()

    def _resolve(self, params: dict[str, Any], approved: bool) -> dict[str, Any]:
        p = self._parse(_Resolve, params)
        reason = "" if approved else p.reason
        if p.key is None:  # all: every request pending now
            keys = [a["key"] for a in self.controller.pending_approvals()]
            for key in keys:
                self.controller.resolve_approval(key, approved, reason=reason)
            return {"keys": keys, "approved": approved}
        try:
            self.controller.resolve_approval(p.key, approved, edited=p.edited, reason=reason,
                                             prompt=p.prompt, model=p.model)
        except ApprovalError as exc:
            raise RpcError(INVALID_PARAMS, f"Invalid params: {exc.args[0]}") from exc
        return {"key": p.key, "approved": approved}

    def _approve(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._resolve(params, True)

    def _reject(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._resolve(params, False)

    def _set_tool_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        p = self._parse(_Policy, params)
        return {"policy": str(self.controller.set_tool_policy(p.policy))}

    def _get_tool_calls(self, params: dict[str, Any]) -> list[dict[str, Any]] | LargeResult:
        p = self._parse(_Ticket, params)
        calls = self.controller.tool_calls(p.ticket_id)
        size = sum(len(c["result"]) for c in calls)
        return LargeResult(calls) if size > LARGE_TEXT_CHARS else calls

    def _get_changes(self, params: dict[str, Any]) -> list[dict[str, str]] | LargeResult:
        p = self._parse(_Ticket, params)
        changes = self.controller.changes(p.ticket_id)
        size = sum(len(c["diff"]) for c in changes)
        return LargeResult(changes) if size > LARGE_TEXT_CHARS else changes

    def _merge_track(self, params: dict[str, Any]) -> dict[str, Any]:
        """Checked at once (refusals are -32000); the merge itself runs in a worker thread
        and a ``merge`` event tells how it ended (``merged`` or ``refused`` with why)."""
        p = self._parse(_Track, params)
        self.controller.start_merge(p.track_id)
        return {"merging": True, "track_id": p.track_id}

    def _click(self, params: dict[str, Any]) -> dict[str, Any]:
        p = self._parse(_Name, params)
        try:
            enabled = self.window.action_enabled(p.name)
        except KeyError as exc:
            raise RpcError(INVALID_PARAMS, f"Invalid params: {exc.args[0]}") from exc
        if not enabled:
            raise RpcError(REFUSED, f"action {p.name!r} is disabled now")
        # Answer first when closing: it ends the app.
        self.window.trigger_action(p.name, later=p.name == "close")
        return {"clicked": p.name, "status": str(self.session.status)}

    def _set_value(self, params: dict[str, Any]) -> dict[str, Any]:
        p = self._parse(_SetValue, params)
        try:
            self.window.set_field_value(p.name, p.value)
        except (KeyError, TypeError) as exc:
            raise RpcError(INVALID_PARAMS, f"Invalid params: {exc.args[0]}") from exc
        return {"name": p.name, "value": self.window.field_value(p.name)}

    def _get_value(self, params: dict[str, Any]) -> dict[str, Any]:
        p = self._parse(_Name, params)
        try:
            return {"name": p.name, "value": self.window.field_value(p.name)}
        except KeyError as exc:
            raise RpcError(INVALID_PARAMS, f"Invalid params: {exc.args[0]}") from exc

    def _select(self, params: dict[str, Any]) -> dict[str, Any]:
        p = self._parse(_Select, params)
        try:
            selected = self.window.select(p.target)
        except KeyError as exc:
            raise RpcError(INVALID_PARAMS, f"Invalid params: {exc.args[0]}") from exc
        return {"selected": selected}
