"""The live tree: tiers as top rows with rolled-up usage, their streams beneath.

Row identity is encoded in ``internalId``: 0 for a tier row, the tier number (1-4) for a
stream row below that tier. Live changes never reset the model: rows are inserted with
``beginInsertRows`` and changed rows are collected and announced at most 10 times a second
with one ranged ``dataChanged`` per parent (equinor/ert's snapshot model does the same).
Only starting a new epic resets the model.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Slot,
)
from PySide6.QtGui import QBrush, QColor

from ..core.live.session import MmaSession, Rollup, StreamRecord
from ..core.model.domain import Tier
from . import formatting

Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("Name", "Status", "Model", "Input", "Output", "Cache", "Cost", "Elapsed")
COL_NAME, COL_STATUS, COL_MODEL, COL_INPUT, COL_OUTPUT, COL_CACHE, COL_COST, COL_ELAPSED = (
    range(len(COLUMNS))
)
NUMERIC = frozenset({COL_INPUT, COL_OUTPUT, COL_CACHE, COL_COST, COL_ELAPSED})

#: The stream id of a stream row; None on a tier row.
StreamIdRole = Qt.ItemDataRole.UserRole + 1
#: The tier number (1-4) of any row.
TierRole = Qt.ItemDataRole.UserRole + 2
#: The raw status string of a stream row.
StatusRole = Qt.ItemDataRole.UserRole + 3

TIERS = tuple(Tier)
TIER_TITLES = {
    Tier.ORCHESTRATOR: "Tier 1 · Orchestrator",
    Tier.TECH_LEAD: "Tier 2 · Tech Lead",
    Tier.WORKER: "Tier 3 · Workers",
    Tier.QA: "Tier 4 · QA",
}
STATUS_COLORS = {
    "running": "#1565c0",
    "in_progress": "#1565c0",
    "completed": "#2e7d32",
    "done": "#2e7d32",
    "failed": "#c62828",
    "blocked": "#ef6c00",
    "cancelled": "#757575",
}
REFRESH_MS = 100
#: Live output estimates repaint every Nth refresh (~3 Hz): painting cells, not counting,
#: is what costs at 32 parallel streams.
LIVE_EVERY = 3


class MmaTreeModel(QAbstractItemModel):
    def __init__(self, session: MmaSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._rows: dict[Tier, list[str]] = {tier: [] for tier in TIERS}
        self._position: dict[str, tuple[Tier, int]] = {}
        self._dirty: set[str] = set()
        self._text_dirty: set[str] = set()
        self._shown_second: dict[str, int] = {}
        self._ticks = 0
        self._tiers_dirty = False
        self._brushes = {k: QBrush(QColor(v)) for k, v in STATUS_COLORS.items()}
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()
        session.streamAdded.connect(self._on_stream_added)
        session.streamChanged.connect(self._on_stream_changed)
        session.streamsReset.connect(self._on_reset)
        session.usageChanged.connect(self._on_usage_changed)
        session.hub.appended.connect(self._on_text)
        self._load()

    # -- structure -------------------------------------------------------------------
    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0)
        if parent.internalId() == 0:
            return self.createIndex(row, column, int(TIERS[parent.row()]))
        return QModelIndex()

    def parent(self, child: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not child.isValid() or child.internalId() == 0:
            return QModelIndex()
        return self.createIndex(int(child.internalId()) - 1, 0, 0)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        if not parent.isValid():
            return len(TIERS)
        if parent.column() != 0 or parent.internalId() != 0:
            return 0
        return len(self._rows[TIERS[parent.row()]])

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return len(COLUMNS)

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:
        return self.rowCount(parent) > 0

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation is not Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole and section in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    # -- data ------------------------------------------------------------------------
    def record(self, index: Index) -> StreamRecord | None:
        if not index.isValid() or index.internalId() == 0:
            return None
        rows = self._rows[TIERS[int(index.internalId()) - 1]]
        if not 0 <= index.row() < len(rows):
            return None
        return self._session.records.get(rows[index.row()])

    def index_of(self, sid: str, column: int = 0) -> QModelIndex:
        position = self._position.get(sid)
        if position is None:
            return QModelIndex()
        tier, row = position
        return self.createIndex(row, column, int(tier))

    def tier_index(self, tier: Tier, column: int = 0) -> QModelIndex:
        return self.createIndex(TIERS.index(tier), column, 0)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        column = index.column()
        if index.internalId() == 0:
            tier = TIERS[index.row()]
            if role == TierRole:
                return int(tier)
            if role == Qt.ItemDataRole.DisplayRole:
                return self._tier_display(tier, column)
        else:
            record = self.record(index)
            if record is None:
                return None
            if role == StreamIdRole:
                return record.stream_id
            if role == TierRole:
                return int(record.tier)
            if role == StatusRole:
                return record.status
            if role == Qt.ItemDataRole.DisplayRole:
                return self._record_display(record, column)
            if role == Qt.ItemDataRole.ToolTipRole:
                return self._tooltip(record)
            if role == Qt.ItemDataRole.ForegroundRole and column == COL_STATUS:
                return self._brushes.get(record.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _tier_display(self, tier: Tier, column: int) -> str:
        if column == COL_NAME:
            return TIER_TITLES[tier]
        if column == COL_STATUS:
            return _summary([self._session.records[sid] for sid in self._rows[tier]])
        if column == COL_ELAPSED:
            return ""
        return _usage_column(self._session.tier_rollup(tier), column)

    def _record_display(self, record: StreamRecord, column: int) -> str:
        if column == COL_NAME:
            return record.title
        if column == COL_STATUS:
            return record.status.replace("_", " ")
        if column == COL_ELAPSED:
            return formatting.elapsed(record.elapsed(), precise=record.finished_at is not None)
        if column == COL_OUTPUT:
            live = self._session.live_output(record)
            if live:
                return "~" + formatting.tokens(record.usage.output + live)
        return _usage_column(Rollup.of([record]), column)

    def _tooltip(self, record: StreamRecord) -> str:
        lines = [record.stream_id]
        ticket = self._session.tickets.get(record.ticket_id or "")
        if ticket is not None and record.tier is Tier.WORKER:
            if ticket.depends_on:
                lines.append("depends on " + ", ".join(ticket.depends_on))
            if ticket.blocked_reason:
                lines.append(f"{ticket.status}: {ticket.blocked_reason}")
            if ticket.error:
                lines.append(f"error: {ticket.error}")
            if ticket.retry_count:
                lines.append(f"retries: {ticket.retry_count}")
        if record.usage.estimated:
            lines.append("usage estimated (the provider reported none)")
        return "\n".join(lines)

    # -- live updates ----------------------------------------------------------------
    def _load(self) -> None:
        for tier in TIERS:
            self._rows[tier] = []
        self._position.clear()
        for record in self._session.records.values():
            rows = self._rows[record.tier]
            self._position[record.stream_id] = (record.tier, len(rows))
            rows.append(record.stream_id)

    @Slot()
    def _on_reset(self) -> None:
        self.beginResetModel()
        self._load()
        self._dirty.clear()
        self._text_dirty.clear()
        self._shown_second.clear()
        self.endResetModel()

    @Slot(str)
    def _on_stream_added(self, sid: str) -> None:
        record = self._session.records[sid]
        rows = self._rows[record.tier]
        row = len(rows)
        self.beginInsertRows(self.tier_index(record.tier), row, row)
        rows.append(sid)
        self._position[sid] = (record.tier, row)
        self.endInsertRows()
        self._tiers_dirty = True

    @Slot(str)
    def _on_stream_changed(self, sid: str) -> None:
        self._dirty.add(sid)
        self._tiers_dirty = True

    @Slot()
    def _on_usage_changed(self) -> None:
        self._tiers_dirty = True

    @Slot(object)
    def _on_text(self, new: dict[str, str]) -> None:
        self._text_dirty.update(new)

    @Slot()
    def flush(self) -> None:
        """Announce collected changes, as few and as narrow as possible.

        Rows whose fields changed: one ranged dataChanged per parent over whole rows.
        Running rows otherwise: only the cells that move — Output (live estimate) when text
        arrived, Elapsed when its shown second changed. Tier rows only when usage or the
        set of rows changed. (Repainting every running row 10 times a second cost 80 % of
        the GUI thread's time at 32 parallel streams: benchmarks/README.md.)
        """
        session = self._session
        dirty, self._dirty = self._dirty, set()
        self._ticks += 1
        texted: set[str] = set()
        if self._ticks % LIVE_EVERY == 0:
            texted, self._text_dirty = self._text_dirty - dirty, set()
        ticking: set[str] = set()
        for sid, record in session.records.items():
            if record.started_at is None or record.finished_at is not None or sid in dirty:
                self._shown_second.pop(sid, None)
                continue
            second = int(record.elapsed() or 0)
            if self._shown_second.get(sid) != second:
                self._shown_second[sid] = second
                ticking.add(sid)
        self._emit_ranges(dirty, 0, len(COLUMNS) - 1)
        self._emit_ranges(texted, COL_OUTPUT, COL_OUTPUT)
        self._emit_ranges(ticking - dirty, COL_ELAPSED, COL_ELAPSED)
        if self._tiers_dirty:
            self._tiers_dirty = False
            self.dataChanged.emit(
                self.tier_index(TIERS[0]), self.tier_index(TIERS[-1], len(COLUMNS) - 1)
            )

    def _emit_ranges(self, sids: set[str], first: int, last: int) -> None:
        by_tier: dict[Tier, list[int]] = {}
        for sid in sids:
            position = self._position.get(sid)
            if position is not None:
                by_tier.setdefault(position[0], []).append(position[1])
        roles = [Qt.ItemDataRole.DisplayRole] if first == last else []
        for tier, rows in by_tier.items():
            self.dataChanged.emit(
                self.createIndex(min(rows), first, int(tier)),
                self.createIndex(max(rows), last, int(tier)),
                roles,
            )


def _usage_column(rollup: Rollup, column: int) -> str:
    usage = rollup.usage
    mark = "~" if usage.estimated else ""
    if column == COL_MODEL:
        return ", ".join(rollup.models)
    if column == COL_INPUT:
        return mark + formatting.tokens(usage.input)
    if column == COL_OUTPUT:
        return mark + formatting.tokens(usage.output)
    if column == COL_CACHE:
        return formatting.tokens(usage.cache)
    if column == COL_COST:
        return formatting.cost(rollup.cost_usd, rollup.cost_known)
    return ""


def _summary(records: list[StreamRecord]) -> str:
    if not records:
        return ""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    order = ("in_progress", "running", "completed", "done", "failed", "blocked", "cancelled",
             "todo", "waiting")
    parts = [f"{counts[s]} {s.replace('_', ' ')}" for s in order if s in counts]
    return ", ".join(parts)
