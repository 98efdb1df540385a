"""The History dock's panel: the workspace's past runs (date, epic, status, tickets
done/total, tokens, cost), newest first, with **Open**, **Resume**, **Export report…** and
**Refresh**, and a line that says when history is off and why.

It shows what it is given (:meth:`HistoryPanel.set_runs`) and asks for the rest with
signals: the reading (off the GUI thread) and the runs started from it belong to
:class:`~.history_ui.HistoryUi`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.history.store import PastRun
from ..core.model.status import RunStatus
from . import formatting

COLUMNS = ("Date", "Epic", "Status", "Tickets", "Tokens", "Cost", "Run")
#: The columns holding numbers (right-aligned).
NUMERIC = (3, 4, 5)
#: A run in one of these may be resumed.
RESUMABLE = (str(RunStatus.INTERRUPTED), str(RunStatus.FAILED), str(RunStatus.CANCELLED))
OFF_STYLE = "QLabel { background: #fff3e0; color: #bf360c; padding: 3px; }"


def run_cells(run: dict[str, Any]) -> list[str]:
    """One row of the list: what :meth:`HistoryStore.list_runs` says of a run."""
    epic = " ".join(str(run.get("epic") or "").split())
    parent = run.get("parent_run_id")
    status = str(run["status"]) + (f" (from {parent})" if parent else "")
    return [str(run["date"]), epic[:80] + ("…" if len(epic) > 80 else ""), status,
            f"{run['tickets_done']}/{run['tickets_total']}", f"{run['tokens']:,}",
            formatting.cost(run.get("cost_usd") or 0.0, run.get("cost_usd") is not None),
            str(run["run_id"])]


class HistoryPanel(QWidget):
    """The list of runs and its buttons. ``openRequested``, ``resumeRequested`` and
    ``exportRequested`` carry a run id; ``refreshRequested`` asks to read the list again."""

    openRequested = Signal(str)
    resumeRequested = Signal(str)
    exportRequested = Signal(str)
    refreshRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("History")
        self.off_label = QLabel()
        self.off_label.setObjectName("historyOff")
        self.off_label.setStyleSheet(OFF_STYLE)
        self.off_label.setWordWrap(True)
        self.off_label.hide()
        self.note = QLabel("No runs in this workspace yet")
        self.list = QTreeWidget()
        self.list.setObjectName("historyRuns")
        self.list.setHeaderLabels(list(COLUMNS))
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setAlternatingRowColors(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.list.itemDoubleClicked.connect(self._on_double_click)
        self.open_button = _button("Open", "Show the run read-only in the tree, its "
                                   "streams and the Graph")
        self.open_button.clicked.connect(self._open)
        self.resume_button = _button("Resume", "Run the unfinished tickets of this "
                                     "interrupted run in a new run")
        self.resume_button.clicked.connect(self._resume)
        self.export_button = _button("Export…", "Export the run's report (Markdown, HTML "
                                     "or JSON)")
        self.export_button.clicked.connect(self._export)
        refresh = _button("Refresh", "Read the workspace's runs again")
        refresh.clicked.connect(self.refreshRequested)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.resume_button, self.export_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.off_label)
        layout.addWidget(self.note)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._runs: dict[str, dict[str, Any]] = {}
        self._update_buttons()

    @Slot()
    def _open(self) -> None:
        if (run_id := self.selected_run_id()) is not None:
            self.openRequested.emit(run_id)

    @Slot()
    def _resume(self) -> None:
        if (run_id := self.selected_run_id()) is not None:
            self.resumeRequested.emit(run_id)

    @Slot()
    def _export(self) -> None:
        if (run_id := self.selected_run_id()) is not None:
            self.exportRequested.emit(run_id)

    # -- what it shows --------------------------------------------------------------------
    def set_runs(self, runs: list[dict[str, Any]]) -> None:
        """Show these runs (newest first), keeping the selected one selected."""
        selected = self.selected_run_id()
        self._runs = {str(r["run_id"]): r for r in runs}
        self.list.clear()
        for run in runs:
            item = QTreeWidgetItem(run_cells(run))
            item.setData(0, Qt.ItemDataRole.UserRole, str(run["run_id"]))
            for column in NUMERIC:
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight
                                      | Qt.AlignmentFlag.AlignVCenter)
            if run.get("error"):
                item.setToolTip(2, str(run["error"]))
            self.list.addTopLevelItem(item)
            if run["run_id"] == selected:
                item.setSelected(True)
                self.list.setCurrentItem(item)
        self.note.setVisible(not runs)
        self._update_buttons()

    def runs(self) -> list[dict[str, Any]]:
        return list(self._runs.values())

    def select(self, run_id: str) -> None:
        for index in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(index)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == run_id:
                self.list.setCurrentItem(item)
                return
        raise KeyError(f"no run {run_id!r} in the list")

    def selected_run_id(self) -> str | None:
        items = self.list.selectedItems()
        return str(items[0].data(0, Qt.ItemDataRole.UserRole)) if items else None

    def show_off(self, reason: str | None) -> None:
        """History is off (``reason``), or on again (None)."""
        self.off_label.setText(f"History is off: {reason}" if reason else "")
        self.off_label.setVisible(bool(reason))

    @Slot()
    def _update_buttons(self) -> None:
        run = self._runs.get(self.selected_run_id() or "")
        for button in (self.open_button, self.export_button):
            button.setEnabled(run is not None)
        self.resume_button.setEnabled(run is not None and run["status"] in RESUMABLE)

    @Slot(QTreeWidgetItem, int)
    def _on_double_click(self, item: QTreeWidgetItem, column: int) -> None:
        self.openRequested.emit(str(item.data(0, Qt.ItemDataRole.UserRole)))


def _button(text: str, tip: str) -> QToolButton:
    """A compact button: the dock shares the bottom row with others."""
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    return button


def banner_text(past: PastRun, date: str) -> str:
    """``Viewing run N from DATE — read-only``."""
    return f"Viewing run {past.run_id} from {date} — read-only ({past.document['status']})"
