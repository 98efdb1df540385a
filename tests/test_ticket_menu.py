"""The per-ticket menu (tree context menu and DAG view): actions enabled by the ticket's
status, dialogs that send exactly what the user gave, refusals shown where they belong."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QMenu

from mma_qt.core.live.session import MmaSession
from mma_qt.core.model.domain import Ticket, Tier, Track, stream_id
from mma_qt.core.model.status import TicketStatus
from mma_qt.core.run.controller import Controller, ControllerError, InvalidEdit
from mma_qt.ui.forms import FormDialog
from mma_qt.ui.ticket_menu import TicketMenu
from mma_qt.wiring import AppParts

from .spies import spy_on

pytestmark = pytest.mark.ui

ALWAYS_OFF_IDLE = {"cancel_ticket", "cancel_track"}  # no run in progress


def two_tracks(session: MmaSession) -> None:
    session.reset("epic", "/tmp")
    parser, writer = Track("TR-1", "Parser"), Track("TR-2", "Writer")
    session.set_tracks([parser, writer])
    session.set_plan(parser, [
        Ticket("T-001", "Lexer", "Tokens", target_files=("lexer.py",)),
        Ticket("T-002", "Grammar", depends_on=("T-001",)),
    ])
    session.set_plan(writer, [Ticket("T-003", "Output")])


def set_status(session: MmaSession, ticket_id: str, status: TicketStatus) -> None:
    ticket = session.tickets[ticket_id]
    if status not in (TicketStatus.TODO, TicketStatus.BLOCKED, TicketStatus.SKIPPED):
        session.set_ticket(ticket, TicketStatus.IN_PROGRESS, model="demo-worker")
    session.set_ticket(ticket, status, reason="why" if status is TicketStatus.BLOCKED else "")


@pytest.fixture
def menu(demo_app: AppParts) -> TicketMenu:
    two_tracks(demo_app.session)
    return demo_app.window.pipeline.ticket_menu


def enabled(menu: TicketMenu) -> set[str]:
    return {name for name, action in menu.actions.items() if action.isEnabled()}


def open_dialog(menu: TicketMenu, action: str, ticket_id: str = "T-001") -> FormDialog:
    assert menu.prepare(ticket_id)
    menu.actions[action].trigger()
    dialog = menu.dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


@pytest.mark.parametrize(("status", "expected"), [
    (TicketStatus.TODO, {"skip", "block", "set_model", "edit", "step"}),
    (TicketStatus.BLOCKED, {"skip", "unblock", "set_model", "edit", "step"}),
    (TicketStatus.IN_PROGRESS, {"set_model", "step"}),
    (TicketStatus.FAILED, {"retry", "skip", "set_model", "step"}),
    (TicketStatus.COMPLETED, {"retry", "set_model", "step"}),
    (TicketStatus.CANCELLED, {"retry", "skip", "set_model", "step"}),
    (TicketStatus.SKIPPED, set()),
])
def test_ticket_actions_are_enabled_by_the_tickets_status(
    menu: TicketMenu, demo_app: AppParts, status: TicketStatus, expected: set[str]
) -> None:
    set_status(demo_app.session, "T-001", status)
    assert menu.prepare("T-001")
    assert enabled(menu) == expected


def test_cancel_ticket_and_cancel_track_need_a_run_and_a_live_ticket(
    menu: TicketMenu, demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Controller, "busy", property(lambda self: True))
    set_status(demo_app.session, "T-001", TicketStatus.IN_PROGRESS)
    menu.prepare("T-001")
    assert {"cancel_ticket", "cancel_track"} <= enabled(menu)
    set_status(demo_app.session, "T-001", TicketStatus.COMPLETED)
    menu.prepare("T-001")
    assert "cancel_ticket" not in enabled(menu) and "cancel_track" in enabled(menu)


def test_an_unknown_ticket_enables_nothing(menu: TicketMenu) -> None:
    assert not menu.prepare("T-404")
    assert enabled(menu) == set()


def test_retry_sends_the_chosen_model_and_prompt(
    menu: TicketMenu, demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    retry = spy_on(monkeypatch, demo_app.controller, "retry")
    set_status(demo_app.session, "T-001", TicketStatus.FAILED)
    dialog = open_dialog(menu, "retry")
    combo = dialog.editors["model"]
    offered = [combo.itemText(i) for i in range(combo.count())]  # type: ignore[union-attr]
    models = demo_app.window.pipeline.models()
    assert offered == models and len(offered) >= 2  # the provider's Tier 3 ladder
    dialog.set_value("model", offered[-1])
    dialog.set_value("prompt", "Write the lexer with a table, not regexes.")
    dialog.accept()
    assert retry.calls == [(("T-001",), {
        "model": offered[-1], "prompt": "Write the lexer with a table, not regexes."})]
    assert not dialog.isVisible()


def test_retry_with_empty_fields_keeps_the_model_and_the_prompt(
    menu: TicketMenu, demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    retry = spy_on(monkeypatch, demo_app.controller, "retry")
    set_status(demo_app.session, "T-001", TicketStatus.FAILED)
    open_dialog(menu, "retry").accept()
    assert retry.calls == [(("T-001",), {"model": None, "prompt": None})]


@pytest.mark.parametrize("command", ["skip", "block"])
def test_skip_and_block_send_the_reason(
    menu: TicketMenu, demo_app: AppParts, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    sent = spy_on(monkeypatch, demo_app.controller, command)
    dialog = open_dialog(menu, command, "T-002")
    dialog.set_value("reason", "done by hand")
    dialog.accept()
    assert sent.calls == [(("T-002", "done by hand"), {})]


def test_a_refused_command_keeps_its_dialog_open_with_the_reason(
    menu: TicketMenu, demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy_on(monkeypatch, demo_app.controller, "skip",
           raises=ControllerError("T-001 is running: cancel it first"))
    dialog = open_dialog(menu, "skip")
    dialog.accept()
    assert dialog.isVisible()
    assert not dialog.error.isHidden() and "cancel it first" in dialog.error.text()
    dialog.reject()


def test_edit_ticket_sends_only_the_fields_that_changed(
    menu: TicketMenu, demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit = spy_on(monkeypatch, demo_app.controller, "edit_ticket")
    dialog = open_dialog(menu, "edit", "T-002")
    assert dialog.raw("title") == "Grammar" and dialog.raw("depends_on") == "T-001"
    dialog.set_value("title", "Grammar rules")
    dialog.set_value("target_files", "grammar.py, tests/test_grammar.py")
    dialog.accept()
    assert edit.calls == [(("T-002",), {
        "title": "Grammar rules", "description": None, "depends_on": None,
        "target_files": ["grammar.py", "tests/test_grammar.py"]})]


def test_an_invalid_edit_is_shown_under_the_field_it_names(
    menu: TicketMenu, demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy_on(monkeypatch, demo_app.controller, "edit_ticket",
           raises=InvalidEdit("depends_on", "T-001 → T-002 → T-001 is a cycle"))
    dialog = open_dialog(menu, "edit")
    dialog.set_value("depends_on", "T-002")
    dialog.accept()
    assert dialog.isVisible()
    assert not dialog.errors["depends_on"].isHidden()
    assert "cycle" in dialog.errors["depends_on"].text()
    assert dialog.errors["title"].isHidden() and dialog.error.isHidden()
    dialog.reject()


def test_step_sends_the_flag_and_shows_what_the_controller_kept(
    menu: TicketMenu, demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = demo_app.session.tickets["T-003"]

    def keep(ticket_id: str, step: bool) -> None:
        ticket.step = step

    step = spy_on(monkeypatch, demo_app.controller, "set_ticket_step")
    menu.prepare("T-003")
    assert menu.actions["step"].isCheckable() and not menu.actions["step"].isChecked()
    menu.actions["step"].trigger()
    assert step.calls == [(("T-003", True), {})]
    assert not menu.actions["step"].isChecked()  # the spy kept nothing
    monkeypatch.setattr(demo_app.controller, "set_ticket_step", keep)
    menu.actions["step"].trigger()
    assert ticket.step and menu.actions["step"].isChecked()


def test_a_refusal_without_a_dialog_shows_in_the_status_bar(
    menu: TicketMenu, demo_app: AppParts
) -> None:
    set_status(demo_app.session, "T-001", TicketStatus.BLOCKED)
    menu.prepare("T-001")
    menu.actions["unblock"].trigger()  # no run: the controller refuses
    message = demo_app.window.statusBar().currentMessage()
    assert message.startswith("Unblock: ticket T-001 belongs to no track")


def test_cancel_track_cancels_the_tickets_track(
    menu: TicketMenu, demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Controller, "busy", property(lambda self: True))
    cancel = spy_on(monkeypatch, demo_app.controller, "cancel_track")
    menu.prepare("T-003")
    menu.actions["cancel_track"].trigger()
    assert cancel.calls == [(("TR-2",), {})]


def test_the_trees_menu_of_a_ticket_holds_its_actions_and_a_track_row_cancel_track(
    menu: TicketMenu, demo_app: AppParts
) -> None:
    panel = demo_app.window.run_panel
    ticket_row = panel.model.index_of(stream_id(Tier.WORKER, "T-002"))
    ticket_menu = panel._menu_for(ticket_row)
    assert ticket_menu is not None
    names = [a.objectName() for a in ticket_menu.actions() if not a.isSeparator()]
    assert names[:2] == ["ticket_retry", "ticket_skip"] and "ticket_cancel_track" in names
    assert ticket_menu.actions()[-1].text() == "Copy stream text"
    assert menu.ticket_id == "T-002" and menu.track_id == "TR-1"
    track_row = ticket_row.parent()
    track_menu = panel._menu_for(track_row)
    assert track_menu is not None
    assert [a.objectName() for a in track_menu.actions()] == ["ticket_cancel_track"]
    assert menu.track_id == "TR-1"
    for shown in (ticket_menu, track_menu):
        shown.deleteLater()


def test_the_dag_views_request_pops_up_the_tickets_menu(
    menu: TicketMenu, demo_app: AppParts, qtbot: Any
) -> None:
    menu.popup("T-003", demo_app.window.mapToGlobal(QPoint(40, 40)))
    popups = [m for m in demo_app.window.findChildren(QMenu) if m.title() == "T-003"]
    assert len(popups) == 1
    qtbot.waitUntil(popups[0].isVisible)
    assert menu.actions["retry"] in popups[0].actions()
    with qtbot.waitSignal(popups[0].destroyed):
        popups[0].close()
