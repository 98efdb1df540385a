"""The Approvals dock: every pending decision, oldest first, and what each one would do.

An approval is the controller's dict (``key``, ``kind``, ``ticket_id``, ``track_id``,
``detail``; a tool call adds ``tool``, ``path`` or ``command``, ``diff``, ``note`` and
``editable``; a spawn adds ``attempt``, ``model``, ``system``, ``prompt`` and ``context``).
The detail pane shows the diff (coloured), else the command, else the detail; a spawn
shows its :class:`~.spawn_editor.SpawnEditor` (system text, editable prompt and model,
context parts). Each item is labelled by its track. The panel only says what the user
wants (``approveRequested`` / ``rejectRequested`` / ``ticketChosen``); the window passes
that to the controller and the tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from .dialogs import TextDialog, column, fixed_font
from .diff_highlighter import DiffHighlighter
from .spawn_editor import Draft, SpawnEditor, is_editable_spawn

Approval = Mapping[str, Any]

TITLE = "Approvals"


def summary(approval: Approval) -> str:
    """One line for the list: ``TR-1 · tool: T-003 write_file src/report.py``."""
    what = " ".join(
        str(approval[k]) for k in ("tool", "path", "command") if approval.get(k)
    ) or str(approval.get("model") or approval.get("detail", ""))
    first_line = what.splitlines()[0] if what else ""
    track = f"{approval['track_id']} · " if approval.get("track_id") else ""
    attempt = approval.get("attempt")
    again = f" (attempt {attempt})" if isinstance(attempt, int) and attempt > 1 else ""
    line = f"{approval.get('kind', '?')}: {approval.get('ticket_id', '')}{again} {first_line}"
    return track + line.strip()


class ApprovalsPanel(QWidget):
    """List + detail pane + Approve / Edit… / Reject…; the title counts what is pending."""

    #: The user approves ``key``; the second value is the edited text of a tool call, a
    #: spawn's edits (``{"prompt"?, "model"?}``: only what changed), or None.
    approveRequested = Signal(str, object)
    #: The user rejects ``key``, with a reason (may be empty).
    rejectRequested = Signal(str, str)
    #: The user picked an approval in the list: the ticket it is about.
    ticketChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._approvals: dict[str, Approval] = {}
        #: Unsent edits of spawns, by key (kept while another approval is shown).
        self._drafts: dict[str, Draft] = {}
        #: The spawn the editor shows (its edits are the user's until answered).
        self._spawn_key: str | None = None
        self.setWindowTitle(TITLE)
        self.list = QListWidget()
        self.list.setToolTip("Pending approvals, oldest first, labelled by track; pick one to see "
                             "its ticket. Choose the Step mode to be asked before each spawn.")
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.currentItemChanged.connect(self._show_current)
        self.list.itemClicked.connect(self._choose_ticket)
        self.list.currentItemChanged.connect(self._choose_ticket)
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setPlaceholderText("No approval pending.")
        self.highlighter = DiffHighlighter(self.detail.document())
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.hide()
        self.spawn = SpawnEditor()
        self.approve_button = QPushButton("Approve")
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip("Change the proposed content or command, then approve")
        self.reject_button = QPushButton("Reject…")
        self.approve_button.clicked.connect(self.approve_current)
        self.edit_button.clicked.connect(self.edit_current)
        self.reject_button.clicked.connect(self.reject_current)
        self._lay_out()
        self._show_current()

    def _lay_out(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.list)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.detail)
        self.pages.addWidget(self.spawn)
        splitter.addWidget(column(self.header, self.pages, self.note, stretch=self.pages))
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        buttons = QHBoxLayout()
        for button in (self.approve_button, self.edit_button, self.reject_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

    # -- what is pending -----------------------------------------------------------------
    def set_approvals(self, approvals: Sequence[Approval]) -> None:
        """Show these approvals (oldest first, as given); the selection stays on its key."""
        kept = self.current_key()
        self._keep_draft()
        self._approvals = {str(a["key"]): a for a in approvals}
        self._drafts = {k: d for k, d in self._drafts.items() if k in self._approvals}
        if self._spawn_key not in self._approvals:
            self._spawn_key = None
        self.list.blockSignals(True)
        try:
            self.list.clear()
            for key, approval in self._approvals.items():
                item = QListWidgetItem(summary(approval))
                item.setData(Qt.ItemDataRole.UserRole, key)
                item.setToolTip(f"{key}: {summary(approval)}")
                self.list.addItem(item)
            keys = list(self._approvals)
            if keys:
                self.list.setCurrentRow(keys.index(kept) if kept in keys else 0)
        finally:
            self.list.blockSignals(False)
        count = len(self._approvals)
        self.setWindowTitle(f"{TITLE} ({count})" if count else TITLE)
        self._show_current()

    def count(self) -> int:
        return len(self._approvals)

    def current_key(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def current(self) -> Approval | None:
        key = self.current_key()
        return None if key is None else self._approvals.get(key)

    @Slot()
    def _show_current(self) -> None:
        approval = self.current()
        for button in (self.approve_button, self.reject_button):
            button.setEnabled(approval is not None)
        self.edit_button.setEnabled(approval is not None and approval.get("editable") is not None)
        self.header.setVisible(approval is not None)
        self.pages.setCurrentWidget(self.detail)
        if approval is None:
            self._show_text("", diff=False, fixed=False)
            self.note.hide()
            return
        where = [str(approval[k])
                 for k in ("track_id", "ticket_id", "tool", "path") if approval.get(k)]
        if approval.get("attempt"):
            where.append(f"attempt {approval['attempt']}")
        self.header.setText(" · ".join([str(approval.get("kind", "?")), *where]))
        if is_editable_spawn(approval):
            self._show_spawn(approval)
        elif approval.get("diff"):
            self._show_text(str(approval["diff"]), diff=True, fixed=True)
        elif approval.get("command"):
            self._show_text(str(approval["command"]), diff=False, fixed=True)
        else:
            self._show_text(str(approval.get("detail", "")), diff=False, fixed=False)
        note = str(approval.get("note") or "")
        self.note.setText(note)
        self.note.setVisible(bool(note))

    def _show_spawn(self, approval: Approval) -> None:
        """The spawn editor; the user's edits of this spawn stay while it is pending."""
        key = str(approval["key"])
        if key != self._spawn_key:
            self._keep_draft()
            self.spawn.load(approval, self._drafts.get(key))
            self._spawn_key = key
        self.pages.setCurrentWidget(self.spawn)

    def _keep_draft(self) -> None:
        if self._spawn_key is not None:
            self._drafts[self._spawn_key] = self.spawn.draft()

    def set_models(self, models: Sequence[str]) -> None:
        """The models a spawn may be given (the provider's Tier 3 models)."""
        self.spawn.set_models(models)

    @Slot()
    def _choose_ticket(self) -> None:
        approval = self.current()
        if approval is not None and approval.get("ticket_id"):
            self.ticketChosen.emit(str(approval["ticket_id"]))

    def _show_text(self, text: str, *, diff: bool, fixed: bool) -> None:
        self.highlighter.active = diff  # before the text goes in: it is highlighted then
        self.detail.setFont(fixed_font() if fixed else self.font())
        self.detail.setPlainText(text)

    # -- the user's answers --------------------------------------------------------------
    @Slot()
    def approve_current(self) -> None:
        approval = self.current()
        if approval is None:
            return
        key = str(approval["key"])
        edits = self.spawn.edits() if key == self._spawn_key else {}
        self.approveRequested.emit(key, edits or None)

    @Slot()
    def edit_current(self) -> None:
        """Open an editor on the approval's ``editable`` text; OK approves the edited text."""
        approval = self.current()
        if approval is None or approval.get("editable") is None:
            return
        dialog = TextDialog(
            str(approval["key"]), "Edit, then approve",
            f"{summary(approval)}: OK approves the text below.",
            str(approval["editable"]), multiline=True, parent=self,
        )
        dialog.setObjectName("approvalEditor")
        dialog.answered.connect(self._approve_edited)
        self._open(dialog)

    @Slot(str, str)
    def _approve_edited(self, key: str, text: str) -> None:
        self.approveRequested.emit(key, text)

    @Slot()
    def reject_current(self) -> None:
        """Ask an optional reason (the model reads it), then reject."""
        key = self.current_key()
        if key is None:
            return
        dialog = TextDialog(
            key, "Reject", f"Reject {key}. Reason (optional; the model is told):", parent=self,
        )
        dialog.setObjectName("rejectReason")
        dialog.answered.connect(self.rejectRequested)
        self._open(dialog)

    @staticmethod
    def _open(dialog: TextDialog) -> None:
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
