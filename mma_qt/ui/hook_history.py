"""The hook's methods for the history of a workspace (issue 12): ``list_runs``,
``get_run``, ``search_streams``, ``resume_run`` and ``rerun_ticket``.

Each reads ``<workspace>/.mma/history.sqlite3`` (``workspace`` param; default: the
workspace of the run being recorded, else the window's workspace field). ``get_run`` of
the run being recorded answers with the live ``get_mma_status`` document; a past run's is
read back in the same shape. A missing history lists no runs; an unknown run is -32602;
a history that cannot be read (a newer schema, a damaged file) is -32000 with the reason.
``resume_run`` and ``rerun_ticket`` start a new run from a past one (its
``parent_run_id``) and answer ``{run_id, parent_run_id, status}``; refused (a run in
progress, nothing to resume) is -32000, a bad ticket, prompt or model -32602.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ..core.history.recorder import HistoryRecorder
from ..core.history.schema import SchemaError
from ..core.history.store import HistoryStore, PastRun, RunNotFound
from ..core.run.controller import Controller
from ..hooks.protocol import INVALID_PARAMS, LargeResult, RpcError
from .history_control import go_on_from

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Any]
Parse = Callable[[type[BaseModel], dict[str, Any]], Any]
#: The live run's status document (``streams``: with the texts).
LiveDocument = Callable[[bool], dict[str, Any]]

T = TypeVar("T")

#: JSON-RPC "server error": the history cannot be read now.
REFUSED = -32000


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    workspace: str | None = Field(default=None, min_length=1)


class _ListRuns(_Params):
    limit: int = Field(default=50, ge=1, le=10_000)


class _GetRun(_Params):
    run_id: str = Field(min_length=1)
    streams: bool = True


class _Resume(_Params):
    run_id: str = Field(min_length=1)


class _Rerun(_Resume):
    ticket_id: str = Field(min_length=1)
    prompt: str | None = None
    model: str | None = None


class _Search(_Params):
    query: str = Field(min_length=1)
    limit: int = Field(default=20, ge=1, le=1000)


def history_methods(recorder: HistoryRecorder, controller: Controller,
                    live_document: LiveDocument, default_workspace: Callable[[], str],
                    parse: Parse) -> dict[str, Handler]:
    """The methods by name, for :class:`~.hook_api.AppHookApi`'s table."""
    methods = _HistoryMethods(recorder, controller, live_document, default_workspace, parse)
    return {"list_runs": methods.list_runs, "get_run": methods.get_run,
            "search_streams": methods.search_streams, "resume_run": methods.resume_run,
            "rerun_ticket": methods.rerun_ticket}


def _reading(fn: Callable[[], T]) -> T:
    """``fn()``, its failures to read the history as the hook's errors."""
    try:
        return fn()
    except RunNotFound as exc:
        raise RpcError(INVALID_PARAMS, f"Invalid params: {exc.args[0]}") from exc
    except SchemaError as exc:
        raise RpcError(REFUSED, str(exc)) from exc
    except sqlite3.Error as exc:
        log.warning("cannot read the history: %s", exc)
        raise RpcError(REFUSED, f"cannot read the history: {exc}") from exc


class _HistoryMethods:
    def __init__(self, recorder: HistoryRecorder, controller: Controller,
                 live_document: LiveDocument, default_workspace: Callable[[], str],
                 parse: Parse) -> None:
        self._recorder, self._controller = recorder, controller
        self._live_document, self._default_workspace = live_document, default_workspace
        self._parse = parse

    def _store(self, workspace: str | None) -> HistoryStore:
        recorder = self._recorder
        live = () if recorder.run_id is None else (recorder.run_id,)
        if workspace is None and recorder.path is not None:
            return HistoryStore(recorder.path, live=live)
        folder = Path(workspace or self._default_workspace() or ".").expanduser()
        return HistoryStore.of_workspace(folder.resolve(), live=live)

    def _existing(self, workspace: str | None) -> HistoryStore:
        history = self._store(workspace)
        if not history.path.exists():
            raise RpcError(INVALID_PARAMS, f"Invalid params: no history in "
                           f"{history.path.parent.parent}")
        return history

    def list_runs(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        p: _ListRuns = self._parse(_ListRuns, params)
        history = self._store(p.workspace)
        if not history.path.exists():
            return []
        return _reading(lambda: history.list_runs(p.limit))

    def get_run(self, params: dict[str, Any]) -> dict[str, Any] | LargeResult:
        p: _GetRun = self._parse(_GetRun, params)
        if p.run_id == self._recorder.run_id and p.workspace is None:
            document = {**self._live_document(p.streams), "run_id": p.run_id,
                        "parent_run_id": self._recorder.run_parent_id}
        else:
            history = self._existing(p.workspace)
            document = _reading(lambda: history.get_run(p.run_id, streams=p.streams))
        return LargeResult(document) if p.streams else document

    def search_streams(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        p: _Search = self._parse(_Search, params)
        history = self._store(p.workspace)
        if not history.path.exists():
            return []
        return _reading(lambda: history.search_streams(p.query, p.limit))

    def _past(self, p: _Resume) -> PastRun:
        history = self._existing(p.workspace)
        return _reading(lambda: history.load(p.run_id))

    def resume_run(self, params: dict[str, Any]) -> dict[str, Any]:
        p: _Resume = self._parse(_Resume, params)
        return go_on_from(self._controller, self._recorder, self._past(p))

    def rerun_ticket(self, params: dict[str, Any]) -> dict[str, Any]:
        p: _Rerun = self._parse(_Rerun, params)
        return go_on_from(self._controller, self._recorder, self._past(p),
                          ticket_id=p.ticket_id, model=p.model, prompt=p.prompt)
