"""The main window: epic panel, live tree, stream view, approvals and log docks."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import (
    QByteArray,
    QItemSelection,
    QModelIndex,
    QPoint,
    QSettings,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ..core.model.domain import Tier
from ..core.model.status import RunStatus
from ..core.providers.registry import build_factory, missing_keys
from ..core.run.controller import Controller, ControllerError
from ..core.settings.config import Config, run_options
from . import formatting
from .dialogs import NewEpicDialog
from .log_panel import LogPanel, QtLogHandler
from .settings_dialog import SettingsDialog
from .stream_view import StreamView
from .tree_model import (
    COL_CACHE,
    COL_COST,
    COL_ELAPSED,
    COL_INPUT,
    COL_MODEL,
    COL_NAME,
    COL_OUTPUT,
    COL_STATUS,
    MmaTreeModel,
    StreamIdRole,
)

log = logging.getLogger(__name__)

COLUMN_WIDTHS = {
    COL_STATUS: 120, COL_MODEL: 130, COL_INPUT: 60, COL_OUTPUT: 60, COL_CACHE: 55,
    COL_COST: 70, COL_ELAPSED: 60,
}
#: Action names for the hook's ``click`` (see the README).
ACTION_NAMES = (
    "new_epic", "start", "pause", "resume", "cancel", "cancel_ticket",
    "approve", "reject", "expand_all", "settings", "close",
)
#: Field names for the hook's ``set_value``/``get_value``.
FIELD_NAMES = ("epic", "workspace", "auto", "selected", "stream_text", "status_text",
               "totals_text", "title")


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(
        self,
        controller: Controller,
        log_handler: QtLogHandler,
        parent: QWidget | None = None,
        *,
        config: Config | None = None,
    ) -> None:
        super().__init__(parent)
        self.config = config or Config()
        self._settings: SettingsDialog | None = None
        self.controller = controller
        self.session = controller.session
        self._dialog: NewEpicDialog | None = None
        self.setObjectName("MainWindow")

        # Epic panel
        self.epic_edit = QPlainTextEdit()
        self.epic_edit.setPlaceholderText("Epic: what should the team build?")
        self.epic_edit.setFixedHeight(64)
        self.workspace_edit = QLineEdit()
        self.workspace_edit.setPlaceholderText("Workspace folder (default: current folder)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_workspace)
        self.auto_check = QCheckBox("Auto-approve spawns")
        self.auto_check.setChecked(controller.auto)
        self.auto_check.toggled.connect(self._on_auto_toggled)
        workspace_row = QHBoxLayout()
        workspace_row.addWidget(QLabel("Workspace"))
        workspace_row.addWidget(self.workspace_edit, 1)
        workspace_row.addWidget(browse)
        workspace_row.addWidget(self.auto_check)

        # Tree and stream
        self.model = MmaTreeModel(self.session, self)
        self.tree = QTreeView()
        self.tree.setObjectName("tree")
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        for column, width in COLUMN_WIDTHS.items():
            header.resizeSection(column, width)
        self.tree.expandAll()
        self.model.rowsInserted.connect(self._on_rows_inserted)
        self.model.modelReset.connect(self.tree.expandAll)
        self.tree.selectionModel().selectionChanged.connect(self._on_selection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._on_tree_menu)
        self.stream_title = QLabel("No stream selected")
        self.stream_view = StreamView(self.session.hub)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.stream_title)
        right_layout.addWidget(self.stream_view, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.tree)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([760, 480])

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.epic_edit)
        layout.addLayout(workspace_row)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        # Docks
        self.approvals_list = QListWidget()
        self.approvals_list.setToolTip(
            "Pending approvals (spawns now; file edits and commands later). "
            "Untick Auto-approve to be asked."
        )
        approve, reject = QPushButton("Approve"), QPushButton("Reject")
        approvals = QWidget()
        approvals_layout = QVBoxLayout(approvals)
        approvals_layout.addWidget(self.approvals_list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(approve)
        buttons.addWidget(reject)
        approvals_layout.addLayout(buttons)
        approvals_dock = self._add_dock(
            "Approvals", approvals, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.log_panel = LogPanel(log_handler)
        log_dock = self._add_dock("Log", self.log_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(approvals_dock, log_dock, Qt.Orientation.Horizontal)
        self.resizeDocks([approvals_dock, log_dock], [380, 900], Qt.Orientation.Horizontal)
        self.resizeDocks([log_dock], [130], Qt.Orientation.Vertical)

        # Actions
        self.actions_by_name: dict[str, QAction] = {}
        self._action("new_epic", "New epic…", self._new_epic, QKeySequence.StandardKey.New)
        self._action("start", "Start", self._start, "Ctrl+R")
        self._action("pause", "Pause", self._pause, "Ctrl+P")
        self._action("resume", "Resume", self._resume, "Ctrl+Shift+P")
        self._action("cancel", "Cancel run", self._cancel, "Ctrl+.")
        self._action("cancel_ticket", "Cancel ticket", self._cancel_ticket, None)
        self._action("approve", "Approve", self._approve, None)
        self._action("reject", "Reject", self._reject, None)
        self._action("expand_all", "Expand all", self.tree.expandAll, None)
        self._action("settings", "Settings…", self._open_settings, "Ctrl+,")
        self._action("close", "Quit", self.close, QKeySequence.StandardKey.Quit)
        approve.clicked.connect(self.actions_by_name["approve"].trigger)
        reject.clicked.connect(self.actions_by_name["reject"].trigger)
        toolbar = self.addToolBar("Run")
        toolbar.setObjectName("RunToolbar")
        for name in ("new_epic", "start", "pause", "resume", "cancel", "cancel_ticket"):
            toolbar.addAction(self.actions_by_name[name])
        menu = self.menuBar().addMenu("&Run")
        for name in ACTION_NAMES:
            menu.addAction(self.actions_by_name[name])

        # Status bar
        self.provider_label = QLabel()
        self._show_provider()
        self.status_label = QLabel()
        self.totals_label = QLabel()
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.totals_label)
        self.statusBar().addPermanentWidget(self.provider_label)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(250)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_timer.start()
        self.session.statusChanged.connect(self._on_status_changed)
        controller.finished.connect(self._on_status_changed)
        self.session.bus.published.connect(self._on_event)
        self._update_actions()
        self.refresh_status()
        self._restore_settings()

    # -- construction helpers -----------------------------------------------------------
    def _add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title}Dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(
        self, name: str, text: str, slot: Any, shortcut: QKeySequence.StandardKey | str | None
    ) -> None:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.actions_by_name[name] = action

    def _show_provider(self) -> None:
        label = self.session.provider_label
        self.setWindowTitle(f"mma_qt — {label}")
        if self.controller.factory.is_demo:
            self.provider_label.setText("DEMO provider (offline, no API key)")
            self.provider_label.setStyleSheet(
                "QLabel { background: #fff3cd; color: #664d03; padding: 0 6px; }"
            )
        else:
            self.provider_label.setText(label)
            self.provider_label.setStyleSheet("")

    @Slot()
    def _open_settings(self) -> None:
        dialog = SettingsDialog(self.config, self.apply_config, self)
        dialog.finished.connect(dialog.deleteLater)
        self._settings = dialog
        dialog.open()

    def apply_config(self, config: Config) -> None:
        """Saved settings: new providers and options from the next run on."""
        self.config = config
        factory = build_factory(config)
        if factory is None:
            missing = ", ".join(missing_keys(config))
            message = f"No API key for {missing}: runs keep using {self.session.provider_label}"
            log.warning("%s", message)
            self.statusBar().showMessage(message, 10000)
            return
        self.controller.reconfigure(factory, run_options(config))
        self._show_provider()
        self.statusBar().showMessage(f"Next run uses {factory.label}", 6000)

    # -- settings ----------------------------------------------------------------------
    def _restore_settings(self) -> None:
        settings = QSettings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 760)
        state = settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        splitter = settings.value("window/splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)
        workspace = settings.value("run/workspace", "")
        if isinstance(workspace, str) and not self.workspace_edit.text():
            self.workspace_edit.setText(workspace)

    def save_settings(self) -> None:
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.setValue("window/splitter", self.splitter.saveState())
        settings.setValue("run/workspace", self.workspace_edit.text())
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.controller.shutdown()
        self.save_settings()
        self._status_timer.stop()
        event.accept()
        self.closed.emit()

    # -- actions -----------------------------------------------------------------------
    def _guard(self, what: str, fn: Any, *args: Any) -> None:
        """Run a controller call; a refusal is shown in the status bar and logged."""
        try:
            fn(*args)
        except ControllerError as exc:
            log.warning("%s: %s", what, exc)
            self.statusBar().showMessage(f"{what}: {exc}", 6000)

    @Slot()
    def _new_epic(self) -> None:
        dialog = NewEpicDialog(self.epic_edit.toPlainText(), self.workspace_edit.text(), self)
        dialog.finished.connect(self._on_new_epic_finished)
        self._dialog = dialog
        dialog.open()

    @Slot(int)
    def _on_new_epic_finished(self, result: int) -> None:
        dialog, self._dialog = self._dialog, None
        if dialog is None:
            return
        if result == NewEpicDialog.DialogCode.Accepted:
            self.epic_edit.setPlainText(dialog.epic_edit.toPlainText())
            self.workspace_edit.setText(dialog.workspace_edit.text())
        dialog.deleteLater()

    @Slot()
    def _browse_workspace(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Workspace", self.workspace_edit.text())
        if folder:
            self.workspace_edit.setText(folder)

    @Slot(bool)
    def _on_auto_toggled(self, checked: bool) -> None:
        self.controller.auto = checked

    def start(self, epic: str | None = None, workspace: str | None = None) -> None:
        """Start a run (raises ControllerError when it cannot start)."""
        if epic is not None:
            self.epic_edit.setPlainText(epic)
        if workspace is not None:
            self.workspace_edit.setText(workspace)
        self.controller.start_epic(
            self.epic_edit.toPlainText(), self.workspace_edit.text(),
            auto=self.auto_check.isChecked(),
        )
        self.stream_view.show_stream(None)

    @Slot()
    def _start(self) -> None:
        self._guard("Start", self.start)

    @Slot()
    def _pause(self) -> None:
        self._guard("Pause", self.controller.pause)

    @Slot()
    def _resume(self) -> None:
        self._guard("Resume", self.controller.resume)

    @Slot()
    def _cancel(self) -> None:
        self._guard("Cancel", self.controller.cancel)

    @Slot()
    def _cancel_ticket(self) -> None:
        record = self.model.record(self.tree.currentIndex())
        if record is None or record.ticket_id is None or record.tier is not Tier.WORKER:
            self.statusBar().showMessage("Cancel ticket: select a Tier 3 ticket first", 6000)
            return
        self._guard("Cancel ticket", self.controller.cancel, record.ticket_id)

    def _selected_approval(self) -> str | None:
        item = self.approvals_list.currentItem() or self.approvals_list.item(0)
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    @Slot()
    def _approve(self) -> None:
        key = self._selected_approval()
        if key is not None:
            self._guard("Approve", self.controller.resolve_approval, key, True)

    @Slot()
    def _reject(self) -> None:
        key = self._selected_approval()
        if key is not None:
            self._guard("Reject", self.controller.resolve_approval, key, False)

    # -- the window's public face (the hook drives it through these, never its widgets) --
    def set_auto(self, auto: bool) -> None:
        """Tick or untick Auto-approve: whether the next run asks before each spawn."""
        self.auto_check.setChecked(auto)

    def action_enabled(self, name: str) -> bool:
        """Whether the named action (:data:`ACTION_NAMES`) can be pressed now."""
        return self._named_action(name).isEnabled()

    def trigger_action(self, name: str, *, later: bool = False) -> None:
        """Press the named action, or, ``later``, once control is back in the event loop."""
        action = self._named_action(name)
        if later:
            QTimer.singleShot(0, action.trigger)
        else:
            action.trigger()

    def _named_action(self, name: str) -> QAction:
        action = self.actions_by_name.get(name)
        if action is None:
            raise KeyError(f"no action {name!r}; actions: {', '.join(ACTION_NAMES)}")
        return action

    # -- selection and fields (also driven by the hook) ------------------------------------
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

    def field_value(self, name: str) -> Any:
        if name == "epic":
            return self.epic_edit.toPlainText()
        if name == "workspace":
            return self.workspace_edit.text()
        if name == "auto":
            return self.auto_check.isChecked()
        if name == "selected":
            return self.stream_view.stream_id
        if name == "stream_text":
            self.stream_view.flush()
            return self.stream_view.toPlainText()
        if name == "status_text":
            return self.status_label.text()
        if name == "totals_text":
            return self.totals_label.text()
        if name == "title":
            return self.windowTitle()
        raise KeyError(f"no field {name!r}")

    def set_field_value(self, name: str, value: Any) -> None:
        if name == "epic":
            self.epic_edit.setPlainText(str(value))
        elif name == "workspace":
            self.workspace_edit.setText(str(value))
        elif name == "auto":
            if not isinstance(value, bool):
                raise TypeError("auto takes true or false")
            self.set_auto(value)
        elif name == "selected":
            self.select(str(value))
        elif name in FIELD_NAMES:
            raise KeyError(f"field {name!r} is read-only")
        else:
            raise KeyError(f"no field {name!r}")

    @Slot(QItemSelection, QItemSelection)
    def _on_selection(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        indexes = selected.indexes()
        sid = indexes[0].data(StreamIdRole) if indexes else None
        self.stream_title.setText(str(sid) if sid else "No stream selected")
        self.stream_view.show_stream(str(sid) if sid else None)

    @Slot(QPoint)
    def _on_tree_menu(self, pos: QPoint) -> None:
        index = self.tree.indexAt(pos)
        record = self.model.record(index)
        if record is None:
            return
        self.tree.setCurrentIndex(index)
        menu = QMenu(self)
        if record.tier is Tier.WORKER:
            menu.addAction(self.actions_by_name["cancel_ticket"])
        copy = menu.addAction("Copy stream text")
        copy.triggered.connect(self._copy_stream)
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    @Slot()
    def _copy_stream(self) -> None:
        record = self.model.record(self.tree.currentIndex())
        if record is not None:
            QGuiApplication.clipboard().setText(self.session.hub.text(record.stream_id))

    @Slot(QModelIndex, int, int)
    def _on_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            self.tree.expand(parent)

    # -- status --------------------------------------------------------------------------
    @Slot(str)
    def _on_status_changed(self, status: str) -> None:
        self._update_actions()
        self.refresh_status()

    @Slot(object)
    def _on_event(self, event: dict[str, Any]) -> None:
        if event["type"] == "approval":
            self._refresh_approvals()

    def _refresh_approvals(self) -> None:
        self.approvals_list.clear()
        for approval in self.controller.pending_approvals():
            item = QListWidgetItem(f"{approval['kind']}: {approval['detail']}")
            item.setData(Qt.ItemDataRole.UserRole, approval["key"])
            self.approvals_list.addItem(item)

    def _update_actions(self) -> None:
        status = self.session.status
        busy = self.controller.busy or status.is_active
        acts = self.actions_by_name
        acts["start"].setEnabled(not busy)
        acts["pause"].setEnabled(busy and status is not RunStatus.PAUSED)
        acts["resume"].setEnabled(status is RunStatus.PAUSED)
        acts["cancel"].setEnabled(busy)
        acts["cancel_ticket"].setEnabled(busy)

    @Slot()
    def refresh_status(self) -> None:
        session = self.session
        tickets = list(session.tickets.values())
        done = sum(1 for t in tickets if t.status.is_final)
        tier = "" if session.active_tier is None else f" · {session.active_tier.label}"
        error = f" · {session.error}" if session.error else ""
        self.status_label.setText(
            f"{session.status}{tier} · tickets {done}/{len(tickets)}{error}"
        )
        totals = session.totals()
        elapsed = session.elapsed()
        self.totals_label.setText(
            f"in {formatting.tokens(totals.usage.input)} · "
            f"out {formatting.tokens(totals.usage.output)} · "
            f"cache {formatting.tokens(totals.usage.cache)} · "
            f"{formatting.cost(totals.cost_usd, totals.cost_known)} · "
            f"{formatting.elapsed(elapsed, precise=session.finished_at is not None)}"
        )
