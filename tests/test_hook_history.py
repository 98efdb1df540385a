"""The hook's history methods on the real window (demo provider): list_runs, get_run,
search_streams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.model.prompts import sample_epic
from mma_qt.hooks.protocol import LargeResult, RpcError
from mma_qt.ui.hook_api import status_document
from mma_qt.wiring import AppParts

from .helpers import FINAL

pytestmark = pytest.mark.ui  # the real window behind the hook


def finished_run(demo_app: AppParts, qtbot: Any, workspace: Path) -> str:
    runs: list[str] = []
    demo_app.history.recording.connect(runs.append)
    demo_app.window.start(sample_epic(), str(workspace))
    qtbot.waitUntil(lambda: demo_app.session.status in FINAL, timeout=60_000)
    return runs[-1]


def document(answer: Any) -> dict[str, Any]:
    return answer.value if isinstance(answer, LargeResult) else answer


def test_get_run_of_the_run_being_recorded_is_the_live_document(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    run_id = finished_run(demo_app, qtbot, tmp_path)
    answer = document(demo_app.api.call("get_run", {"run_id": run_id}))
    assert answer == {**status_document(demo_app.controller), "run_id": run_id,
                      "parent_run_id": None}


def test_list_runs_and_get_run_read_the_workspace_history(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    run_id = finished_run(demo_app, qtbot, tmp_path)
    demo_app.history.close()  # written: the next calls read the file
    [run] = demo_app.api.call("list_runs", {"workspace": str(tmp_path), "limit": 5})
    assert (run["run_id"], run["status"]) == (run_id, "done")
    stored = document(demo_app.api.call("get_run", {"run_id": run_id,
                                                    "workspace": str(tmp_path)}))
    live = status_document(demo_app.controller)
    assert stored["mma_streams"] == live["mma_streams"]
    assert stored["totals"] == live["totals"] and stored["tickets"] == live["tickets"]
    summary = demo_app.api.call("get_run", {"run_id": run_id, "workspace": str(tmp_path),
                                            "streams": False})
    assert isinstance(summary, dict) and summary["mma_streams"]["Tier 1"] == len(
        live["mma_streams"]["Tier 1"])
    hits = demo_app.api.call("search_streams", {"query": "RFC 4180",
                                                "workspace": str(tmp_path)})
    assert hits and {h["run_id"] for h in hits} == {run_id}


def test_a_workspace_without_history_lists_no_runs(demo_app: AppParts, tmp_path: Path) -> None:
    assert demo_app.api.call("list_runs", {"workspace": str(tmp_path)}) == []
    assert demo_app.api.call("search_streams", {"query": "x",
                                                "workspace": str(tmp_path)}) == []
    with pytest.raises(RpcError, match="no history in"):
        demo_app.api.call("get_run", {"run_id": "r", "workspace": str(tmp_path)})


def test_an_unknown_run_and_bad_params_are_invalid_params(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    finished_run(demo_app, qtbot, tmp_path)
    demo_app.history.close()
    with pytest.raises(RpcError, match="no run 'nope'") as caught:
        demo_app.api.call("get_run", {"run_id": "nope", "workspace": str(tmp_path)})
    assert caught.value.code == -32602
    with pytest.raises(RpcError, match="limit") as bad:
        demo_app.api.call("list_runs", {"limit": 0})
    assert bad.value.code == -32602


def test_describe_lists_the_history_methods(demo_app: AppParts) -> None:
    methods = demo_app.api.call("describe", {})["methods"]
    assert {"list_runs", "get_run", "search_streams"} <= set(methods)
