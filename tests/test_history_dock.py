"""The window's history (issue 12) on the real window and the demo provider: the History
dock, a past run reopened read-only, Resume and Re-run… from the window and the hook,
Export report…, and history off said in the window."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog

from mma_qt.core.history.schema import history_path
from mma_qt.core.history.store import HistoryStore
from mma_qt.core.model.prompts import sample_epic
from mma_qt.hooks.protocol import RpcError
from mma_qt.ui.history_ui import HistoryUi
from mma_qt.ui.history_view import RerunDialog
from mma_qt.wiring import AppParts

from .helpers import FINAL

pytestmark = pytest.mark.ui  # the real window
RUN_MS = 60_000
WORKER = "Tier 3 (Worker): T-001"


def finished_run(app: AppParts, qtbot: Any, workspace: Path) -> str:
    """A demo run to its end, and the History dock listing it."""
    runs: list[str] = []
    app.history.recording.connect(runs.append)
    with qtbot.waitSignal(app.history_ui.refreshed, timeout=RUN_MS,
                          check_params_cb=lambda: bool(runs) and app.session.status in FINAL
                          and listed(app.history_ui, runs[-1])):
        app.window.start(sample_epic(), str(workspace))
    return runs[-1]


def listed(ui: HistoryUi, run_id: str) -> bool:
    return any(r["run_id"] == run_id and r["status"] in FINAL for r in ui.panel.runs())


def viewed(app: AppParts, qtbot: Any, run_id: str) -> HistoryUi:
    ui = app.history_ui
    with qtbot.waitSignal(ui.viewing, timeout=10_000,
                          check_params_cb=lambda shown: shown == run_id):
        ui.open_run(run_id)
    return ui


def test_the_history_dock_lists_the_workspaces_runs_when_a_run_ends(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    run_id = finished_run(demo_app, qtbot, tmp_path)
    ui = demo_app.history_ui
    [run] = ui.panel.runs()
    totals = demo_app.session.totals().to_dict()
    assert (run["run_id"], run["status"]) == (run_id, "done")
    assert run["tickets_done"] == run["tickets_total"] == len(demo_app.session.tickets)
    assert run["tokens"] == totals["input"] + totals["output"]
    item = ui.panel.list.topLevelItem(0)
    assert item is not None and item.text(2) == "done"
    assert item.text(3) == f"{len(demo_app.session.tickets)}/{len(demo_app.session.tickets)}"


def test_the_list_follows_the_workspace_field(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    (tmp_path / "ws").mkdir()
    finished_run(demo_app, qtbot, tmp_path / "ws")
    ui = demo_app.history_ui
    empty = tmp_path / "empty"
    empty.mkdir()
    with qtbot.waitSignal(ui.refreshed, timeout=10_000,
                          check_params_cb=lambda: not ui.panel.runs()):
        demo_app.window.epic_panel.set_workspace(str(empty))
    assert not ui.panel.note.isHidden()


def test_an_opened_run_shows_get_runs_statuses_and_rollups_read_only(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    run_id = finished_run(demo_app, qtbot, tmp_path)
    ui = viewed(demo_app, qtbot, run_id)
    stored = HistoryStore.of_workspace(tmp_path).get_run(run_id)
    shown = ui.past_session.snapshot()
    for key in ("status", "tier_usage", "totals", "mma_streams", "epic"):
        assert shown[key] == stored[key], key
    assert [(t["id"], t["status"], t["usage"], t["attempts"]) for t in shown["tickets"]] == [
        (t["id"], t["status"], t["usage"], t["attempts"]) for t in stored["tickets"]]
    assert [(t["id"], t["status"], t["usage"]) for t in shown["tracks"]] == [
        (t["id"], t["status"], t["usage"]) for t in stored["tracks"]]
    window = demo_app.window
    assert window.run_panel.isHidden() and not ui.past_panel.isHidden()
    assert ui.banner.label.text().startswith(f"Viewing run {run_id} from ")
    assert ui.banner.label.text().endswith("read-only (done)")
    assert not ui.banner.resume_button.isEnabled()
    assert ui.graphs.currentWidget() is ui.past_graph
    # Read-only: a past ticket's menu offers a re-run in a new run, and nothing else.
    index = ui.past_panel.model.index_of(WORKER)
    menu = ui.past_panel._menu_for(index)
    assert menu is not None
    assert [a.text() for a in menu.actions() if a.text()] == [
        "Re-run… (edit prompt or model, in a new run)", "Copy stream text"]
    menu.actions()[0].trigger()
    dialog = window.findChild(RerunDialog)
    assert dialog is not None and dialog.ticket_id == "T-001" and dialog.isVisible()
    dialog.reject()
    ui.past_panel.select("T-001")
    assert ui.past_panel.stream_view.toPlainText() == stored["mma_streams"][WORKER]
    assert demo_app.session.hub.text(WORKER) == stored["mma_streams"][WORKER]  # untouched
    with qtbot.waitSignal(ui.viewing, check_params_cb=lambda shown: shown == ""):
        ui.banner.back_button.click()
    assert not window.run_panel.isHidden() and ui.past_panel.isHidden()
    assert ui.graphs.currentWidget() is window.graph.panel


def test_a_rerun_from_the_window_sends_the_edited_prompt_in_a_new_run(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    first = finished_run(demo_app, qtbot, tmp_path)
    ui = viewed(demo_app, qtbot, first)
    dialog = ui.choose_rerun("T-001")
    assert dialog is not None
    assert dialog.prompt.toPlainText() == ui.past_session.tickets["T-001"].attempts[0].prompt
    dialog.prompt.setPlainText("Define the report model, and say EDITED-PROMPT.")
    runs: list[str] = []
    demo_app.history.recording.connect(runs.append)
    with qtbot.waitSignal(demo_app.controller.finished, timeout=RUN_MS):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert ui.past is None and not demo_app.window.run_panel.isHidden()
    ticket = demo_app.session.tickets["T-001"]
    assert [(a.number, a.edited, a.status) for a in ticket.attempts] == [
        (1, False, "completed"), (2, True, "completed")]
    assert ticket.attempts[1].prompt == "Define the report model, and say EDITED-PROMPT."
    assert ticket.attempts[0].usage.output > 0 and ticket.attempts[1].usage.output > 0
    demo_app.history.flush(document=True)
    assert demo_app.history.writer is not None and demo_app.history.writer.flush()
    store = HistoryStore.of_workspace(tmp_path)
    assert store.get_run(runs[-1])["parent_run_id"] == first
    assert len(store.attempts(first, "T-001")) == 1  # the past run is as it was


def test_the_hook_reruns_a_ticket_and_refuses_an_unknown_one(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    first = finished_run(demo_app, qtbot, tmp_path)
    with pytest.raises(RpcError, match="no ticket 'T-404'") as unknown:
        demo_app.api.call("rerun_ticket", {"run_id": first, "ticket_id": "T-404"})
    assert unknown.value.code == -32602
    with pytest.raises(RpcError, match="only an interrupted, failed or cancelled"):
        demo_app.api.call("resume_run", {"run_id": first})
    with qtbot.waitSignal(demo_app.controller.finished, timeout=RUN_MS):
        answer = demo_app.api.call("rerun_ticket", {"run_id": first, "ticket_id": "T-002",
                                                    "model": "demo-worker-pro"})
    assert answer["parent_run_id"] == first and answer["run_id"] not in (None, first)
    attempts = demo_app.session.tickets["T-002"].attempts
    assert [(a.model, a.reason) for a in attempts] == [("demo-worker", "first"),
                                                        ("demo-worker-pro", "user retry")]


@pytest.mark.parametrize("suffix", [".md", ".html", ".json"])
def test_export_report_writes_the_run_in_the_chosen_format(
    demo_app: AppParts, qtbot: Any, tmp_path: Path, suffix: str
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    run_id = finished_run(demo_app, qtbot, workspace)
    target = tmp_path / f"report{suffix}"
    ui = demo_app.history_ui
    assert ui.export_run_id() == run_id
    with qtbot.waitSignal(ui.exported, timeout=10_000):
        ui.export_report(run_id, str(target))
    text = target.read_text(encoding="utf-8")
    totals = demo_app.session.totals().to_dict()
    if suffix == ".json":
        assert json.loads(text)["totals"] == totals
    elif suffix == ".md":
        assert f"- **total input tokens**: {totals['input']}" in text
    else:
        assert text.lstrip().lower().startswith("<!doctype html>") and "<script" not in text


def test_history_off_is_said_in_the_window_and_the_log(
    demo_app: AppParts, qtbot: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    history_path(tmp_path).mkdir(parents=True)  # a folder where the file should be
    ui = demo_app.history_ui
    with caplog.at_level(logging.WARNING), qtbot.waitSignal(
            demo_app.history.failed, timeout=RUN_MS):
        demo_app.window.start(sample_epic(), str(tmp_path))
    assert not ui.panel.off_label.isHidden()
    assert ui.panel.off_label.text().startswith("History is off: ")
    assert not ui.off_label.isHidden()
    assert "History is off" in ui.off_label.toolTip()
    assert any("history is off" in r.getMessage() for r in caplog.records)
    qtbot.waitUntil(lambda: demo_app.session.status in FINAL, timeout=RUN_MS)
    assert demo_app.session.status == "done"


def test_export_report_in_the_window_asks_where_for_the_run_shown(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    run_id = finished_run(demo_app, qtbot, tmp_path)
    demo_app.window.actions_by_name["export_report"].trigger()
    dialog = demo_app.window.findChild(QFileDialog)
    assert dialog is not None and run_id in dialog.windowTitle()
    dialog.reject()


def test_the_dock_is_in_the_view_menu_and_export_in_the_window(demo_app: AppParts) -> None:
    ui = demo_app.history_ui
    methods = demo_app.api.call("describe", {})["methods"]
    assert {"list_runs", "get_run", "search_streams", "resume_run", "rerun_ticket"} <= set(
        methods)
    assert ui.dock.objectName() == "HistoryDock"
    assert demo_app.window.actions_by_name["export_report"] is ui.export_action
    assert ui.panel.list.headerItem().text(0) == "Date"
    assert ui.dock.toggleViewAction().text() == "History"
    assert Qt.DockWidgetArea.BottomDockWidgetArea == demo_app.window.dockWidgetArea(ui.dock)
