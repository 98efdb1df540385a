"""The main window. It composes the panels (epic, run tree + stream, Approvals and Log
docks) and keeps what belongs to the whole window: the actions and menus, the status bar,
what it remembers between sessions (QSettings), and its public face, the methods through
which the hook (and app.py) drive it; never its widgets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QVBoxLayout, QWidget

from ..core.model.domain import Tier
from ..core.model.status import RunStatus
from ..core.providers.base import ProviderFactory
from ..core.run.approvals import ApprovalError
from ..core.run.controller import Controller, ControllerError
from ..core.settings.config import Config, run_options
from .approvals_panel import ApprovalsPanel
from .dialogs import NewEpicDialog
from .epic_panel import EpicPanel
from .log_panel import LogPanel, QtLogHandler
from .run_panel import RunPanel
from .settings_dialog import SettingsDialog
from .status_bar import RunStatusBar
from .tasks import TaskRunner

log = logging.getLogger(__name__)

#: Builds the providers for a saved config (blocking: it may ask the keyring); raises
#: ValueError when the config cannot give any. Injected by ``wiring.assemble``.
ProviderChooser = Callable[[Config], ProviderFactory]

#: Action names for the hook's ``click`` (see the README).
ACTION_NAMES = (
    "new_epic", "start", "pause", "resume", "cancel", "cancel_ticket",
    "approve", "reject", "expand_all", "settings", "close",
)
#: Field names for the hook's ``set_value``/``get_value``.
FIELD_NAMES = ("epic", "workspace", "auto", "selected", "stream_text", "status_text",
               "totals_text", "title")
TOOLBAR_ACTIONS = ("new_epic", "start", "pause", "resume", "cancel", "cancel_ticket")


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(
        self,
        controller: Controller,
        log_handler: QtLogHandler,
        *,
        choose: ProviderChooser,
        config: Config | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.config = config or Config()
        self.controller = controller
        self.session = controller.session
        self._choose = choose
        #: Blocking calls (the keyring, building providers) run here, off the GUI thread.
        self.tasks = TaskRunner(self)

        self.epic_panel = EpicPanel(auto=controller.auto)
        self.epic_panel.autoToggled.connect(self._on_auto_toggled)
        self.run_panel = RunPanel(self.session)
        #: The parts that tests and benchmarks read.
        self.model, self.tree = self.run_panel.model, self.run_panel.tree
        self.stream_view = self.run_panel.stream_view
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.epic_panel)
        layout.addWidget(self.run_panel, 1)
        self.setCentralWidget(central)
        self.approvals = ApprovalsPanel()
        self.approvals.approveRequested.connect(self._on_approve_requested)
        self.approvals.rejectRequested.connect(self._on_reject_requested)
        self.log_panel = LogPanel(log_handler)
        self.log_panel.setWindowTitle("Log")
        self._dock_panels()

        self.actions_by_name = self._build_actions()
        self.run_panel.add_ticket_action(self.actions_by_name["cancel_ticket"])
        self._build_menus()
        self._build_status_bar()
        self.session.statusChanged.connect(self._on_status_changed)
        controller.finished.connect(self._on_status_changed)
        self.session.bus.published.connect(self._on_event)
        self._update_actions()
        self._refresh_approvals()
        self.refresh_status()
        self._restore_settings()

    # -- construction --------------------------------------------------------------------
    def _dock_panels(self) -> None:
        approvals = self._add_dock("Approvals", self.approvals)
        log_dock = self._add_dock("Log", self.log_panel)
        self.splitDockWidget(approvals, log_dock, Qt.Orientation.Horizontal)
        self.resizeDocks([approvals, log_dock], [560, 720], Qt.Orientation.Horizontal)
        self.resizeDocks([log_dock], [190], Qt.Orientation.Vertical)

    def _add_dock(self, name: str, panel: QWidget) -> QDockWidget:
        """A bottom dock titled as ``panel`` is (and follows its title: "Approvals (3)")."""
        dock = QDockWidget(panel.windowTitle(), self)
        dock.setObjectName(f"{name}Dock")  # the key of its place in the saved state
        dock.setWidget(panel)
        panel.windowTitleChanged.connect(dock.setWindowTitle)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        return dock

    def _build_actions(self) -> dict[str, QAction]:
        specs: list[tuple[str, str, Callable[[], object], QKeySequence.StandardKey | str]] = [
            ("new_epic", "New epic…", self._new_epic, QKeySequence.StandardKey.New),
            ("start", "Start", self._start, "Ctrl+R"),
            ("pause", "Pause", self._pause, "Ctrl+P"),
            ("resume", "Resume", self._resume, "Ctrl+Shift+P"),
            ("cancel", "Cancel run", self._cancel, "Ctrl+."),
            ("cancel_ticket", "Cancel ticket", self._cancel_ticket, ""),
            ("approve", "Approve", self.approvals.approve_current, ""),
            ("reject", "Reject…", self.approvals.reject_current, ""),
            ("expand_all", "Expand all", self.run_panel.tree.expandAll, ""),
            ("settings", "Settings…", self._open_settings, "Ctrl+,"),
            ("close", "Quit", self.close, QKeySequence.StandardKey.Quit),
        ]
        actions: dict[str, QAction] = {}
        for name, text, slot, shortcut in specs:
            action = QAction(text, self)
            action.setObjectName(name)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(slot)
            actions[name] = action
        return actions

    def _build_menus(self) -> None:
        toolbar = self.addToolBar("Run")
        toolbar.setObjectName("RunToolbar")
        for name in TOOLBAR_ACTIONS:
            toolbar.addAction(self.actions_by_name[name])
        menu = self.menuBar().addMenu("&Run")
        for name in ACTION_NAMES:
            menu.addAction(self.actions_by_name[name])
        view = self.menuBar().addMenu("&View")  # a closed dock comes back from here
        for dock in self.findChildren(QDockWidget):
            view.addAction(dock.toggleViewAction())

    def _build_status_bar(self) -> None:
        self.status = RunStatusBar(self.session)
        self.setStatusBar(self.status)
        #: Read by tests (the hook reads them as ``status_text`` etc.).
        self.status_label = self.status.status_label
        self.totals_label = self.status.totals_label
        self.provider_label = self.status.provider_label
        self._show_provider()

    # -- providers and settings ----------------------------------------------------------
    def _show_provider(self) -> None:
        label = self.session.provider_label
        self.setWindowTitle(f"mma_qt — {label}")
        self.status.show_provider(label, demo=self.controller.factory.is_demo)

    @Slot()
    def _open_settings(self) -> None:
        dialog = SettingsDialog(self.config, self.apply_config, self.tasks, self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def apply_config(self, config: Config) -> None:
        """Saved settings: new providers and options from the next run on. The providers
        are chosen on the task runner (the keyring can be slow); the status bar says what
        came of it."""
        self.config = config
        self.statusBar().showMessage("Applying the settings…")
        self.tasks.submit(partial(self._choose, config), partial(self._on_chosen, config),
                          owner=self)

    def _on_chosen(self, config: Config, future: Future[ProviderFactory]) -> None:
        try:
            factory = future.result()
        except ValueError as exc:  # no key, or a provider the registry cannot build
            message = f"{exc}; runs keep using {self.session.provider_label}"
            log.warning("settings not applied: %s", message)
            self.statusBar().showMessage(message, 10000)
            return
        self.controller.reconfigure(factory, run_options(config), mcp=config.mcp.servers)
        self._show_provider()
        self.statusBar().showMessage(f"Next run uses {factory.label}", 6000)

    def _restore_settings(self) -> None:
        settings = QSettings()
        saved = {key: settings.value(f"window/{key}") for key in ("geometry", "state", "splitter")}
        if not isinstance(saved["geometry"], QByteArray) or not self.restoreGeometry(
            saved["geometry"]
        ):
            self.resize(1200, 760)
        if isinstance(saved["state"], QByteArray):
            self.restoreState(saved["state"])
        if isinstance(saved["splitter"], QByteArray):
            self.run_panel.restoreState(saved["splitter"])
        workspace = settings.value("run/workspace", "")
        if isinstance(workspace, str) and not self.epic_panel.workspace():
            self.epic_panel.set_workspace(workspace)

    def save_settings(self) -> None:
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.setValue("window/splitter", self.run_panel.saveState())
        settings.setValue("run/workspace", self.epic_panel.workspace())
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.controller.shutdown()
        self.tasks.shutdown()
        self.save_settings()
        self.status.stop()
        event.accept()
        self.closed.emit()

    # -- actions -------------------------------------------------------------------------
    def _guard(self, what: str, fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Run a controller call; a refusal is shown in the status bar and logged."""
        try:
            fn(*args, **kwargs)
        except (ControllerError, ApprovalError) as exc:
            reason = exc.args[0] if exc.args else exc
            log.warning("%s: %s", what, reason)
            self.statusBar().showMessage(f"{what}: {reason}", 6000)

    @Slot()
    def _new_epic(self) -> None:
        dialog = NewEpicDialog(self.epic_panel.epic(), self.epic_panel.workspace(), self)
        dialog.chosen.connect(self._on_new_epic)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    @Slot(str, str)
    def _on_new_epic(self, epic: str, workspace: str) -> None:
        self.epic_panel.set_epic(epic)
        self.epic_panel.set_workspace(workspace)

    @Slot(bool)
    def _on_auto_toggled(self, checked: bool) -> None:
        self.controller.auto = checked

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
        record = self.run_panel.current_record()
        if record is None or record.ticket_id is None or record.tier is not Tier.WORKER:
            self.statusBar().showMessage("Cancel ticket: select a Tier 3 ticket first", 6000)
            return
        self._guard("Cancel ticket", self.controller.cancel, record.ticket_id)

    @Slot(str, object)
    def _on_approve_requested(self, key: str, edited: object) -> None:
        text = edited if isinstance(edited, str) else None  # None: approved as proposed
        self._guard("Approve", self.controller.resolve_approval, key, True, edited=text)

    @Slot(str, str)
    def _on_reject_requested(self, key: str, reason: str) -> None:
        self._guard("Reject", self.controller.resolve_approval, key, False, reason=reason)

    # -- the window's public face (the hook drives it through these, never its widgets) --
    def start(self, epic: str | None = None, workspace: str | None = None) -> None:
        """Start a run (raises ControllerError when it cannot start)."""
        if epic is not None:
            self.epic_panel.set_epic(epic)
        if workspace is not None:
            self.epic_panel.set_workspace(workspace)
        self.controller.start_epic(
            self.epic_panel.epic(), self.epic_panel.workspace(), auto=self.epic_panel.auto()
        )
        self.run_panel.show_stream(None)

    def set_auto(self, auto: bool) -> None:
        """Tick or untick Auto-approve: whether the next run asks before each spawn."""
        self.epic_panel.set_auto(auto)

    def set_workspace(self, folder: str) -> None:
        """The workspace folder of the next run (as if typed in the epic panel)."""
        self.epic_panel.set_workspace(folder)

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

    def select(self, target: str) -> str:
        """Select a row by stream id, ticket id or tier label; return its stream id or label."""
        return self.run_panel.select(target)

    def field_value(self, name: str) -> Any:
        """The value of the named field (:data:`FIELD_NAMES`)."""
        if name == "stream_text":
            self.stream_view.flush()
            return self.stream_view.toPlainText()
        values: dict[str, Callable[[], Any]] = {
            "epic": self.epic_panel.epic,
            "workspace": self.epic_panel.workspace,
            "auto": self.epic_panel.auto,
            "status_text": self.status_label.text,
            "totals_text": self.totals_label.text,
            "title": self.windowTitle,
        }
        if name == "selected":
            return self.stream_view.stream_id
        if name not in values:
            raise KeyError(f"no field {name!r}")
        return values[name]()

    def set_field_value(self, name: str, value: Any) -> None:
        """Set a settable field: epic, workspace, auto (a bool) or selected (a row)."""
        if name == "auto" and not isinstance(value, bool):
            raise TypeError("auto takes true or false")
        setters: dict[str, Callable[[Any], object]] = {
            "epic": self.epic_panel.set_epic,
            "workspace": self.set_workspace,
            "auto": self.set_auto,
            "selected": self.select,
        }
        if name in setters:
            setters[name](value if name == "auto" else str(value))
        elif name in FIELD_NAMES:
            raise KeyError(f"field {name!r} is read-only")
        else:
            raise KeyError(f"no field {name!r}")

    # -- status --------------------------------------------------------------------------
    @Slot(str)
    def _on_status_changed(self, status: str) -> None:
        self._update_actions()
        self._refresh_approvals()
        self.refresh_status()

    @Slot(object)
    def _on_event(self, event: dict[str, Any]) -> None:
        if event["type"] == "approval":
            self._refresh_approvals()

    def _refresh_approvals(self) -> None:
        self.approvals.set_approvals(self.controller.pending_approvals())
        pending = self.approvals.count() > 0
        self.actions_by_name["approve"].setEnabled(pending)
        self.actions_by_name["reject"].setEnabled(pending)

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
        """Show the run's state and totals now (the status bar also ticks on its own)."""
        self.status.refresh()
