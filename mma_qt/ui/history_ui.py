"""The window's history (issue 12), installed by :func:`install_history`: the **History**
dock listing the workspace's past runs, a past run reopened read-only in the same tree,
streams and Graph dock, **Resume**, **Re-run…** of a past ticket, **Export report…**, and
the window saying when history is off and why.

A reopened run lives in a session of its own (:attr:`HistoryUi.past_session`), filled from
the history by :func:`~mma_qt.core.live.restore.restore_run` and shown by a tree, stream
view and graph of its own, put in the live ones' place while it is viewed; the live
session, its run and its recording never see it (one-way: history → past session → its
views). Every SQLite read runs on the window's task runner (:mod:`.history_reads`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QModelIndex, QObject, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QBoxLayout, QDockWidget, QFileDialog, QLabel, QMenu, QStackedWidget

from ..core.history.recorder import HistoryRecorder
from ..core.history.schema import SchemaError
from ..core.history.store import PastRun, RunNotFound
from ..core.live.restore import restore_run
from ..core.live.session import MmaSession
from ..core.model.domain import Tier
from ..core.model.status import RunStatus
from ..core.run.controller import ControllerError
from .dag_dock import follow_row
from .dag_view import DagPanel
from .forms import worker_models
from .history_control import go_on_from
from .history_panel import RESUMABLE, HistoryPanel
from .history_reads import Source, load_run, read_runs, write_report
from .history_view import PastBanner, RerunDialog
from .run_panel import RunPanel

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Errors of reading the history that the window shows (and logs), never raises.
READ_ERRORS = (SchemaError, RunNotFound, sqlite3.Error, OSError, ValueError)
#: The workspace field settles this long before the list is read again (ms).
WORKSPACE_SETTLE_MS = 400


class HistoryUi(QObject):
    """What :func:`install_history` adds to the window (tests reach the parts here)."""

    #: The list of runs was read again (and shown).
    refreshed = Signal()
    #: A past run is shown read-only (its id), or the live run again ("").
    viewing = Signal(str)
    #: A report was written (its path).
    exported = Signal(str)
    #: Reading or writing failed: why (also in the status bar and the log).
    failed = Signal(str)

    def __init__(self, window: MainWindow, recorder: HistoryRecorder) -> None:
        super().__init__(window)
        self._window, self._recorder = window, recorder
        self._controller = window.controller
        self.panel = HistoryPanel()
        self.dock = self._dock()
        self.past: PastRun | None = None
        self.past_session = MmaSession(window.session.pricing, "", self)
        self.past_panel = RunPanel(self.past_session)
        self.past_panel.setObjectName("pastRunPanel")
        self.past_panel.ticket_menu = self._fill_ticket_menu
        self.past_graph = DagPanel(self.past_session)
        self.banner = PastBanner()
        self._place_views()
        self.export_action = self._add_export_action()
        self.off_label = QLabel("History off")
        self.off_label.setObjectName("historyOffBadge")
        window.statusBar().addPermanentWidget(self.off_label)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(WORKSPACE_SETTLE_MS)
        self._settle.timeout.connect(self.refresh)
        self._connect()
        self._show_off(recorder.failure)
        self.refresh()

    # -- construction -----------------------------------------------------------------
    def _dock(self) -> QDockWidget:
        window = self._window
        dock = window._add_dock("History", self.panel)
        log_dock = window.findChild(QDockWidget, "LogDock")
        if isinstance(log_dock, QDockWidget):
            window.tabifyDockWidget(log_dock, dock)
        for menu in window.menuBar().findChildren(QMenu):
            if menu.title() == "&View":
                menu.addAction(dock.toggleViewAction())
        return dock

    def _place_views(self) -> None:
        """The banner and the past run's tree beside the live ones (hidden until viewed);
        the Graph dock shows the live or the past graph."""
        window = self._window
        holder = window.run_panel.parentWidget()
        layout = None if holder is None else holder.layout()
        if not isinstance(layout, QBoxLayout):
            raise TypeError("the run panel sits in no box layout")
        index = layout.indexOf(window.run_panel)
        layout.insertWidget(index, self.banner)
        layout.insertWidget(index + 2, self.past_panel, 1)
        self.banner.hide()
        self.past_panel.hide()
        self.graphs = QStackedWidget()
        self.graphs.addWidget(window.graph.panel)
        self.graphs.addWidget(self.past_graph)
        window.graph.setWidget(self.graphs)

    def _add_export_action(self) -> QAction:
        window = self._window
        action = QAction("Export report…", window)
        action.setObjectName("export_report")
        action.setToolTip("Write a run's report: Markdown, HTML or JSON")
        action.triggered.connect(self._export_chosen)
        for menu in window.menuBar().findChildren(QMenu):
            if window.actions_by_name["settings"] in menu.actions():
                menu.insertAction(window.actions_by_name["settings"], action)
        window.actions_by_name["export_report"] = action  # the hook's ``click``
        return action

    def _connect(self) -> None:
        window, recorder, panel = self._window, self._recorder, self.panel
        self._controller.finished.connect(self._on_run_ended)
        recorder.recording.connect(self._on_recording)
        recorder.failed.connect(self._show_off)
        window.epic_panel.workspace_edit.textChanged.connect(self._on_workspace_edited)
        panel.refreshRequested.connect(self.refresh)
        panel.openRequested.connect(self.open_run)
        panel.resumeRequested.connect(self.resume_run)
        panel.exportRequested.connect(self.choose_export)
        self.banner.backRequested.connect(self.back_to_live)
        self.banner.resumeRequested.connect(self._resume_viewed)
        self.banner.rerunRequested.connect(self._rerun_selected)
        self.past_panel.tree.selectionModel().currentChanged.connect(self._on_past_row)
        self.past_graph.view.ticketSelected.connect(self._on_past_node)

    # -- reading ----------------------------------------------------------------------
    def _source(self) -> Source:
        recorder = self._recorder
        recorder.flush(document=True)  # hand over what waits (no I/O here)
        live = () if recorder.run_id is None else (recorder.run_id,)
        return Source(self._window.epic_panel.workspace(), recorder.writer, live)

    def _submit(self, job: Callable[[Source], T], on_done: Callable[[Future[T]], None]) -> None:
        """Run ``job(source)`` on the window's task runner; nothing once the window has
        closed (a run ending after it, as the app exits, reads nothing)."""
        tasks = self._window.tasks
        if not tasks.closed:
            tasks.submit(partial(job, self._source()), on_done, owner=self)

    @Slot()
    def refresh(self) -> None:
        """Read the workspace's runs again (off the GUI thread); ``refreshed`` then."""
        self._submit(read_runs, self._on_runs)

    def _on_runs(self, future: Future[list[dict[str, Any]]]) -> None:
        try:
            runs = future.result()
        except READ_ERRORS as exc:
            self._fail(f"cannot read the history: {exc}")
            self.panel.set_runs([])
            return
        self.panel.set_runs(runs)
        self.refreshed.emit()

    def _fail(self, message: str) -> None:
        log.warning("%s", message)
        self._window.statusBar().showMessage(message, 10000)
        self.failed.emit(message)

    @Slot(str)
    def _on_run_ended(self, status: str) -> None:
        self.refresh()

    @Slot(str)
    def _on_recording(self, run_id: str) -> None:
        """A new run is recorded: the live run is what the window shows."""
        self._show_off(self._recorder.failure)
        self.back_to_live()
        self.refresh()

    @Slot(str)
    def _on_workspace_edited(self, text: str) -> None:
        self._settle.start()

    @Slot(str)
    def _show_off(self, reason: str | None) -> None:
        """The window says whether history is off, and why (the log says it too)."""
        self.panel.show_off(reason)
        self.off_label.setVisible(bool(reason))
        self.off_label.setToolTip(f"History is off: {reason}" if reason else "")
        if reason:
            self._window.statusBar().showMessage(f"History is off: {reason}", 10000)

    # -- a past run, read-only ------------------------------------------------------------
    @Slot(str)
    def open_run(self, run_id: str) -> None:
        """Show a past run read-only (read off the GUI thread; ``viewing`` then)."""
        self._load(run_id, self.show_past)

    def _load(self, run_id: str, then: Callable[[PastRun], object]) -> None:
        self._submit(partial(load_run, run_id=run_id), partial(self._on_loaded, then))

    def _on_loaded(self, then: Callable[[PastRun], object], future: Future[PastRun]) -> None:
        try:
            past = future.result()
        except READ_ERRORS as exc:
            self._fail(f"cannot read the run: {exc}")
            return
        then(past)

    def show_past(self, past: PastRun) -> None:
        """Fill the past session with ``past`` and put its views in the live ones' place."""
        session, doc = self.past_session, past.document
        session.provider_label = str(doc.get("provider") or "")
        session.reset(str(doc.get("epic") or ""), str(doc.get("workspace") or ""))
        restore_run(session, doc, past.records, past.prompts)
        session.set_phase(RunStatus(doc["status"]), None, str(doc.get("error") or ""))
        elapsed = doc.get("elapsed_s")
        if session.started_at is not None and elapsed is not None:
            session.finished_at = session.started_at + float(elapsed)
        self.past = past
        listed = next((r for r in self.panel.runs() if r["run_id"] == past.run_id), {})
        self.banner.show_run(past, str(listed.get("date") or past.run_id),
                             resumable=doc["status"] in RESUMABLE)
        self._switch(past=True)
        self.viewing.emit(past.run_id)

    @Slot()
    def back_to_live(self) -> None:
        if self.past is None:
            return
        self.past = None
        self._switch(past=False)
        self.past_session.reset("", "")  # its texts go
        self.viewing.emit("")

    def _switch(self, *, past: bool) -> None:
        window = self._window
        window.run_panel.setVisible(not past)
        self.past_panel.setVisible(past)
        self.banner.setVisible(past)
        self.graphs.setCurrentIndex(1 if past else 0)

    @Slot(QModelIndex, QModelIndex)
    def _on_past_row(self, current: QModelIndex, previous: QModelIndex) -> None:
        self.banner.set_ticket(follow_row(self.past_graph, self.past_panel.model, current))

    @Slot(str)
    def _on_past_node(self, ticket_id: str) -> None:
        try:
            self.past_panel.select(ticket_id)
        except KeyError as exc:
            log.warning("Graph: cannot select %s: %s", ticket_id, exc.args[0])

    def _fill_ticket_menu(self, menu: QMenu, ticket_id: str) -> None:
        """A past ticket's only action: run it again, in a new run."""
        action = menu.addAction("Re-run… (edit prompt or model, in a new run)")
        action.setData(ticket_id)
        action.triggered.connect(self._rerun_from_menu)

    @Slot()
    def _rerun_from_menu(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.choose_rerun(str(action.data()))

    # -- new runs from past ones ------------------------------------------------------
    @Slot(str)
    def resume_run(self, run_id: str) -> None:
        """Resume a listed run: read it, then run its unfinished tickets in a new run."""
        self._load(run_id, self._go_on)

    @Slot()
    def _resume_viewed(self) -> None:
        if self.past is not None:
            self._go_on(self.past)

    def _go_on(self, past: PastRun, ticket_id: str | None = None, model: str | None = None,
               prompt: str | None = None) -> bool:
        what = "Resume" if ticket_id is None else f"Re-run {ticket_id}"
        try:
            go_on_from(self._controller, self._recorder, past, ticket_id=ticket_id,
                       model=model, prompt=prompt)
        except ControllerError as exc:
            self._fail(f"{what}: {exc}")
            return False
        self.back_to_live()
        self._window.run_panel.show_stream(None)
        return True

    @Slot()
    def _rerun_selected(self) -> None:
        record = self.past_panel.current_record()
        if record is not None and record.ticket_id and record.tier is Tier.WORKER:
            self.choose_rerun(record.ticket_id)

    def choose_rerun(self, ticket_id: str) -> RerunDialog | None:
        """Ask for the prompt and model of a re-run of the viewed run's ticket."""
        past = self.past
        ticket = None if past is None else self.past_session.tickets.get(ticket_id)
        if past is None or ticket is None:
            return None
        last = ticket.attempts[-1] if ticket.attempts else None
        prompt = "" if last is None else last.prompt
        model = ticket.model or (last.model if last else "")
        dialog = RerunDialog(ticket_id, prompt, model,
                             worker_models(self._controller.factory), self._window)
        dialog.chosen.connect(partial(self._on_rerun_chosen, past, prompt, model))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _on_rerun_chosen(self, past: PastRun, prompt: str, model: str, ticket_id: str,
                         new_model: str, new_prompt: str) -> None:
        self._go_on(past, ticket_id, None if new_model == model else new_model,
                    None if new_prompt == prompt else new_prompt)

    # -- reports ----------------------------------------------------------------------
    def export_run_id(self) -> str | None:
        """The run **Export report…** writes: the viewed run, else the run selected in
        the list, else the run being recorded, else the newest."""
        if self.past is not None:
            return self.past.run_id
        runs = self.panel.runs()
        return (self.panel.selected_run_id() or self._recorder.run_id
                or (str(runs[0]["run_id"]) if runs else None))

    @Slot()
    def _export_chosen(self) -> None:
        """**Export report…**: the run :meth:`export_run_id` names."""
        run_id = self.export_run_id()
        if run_id is None:
            self._window.statusBar().showMessage("Export report: no run yet", 6000)
            return
        self.choose_export(run_id)

    @Slot(str)
    def choose_export(self, run_id: str) -> QFileDialog:
        """Ask where to write the run's report (the suffix chooses the format)."""
        dialog = QFileDialog(self._window, f"Export the report of run {run_id}")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(["Markdown (*.md)", "HTML (*.html)", "JSON (*.json)"])
        dialog.selectFile(f"mma-run-{run_id}.md")
        dialog.fileSelected.connect(partial(self.export_report, run_id))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def export_report(self, run_id: str, path: str) -> None:
        """Write the run's report to ``path`` (format by suffix), off the GUI thread;
        ``exported`` (or ``failed``) then."""
        self._submit(partial(write_report, run_id=run_id, path=path), self._on_exported)

    def _on_exported(self, future: Future[str]) -> None:
        try:
            path = future.result()
        except READ_ERRORS as exc:
            self._fail(f"Export report: {exc}")
            return
        self._window.statusBar().showMessage(f"Report written to {path}", 10000)
        self.exported.emit(path)


def install_history(window: MainWindow, recorder: HistoryRecorder) -> HistoryUi:
    """Add the History dock, the past-run view, Resume, Re-run… and Export report… to
    ``window`` for the runs ``recorder`` records."""
    return HistoryUi(window, recorder)
