"""The main window. It composes the panels (epic, run tree + stream, Approvals, Changes
and Log docks) and keeps what belongs to the whole window: the actions and menus, the status bar,
what it remembers between sessions (QSettings), and its public face, the methods through
which the hook (and app.py) drive it; never its widgets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QVBoxLayout, QWidget

from ..core.history.recorder import HistoryRecorder
from ..core.model.domain import Tier
from ..core.model.status import RunStatus
from ..core.providers.base import ProviderFactory
from ..core.run.approvals import ApprovalError
from ..core.run.controller import Controller, ControllerError
from ..core.settings.config import Config, run_options
from .actions import ACTION_NAMES, FIELD_NAMES, ActionSpec, install_menus, make_actions
from .approvals_panel import ApprovalsPanel
from .changes_panel import ChangesPanel
from .dag_dock import install_dag_dock
from .dialogs import NewEpicDialog
from .epic_panel import EpicPanel
from .history_ui import install_history
from .log_panel import LogPanel, QtLogHandler
from .mcp_page import McpServersPage, server_statuses
from .merge import MergeControl
from .pipeline_ui import install_pipeline_ui
from .run_panel import RunPanel
from .settings_dialog import SettingsDialog
from .status_bar import RunStatusBar
from .tasks import TaskRunner
from .window_face import WindowFace
from .window_state import restore_window, save_window

log = logging.getLogger(__name__)

#: Builds the providers for a saved config (blocking: it may ask the keyring); raises
#: ValueError when the config cannot give any. Injected by ``wiring.assemble``.
ProviderChooser = Callable[[Config], ProviderFactory]

__all__ = ["ACTION_NAMES", "FIELD_NAMES", "MainWindow", "ProviderChooser"]


class MainWindow(WindowFace, QMainWindow):
    closed = Signal()

    def __init__(
        self,
        controller: Controller,
        log_handler: QtLogHandler,
        *,
        choose: ProviderChooser,
        config: Config | None = None,
        history: HistoryRecorder | None = None,
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

        self.epic_panel = EpicPanel(auto=controller.auto, policy=controller.current_tool_policy)
        self.epic_panel.autoToggled.connect(self._on_auto_toggled)
        self.epic_panel.policyChosen.connect(self._on_policy_chosen)
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
        self.changes = ChangesPanel(controller)
        self.changes.failed.connect(self._show_message)
        self.tree.selectionModel().currentChanged.connect(self._on_row_changed)
        self.merging = MergeControl(controller, self.model, self.tree)
        self.log_panel = LogPanel(log_handler)
        self.log_panel.setWindowTitle("Log")
        self._dock_panels()
        self.graph = install_dag_dock(self)  # the Graph dock: the selected track's tickets

        self.actions_by_name = make_actions(self, self._action_specs())
        install_menus(self, self.actions_by_name)
        self._build_status_bar()
        self.session.statusChanged.connect(self._on_status_changed)
        controller.finished.connect(self._on_status_changed)
        self.session.bus.published.connect(self._on_event)
        self._update_actions()
        self._refresh_approvals()
        self.refresh_status()
        self.pipeline = install_pipeline_ui(self)  # Plan, Proposal, mode, ticket menu, badge
        self.graph.ticketMenuRequested.connect(self.pipeline.ticket_menu.popup)
        #: The History dock, past runs read-only, Resume, Re-run…, Export report….
        self.history = None if history is None else install_history(self, history)
        restore_window(self, self.run_panel, self.epic_panel)

    # -- construction --------------------------------------------------------------------
    def _dock_panels(self) -> None:
        approvals = self._add_dock("Approvals", self.approvals)
        log_dock = self._add_dock("Log", self.log_panel)
        self.splitDockWidget(approvals, log_dock, Qt.Orientation.Horizontal)
        self.tabifyDockWidget(approvals, self._add_dock("Changes", self.changes))
        approvals.raise_()
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

    def _action_specs(self) -> list[ActionSpec]:
        return [
            ActionSpec("new_epic", "New epic…", self._new_epic, QKeySequence.StandardKey.New),
            ActionSpec("start", "Start", self._start, "Ctrl+R"),
            ActionSpec("pause", "Pause", self._pause, "Ctrl+P"),
            ActionSpec("resume", "Resume", self._resume, "Ctrl+Shift+P"),
            ActionSpec("cancel", "Cancel run", self._cancel, "Ctrl+."),
            ActionSpec("cancel_ticket", "Cancel ticket", self._cancel_ticket),
            ActionSpec("merge_track", "Merge track", self._merge_track),
            ActionSpec("approve", "Approve", self.approvals.approve_current),
            ActionSpec("reject", "Reject…", self.approvals.reject_current),
            ActionSpec("expand_all", "Expand all", self.run_panel.tree.expandAll),
            ActionSpec("settings", "Settings…", self._open_settings, "Ctrl+,"),
            ActionSpec("close", "Quit", self.close, QKeySequence.StandardKey.Quit),
        ]

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
        statuses, started = server_statuses(self.controller)
        mcp = McpServersPage(statuses, started=started)
        dialog = SettingsDialog(self.config, self.apply_config, self.tasks, self,
                                pages=[("MCP servers", mcp)])
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

    def save_settings(self) -> None:
        save_window(self, self.run_panel, self.epic_panel)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.controller.shutdown()
        self.tasks.shutdown()
        self.changes.stop()
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
            self._show_message(f"{what}: {reason}")

    @Slot(str)
    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)

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

    @Slot(str)
    def _on_policy_chosen(self, policy: str) -> None:
        self._guard("Tool policy", self.controller.set_tool_policy, policy)
        self.epic_panel.set_policy(self.controller.current_tool_policy)

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

    @Slot()
    def _merge_track(self) -> None:
        self._guard("Merge track", self.merging.start)

    @Slot(QModelIndex, QModelIndex)
    def _on_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        record = self.model.record(current)
        if record is not None and record.tier is Tier.WORKER and record.ticket_id:
            self.changes.show_ticket(record.ticket_id)
        else:
            self.changes.show_track(self.model.track_id(current))
        self._update_actions()

    @Slot(str, object)
    def _on_approve_requested(self, key: str, edited: object) -> None:
        """``edited``: a tool call's edited text, a spawn's edits ({prompt?, model?}), None."""
        edits = edited if isinstance(edited, dict) else {"edited": edited}
        self._guard("Approve", self.controller.resolve_approval, key, True, **edits)

    @Slot(str, str)
    def _on_reject_requested(self, key: str, reason: str) -> None:
        self._guard("Reject", self.controller.resolve_approval, key, False, reason=reason)

    # -- status --------------------------------------------------------------------------
    @Slot(str)
    def _on_status_changed(self, status: str) -> None:
        self.epic_panel.set_policy(self.controller.current_tool_policy)  # a run's own
        self._update_actions()
        self._refresh_approvals()
        self.refresh_status()

    @Slot(object)
    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "approval":
            self._refresh_approvals()
        elif kind == "tool_policy":
            self.epic_panel.set_policy(event["policy"])
        elif kind == "merge":
            self._show_message(self.merging.describe(event))
        if kind in ("ticket", "plan", "merge"):
            self._update_actions()

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
        acts["pause"].setEnabled(busy and status not in (RunStatus.PAUSED, RunStatus.PROPOSED))
        acts["resume"].setEnabled(status is RunStatus.PAUSED)
        acts["cancel"].setEnabled(busy)
        acts["cancel_ticket"].setEnabled(busy)
        acts["merge_track"].setEnabled(self.merging.possible())

    @Slot()
    def refresh_status(self) -> None:
        """Show the run's state and totals now (the status bar also ticks on its own)."""
        self.status.refresh()
