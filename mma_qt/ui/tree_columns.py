"""The tree's column widths, measured with its font rather than set in pixels.

- **Name** is wide enough for the tier rows ("Tier 3 · Workers") and the ticket titles
  below them (never wider than the view: a longer title is elided, its tooltip whole),
  and takes whatever width the other columns leave, as a stretched column would; the
  view scrolls sideways to the numbers when it is too narrow for all.
- **Status** fits the longest status word; **Model** a model name.
- **Numbers** (Input, Output, Cache, Cost, Elapsed) fit their header and the widest value
  they can be expected to show, and grow when a tier row's roll-up (the widest number of
  its column) needs more; they never shrink while a run goes.

A column the user resized by hand is theirs: it is never fitted again.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer, Slot
from PySide6.QtWidgets import QHeaderView, QStyle, QStyleOptionHeader, QTreeView

from ..core.live.session import MmaSession
from ..core.model.domain import Tier
from ..core.model.status import StreamStatus, TicketStatus
from .tree_model import (
    COL_CACHE,
    COL_COST,
    COL_ELAPSED,
    COL_INPUT,
    COL_MODEL,
    COL_NAME,
    COL_OUTPUT,
    COL_STATUS,
    COLUMNS,
    TIER_TITLES,
    MmaTreeModel,
)

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


class ColumnFitter(QObject):
    def __init__(self, tree: QTreeView, model: MmaTreeModel, session: MmaSession) -> None:
        super().__init__(tree)
        self._tree, self._model = tree, model
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
        texts = [*SAMPLES.get(column, ()), *self._tier_texts(column)]
        return max([self.header_width(column), *map(self.text_width, texts)])

    def _tier_texts(self, column: int) -> list[str]:
        model = self._model
        return [str(model.tier_index(tier, column).data() or "") for tier in Tier]

    def _name_needed(self) -> int:
        indent = self._tree.indentation()
        depth0 = indent if self._tree.rootIsDecorated() else 0
        tiers = max(self.text_width(title) for title in TIER_TITLES.values()) + depth0
        rows = max(self._tree.sizeHintForColumn(COL_NAME), 0)
        return max(tiers, self.text_width(SAMPLE_TICKET) + depth0 + indent, rows,
                   self.header_width(COL_NAME))

    def tree_width(self) -> int:
        """The width the tree needs to show every column at its fitted width."""
        style = self._tree.style()
        others = sum(self.needed(c) for c in range(len(COLUMNS)) if c != COL_NAME)
        return (others + self._floor() + 2 * self._tree.frameWidth()
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

    def _fit_name(self) -> None:
        if COL_NAME in self.user_sized:
            return
        view = self._tree.viewport().width()
        others = sum(self._header.sectionSize(c) for c in range(len(COLUMNS)) if c != COL_NAME)
        needed = min(self.needed(COL_NAME), max(view, self._floor()))
        self._header.resizeSection(COL_NAME, max(needed, view - others))

    def _floor(self) -> int:
        """The least the Name column gets: the tier titles and a sample ticket row."""
        indent = self._tree.indentation()
        return max(self.text_width(t) for t in (*TIER_TITLES.values(), SAMPLE_TICKET)) + indent

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
