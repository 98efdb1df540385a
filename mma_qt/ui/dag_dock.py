"""The Graph dock in the main window: :class:`~mma_qt.ui.dag_view.DagPanel` following the
tree's current row, and a clicked node selecting its ticket's row (and so its stream)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, Slot
from PySide6.QtWidgets import QDockWidget

from ..core.model.domain import Tier
from .dag_view import DagPanel
from .tree_model import MmaTreeModel

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)


class DagDock(QDockWidget):
    """The Graph dock of the main window: shows the track of the tree's current row and
    outlines its ticket; a clicked node selects its ticket's row (and so its stream).
    ``ticketMenuRequested`` (ticket id, global position) asks for the per-ticket menu."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__("Graph", window)
        self.setObjectName("GraphDock")  # its place in the saved window state
        self.panel = DagPanel(window.session)
        self.setWidget(self.panel)
        self.view = self.panel.view
        self.ticketMenuRequested = self.view.ticketMenuRequested
        self._window = window
        self.view.ticketSelected.connect(self._on_ticket_clicked)
        window.tree.selectionModel().currentChanged.connect(self._on_row_changed)

    @Slot(str)
    def _on_ticket_clicked(self, ticket_id: str) -> None:
        try:
            self._window.select(ticket_id)
        except KeyError as exc:  # the ticket's row is gone (a new run began meanwhile)
            log.warning("Graph: cannot select %s: %s", ticket_id, exc.args[0])

    @Slot(QModelIndex, QModelIndex)
    def _on_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        follow_row(self.panel, self._window.model, current)


def follow_row(panel: DagPanel, model: MmaTreeModel, current: QModelIndex) -> str | None:
    """Show the track of the tree's ``current`` row and outline its ticket (a Tier 3
    row's); return that ticket's id."""
    record = model.record(current)
    ticket = record.ticket_id if record is not None and record.tier is Tier.WORKER else None
    panel.show_track(model.track_id(current))
    panel.flush()
    panel.view.select_node(ticket)
    return ticket


def install_dag_dock(window: MainWindow) -> DagDock:
    """Add the Graph dock to ``window``: at the bottom, tabbed with the Log dock and in
    front of it (a saved window state puts it back where the user left it)."""
    dock = DagDock(window)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    log_dock = window.findChild(QDockWidget, "LogDock")
    if isinstance(log_dock, QDockWidget):
        window.tabifyDockWidget(log_dock, dock)
        dock.raise_()
    return dock
