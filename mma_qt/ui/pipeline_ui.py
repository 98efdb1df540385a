"""The window's controls over the whole pipeline (issue 11), installed on the main window
by :func:`install_pipeline_ui`: the **Plan** action beside Start, the Proposal dock, the
Step/Auto mode, the per-ticket menu of the tree (and of the DAG view), and the approvals
badge in the status bar that jumps to what waits.

The window keeps its own actions; this module adds to them and talks to the controller
through the window's guard (a refusal shows in the status bar and the log).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu, QToolBar, QToolButton

from .forms import worker_models
from .proposal_panel import ProposalPanel
from .ticket_menu import TicketMenu

if TYPE_CHECKING:
    from .main_window import MainWindow

BADGE_STYLE = ("QToolButton { background: #ef6c00; color: white; border-radius: 8px; "
               "padding: 1px 8px; font-weight: bold; }")


class PipelineUi(QObject):
    """What :func:`install_pipeline_ui` adds to the window (tests and the DAG view reach
    the parts through it)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._controller = controller = window.controller
        self.ticket_menu = TicketMenu(controller, window._guard, self.models, window)
        window.run_panel.ticket_menu = self.ticket_menu.fill
        window.run_panel.track_menu = self.ticket_menu.fill_track
        self.proposal = ProposalPanel(controller)
        self.proposal.message.connect(window.statusBar().showMessage)
        self.proposal_dock = self._dock_proposal()
        self.plan_action = self._add_plan_action()
        self.badge = self._add_badge()
        window.approvals.windowTitleChanged.connect(self._show_badge)
        window.approvals.ticketChosen.connect(self._select_ticket)
        window.approvals.set_models(self.models())
        window.epic_panel.modeChosen.connect(self._on_mode_chosen)
        window.session.bus.published.connect(self._on_event)
        window.session.statusChanged.connect(self._on_status)
        self._show_badge()

    def models(self) -> list[str]:
        """The Tier 3 models of the current providers (offered in the model choices)."""
        return worker_models(self._controller.factory)

    # -- construction -----------------------------------------------------------------
    def _dock_proposal(self) -> QDockWidget:
        window = self._window
        dock = window._add_dock("Proposal", self.proposal)
        approvals = window.findChild(QDockWidget, "ApprovalsDock")
        if approvals is not None:
            window.tabifyDockWidget(approvals, dock)
            approvals.raise_()
        self.proposal.proposed.connect(self._show_proposal)
        for menu in window.menuBar().findChildren(QMenu):
            if menu.title() == "&View":  # built before this dock existed
                menu.addAction(dock.toggleViewAction())
        return dock

    def _add_plan_action(self) -> QAction:
        """**Plan** beside Start: Tier 1 proposes tracks, then the run waits in the
        Proposal dock. Enabled exactly when Start is."""
        window = self._window
        start = window.actions_by_name["start"]
        plan = QAction("Plan", window)
        plan.setObjectName("plan")
        plan.setShortcut(QKeySequence("Ctrl+Shift+R"))
        plan.setToolTip("Plan: Tier 1 proposes tracks, then waits for you (edit, drop, "
                        "reorder, re-plan, accept) in the Proposal dock")
        plan.triggered.connect(self._plan)
        plan.setEnabled(start.isEnabled())
        start.changed.connect(self._follow_start)
        holders: list[QToolBar | QMenu] = [
            *window.findChildren(QToolBar, "RunToolbar"),
            *(m for m in window.menuBar().findChildren(QMenu) if start in m.actions()),
        ]
        for holder in holders:
            _insert_after(holder, start, plan)
        window.actions_by_name["plan"] = plan  # the hook's ``click plan``
        return plan

    def _add_badge(self) -> QToolButton:
        badge = QToolButton()
        badge.setObjectName("approvalsBadge")
        badge.setStyleSheet(BADGE_STYLE)
        badge.setToolTip("Approvals waiting for you: show them")
        badge.clicked.connect(self.show_approvals)
        self._window.statusBar().addPermanentWidget(badge)
        return badge

    # -- reactions --------------------------------------------------------------------
    @Slot()
    def _follow_start(self) -> None:
        self.plan_action.setEnabled(self._window.actions_by_name["start"].isEnabled())

    @Slot()
    def _plan(self) -> None:
        self._window._guard("Plan", self.plan)

    def plan(self, epic: str | None = None, workspace: str | None = None) -> None:
        """Plan the epic panel's epic in its workspace, or ``epic``/``workspace`` put there
        first, as :meth:`~.window_face.WindowFace.start` does (ControllerError if refused)."""
        self._window.fill_epic(epic, workspace)
        panel = self._window.epic_panel
        self._controller.plan_epic(panel.epic(), panel.workspace())
        self._window.run_panel.show_stream(None)

    @Slot()
    def _show_proposal(self) -> None:
        self.proposal_dock.show()
        self.proposal_dock.raise_()

    @Slot()
    def _show_badge(self) -> None:
        count = self._window.approvals.count()
        self.badge.setText(f"{count} approval{'s' if count != 1 else ''} waiting")
        self.badge.setVisible(count > 0)

    @Slot()
    def show_approvals(self) -> None:
        self._raise_approvals()
        self._window.approvals.list.setFocus()

    def _raise_approvals(self) -> None:
        dock = self._window.findChild(QDockWidget, "ApprovalsDock")
        if dock is not None:
            dock.show()
            dock.raise_()

    @Slot(str)
    def _select_ticket(self, ticket_id: str) -> None:
        """The approval picked in the list: select its ticket's row (if it has one yet)."""
        try:
            self._window.select(ticket_id)
        except KeyError:
            self._window.statusBar().showMessage(f"{ticket_id} has no row yet", 4000)

    @Slot(str)
    def _on_mode_chosen(self, mode: str) -> None:
        self._window._guard("Mode", self._controller.set_mode, mode)

    @Slot(object)
    def _on_event(self, event: dict[str, Any]) -> None:
        if event["type"] == "mode":
            self._window.epic_panel.show_mode(str(event["mode"]))
        elif event["type"] == "proposal" and event["state"] == "accepted":
            # The Proposal dock (tabbed with Approvals) has nothing left to do; the spawns
            # of the accepted tracks wait in the Approvals dock.
            self._raise_approvals()

    @Slot(str)
    def _on_status(self, status: str) -> None:
        self._window.approvals.set_models(self.models())  # the providers may have changed


def _insert_after(widget: QToolBar | QMenu, anchor: QAction, action: QAction) -> None:
    """Put ``action`` right after ``anchor`` in ``widget`` (at the end if it is last)."""
    actions = widget.actions()
    index = actions.index(anchor) + 1 if anchor in actions else len(actions)
    if index < len(actions):
        widget.insertAction(actions[index], action)
    else:
        widget.addAction(action)


def install_pipeline_ui(window: MainWindow) -> PipelineUi:
    """Add the pipeline controls to ``window`` (before its saved dock layout is restored,
    so the Proposal dock keeps its place)."""
    return PipelineUi(window)
