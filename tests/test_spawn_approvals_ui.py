"""Spawn approvals you can edit (system text, prompt, model, context sizes), several at
once: labelled by track, counted in a badge, each jumping to its ticket; and the Step /
Auto mode toggle."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from mma_qt.core.model.domain import Ticket, Tier, Track, stream_id
from mma_qt.core.model.status import RunMode
from mma_qt.core.run.controller import ControllerError
from mma_qt.ui.approvals_panel import ApprovalsPanel
from mma_qt.wiring import AppParts

from .spies import spy_on

pytestmark = pytest.mark.ui

SYSTEM = "You are a Tier 3 worker. Answer with the files you changed."
PROMPT = "Ticket T-003: write the CSV writer.\n\nTarget files: reports/csv_export.py"
CONTEXT = [
    {"name": "repository map", "chars": 5200, "tokens": 1300, "shared": True,
     "truncated": False},
    {"name": "skeleton: reports/model.py", "chars": 40_000, "tokens": 10_000, "shared": True,
     "truncated": True},
    {"name": "ticket", "chars": 120, "tokens": 30, "shared": False, "truncated": False},
]


def spawn(ticket_id: str, track_id: str, attempt: int = 1, model: str = "demo-worker",
          prompt: str = PROMPT) -> dict[str, Any]:
    key = f"{ticket_id}:spawn" + (f":{attempt}" if attempt > 1 else "")
    return {"key": key, "kind": "spawn", "ticket_id": ticket_id, "track_id": track_id,
            "attempt": attempt, "model": model, "system": SYSTEM, "prompt": prompt,
            "context": CONTEXT, "detail": f"Tier 3 worker for {ticket_id}"}


@pytest.fixture
def panel(qtbot: Any) -> ApprovalsPanel:
    widget = ApprovalsPanel()
    widget.set_models(["demo-worker", "demo-worker-pro"])
    qtbot.addWidget(widget)
    return widget


def test_a_spawn_shows_the_system_text_read_only_the_prompt_the_model_and_context_sizes(
    panel: ApprovalsPanel,
) -> None:
    panel.set_approvals([spawn("T-003", "TR-2", attempt=2)])
    editor = panel.spawn
    assert panel.pages.currentWidget() is editor
    assert editor.system.toPlainText() == SYSTEM and editor.system.isReadOnly()
    assert editor.prompt.toPlainText() == PROMPT and not editor.prompt.isReadOnly()
    assert editor.model.chosen() == "demo-worker" and editor.model.isEditable()
    assert [editor.model.itemText(i) for i in range(editor.model.count())] == [
        "demo-worker", "demo-worker-pro"]
    rows = [[editor.context.item(r, c).text() for c in range(5)] for r in range(3)]
    assert rows == [
        ["repository map", "5,200", "1300", "shared", ""],
        ["skeleton: reports/model.py", "40,000", "10.0k", "shared", "cut"],
        ["ticket", "120", "30", "", ""],
    ]
    assert "TR-2" in panel.header.text() and "attempt 2" in panel.header.text()
    assert editor.edited.isHidden()


def test_approving_an_untouched_spawn_sends_no_edit(panel: ApprovalsPanel, qtbot: Any) -> None:
    panel.set_approvals([spawn("T-003", "TR-2")])
    with qtbot.waitSignal(panel.approveRequested) as signal:
        qtbot.mouseClick(panel.approve_button, Qt.MouseButton.LeftButton)
    assert signal.args == ["T-003:spawn", None]


def test_approve_sends_only_what_was_edited(panel: ApprovalsPanel, qtbot: Any) -> None:
    panel.set_approvals([spawn("T-003", "TR-2"), spawn("T-004", "TR-2")])
    panel.spawn.prompt.setPlainText(PROMPT + "\nUse the csv module.")
    assert not panel.spawn.edited.isHidden()
    with qtbot.waitSignal(panel.approveRequested) as signal:
        panel.approve_current()
    assert signal.args == ["T-003:spawn", {"prompt": PROMPT + "\nUse the csv module."}]
    panel.set_approvals([spawn("T-004", "TR-2")])
    qtbot.keyClicks(panel.spawn.model.lineEdit(), "-pro")  # typed: demo-worker-pro
    with qtbot.waitSignal(panel.approveRequested) as signal:
        panel.approve_current()
    assert signal.args == ["T-004:spawn", {"model": "demo-worker-pro"}]


def test_edits_of_a_spawn_survive_a_refresh_and_a_look_at_another_approval(
    panel: ApprovalsPanel,
) -> None:
    first, second = spawn("T-003", "TR-2"), spawn("T-001", "TR-1")
    panel.set_approvals([first])
    panel.spawn.prompt.setPlainText("edited")
    panel.set_approvals([first, second])  # another approval arrived: the list is rebuilt
    assert panel.current_key() == "T-003:spawn"
    assert panel.spawn.prompt.toPlainText() == "edited"
    panel.list.setCurrentRow(1)
    assert panel.spawn.prompt.toPlainText() == PROMPT
    panel.list.setCurrentRow(0)
    assert panel.spawn.prompt.toPlainText() == "edited"
    assert panel.spawn.edits() == {"prompt": "edited"}


def test_approvals_are_labelled_by_track_and_picking_one_names_its_ticket(
    panel: ApprovalsPanel, qtbot: Any
) -> None:
    panel.set_approvals([spawn("T-001", "TR-1"), spawn("T-003", "TR-2", attempt=2)])
    texts = [panel.list.item(r).text() for r in range(2)]
    assert texts[0].startswith("TR-1 · spawn: T-001")
    assert texts[1].startswith("TR-2 · spawn: T-003 (attempt 2)")
    with qtbot.waitSignal(panel.ticketChosen) as signal:
        panel.list.setCurrentRow(1)
    assert signal.args == ["T-003"]


# -- in the window ---------------------------------------------------------------------
def plan_two_tracks(parts: AppParts) -> None:
    session = parts.session
    session.reset("epic", "/tmp")
    parser, writer = Track("TR-1", "Parser"), Track("TR-2", "Writer")
    session.set_tracks([parser, writer])
    session.set_plan(parser, [Ticket("T-001", "Lexer")])
    session.set_plan(writer, [Ticket("T-003", "Output")])


def test_the_window_approves_a_spawn_with_the_edited_prompt_and_model(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    resolve = spy_on(monkeypatch, demo_app.controller, "resolve_approval")
    approvals = demo_app.window.approvals
    approvals.set_approvals([spawn("T-003", "TR-2")])
    approvals.spawn.prompt.setPlainText("Only the writer, please.")
    approvals.spawn.model.set_model("demo-worker-pro")
    qtbot.mouseClick(approvals.approve_button, Qt.MouseButton.LeftButton)
    assert resolve.calls == [(("T-003:spawn", True), {
        "prompt": "Only the writer, please.", "model": "demo-worker-pro"})]


def test_the_window_offers_the_providers_tier3_models_for_a_spawn(demo_app: AppParts) -> None:
    factory = demo_app.controller.factory
    combo = demo_app.window.approvals.spawn.model
    offered = [combo.itemText(i) for i in range(combo.count())]
    assert offered[0] == factory.model_for(Tier.WORKER, 0)
    assert factory.model_for(Tier.WORKER, 1) in offered


def test_the_badge_counts_waiting_approvals_and_shows_the_dock(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    window = demo_app.window
    badge = window.pipeline.badge
    assert badge.isHidden()
    pending = [spawn("T-001", "TR-1"), spawn("T-003", "TR-2"), spawn("T-004", "TR-2")]
    spy_on(monkeypatch, demo_app.controller, "pending_approvals", returns=pending)
    demo_app.session.bus.publish("approval", state="requested", **pending[-1])
    assert badge.text() == "3 approvals waiting" and not badge.isHidden()
    dock = window.findChild(QDockWidget, "ApprovalsDock")
    assert dock is not None and dock.windowTitle() == "Approvals (3)"
    dock.hide()
    qtbot.mouseClick(badge, Qt.MouseButton.LeftButton)
    assert dock.isVisible()
    spy_on(monkeypatch, demo_app.controller, "pending_approvals", returns=[])
    demo_app.session.bus.publish("approval", state="approved", **pending[0])
    assert badge.isHidden()


def test_picking_an_approval_selects_its_tickets_row(demo_app: AppParts) -> None:
    plan_two_tracks(demo_app)
    window = demo_app.window
    window.approvals.set_approvals([spawn("T-001", "TR-1"), spawn("T-003", "TR-2")])
    window.approvals.list.setCurrentRow(1)
    assert window.field_value("selected") == stream_id(Tier.WORKER, "T-003")
    window.approvals.list.setCurrentRow(0)
    assert window.field_value("selected") == stream_id(Tier.WORKER, "T-001")


def test_a_refused_edit_of_a_spawn_shows_in_the_status_bar(demo_app: AppParts) -> None:
    approvals = demo_app.window.approvals
    approvals.set_approvals([spawn("T-003", "TR-2")])
    approvals.spawn.prompt.setPlainText("edited")
    approvals.approve_current()  # no run: the controller refuses
    assert demo_app.window.statusBar().currentMessage().startswith("Approve: ")


# -- the mode --------------------------------------------------------------------------
def test_the_mode_toggle_switches_the_controllers_mode(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    set_mode = spy_on(monkeypatch, demo_app.controller, "set_mode")
    panel = demo_app.window.epic_panel
    assert panel.mode() is RunMode.AUTO  # the demo app starts with --auto
    qtbot.mouseClick(panel.mode_buttons[RunMode.STEP], Qt.MouseButton.LeftButton)
    assert set_mode.calls == [(("step",), {})]
    assert panel.mode() is RunMode.STEP and not demo_app.window.field_value("auto")
    demo_app.window.set_field_value("auto", True)  # the hook's set_value, as the user
    assert set_mode.calls[-1] == (("auto",), {})


def test_a_mode_event_shows_the_mode_without_sending_it_back(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_mode = spy_on(monkeypatch, demo_app.controller, "set_mode")
    demo_app.session.bus.publish("mode", mode="step")
    panel = demo_app.window.epic_panel
    assert panel.mode() is RunMode.STEP and panel.mode_buttons[RunMode.STEP].isChecked()
    assert set_mode.calls == []
    assert demo_app.controller.auto is False  # the next run asks too


def test_a_refused_mode_switch_shows_in_the_status_bar(
    demo_app: AppParts, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(mode: object) -> RunMode:
        raise ControllerError("the run is closing")

    monkeypatch.setattr(demo_app.controller, "set_mode", refuse)
    panel = demo_app.window.epic_panel
    qtbot.mouseClick(panel.mode_buttons[RunMode.STEP], Qt.MouseButton.LeftButton)
    assert demo_app.window.statusBar().currentMessage() == "Mode: the run is closing"
