"""Plan and the Proposal dock: Tier 1's tracks edited, dropped, reordered, accepted or
re-planned from the window; refusals shown next to the field or in the status bar."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMenu, QToolBar

from mma_qt.core.model.status import RunStatus
from mma_qt.core.run.controller import ControllerError, InvalidEdit
from mma_qt.ui.proposal_panel import ProposalPanel
from mma_qt.wiring import AppParts

from .spies import Spy, spy_on

pytestmark = pytest.mark.ui

TRACKS = [
    {"id": "TR-1", "title": "Report model", "description": "Report, columns, rows",
     "priority": 1},
    {"id": "TR-2", "title": "CSV writer", "description": "RFC 4180 quoting"},
    {"id": "TR-3", "title": "Command line", "description": "mma-report export"},
]


def propose(parts: AppParts, monkeypatch: pytest.MonkeyPatch) -> ProposalPanel:
    """As the controller does after Tier 1 in a planned run: a ``proposal`` event."""
    spy_on(monkeypatch, parts.controller, "proposed_tracks",
           returns=[dict(t) for t in TRACKS])
    parts.session.bus.publish("proposal", state="proposed", tracks=TRACKS)
    return parts.window.pipeline.proposal


def test_plan_sits_beside_start_and_is_enabled_with_it(demo_app: AppParts) -> None:
    window = demo_app.window
    toolbar = window.findChild(QToolBar, "RunToolbar")
    assert toolbar is not None
    run_menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Run")
    for holder in (toolbar, run_menu):
        names = [a.objectName() for a in holder.actions()]
        assert names[names.index("start") + 1] == "plan"
    assert window.action_enabled("plan")
    window.actions_by_name["start"].setEnabled(False)  # as during a run
    assert not window.action_enabled("plan")
    window.actions_by_name["start"].setEnabled(True)
    assert window.action_enabled("plan")


def test_plan_asks_the_controller_to_plan_the_epic_panels_epic_in_its_workspace(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    plan = spy_on(monkeypatch, demo_app.controller, "plan_epic")
    window = demo_app.window
    window.epic_panel.set_epic("Add CSV export")
    window.set_workspace(str(tmp_path))
    window.trigger_action("plan")
    assert plan.calls == [(("Add CSV export", str(tmp_path)), {})]


def test_a_refused_plan_shows_in_the_status_bar(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy_on(monkeypatch, demo_app.controller, "plan_epic",
           raises=ControllerError("the epic is empty"))
    demo_app.window.trigger_action("plan")
    assert demo_app.window.statusBar().currentMessage() == "Plan: the epic is empty"


def test_a_proposal_fills_the_dock_and_brings_it_to_the_front(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    dock = demo_app.window.findChild(QDockWidget, "ProposalDock")
    assert dock is not None and dock.windowTitle() == "Proposal"
    view = [m for m in demo_app.window.menuBar().findChildren(QMenu) if m.title() == "&View"]
    assert dock.toggleViewAction() in view[0].actions()  # closed, it can come back
    panel = propose(demo_app, monkeypatch)
    assert panel.order() == ["TR-1", "TR-2", "TR-3"]
    assert panel.list.item(0).text() == "TR-1 · Report model"
    assert panel.title.text() == "Report model"
    assert panel.description.toPlainText() == "Report, columns, rows"
    assert "priority: 1" in panel.extra.text()  # other fields of the plan are kept
    assert panel.accept_button.isEnabled() and panel.replan_button.isEnabled()
    qtbot.waitUntil(lambda: not dock.visibleRegion().isEmpty())


def test_accept_sends_the_kept_tracks_edited_in_their_new_order(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    accept = spy_on(monkeypatch, demo_app.controller, "accept_tracks")
    panel = propose(demo_app, monkeypatch)
    panel.list.setCurrentRow(1)
    panel.title.selectAll()
    qtbot.keyClicks(panel.title, "CSV export")
    panel.description.setPlainText("Quote per RFC 4180; UTF-8")
    assert panel.list.item(1).text() == "TR-2 · CSV export"
    qtbot.mouseClick(panel.up_button, Qt.MouseButton.LeftButton)  # TR-2 first
    panel.set_dropped("TR-3", True)
    assert panel.list.item(2).font().strikeOut()
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert accept.calls == [((), {"tracks": [
        {"id": "TR-2", "title": "CSV export", "description": "Quote per RFC 4180; UTF-8"},
        {"id": "TR-1", "title": "Report model", "description": "Report, columns, rows",
         "priority": 1},
    ]})]


def test_an_invalid_edit_is_shown_next_to_its_field_on_its_track(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy_on(monkeypatch, demo_app.controller, "accept_tracks",
           raises=InvalidEdit("tracks[1].title", "String should have at least 1 character"))
    panel = propose(demo_app, monkeypatch)
    panel.set_dropped("TR-1", True)  # the second sent track is TR-3
    panel.accept()
    assert panel.current_id() == "TR-3"
    title_error = panel.errors["title"]
    assert not title_error.isHidden() and "at least 1 character" in title_error.text()
    assert panel.errors["description"].isHidden() and panel.error.isHidden()


def test_a_refused_accept_is_said_in_the_panel_and_the_status_bar(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy_on(monkeypatch, demo_app.controller, "accept_tracks",
           raises=ControllerError("no track left: keep at least one"))
    panel = propose(demo_app, monkeypatch)
    panel.accept()
    assert "keep at least one" in panel.error.text() and not panel.error.isHidden()
    assert "Accept: no track left" in demo_app.window.statusBar().currentMessage()


def test_replan_sends_the_remark_and_waits_for_the_new_proposal(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    replan: Spy = spy_on(monkeypatch, demo_app.controller, "replan")
    panel = propose(demo_app, monkeypatch)
    qtbot.keyClicks(panel.remark, "one track for the CLI and the writer")
    qtbot.mouseClick(panel.replan_button, Qt.MouseButton.LeftButton)
    assert replan.calls == [(("one track for the CLI and the writer",), {})]
    demo_app.session.bus.publish("proposal", state="replanning", tracks=[])
    assert not panel.accept_button.isEnabled() and "re-planning" in panel.state.text()
    demo_app.session.set_status(RunStatus.PLANNING)
    assert panel.kept()[0]["description"] == TRACKS[0]["description"]  # emptied, not edited
    spy_on(monkeypatch, demo_app.controller, "proposed_tracks", returns=TRACKS[:1])
    demo_app.session.bus.publish("proposal", state="proposed", tracks=TRACKS[:1])
    assert panel.order() == ["TR-1"] and panel.accept_button.isEnabled()


def test_the_panel_is_emptied_when_the_run_leaves_the_proposal(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = propose(demo_app, monkeypatch)
    demo_app.session.set_status(RunStatus.RUNNING)
    assert panel.order() == [] and not panel.accept_button.isEnabled()
    spy_on(monkeypatch, demo_app.controller, "proposed_tracks", returns=TRACKS)
    demo_app.session.set_status(RunStatus.PROPOSED)  # e.g. a window opened on a proposal
    assert panel.order() == ["TR-1", "TR-2", "TR-3"]
