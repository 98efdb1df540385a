"""The Graph dock in the main window: :class:`~mma_qt.ui.dag_view.DagPanel` following the
tree's current row, and a clicked node selecting its ticket's row (and so its stream)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, Slot
from PySide6.QtWidgets import QDockWidget

from ..core.model.domain import Tier
from .dag_view import DagPanel

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
        model = self._window.model
        record = model.record(current)
        worker = record is not None and record.tier is Tier.WORKER
        self.panel.show_track(model.track_id(current))
        self.panel.flush()
        self.view.select_node(record.ticket_id if worker and record is not None else None)


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
