"""The Changes dock: what a ticket changed, or a whole track's diff.

For a Tier 3 ticket, the files it touched (``Controller.changes``, live while it runs); for
a track, its branch against the user's branch (``Controller.track_diff``, read in a worker
thread and awaited on the event loop, so the GUI never waits on git). Events only mark
the view stale; one single-shot timer refreshes it at most a few times a second, so a
busy run costs one refresh per tick, never work per token.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import Shiboken

from ..core.model.status import TicketStatus
from ..core.run.controller import Controller, ControllerError
from .diff_highlighter import DiffHighlighter

log = logging.getLogger(__name__)

#: Events coalesce into one refresh per this many milliseconds.
REFRESH_MS = 300
NOTHING = "Select a Tier 3 ticket or a track to see its changes"
_FILE_HEADER = re.compile(r"^diff --git a/(.*) b/(.*)$")
_FINAL = frozenset(str(s) for s in TicketStatus if s.is_final)


def split_diff(text: str) -> list[dict[str, str]]:
    """A multi-file git-style diff as ``[{path, status, diff}]`` (added / deleted /
    modified, from git's ``new file`` / ``deleted file`` lines)."""
    files: list[dict[str, str]] = []
    lines: list[str] = []

    def close() -> None:
        if lines and (match := _FILE_HEADER.match(lines[0].rstrip("\n"))):
            status = "modified"
            for line in lines[1:4]:
                if line.startswith("new file"):
                    status = "added"
                elif line.startswith("deleted file"):
                    status = "deleted"
            files.append({"path": match.group(2), "status": status, "diff": "".join(lines)})

    for line in text.splitlines(keepends=True):
        if line.startswith("diff --git "):
            close()
            lines = []
        lines.append(line)
    close()
    return files


class ChangesPanel(QWidget):
    """Files (status, path) beside the selected file's diff, coloured."""

    #: Reading a track's diff failed: why (the window shows it in the status bar).
    failed = Signal(str)

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Changes")
        self.controller = controller
        self.heading = QLabel(NOTHING)
        self.files = QTreeWidget()
        self.files.setObjectName("changedFiles")
        self.files.setHeaderLabels(["Status", "File"])
        self.files.setRootIsDecorated(False)
        self.files.setUniformRowHeights(True)
        self.files.currentItemChanged.connect(self._on_file_chosen)
        self.diff_view = QPlainTextEdit()
        self.diff_view.setObjectName("changesDiff")
        self.diff_view.setReadOnly(True)
        self.diff_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.diff_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._highlighter = DiffHighlighter(self.diff_view.document())
        self._highlighter.active = True
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.files)
        split.addWidget(self.diff_view)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(split, 1)
        #: ("ticket", id), ("track", id), or None: the active track, whichever it is.
        self._target: tuple[str, str] | None = None
        self._changes: list[dict[str, str]] = []
        #: Bumped by each new load: a track diff that comes back late is dropped.
        self._generation = 0
        self._loads: set[asyncio.Task[None]] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        controller.session.bus.published.connect(self._on_event)

    # -- what to show --------------------------------------------------------------------
    def show_ticket(self, ticket_id: str) -> None:
        self._target = ("ticket", ticket_id)
        self.refresh()

    def show_track(self, track_id: str | None) -> None:
        """Show a track's diff; None: the active track's (the one being worked on)."""
        self._target = None if track_id is None else ("track", track_id)
        self.refresh()

    @property
    def target(self) -> tuple[str, str] | None:
        """What is shown: ("ticket", id) or ("track", id); None before any plan."""
        if self._target is not None:
            return self._target
        track = self.controller.session.active_track
        return None if track is None else ("track", track.id)

    def paths(self) -> list[tuple[str, str]]:
        """(status, path) of each listed file, in order."""
        return [(c["status"], c["path"]) for c in self._changes]

    @Slot()
    def refresh(self) -> None:
        """Read the shown ticket's changes now, or start reading the track's diff."""
        self._timer.stop()
        self._generation += 1
        target = self.target
        if target is None:
            self._show(NOTHING, [])
        elif target[0] == "ticket":
            try:
                changes = self.controller.changes(target[1])
            except ControllerError as exc:
                self._show(f"{target[1]}: {exc}", [])
                return
            self._show(self._heading(target[1], changes), changes)
        else:
            self._load_track(target[1], self._generation)

    @staticmethod
    def _heading(what: str, changes: list[dict[str, str]]) -> str:
        count = len(changes)
        return f"{what}: {count} file{'' if count == 1 else 's'} changed"

    def _load_track(self, track_id: str, generation: int) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # the app's event loop has ended: it is closing, show nothing
            self._show(f"Track {track_id}", [])
            return
        task = loop.create_task(self._read_track(track_id, generation))
        self._loads.add(task)
        task.add_done_callback(self._load_done)

    async def _read_track(self, track_id: str, generation: int) -> None:
        try:
            diff = await self.controller.track_diff(track_id)
        except ControllerError as exc:
            if Shiboken.isValid(self) and generation == self._generation:
                self._show(f"Track {track_id}: {exc}", [])
            return  # not yet planned or prepared: said in the heading, nothing to log
        if Shiboken.isValid(self) and generation == self._generation:
            changes = split_diff(diff)
            self._show(self._heading(f"Track {track_id} (its branch)", changes), changes)

    def _load_done(self, task: asyncio.Task[None]) -> None:
        self._loads.discard(task)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        log.error("could not read the track's diff", exc_info=exc)
        if Shiboken.isValid(self):
            self.failed.emit(f"Changes: could not read the track's diff: {exc}")

    def stop(self) -> None:
        """No more refreshes (the window is closing); a diff being read is dropped."""
        self.controller.session.bus.published.disconnect(self._on_event)
        self._timer.stop()
        self._generation += 1
        for task in list(self._loads):
            task.cancel()

    # -- the widgets ---------------------------------------------------------------------
    def _show(self, heading: str, changes: list[dict[str, str]]) -> None:
        current = self.files.currentItem()
        keep = current.text(1) if current is not None else None
        self.heading.setText(heading)
        self._changes = changes
        self.files.blockSignals(True)
        self.files.clear()
        for change in changes:
            QTreeWidgetItem(self.files, [change["status"], change["path"]])
        self.files.blockSignals(False)
        paths = [c["path"] for c in changes]
        row = paths.index(keep) if keep in paths else 0
        item = self.files.topLevelItem(row)
        if item is not None:
            self.files.setCurrentItem(item)
        self._show_diff(row)

    def _show_diff(self, row: int) -> None:
        diff = self._changes[row]["diff"] if 0 <= row < len(self._changes) else ""
        if diff != self.diff_view.toPlainText():
            self.diff_view.setPlainText(diff)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_file_chosen(self, current: QTreeWidgetItem | None,
                        previous: QTreeWidgetItem | None) -> None:
        self._show_diff(-1 if current is None else self.files.indexOfTopLevelItem(current))

    # -- live updates --------------------------------------------------------------------
    @Slot(object)
    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind not in ("tool", "ticket", "plan", "merge"):
            return
        target = self.target
        if target is None and kind != "plan":
            return
        if target is not None and target[0] == "ticket":
            stale = kind in ("tool", "ticket") and event.get("ticket_id") == target[1]
        else:  # a track: a finished ticket's commit, a merge, a new active track
            stale = kind != "tool" and (kind != "ticket" or event.get("status") in _FINAL)
        if stale and not self._timer.isActive():
            self._timer.start()
