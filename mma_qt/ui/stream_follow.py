"""Which stream the run panel shows while nobody chose one: the running stream started last.

From a new run on, the stream panel follows the run: each stream that starts running
(Tier 1 planning, a Tier 2 plan, a Tier 3 ticket, a Tier 4 diagnosis) is shown as it
starts, and when the shown one ends, the most recent of those still running. Once the user
selects a row (in the tree, the Graph dock or over the hook), the panel stays on their
choice until the next run.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelection, QObject, Slot
from PySide6.QtWidgets import QTreeView

from ..core.live.session import MmaSession
from ..core.model.status import StreamStatus, TicketStatus

#: The statuses of a stream that is running now.
RUNNING = frozenset({StreamStatus.RUNNING, TicketStatus.IN_PROGRESS})


class StreamFollower(QObject):
    """``show(stream_id)`` shows a stream without selecting its row (a selection is the
    user's choice, which ends following)."""

    def __init__(self, session: MmaSession, tree: QTreeView,
                 show: Callable[[str | None], None]) -> None:
        super().__init__(tree)
        self._session = session
        self._show = show
        self.following = True
        #: The streams running now, in the order they started (oldest first).
        self._running: dict[str, None] = {}
        self.shown: str | None = None
        session.streamChanged.connect(self._on_stream_changed)
        session.streamsReset.connect(self._on_reset)
        tree.selectionModel().selectionChanged.connect(self._on_selection)

    @Slot(str)
    def _on_stream_changed(self, sid: str) -> None:
        record = self._session.records.get(sid)
        running = record is not None and record.status in RUNNING
        if running and sid not in self._running:
            self._running[sid] = None
            self._follow(sid)
        elif not running and sid in self._running:
            del self._running[sid]
            if sid == self.shown and self._running:
                self._follow(next(reversed(self._running)))

    def _follow(self, sid: str) -> None:
        if self.following and sid != self.shown:
            self.shown = sid
            self._show(sid)

    @Slot(QItemSelection, QItemSelection)
    def _on_selection(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        if not selected.isEmpty():  # the user's choice (a reset only clears the selection)
            self.following = False

    @Slot()
    def _on_reset(self) -> None:
        self._running.clear()
        self.shown = None
        self.following = True
