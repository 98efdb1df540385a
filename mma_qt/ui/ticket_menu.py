"""The per-ticket menu: one set of actions for the tree's context menu and the DAG view.

Retry…, Skip…, Block… / Unblock, Set model…, Edit ticket…, Step, Cancel ticket and
Cancel track, each enabled by the ticket's status (:data:`ENABLED_IN`). The dialogs send
one controller command; a refusal stays in the dialog, under the field it names. Commands
without a dialog go through the window's guard: a refusal shows in the status bar.

The DAG view emits ``ticketMenuRequested(ticket_id, global_pos)``: connect it to
:meth:`TicketMenu.popup`. The tree calls :meth:`TicketMenu.fill` on its own menu.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, QPoint, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from ..core.model.domain import Ticket, Tier, stream_id
from ..core.model.status import TicketStatus, TrackStatus
from ..core.run.controller import Controller
from .forms import Field, FormDialog, Kind, Values, only

#: Runs a controller call; shows a refusal in the status bar (``MainWindow._guard``).
Guard = Callable[..., None]

_S = TicketStatus
_ALL_BUT_SKIPPED = frozenset(_S) - {_S.SKIPPED}
#: The ticket statuses in which each action is enabled.
ENABLED_IN: dict[str, frozenset[TicketStatus]] = {
    "retry": frozenset({_S.FAILED, _S.CANCELLED, _S.COMPLETED}),
    "skip": frozenset({_S.TODO, _S.WAITING, _S.BLOCKED, _S.FAILED, _S.CANCELLED}),
    "block": frozenset({_S.TODO, _S.WAITING}),
    "unblock": frozenset({_S.BLOCKED}),
    "set_model": _ALL_BUT_SKIPPED,
    # Only a ticket that never started (no attempt yet): see :meth:`TicketMenu._enable`.
    "edit": frozenset({_S.TODO, _S.BLOCKED}),
    "step": _ALL_BUT_SKIPPED,
    "cancel_ticket": frozenset({_S.TODO, _S.WAITING, _S.IN_PROGRESS}),
}
#: Menu order; None is a separator.
ORDER = ("retry", "skip", "block", "unblock", None, "set_model", "edit", "step", None,
         "cancel_ticket", "cancel_track")
TEXTS = {
    "retry": "Retry…", "skip": "Skip…", "block": "Block…", "unblock": "Unblock",
    "set_model": "Set model…", "edit": "Edit ticket…", "step": "Step",
    "cancel_ticket": "Cancel ticket", "cancel_track": "Cancel track",
}
TIPS = {
    "retry": "Run the ticket again as a new attempt, with another model or prompt",
    "skip": "Count the ticket as done for its dependents, without running it",
    "block": "Keep the ticket from running; its dependents are blocked with the reason",
    "step": "Ask before each spawn of this ticket, even in Auto mode",
    "edit": "Change a ticket that has not started (the DAG is checked again)",
}


class TicketMenu(QObject):
    """The actions of one ticket at a time (the one the menu was opened on)."""

    def __init__(self, controller: Controller, guard: Guard, models: Callable[[], Sequence[str]],
                 parent: QWidget) -> None:
        super().__init__(parent)
        self._controller = controller
        self._guard = guard
        self._models = models
        self._widget = parent
        #: The ticket the actions act on (set by :meth:`prepare`), and its track.
        self.ticket_id = ""
        self.track_id: str | None = None
        self.actions: dict[str, QAction] = {}
        for name, slot in self._slots().items():
            action = QAction(TEXTS[name], self)
            action.setObjectName(f"ticket_{name}")
            action.setToolTip(TIPS.get(name, ""))
            action.triggered.connect(slot)
            self.actions[name] = action
        self.actions["step"].setCheckable(True)
        #: The dialog opened last (tests read it).
        self.dialog: FormDialog | None = None

    def _slots(self) -> dict[str, Callable[..., None]]:
        return {
            "retry": self._retry, "skip": self._skip, "block": self._block,
            "unblock": self._unblock, "set_model": self._set_model, "edit": self._edit,
            "step": self._step, "cancel_ticket": self._cancel_ticket,
            "cancel_track": self._cancel_track,
        }

    # -- showing ----------------------------------------------------------------------
    def prepare(self, ticket_id: str) -> bool:
        """Point the actions at ``ticket_id`` and enable them by its status; False when the
        run has no such ticket."""
        ticket = self._controller.session.tickets.get(ticket_id)
        self.ticket_id = ticket_id
        self.track_id = self.track_of(ticket_id)
        if ticket is None:
            for action in self.actions.values():
                action.setEnabled(False)
            return False
        self._enable(ticket)
        return True

    def _enable(self, ticket: Ticket) -> None:
        busy = self._controller.busy
        for name, statuses in ENABLED_IN.items():
            self.actions[name].setEnabled(ticket.status in statuses)
        if ticket.attempts or ticket.started_at is not None:
            self.actions["edit"].setEnabled(False)
        self.actions["cancel_ticket"].setEnabled(busy and ticket.status in ENABLED_IN[
            "cancel_ticket"])
        self._enable_cancel_track()
        self.actions["step"].setChecked(ticket.step)

    def _enable_cancel_track(self) -> None:
        status: TrackStatus | None = None
        for track in self._controller.session.tracks:
            if track.id == self.track_id:
                status = track.status
        live = self.track_id is not None and (status is None or not status.is_final)
        self.actions["cancel_track"].setEnabled(self._controller.busy and live)

    def track_of(self, ticket_id: str) -> str | None:
        for track in self._controller.session.tracks:
            if any(t.id == ticket_id for t in track.tickets):
                return track.id
        record = self._controller.session.records.get(stream_id(Tier.WORKER, ticket_id))
        return None if record is None else record.track_id

    def fill(self, menu: QMenu, ticket_id: str) -> None:
        """Add the ticket's actions to ``menu`` (the tree's context menu)."""
        if not self.prepare(ticket_id):
            return
        for name in ORDER:
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(self.actions[name])

    def fill_track(self, menu: QMenu, track_id: str) -> None:
        """Add the track's actions (Cancel track) to ``menu`` (a track row's menu)."""
        self.ticket_id, self.track_id = "", track_id
        self._enable_cancel_track()
        menu.addAction(self.actions["cancel_track"])

    @Slot(str, QPoint)
    def popup(self, ticket_id: str, global_pos: QPoint) -> None:
        """A menu of the ticket's actions at ``global_pos`` (the DAG view's right-click)."""
        menu = QMenu(self._widget)
        menu.setTitle(ticket_id)
        self.fill(menu, ticket_id)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(global_pos)

    # -- the commands -----------------------------------------------------------------
    def _ticket(self) -> Ticket | None:
        return self._controller.session.tickets.get(self.ticket_id)

    def _open(self, title: str, fields: Sequence[Field], submit: Callable[[Values], object],
              **options: Any) -> None:
        dialog = FormDialog(f"{title} {self.ticket_id}", fields, submit,
                            models=self._models(), parent=self._widget, **options)
        dialog.setObjectName(f"ticketDialog_{title.lower().replace(' ', '_')}")
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()

    @Slot()
    def _retry(self) -> None:
        self._open("Retry", [
            Field("model", "Model", Kind.MODEL, placeholder="unchanged"),
            Field("prompt", "Prompt", Kind.TEXT, placeholder="unchanged: the ticket's own"),
        ], partial(self._send_retry, self.ticket_id), changed_only=False,
            intro="Run the ticket again as a new attempt. Leave a field empty to keep it.")

    def _send_retry(self, ticket_id: str, values: Values) -> None:
        self._controller.retry(ticket_id, model=only(values, "model") or None,
                               prompt=only(values, "prompt") or None)

    @Slot()
    def _skip(self) -> None:
        self._open("Skip", [Field("reason", "Reason")], partial(self._send_reason, "skip",
                   self.ticket_id), changed_only=False,
                   intro="Its dependents run as if it had completed.")

    @Slot()
    def _block(self) -> None:
        self._open("Block", [Field("reason", "Reason")], partial(self._send_reason, "block",
                   self.ticket_id), changed_only=False,
                   intro="It does not run; its dependents are blocked with the reason.")

    def _send_reason(self, command: str, ticket_id: str, values: Values) -> None:
        send = self._controller.skip if command == "skip" else self._controller.block
        send(ticket_id, only(values, "reason"))

    @Slot()
    def _unblock(self) -> None:
        self._guard("Unblock", self._controller.unblock, self.ticket_id)

    @Slot()
    def _set_model(self) -> None:
        ticket = self._ticket()
        current = "" if ticket is None else ticket.model_override or ticket.model
        self._open("Set model", [Field("model", "Model", Kind.MODEL, current)],
                   partial(self._send_model, self.ticket_id), changed_only=False,
                   intro="The model of the ticket's next attempts.")

    def _send_model(self, ticket_id: str, values: Values) -> None:
        self._controller.set_ticket_model(ticket_id, only(values, "model"))

    @Slot()
    def _edit(self) -> None:
        ticket = self._ticket()
        if ticket is None:
            return
        self._open("Edit ticket", [
            Field("title", "Title", Kind.LINE, ticket.title),
            Field("description", "Description", Kind.TEXT, ticket.description),
            Field("depends_on", "Depends on", Kind.LIST, list(ticket.depends_on),
                  "ticket ids, comma-separated"),
            Field("target_files", "Target files", Kind.LIST, list(ticket.target_files),
                  "paths, comma-separated"),
        ], partial(self._send_edit, self.ticket_id))

    def _send_edit(self, ticket_id: str, values: Values) -> None:
        """Only the fields that changed; lists for the list fields. Nothing changed: no
        command."""
        if not values:
            return
        def text(name: str) -> str | None:
            value = values.get(name)
            return value if isinstance(value, str) else None

        def items(name: str) -> list[str] | None:
            value = values.get(name)
            return value if isinstance(value, list) else None

        self._controller.edit_ticket(
            ticket_id, title=text("title"), description=text("description"),
            depends_on=items("depends_on"), target_files=items("target_files"),
        )

    @Slot(bool)
    def _step(self, checked: bool) -> None:
        self._guard("Step", self._controller.set_ticket_step, self.ticket_id, checked)
        ticket = self._ticket()
        if ticket is not None:  # show what the controller kept
            self.actions["step"].setChecked(ticket.step)

    @Slot()
    def _cancel_ticket(self) -> None:
        self._guard("Cancel ticket", self._controller.cancel, self.ticket_id)

    @Slot()
    def _cancel_track(self) -> None:
        if self.track_id is not None:
            self._guard("Cancel track", self._controller.cancel_track, self.track_id)
