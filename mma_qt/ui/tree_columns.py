"""The tree's column widths, measured with its font rather than set in pixels.

- **Name** is wide enough for the tier rows ("Tier 3 · Workers") and the ticket titles
  below them (never wider than the view: a longer title is elided, its tooltip whole),
  and takes whatever width the other columns leave, as a stretched column would; the
  view scrolls sideways to the numbers when it is too narrow for all.
- **Status** fits the longest status word (a tier row's summary is elided); **Model** the
  models of the streams (a tier row's list is elided).
- **Numbers** (Input, Output, Cache, Cost, Elapsed) fit their header and the widest value
  they can be expected to show, and grow when a tier row's roll-up (the widest number of
  its column) needs more; they never shrink while a run goes.

A column the user resized by hand is theirs: it is never fitted again.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer, Slot
from PySide6.QtWidgets import QHeaderView, QSplitter, QStyle, QStyleOptionHeader, QTreeView

from ..core.live.session import MmaSession
from ..core.model.domain import Tier
from ..core.model.status import StreamStatus, TicketStatus
from .tree_cells import (
    COL_CACHE,
    COL_COST,
    COL_ELAPSED,
    COL_INPUT,
    COL_MODEL,
    COL_NAME,
    COL_OUTPUT,
    COL_STATUS,
    COLUMNS,
    NUMERIC,
    TIER_TITLES,
)
from .tree_model import MmaTreeModel

#: What each column is sized for before a run shows its real values (formatting's widest).
SAMPLES: dict[int, tuple[str, ...]] = {
    COL_STATUS: tuple(s.label for s in (*TicketStatus, *StreamStatus)),
    COL_MODEL: ("claude-sonnet-4-5", "demo-worker-pro"),
    COL_INPUT: ("~999.9k",),
    COL_OUTPUT: ("~999.9k",),
    COL_CACHE: ("999.9k",),
    COL_COST: ("$99.9999", "≥$9.9999"),
    COL_ELAPSED: ("59m59s",),
}
#: A ticket row as a plan names it: the width reserved before the first plan arrives.
SAMPLE_TICKET = "T-001: Write the CSV writer and its tests"
REFIT_MS = 300
#: The tiers whose rows are named after tickets.
TICKET_TIERS = (Tier.WORKER, Tier.QA)
#: The most of the run panel's width the tree takes, widened to fit its columns.
TREE_SHARE = 0.65


class ColumnFitter(QObject):
    def __init__(self, tree: QTreeView, model: MmaTreeModel, session: MmaSession,
                 splitter: QSplitter | None = None) -> None:
        super().__init__(tree)
        self._splitter = splitter
        #: The user placed the splitter: it is never moved to fit the columns.
        self.split_by_user = False
        if splitter is not None:
            splitter.splitterMoved.connect(self._on_splitter_moved)
        self._tree, self._model, self._session = tree, model, session
        self._header = tree.header()
        self._header.setStretchLastSection(False)
        self._header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        #: Columns the user sized by hand.
        self.user_sized: set[int] = set()
        self._fitting = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFIT_MS)
        self._timer.timeout.connect(self.fit)
        self._header.sectionResized.connect(self._on_resized)
        model.rowsInserted.connect(self._schedule)
        model.modelReset.connect(self._schedule)
        session.usageChanged.connect(self._schedule)  # the tier rows' roll-ups grow
        tree.viewport().installEventFilter(self)
        self.fit()

    # -- measuring -------------------------------------------------------------------
    def text_width(self, text: str) -> int:
        """The width a cell needs for ``text``: the font's advance plus the cell margins."""
        margin = self._tree.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1
        return self._tree.fontMetrics().horizontalAdvance(text) + 2 * margin + 4

    def header_width(self, column: int) -> int:
        option = QStyleOptionHeader()
        option.initFrom(self._header)
        option.text = COLUMNS[column]
        size = self._tree.style().sizeFromContents(
            QStyle.ContentsType.CT_HeaderSection, option, option.rect.size(), self._header)
        return max(size.width(), self._header.fontMetrics().horizontalAdvance(COLUMNS[column]))

    def needed(self, column: int) -> int:
        """The width ``column`` needs for what it shows, and may be expected to show."""
        if column == COL_NAME:
            return self._name_needed()
        texts = list(SAMPLES.get(column, ()))
        if column in NUMERIC:  # a tier row's roll-up is the widest number of its column
            texts += [str(self._model.tier_index(tier, column).data() or "") for tier in Tier]
        elif column == COL_MODEL:  # one model per stream; a tier row's list is elided
            texts += {record.model for record in self._session.records.values()}
        return max([self.header_width(column), *map(self.text_width, texts)])

    def _name_needed(self) -> int:
        """The tier titles and the ticket rows (Tier 3 and 4) at their depth. Tier 1 and 2
        rows are named after the epic and the track, which may be long: they are elided."""
        indent = self._tree.indentation()
        depth0 = indent if self._tree.rootIsDecorated() else 0
        widths = [self._floor(), self.header_width(COL_NAME)]
        pending = [(self._model.tier_index(tier), depth0 + indent) for tier in TICKET_TIERS]
        while pending:
            parent, offset = pending.pop()
            for row in range(self._model.rowCount(parent)):
                index = self._model.index(row, COL_NAME, parent)
                widths.append(offset + self.text_width(str(index.data() or "")))
                pending.append((index, offset + indent))
        return max(widths)

    def _floor(self) -> int:
        """The least the Name column gets: the tier titles and a sample ticket row."""
        indent = self._tree.indentation()
        depth0 = indent if self._tree.rootIsDecorated() else 0
        return max(max(self.text_width(t) for t in TIER_TITLES.values()) + depth0,
                   self.text_width(SAMPLE_TICKET) + depth0 + indent)

    def tree_width(self) -> int:
        """The width the tree needs to show every column at its fitted width."""
        style = self._tree.style()
        return (sum(self.needed(c) for c in range(len(COLUMNS))) + 2 * self._tree.frameWidth()
                + style.pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent))

    # -- fitting ---------------------------------------------------------------------
    @Slot()
    def fit(self) -> None:
        self._timer.stop()
        self._fitting = True
        try:
            for column in range(len(COLUMNS)):
                if column == COL_NAME or column in self.user_sized:
                    continue
                wanted = self.needed(column)
                if wanted > self._header.sectionSize(column) or not self._tree.isVisible():
                    self._header.resizeSection(column, wanted)
            self._fit_name()
        finally:
            self._fitting = False
        self._widen_tree()

    def _widen_tree(self) -> None:
        """Widen the tree (up to :data:`TREE_SHARE` of the splitter) to what its columns
        need, unless the user placed the splitter (or it was restored as they left it)."""
        splitter = self._splitter
        if splitter is None or self.split_by_user:
            return
        sizes = splitter.sizes()
        total = sum(sizes)
        wanted = min(self.tree_width(), int(total * TREE_SHARE))
        if total > 0 and sizes[0] < wanted:
            splitter.setSizes([wanted, total - wanted])

    @Slot(int, int)
    def _on_splitter_moved(self, pos: int, index: int) -> None:
        self.split_by_user = True

    def _fit_name(self) -> None:
        if COL_NAME in self.user_sized:
            return
        view = self._tree.viewport().width()
        others = sum(self._header.sectionSize(c) for c in range(len(COLUMNS)) if c != COL_NAME)
        needed = min(self.needed(COL_NAME), max(view, self._floor()))
        self._header.resizeSection(COL_NAME, max(needed, view - others))

    @Slot()
    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    @Slot(int, int, int)
    def _on_resized(self, column: int, old: int, new: int) -> None:
        if not self._fitting:
            self.user_sized.add(column)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and not self._fitting:
            self._fitting = True
            try:
                self._fit_name()
            finally:
                self._fitting = False
        return False
