"""The live tree: tiers as top rows with rolled-up usage, their streams beneath.

The rows are node objects (:mod:`.tree_nodes`): an invisible root, the four tier rows,
optionally a row per track inside a tier (``track_tiers``), and the stream rows. An index
carries its node's ``uid``; ``index()`` and ``parent()`` come from the nodes, so the tree
has no fixed depth. A uid, not the node's address, goes into the index: an index that
outlives its node (across a reset) then finds no node instead of freed memory.

Live changes never reset the model: rows are inserted with ``beginInsertRows`` and changed
rows are collected and announced at most 10 times a second with one ranged
``dataChanged`` per parent (equinor/ert's snapshot model does the same). Only starting a
new epic resets the model.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
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

from ..core.live.session import MmaSession
from ..core.model.domain import Tier
from ..core.model.records import Rollup, StreamRecord
from ..core.model.status import RowStatus, StreamStatus, TicketStatus
from . import formatting
from .tree_nodes import GroupNode, Node, RowTree, StreamNode, TrackNode

Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("Name", "Status", "Model", "Input", "Output", "Cache", "Cost", "Elapsed")
COL_NAME, COL_STATUS, COL_MODEL, COL_INPUT, COL_OUTPUT, COL_CACHE, COL_COST, COL_ELAPSED = (
    range(len(COLUMNS))
)
NUMERIC = frozenset({COL_INPUT, COL_OUTPUT, COL_CACHE, COL_COST, COL_ELAPSED})
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

#: The stream id of a stream row; None on a tier or track row.
StreamIdRole = Qt.ItemDataRole.UserRole + 1
#: The tier number (1-4) of any row.
TierRole = Qt.ItemDataRole.UserRole + 2
#: The status of a stream row: a :data:`~mma_qt.core.model.status.RowStatus`.
StatusRole = Qt.ItemDataRole.UserRole + 3

TIER_TITLES = {
    Tier.ORCHESTRATOR: "Tier 1 · Orchestrator",
    Tier.TECH_LEAD: "Tier 2 · Tech Lead",
    Tier.WORKER: "Tier 3 · Workers",
    Tier.QA: "Tier 4 · QA",
}
_RUNNING, _DONE, _FAILED, _BLOCKED, _CANCELLED = (
    "#1565c0", "#2e7d32", "#c62828", "#ef6c00", "#757575"
)
#: Status colours. A stream status and a ticket status of the same value are equal keys.
STATUS_COLORS: dict[RowStatus, str] = {
    StreamStatus.RUNNING: _RUNNING,
    TicketStatus.IN_PROGRESS: _RUNNING,
    StreamStatus.DONE: _DONE,
    TicketStatus.COMPLETED: _DONE,
    StreamStatus.FAILED: _FAILED,
    TicketStatus.BLOCKED: _BLOCKED,
    StreamStatus.CANCELLED: _CANCELLED,
    #: A run reopened from the history, whose app died while the ticket ran.
    TicketStatus.INTERRUPTED: "#6a1b9a",
}
#: The order of a group row's status summary: what moves first, what waits last.
SUMMARY_ORDER: tuple[RowStatus, ...] = (
    TicketStatus.IN_PROGRESS, StreamStatus.RUNNING, TicketStatus.COMPLETED, StreamStatus.DONE,
    TicketStatus.FAILED, TicketStatus.BLOCKED, TicketStatus.CANCELLED, TicketStatus.TODO,
    StreamStatus.WAITING,
)
REFRESH_MS = 100
#: Live output estimates repaint every Nth refresh (~3 Hz): painting cells, not counting,
#: is what costs at 32 parallel streams.
LIVE_EVERY = 3


class MmaTreeModel(QAbstractItemModel):
    """``track_tiers``: the tiers whose streams are grouped under a row per track."""

    def __init__(
        self,
        session: MmaSession,
        parent: QObject | None = None,
        *,
        track_tiers: Collection[Tier] = (),
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._rows = RowTree(track_tiers)
        self._track_rollups: dict[TrackNode, Rollup] = {}
        self._dirty: set[str] = set()
        self._text_dirty: set[str] = set()
        self._groups_dirty: set[Node] = set()
        self._shown_second: dict[str, int] = {}
        self._ticks = 0
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
    def _node(self, index: Index) -> Node | None:
        """The node of ``index``; the root for an invalid index; None for a stale one."""
        if not index.isValid():
            return self._rows.root
        return self._rows.nodes.get(index.internalId())

    def _index(self, node: Node, column: int = 0) -> QModelIndex:
        if node.parent is None:
            return QModelIndex()
        return self.createIndex(node.row, column, node.uid)

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        node = self._node(parent)
        if (
            node is None
            or not 0 <= row < len(node.children)
            or not 0 <= column < len(COLUMNS)
            or parent.column() > 0
        ):
            return QModelIndex()
        return self.createIndex(row, column, node.children[row].uid)

    def parent(self, child: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        node = self._rows.nodes.get(child.internalId())  # None for the root and stale ones
        if node is None or node.parent is None:
            return QModelIndex()
        return self._index(node.parent)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        if parent.column() > 0:
            return 0
        node = self._node(parent)
        return 0 if node is None else len(node.children)

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
            return RIGHT
        return None

    # -- data ------------------------------------------------------------------------
    def record(self, index: Index) -> StreamRecord | None:
        node = self._rows.nodes.get(index.internalId())  # the root (uid 0) is in no index
        return node.record if isinstance(node, StreamNode) else None

    def track_id(self, index: Index) -> str | None:
        """The track of a track row or of a stream row of a track (else None)."""
        node = self._rows.nodes.get(index.internalId())
        if isinstance(node, TrackNode):
            return node.track_id
        return node.record.track_id if isinstance(node, StreamNode) else None

    def index_of(self, sid: str, column: int = 0) -> QModelIndex:
        node = self._rows.streams.get(sid)
        return QModelIndex() if node is None else self._index(node, column)

    def tier_index(self, tier: Tier, column: int = 0) -> QModelIndex:
        return self._index(self._rows.tiers[tier], column)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self._rows.nodes.get(index.internalId())
        if node is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column in NUMERIC else None
        if isinstance(node, StreamNode):
            return self._record_data(node.record, column, role)
        if not isinstance(node, GroupNode):
            return None
        if role == TierRole:
            return int(node.tier)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._group_display(node, column)
        return None

    def _record_data(self, record: StreamRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return self._record_display(record, column)
        if role == StreamIdRole:
            return record.stream_id
        if role == TierRole:
            return int(record.tier)
        if role == StatusRole:
            return record.status
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(record)
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_STATUS:
            return self._brushes.get(record.status)
        return None

    def _group_display(self, node: GroupNode, column: int) -> str:
        if column == COL_NAME:
            if isinstance(node, TrackNode):
                return f"{node.track_id} · {node.title}" if node.title else node.track_id
            return TIER_TITLES[node.tier]
        if column == COL_STATUS:
            return _summary(node.records())
        if column == COL_ELAPSED:
            return ""
        return _usage_column(self._rollup(node), column)

    def _rollup(self, node: GroupNode) -> Rollup:
        if not isinstance(node, TrackNode):
            return self._session.tier_rollup(node.tier)
        rollup = self._track_rollups.get(node)
        if rollup is None:
            rollup = self._track_rollups[node] = Rollup.of(node.records())
        return rollup

    def _record_display(self, record: StreamRecord, column: int) -> str:
        if column == COL_NAME:
            return record.title
        if column == COL_STATUS:
            return record.status.label
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
                lines.append(f"{ticket.status.label}: {ticket.blocked_reason}")
            if ticket.error:
                lines.append(f"error: {ticket.error}")
            if ticket.retry_count:
                lines.append(f"retries: {ticket.retry_count}")
        if record.usage.estimated:
            lines.append("usage estimated (the provider reported none)")
        return "\n".join(lines)

    # -- live updates ----------------------------------------------------------------
    def _load(self) -> None:
        """Rebuild the rows below the tiers from the session, without announcing them."""
        self._rows.clear()
        self._track_rollups.clear()
        for record in self._session.records.values():
            for parent, node in self._rows.new_rows(record, self._track_title):
                self._rows.attach(parent, node)

    def _track_title(self, track_id: str) -> str:
        for track in self._session.tracks:
            if track.id == track_id:
                return track.title
        return ""

    @Slot()
    def _on_reset(self) -> None:
        self.beginResetModel()
        self._load()
        self._dirty.clear()
        self._text_dirty.clear()
        self._groups_dirty.clear()
        self._shown_second.clear()
        self.endResetModel()

    @Slot(str)
    def _on_stream_added(self, sid: str) -> None:
        for parent, node in self._rows.new_rows(self._session.records[sid], self._track_title):
            row = len(parent.children)
            self.beginInsertRows(self._index(parent), row, row)
            self._rows.attach(parent, node)
            self.endInsertRows()
            self._groups_dirty.update(node.ancestors())
        self._track_rollups.clear()

    @Slot(str)
    def _on_stream_changed(self, sid: str) -> None:
        self._dirty.add(sid)
        self._track_rollups.clear()

    @Slot()
    def _on_usage_changed(self) -> None:
        self._groups_dirty.update(self._rows.tiers.values())
        self._track_rollups.clear()

    @Slot(object)
    def _on_text(self, new: dict[str, str]) -> None:
        self._text_dirty.update(new)

    @Slot()
    def flush(self) -> None:
        """Announce collected changes, as few and as narrow as possible.

        Rows whose fields changed: one ranged dataChanged per parent over whole rows, and
        the same for the tier and track rows above them. Running rows otherwise: only the
        cells that move — Output (live estimate) when text arrived, Elapsed when its shown
        second changed. (Repainting every running row 10 times a second cost 80 % of the
        GUI thread's time at 32 parallel streams: benchmarks/README.md.)
        """
        dirty, self._dirty = self._dirty, set()
        self._ticks += 1
        texted: set[str] = set()
        if self._ticks % LIVE_EVERY == 0:
            texted, self._text_dirty = self._text_dirty - dirty, set()
        ticking: set[str] = set()
        for sid, record in self._session.records.items():
            if record.started_at is None or record.finished_at is not None or sid in dirty:
                self._shown_second.pop(sid, None)
                continue
            second = int(record.elapsed() or 0)
            if self._shown_second.get(sid) != second:
                self._shown_second[sid] = second
                ticking.add(sid)
        changed = self._stream_nodes(dirty)
        groups, self._groups_dirty = self._groups_dirty, set()
        for node in changed:
            groups.update(node.ancestors())
        last = len(COLUMNS) - 1
        self._emit_ranges(changed, 0, last)
        self._emit_ranges(self._stream_nodes(texted), COL_OUTPUT, COL_OUTPUT)
        self._emit_ranges(self._stream_nodes(ticking - dirty), COL_ELAPSED, COL_ELAPSED)
        self._emit_ranges(groups, 0, last)

    def _stream_nodes(self, sids: Iterable[str]) -> list[StreamNode]:
        streams = self._rows.streams
        return [streams[sid] for sid in sids if sid in streams]

    def _emit_ranges(self, nodes: Iterable[Node], first: int, last: int) -> None:
        """One dataChanged per parent, from its first to its last changed row."""
        by_parent: dict[Node, list[int]] = {}
        for node in nodes:
            if node.parent is not None:
                by_parent.setdefault(node.parent, []).append(node.row)
        roles = [Qt.ItemDataRole.DisplayRole] if first == last else []
        for parent, rows in by_parent.items():
            top, bottom = parent.children[min(rows)], parent.children[max(rows)]
            self.dataChanged.emit(self._index(top, first), self._index(bottom, last), roles)


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
    counts: dict[RowStatus, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return ", ".join(f"{counts[s]} {s.label}" for s in SUMMARY_ORDER if s in counts)
