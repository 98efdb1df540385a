"""The Graph dock's contents: the ticket graph of one track, live while the run goes
(:mod:`.dag_dock` puts it in the main window).

Nodes sit in columns by dependency depth (:mod:`mma_qt.core.model.dag_layout`), arrows go
from a dependency to its dependent, and a node's colour is its ticket's status; a dashed
orange outline marks a ticket with a pending approval. The dock shows the track of the
tree's selected row, else the track planned last.

Live updates are collected from the session's events and applied at most 20 times a
second: a status change repaints its node only; the layout is computed again only when
the graph itself changed (a new plan, an edit of ``depends_on``). Clicking a node emits
:attr:`DagView.ticketSelected`, right-clicking :attr:`DagView.ticketMenuRequested`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, QPointF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QContextMenuEvent, QMouseEvent, QPainter, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.live.session import MmaSession
from ..core.model.dag_layout import DagLayout, layout
from ..core.model.domain import Ticket
from ..core.model.status import TrackStatus
from . import formatting
from .dag_items import (
    NODE_GAP,
    NODE_H,
    NODE_W,
    RANK_GAP,
    Arrow,
    ArrowLayer,
    NodeItem,
    NodeState,
    legend_html,
)

REFRESH_MS = 50
ZOOM_STEP, MIN_ZOOM, MAX_ZOOM = 1.15, 0.05, 4.0
NO_TRACK = "No track planned yet"
#: The graph of a track: (ticket id, depends_on) in plan order.
Graph = tuple[tuple[str, tuple[str, ...]], ...]


class DagView(QGraphicsView):
    """The picture: one :class:`NodeItem` per ticket, one :class:`Arrow` per dependency."""

    ticketSelected = Signal(str)
    ticketMenuRequested = Signal(str, QPoint)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dagView")
        scene = QGraphicsScene(self)
        # Nodes move at every new layout; 200 items need no spatial index to be found.
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setScene(scene)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.nodes: dict[str, NodeItem] = {}
        #: (dependency, dependent) -> its arrow, all drawn by one item.
        self.edges: dict[tuple[str, str], Arrow] = {}
        self._arrows = ArrowLayer()
        self.scene().addItem(self._arrows)
        self.graph: Graph = ()
        #: Fit the picture to the view after each layout and resize, until the user zooms.
        self.auto_fit = True

    # -- building --------------------------------------------------------------------
    def set_graph(self, graph: Graph, states: dict[str, NodeState]) -> DagLayout:
        """Lay ``graph`` out; nodes that stay keep their items (and their cached pictures)."""
        placed = layout(graph, node_span=NODE_H, dummy_span=NODE_GAP / 2, gap=NODE_GAP)
        scene = self.scene()
        for ticket_id in [t for t in self.nodes if t not in placed.rank]:
            scene.removeItem(self.nodes.pop(ticket_id))
        for ticket_id, rank in placed.rank.items():
            node = self.nodes.get(ticket_id)
            if node is None:
                node = self.nodes[ticket_id] = NodeItem(ticket_id, states[ticket_id])
                scene.addItem(node)
            else:
                node.set_state(states[ticket_id])
            node.setPos(_x(rank), placed.across[ticket_id] - NODE_H / 2)
        self.edges = {}
        for (dep, ticket_id), bends in placed.edges.items():
            points = [QPointF(_x(placed.rank[dep]) + NODE_W, placed.across[dep])]
            for rank, across in bends:  # straight through the column of a rank between
                points += [QPointF(_x(rank), across), QPointF(_x(rank) + NODE_W, across)]
            points.append(QPointF(_x(placed.rank[ticket_id]), placed.across[ticket_id]))
            self.edges[(dep, ticket_id)] = Arrow.through(points)
        self._arrows.set_arrows(list(self.edges.values()))
        self.graph = graph
        rect = scene.itemsBoundingRect().adjusted(-NODE_GAP, -NODE_GAP, NODE_GAP, NODE_GAP)
        scene.setSceneRect(rect)
        if self.auto_fit:
            self.fit()
        return placed

    def update_node(self, ticket_id: str, state: NodeState) -> bool:
        node = self.nodes.get(ticket_id)
        return node is not None and node.set_state(state)

    def select_node(self, ticket_id: str | None) -> None:
        for tid, node in self.nodes.items():
            node.set_selected(tid == ticket_id)

    # -- zoom ------------------------------------------------------------------------
    @Slot()
    def fit(self) -> None:
        """The whole graph in view, never magnified beyond 1:1."""
        rect = self.sceneRect()
        self.resetTransform()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        fitted = self.zoom()
        if not MIN_ZOOM <= fitted <= 1.0:
            zoom = min(max(fitted, MIN_ZOOM), 1.0)
            self.resetTransform()
            self.scale(zoom, zoom)
            self.centerOn(rect.center())

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        factor = min(max(self.zoom() * factor, MIN_ZOOM), MAX_ZOOM) / self.zoom()
        self.scale(factor, factor)
        self.auto_fit = False

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            self.zoom_by(ZOOM_STEP ** steps)
            event.accept()
        else:
            super().wheelEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.auto_fit:
            self.fit()

    # -- clicks ----------------------------------------------------------------------
    def node_at(self, pos: QPoint) -> NodeItem | None:
        for item in self.items(pos):
            if isinstance(item, NodeItem):
                return item
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        node = self.node_at(event.position().toPoint())
        if node is not None and event.button() is Qt.MouseButton.LeftButton:
            self.ticketSelected.emit(node.ticket_id)
            event.accept()
            return
        super().mousePressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        node = self.node_at(event.pos())
        if node is None:
            super().contextMenuEvent(event)
            return
        self.ticketMenuRequested.emit(node.ticket_id, event.globalPos())
        event.accept()


def _x(rank: int) -> float:
    return rank * (NODE_W + RANK_GAP)


class DagPanel(QWidget):
    """The dock's contents: which track, the legend, Fit, and the live :class:`DagView`."""

    def __init__(self, session: MmaSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Graph")
        self.session = session
        self.view = DagView()
        self.track_label = QLabel(NO_TRACK)
        # A long track title is cut, never widening the dock; its tooltip is whole.
        self.track_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.legend = QLabel(legend_html())
        self.legend.setWordWrap(True)
        small = self.legend.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.legend.setFont(small)
        fit = QToolButton()
        fit.setText("Fit")
        fit.setToolTip("Show the whole graph (Ctrl+wheel zooms)")
        fit.clicked.connect(self._on_fit)
        top = QHBoxLayout()
        top.addWidget(self.track_label, 1)
        top.addWidget(fit)
        layout_ = QVBoxLayout(self)
        layout_.setContentsMargins(4, 4, 4, 4)
        layout_.addLayout(top)
        layout_.addWidget(self.legend)
        layout_.addWidget(self.view, 1)
        #: The track the user chose (the tree's row); None: the track started last (its
        #: plan event, or its ``track`` event saying it runs).
        self._chosen: str | None = None
        self._planned: str | None = None
        self.track_id: str | None = None
        self._pending: dict[str, set[str]] = {}
        self._dirty: set[str] = set()
        self._regraph = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.flush)
        session.bus.published.connect(self._on_event)
        session.streamsReset.connect(self._on_reset)

    # -- what to show ----------------------------------------------------------------
    def show_track(self, track_id: str | None) -> None:
        """Show ``track_id``'s graph; None: follow the track planned last."""
        self._chosen = track_id
        self._schedule(regraph=True)

    def _wanted_track(self) -> str | None:
        for track_id in (self._chosen, self._planned):
            if track_id is not None and self._track_tickets(track_id):
                return track_id
        active = self.session.active_track
        return None if active is None else active.id

    def _track_tickets(self, track_id: str) -> list[Ticket]:
        tickets = self.session.tickets
        for track in (*self.session.tracks, self.session.active_track):
            if track is not None and track.id == track_id and track.tickets:
                return [tickets.get(t.id, t) for t in track.tickets]
        return []

    def _graph(self) -> Graph:
        if self.track_id is None:
            return ()
        return tuple((t.id, tuple(t.depends_on)) for t in self._track_tickets(self.track_id))

    def _state(self, ticket: Ticket) -> NodeState:
        attempts = len(ticket.attempts) or (ticket.retry_count + 1 if ticket.started_at else 0)
        pending = len(self._pending.get(ticket.id, ()))
        model = ticket.model or ticket.model_override or ""
        lines = [f"{ticket.id}: {ticket.title}", f"status: {ticket.status.label}",
                 f"model: {model or 'not chosen yet'}", f"attempts: {attempts}"]
        lines += formatting.ticket_notes(ticket)
        if pending:
            lines.append(f"approvals pending: {pending}")
        return NodeState(ticket.title, ticket.status, model, attempts, pending,
                         "\n".join(lines))

    # -- live updates ----------------------------------------------------------------
    def _schedule(self, *, regraph: bool = False, ticket_id: str | None = None) -> None:
        self._regraph = self._regraph or regraph
        if ticket_id is not None:
            self._dirty.add(ticket_id)
        if not self._timer.isActive():
            self._timer.start()

    @Slot(object)
    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "text" or kind == "usage":
            return
        if kind == "plan":
            self._planned = str(event["track"]["id"])
            self._schedule(regraph=True)
        elif kind == "approval":
            keys = self._pending.setdefault(str(event["ticket_id"]), set())
            if event["state"] == "requested":
                keys.add(str(event["key"]))
            else:
                keys.discard(str(event["key"]))
            self._schedule(ticket_id=str(event["ticket_id"]))
        elif isinstance(event.get("ticket_id"), str):  # ticket, attempt, tool, stream
            self._schedule(ticket_id=event["ticket_id"])
        elif kind in ("tracks", "track"):
            if kind == "track" and event.get("status") == TrackStatus.RUNNING:
                self._planned = str(event["track_id"])  # the track started last
            self._schedule(regraph=True)

    @Slot()
    def _on_reset(self) -> None:
        self._chosen = self._planned = None
        self._pending.clear()
        self._schedule(regraph=True)

    @Slot()
    def flush(self) -> None:
        """Apply what changed since the last flush (also called by tests and benchmarks)."""
        self._timer.stop()
        dirty, self._dirty = self._dirty, set()
        regraph, self._regraph = self._regraph, False
        wanted = self._wanted_track()
        if wanted != self.track_id:
            self.track_id, regraph = wanted, True
            self.view.auto_fit = True
        if regraph or (dirty & self.view.nodes.keys() and self._graph() != self.view.graph):
            self._relayout()
            return
        tickets = self.session.tickets
        for ticket_id in dirty:
            ticket = tickets.get(ticket_id)
            if ticket is not None:
                self.view.update_node(ticket_id, self._state(ticket))

    def _relayout(self) -> None:
        graph = self._graph()
        tickets = self.session.tickets
        states = {tid: self._state(tickets[tid]) for tid, _ in graph if tid in tickets}
        graph = tuple(entry for entry in graph if entry[0] in states)
        if graph != self.view.graph or not graph:
            self.view.set_graph(graph, states)
        else:
            for ticket_id, state in states.items():
                self.view.update_node(ticket_id, state)
        self._show_title()

    def _show_title(self) -> None:
        track = next((t for t in self.session.tracks if t.id == self.track_id), None)
        if self.track_id is None:
            self.track_label.setText(NO_TRACK)
        elif track is None:
            self.track_label.setText(self.track_id)
        else:
            self.track_label.setText(f"{track.id} · {track.title}  ({track.status.label})")
        self.track_label.setToolTip(self.track_label.text())

    @Slot()
    def _on_fit(self) -> None:
        self.view.auto_fit = True
        self.view.fit()
