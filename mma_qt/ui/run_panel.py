"""The run panel: the live tree of tiers, tracks and tickets beside the selected row's
stream. Tier 2, 3 and 4 streams sit under a row per track (:data:`TRACK_TIERS`), which
rolls up the track's usage and cost in that tier."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelection, QModelIndex, QPoint, Qt, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QMenu,
    QSplitter,
    QTreeView,
    QWidget,
)

from ..core.live.session import MmaSession
from ..core.model.domain import Tier
from ..core.model.records import StreamRecord
from .dialogs import column
from .stream_follow import StreamFollower
from .stream_view import StreamView
from .tree_columns import ColumnFitter
from .tree_model import MmaTreeModel, StreamIdRole

NO_STREAM = "No stream selected"
#: The tiers whose streams are grouped under their track's row.
TRACK_TIERS = (Tier.TECH_LEAD, Tier.WORKER, Tier.QA)
#: Adds the actions of a ticket (or a track) to a context menu: (menu, id).
MenuFiller = Callable[[QMenu, str], None]


class RunPanel(QSplitter):
    """Tree (left) and stream view (right). Selecting a row shows its stream; a row's
    context menu offers the ticket's (or track's) actions the window hands over
    (:attr:`ticket_menu`, :attr:`track_menu`), and copying its text."""

    def __init__(self, session: MmaSession, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.session = session
        self.model = MmaTreeModel(session, self, track_tiers=TRACK_TIERS)
        self.tree = self._build_tree()
        self.stream_title = QLabel(NO_STREAM)
        self.stream_view = StreamView(session.hub)
        self.follower = StreamFollower(session, self.tree, self.show_stream)
        self.addWidget(self.tree)
        self.addWidget(column(self.stream_title, self.stream_view, stretch=self.stream_view))
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)
        self.setSizes([760, 480])
        #: Fill a Tier 3 row's context menu with its ticket's actions (the window's).
        self.ticket_menu: MenuFiller | None = None
        #: Fill a track row's context menu with the track's actions.
        self.track_menu: MenuFiller | None = None

    def _build_tree(self) -> QTreeView:
        tree = QTreeView()
        tree.setObjectName("tree")
        tree.setModel(self.model)
        tree.setUniformRowHeights(True)
        tree.setAlternatingRowColors(True)
        tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        tree.expandAll()
        self.columns = ColumnFitter(tree, self.model, self.session, self)
        self.model.rowsInserted.connect(self._on_rows_inserted)
        self.model.modelReset.connect(tree.expandAll)
        tree.selectionModel().selectionChanged.connect(self._on_selection)
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._on_tree_menu)
        return tree

    def current_record(self) -> StreamRecord | None:
        return self.model.record(self.tree.currentIndex())

    def show_stream(self, stream_id: str | None) -> None:
        self.stream_title.setText(stream_id or NO_STREAM)
        self.stream_view.show_stream(stream_id)

    def select(self, target: str) -> str:
        """Select a row by stream id, ticket id or tier label; return its stream id or label."""
        index = self.model.index_of(target)
        if not index.isValid():
            for record in self.session.records.values():
                if record.ticket_id == target and record.tier is Tier.WORKER:
                    index = self.model.index_of(record.stream_id)
                    break
        if not index.isValid():
            for tier in Tier:
                if target in (tier.label, str(int(tier))):
                    index = self.model.tier_index(tier)
        if not index.isValid():
            raise KeyError(f"no row {target!r}")
        self.tree.setCurrentIndex(index)
        self.tree.scrollTo(index)
        sid = index.data(StreamIdRole)
        return str(sid) if sid else str(index.data())

    @Slot(QItemSelection, QItemSelection)
    def _on_selection(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        indexes = selected.indexes()
        sid = indexes[0].data(StreamIdRole) if indexes else None
        self.show_stream(str(sid) if sid else None)

    @Slot(QPoint)
    def _on_tree_menu(self, pos: QPoint) -> None:
        index = self.tree.indexAt(pos)
        menu = self._menu_for(index)
        if menu is None:
            return
        self.tree.setCurrentIndex(index)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    def _menu_for(self, index: QModelIndex) -> QMenu | None:
        """A stream row: its ticket's actions (Tier 3) and Copy; a track row: the track's
        actions; else no menu."""
        record = self.model.record(index)
        track_id = self.model.track_id(index)
        if record is None and (track_id is None or self.track_menu is None):
            return None
        menu = QMenu(self)
        if record is not None:
            if record.tier is Tier.WORKER and record.ticket_id and self.ticket_menu:
                self.ticket_menu(menu, record.ticket_id)
                menu.addSeparator()
            copy = menu.addAction("Copy stream text")
            copy.triggered.connect(self._copy_stream)
        elif track_id is not None and self.track_menu is not None:
            self.track_menu(menu, track_id)
        return menu

    @Slot()
    def _copy_stream(self) -> None:
        record = self.current_record()
        if record is not None:
            QGuiApplication.clipboard().setText(self.session.hub.text(record.stream_id))

    @Slot(QModelIndex, int, int)
    def _on_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            self.tree.expand(parent)
