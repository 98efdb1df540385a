"""The Graph dock: one node per ticket, one arrow per dependency, colours that follow the
run, a click that selects the ticket's stream, and the track it shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from mma_qt.core.live.session import MmaSession
from mma_qt.core.model.domain import Ticket, Track
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.model.status import TicketStatus
from mma_qt.ui.dag_items import STATUS_COLOURS
from mma_qt.ui.dag_view import DagPanel, DagView
from mma_qt.wiring import AppParts

from .helpers import FINAL

pytestmark = pytest.mark.ui


def colour_of(status: TicketStatus) -> str:
    return STATUS_COLOURS[status][0]


def click_point(view: DagView, ticket_id: str) -> QPoint:
    return view.mapFromScene(view.nodes[ticket_id].sceneBoundingRect().center())


def plan(session: MmaSession, track: Track, tickets: list[Ticket]) -> None:
    session.set_tracks([*session.tracks, track])
    session.set_plan(track, tickets)


@pytest.fixture
def panel(qtbot: Any) -> Any:
    session = MmaSession(PricingTable.load(), "test")
    panel = DagPanel(session)
    qtbot.addWidget(panel)
    panel.resize(800, 400)
    panel.show()
    session.reset("epic", "/tmp")
    yield panel
    session.deleteLater()


@pytest.mark.parametrize("demo_app", [0.002], indirect=True)
def test_graph_has_a_node_per_ticket_an_arrow_per_dependency_and_follows_the_run(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    window, session = demo_app.window, demo_app.session
    panel = window.graph.panel
    view = panel.view
    shown: dict[str, list[str]] = {}
    wrong: list[str] = []

    def check(event: dict[str, Any]) -> None:  # runs after the panel saw the event
        if event["type"] != "ticket":
            return
        panel.flush()
        node = view.nodes.get(event["ticket_id"])
        if node is None:  # a ticket of another track: not drawn
            return
        shown.setdefault(node.ticket_id, []).append(node.state.status)
        if node.fill.name() != colour_of(TicketStatus(event["status"])):
            wrong.append(f"{node.ticket_id} {event['status']}: {node.fill.name()}")

    session.bus.published.connect(check)
    window.start(sample_epic(), str(tmp_path))
    panel.show_track("TR-1")  # the demo plans three tracks: draw the first
    qtbot.waitUntil(lambda: session.status in FINAL, timeout=60_000)
    session.bus.published.disconnect(check)
    panel.flush()
    tickets = next(t for t in session.tracks if t.id == "TR-1").tickets
    assert set(view.nodes) == {t.id for t in tickets} and len(view.nodes) >= 5
    assert set(view.edges) == {(dep, t.id) for t in tickets for dep in t.depends_on}
    assert any(t.depends_on for t in tickets)
    assert wrong == []
    for ticket in tickets:
        assert shown[ticket.id][-2:] == [TicketStatus.IN_PROGRESS, TicketStatus.COMPLETED]
        assert view.nodes[ticket.id].fill.name() == colour_of(TicketStatus.COMPLETED)

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=click_point(view, "T-003"))
    assert window.stream_view.stream_id == "Tier 3 (Worker): T-003"
    assert view.nodes["T-003"].selected and not view.nodes["T-002"].selected


def test_right_click_on_a_node_asks_for_its_menu(panel: DagPanel, qtbot: Any) -> None:
    plan(panel.session, Track("TR-1", "One"), [Ticket("T-001", "First")])
    panel.flush()
    view = panel.view
    pos = click_point(view, "T-001")
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, view.viewport().mapToGlobal(pos))
    with qtbot.waitSignal(view.ticketMenuRequested) as menu:
        QApplication.sendEvent(view.viewport(), event)
    assert menu.args == ["T-001", view.viewport().mapToGlobal(pos)]


def test_every_status_has_its_own_colour_and_a_status_change_repaints_only_its_node(
    panel: DagPanel,
) -> None:
    session = panel.session
    tickets = [Ticket("T-001", "First"), Ticket("T-002", "Second", depends_on=("T-001",))]
    plan(session, Track("TR-1", "One"), tickets)
    panel.flush()
    view = panel.view
    edges, nodes = dict(view.edges), dict(view.nodes)
    for status in TicketStatus:
        session.set_ticket(tickets[1], status)
        panel.flush()
        assert view.nodes["T-002"].fill.name() == colour_of(status)
        assert view.nodes["T-001"].state.status is TicketStatus.TODO
    assert view.edges == edges and view.nodes == nodes  # same items: no new layout
    assert len(set(STATUS_COLOURS.values())) == len(TicketStatus) == len(STATUS_COLOURS)


def test_a_changed_depends_on_lays_the_graph_out_again(panel: DagPanel) -> None:
    session = panel.session
    tickets = [Ticket("T-001", "A"), Ticket("T-002", "B"),
               Ticket("T-003", "C", depends_on=("T-001",))]
    plan(session, Track("TR-1", "One"), tickets)
    panel.flush()
    view = panel.view
    assert set(view.edges) == {("T-001", "T-003")}
    first = view.nodes["T-001"]
    tickets[2].depends_on = ("T-002",)  # as edit_ticket does, then its ticket event
    session.set_ticket(tickets[2], TicketStatus.TODO)
    panel.flush()
    assert set(view.edges) == {("T-002", "T-003")}
    assert view.nodes["T-001"] is first  # nodes are moved, not made again
    assert view.nodes["T-003"].x() > view.nodes["T-002"].x()


def test_a_pending_approval_outlines_its_ticket_until_it_is_answered(panel: DagPanel) -> None:
    session = panel.session
    plan(session, Track("TR-1", "One"), [Ticket("T-001", "First")])
    panel.flush()
    node = panel.view.nodes["T-001"]
    fields = {"key": "T-001:spawn", "kind": "spawn", "ticket_id": "T-001"}
    session.bus.publish("approval", state="requested", **fields)
    panel.flush()
    assert node.state.pending == 1 and "approvals pending: 1" in node.toolTip()
    session.bus.publish("approval", state="approved", **fields)
    panel.flush()
    assert node.state.pending == 0


def test_tooltip_gives_title_status_model_and_attempts(panel: DagPanel) -> None:
    session = panel.session
    ticket = Ticket("T-001", "Write the CSV writer")
    plan(session, Track("TR-1", "One"), [ticket])
    session.set_ticket(ticket, TicketStatus.IN_PROGRESS, model="demo-worker")
    panel.flush()
    tip = panel.view.nodes["T-001"].toolTip()
    assert tip.splitlines()[:4] == ["T-001: Write the CSV writer", "status: in progress",
                                    "model: demo-worker", "attempts: 1"]


def test_the_graph_shows_the_chosen_track_else_the_one_started_last(panel: DagPanel) -> None:
    session = panel.session
    plan(session, Track("TR-1", "One"), [Ticket("T-001", "A")])
    plan(session, Track("TR-2", "Two"), [Ticket("T-101", "B"), Ticket("T-102", "C")])
    panel.flush()
    assert (panel.track_id, set(panel.view.nodes)) == ("TR-2", {"T-101", "T-102"})
    panel.show_track("TR-1")
    panel.flush()
    assert (panel.track_id, set(panel.view.nodes)) == ("TR-1", {"T-001"})
    assert panel.track_label.text().startswith("TR-1 · One")
    panel.show_track(None)
    panel.flush()
    assert panel.track_id == "TR-2"
    session.bus.publish("track", track_id="TR-1", status="running", error="")
    panel.flush()
    assert panel.track_id == "TR-1"  # the track that started running last


def test_the_window_graph_follows_the_track_of_the_selected_row(demo_app: AppParts) -> None:
    session, window = demo_app.session, demo_app.window
    session.reset("epic", "/tmp")
    plan(session, Track("TR-1", "One"), [Ticket("T-001", "A")])
    plan(session, Track("TR-2", "Two"), [Ticket("T-101", "B")])
    window.select("T-001")
    assert window.graph.panel.track_id == "TR-1"
    assert window.graph.view.nodes["T-001"].selected
    window.select("Tier 1")
    assert window.graph.panel.track_id == "TR-2"


def test_ctrl_wheel_zooms_and_fit_shows_the_whole_graph(panel: DagPanel) -> None:
    tickets = [Ticket(f"T-{i:03d}", "x", depends_on=(f"T-{i - 1:03d}",) if i else ())
               for i in range(30)]
    plan(panel.session, Track("TR-1", "Long"), tickets)
    panel.flush()
    view = panel.view
    fitted = view.zoom()
    assert fitted < 1.0  # 30 columns do not fit 800 px at 1:1
    assert view.mapToScene(view.viewport().rect()).boundingRect().contains(view.sceneRect())
    centre = QPointF(view.viewport().rect().center())
    wheel = QWheelEvent(centre, view.viewport().mapToGlobal(centre), QPoint(), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom() == pytest.approx(fitted * 1.15) and not view.auto_fit
    view.fit()
    assert view.zoom() == pytest.approx(fitted)
