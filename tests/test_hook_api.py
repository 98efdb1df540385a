"""The app's hook methods on the real window, session and controller (demo provider)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.model.domain import Tier
from mma_qt.core.model.prompts import sample_epic
from mma_qt.hooks.client import ApiHookClient
from mma_qt.hooks.protocol import LargeResult, RpcError
from mma_qt.ui import hook_api
from mma_qt.ui.hook_api import LARGE_TEXT_CHARS, status_document
from mma_qt.ui.main_window import MainWindow
from mma_qt.wiring import AppParts

from .helpers import FINAL, run_off_gui_thread

pytestmark = pytest.mark.ui  # the real window behind the hook


def test_start_epic_answers_with_the_new_runs_status(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    address = demo_app.hook.path

    def two_runs() -> tuple[Any, Any, Any]:
        with ApiHookClient(address) as client:
            client.start_epic(sample_epic(), workspace=str(tmp_path))
            first = client.wait_for(lambda s: s["status"] in FINAL, 60, types=["status"])
            answer = client.start_epic(sample_epic(), workspace=str(tmp_path))
            right_after = client.get_mma_status(summary=True)
            return first, answer, right_after

    first, answer, right_after = run_off_gui_thread(qtbot, two_runs)
    assert first["status"] == "done"
    assert answer == {"started": True, "status": "planning"}
    # Nothing of the finished run shows any more: `wait done` cannot return at once.
    assert right_after["status"] == "planning"
    assert right_after["tickets"] == []
    qtbot.waitUntil(lambda: demo_app.session.status in FINAL, timeout=60_000)


def test_get_mma_status_and_the_report_are_one_document(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    demo_app.window.start(sample_epic(), str(tmp_path))
    qtbot.waitUntil(lambda: demo_app.session.status in FINAL, timeout=60_000)
    address = demo_app.hook.path

    def fetch() -> tuple[dict[str, Any], dict[str, Any]]:
        with ApiHookClient(address) as client:
            return client.get_mma_status(), client.get_mma_status(streams=False)

    full, summary = run_off_gui_thread(qtbot, fetch)
    assert full == status_document(demo_app.controller)
    assert summary == status_document(demo_app.controller, streams=False)
    assert full["approvals"] == []
    assert full["mma_streams"]["Tier 1"] == demo_app.session.hub.text("Tier 1")


def test_unbounded_answers_are_sent_in_slices_and_small_ones_at_once(demo_app: AppParts) -> None:
    api, session = demo_app.api, demo_app.session
    session.reset("epic", "/tmp")
    session.open_stream(Tier.ORCHESTRATOR)
    session.write("Tier 1", "x" * (LARGE_TEXT_CHARS + 1))
    assert isinstance(api.call("get_mma_status", {}), LargeResult)
    assert isinstance(api.call("get_mma_status", {"summary": True}), dict)
    assert isinstance(api.call("get_mma_status", {"streams": False}), dict)
    assert isinstance(api.call("get_stream", {"stream_id": "Tier 1"}), LargeResult)
    assert isinstance(api.call("get_stream", {"stream_id": "Tier 1", "limit": 10}), dict)


@pytest.mark.parametrize("demo_app", [0.002], indirect=True)
def test_a_run_started_without_auto_is_finished_by_approving_over_the_hook(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    demo_app.window.set_auto(True)
    address = demo_app.hook.path

    def script() -> dict[str, Any]:
        out: dict[str, Any] = {"resolved": []}
        with ApiHookClient(address) as client:
            out["start"] = client.start_epic(sample_epic(), workspace=str(tmp_path), auto=False)
            out["auto"] = client.get_value("auto")["value"]
            client.wait_for(lambda s: bool(s["approvals"]), 60, types=["approval"])
            out["all"] = client.approve_all()  # the first track's root (T-001 or T-007)
            while True:
                status = client.wait_for(
                    lambda s: bool(s["approvals"]) or s["status"] in FINAL, 60,
                    types=["approval", "status"],
                )
                if status["status"] in FINAL:
                    out["status"] = status
                    return out
                for approval in status["approvals"]:
                    key = approval["key"]
                    reject = key == "T-003:spawn"
                    out["resolved"].append(client.reject(key) if reject else client.approve(key))

    out = run_off_gui_thread(qtbot, script)
    assert out["start"] == {"started": True, "status": "planning"}
    assert out["auto"] is False  # start's auto=False unticked Auto-approve
    assert out["all"]["approved"] and out["all"]["keys"]
    assert set(out["all"]["keys"]) <= {"T-001:spawn", "T-007:spawn", "T-009:spawn"}  # roots
    assert {"key": "T-003:spawn", "approved": False} in out["resolved"]
    tickets = {t["id"]: t for t in out["status"]["tickets"]}
    assert {t: tickets[t]["status"] for t in tickets} == {
        "T-001": "completed", "T-002": "completed", "T-003": "cancelled",
        "T-004": "completed", "T-005": "blocked", "T-006": "blocked",
        "T-007": "completed", "T-008": "completed", "T-009": "completed",  # the other tracks
    }
    assert tickets["T-003"]["blocked_reason"] == "spawn rejected"
    assert out["status"]["approvals"] == []


def test_approve_needs_a_key_or_all(demo_app: AppParts) -> None:
    for params in ({}, {"key": "T-001:spawn", "all": True}, {"all": False}):
        with pytest.raises(RpcError, match='give either "key" or "all": true'):
            demo_app.api.call("approve", params)


def test_hook_api_drives_the_window_through_its_public_methods_only() -> None:
    tree = ast.parse(inspect.getsource(hook_api))
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "window"
    }
    assert used  # the check looks at something
    # The window's core objects, handed over once; never a widget or an action.
    core_objects = {"controller", "session"}
    for name in sorted(used - core_objects):
        member = inspect.getattr_static(MainWindow, name, None)
        assert inspect.isfunction(member) and not name.startswith("_"), name
