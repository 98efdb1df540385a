"""The widgets of a past run viewed read-only: the banner above its tree ("viewing run N
from DATE — read-only", Resume, Re-run…, Back to the live run) and the dialog of a re-run
from history (the ticket's prompt as it was sent, and its model, both editable)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from ..core.history.store import PastRun
from .forms import ModelCombo, error_label, show_error

BANNER_STYLE = ("QFrame#pastBanner { background: #e3f2fd; border: 1px solid #90caf9; }"
                " QLabel { color: #0d47a1; font-weight: bold; }")


class PastBanner(QFrame):
    """Says which past run is shown, read-only; offers Resume (an interrupted, failed or
    cancelled run), Re-run… (the selected Tier 3 ticket) and the way back."""

    backRequested = Signal()
    resumeRequested = Signal()
    rerunRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pastBanner")
        self.setStyleSheet(BANNER_STYLE)
        self.label = QLabel()
        self.label.setObjectName("pastRunLabel")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Run this run's unfinished tickets in a new run")
        self.resume_button.clicked.connect(self.resumeRequested)
        self.rerun_button = QPushButton("Re-run ticket…")
        self.rerun_button.setToolTip("Run the selected ticket again, with an edited prompt "
                                     "or model, in a new run")
        self.rerun_button.clicked.connect(self.rerunRequested)
        self.back_button = QPushButton("Back to the live run")
        self.back_button.clicked.connect(self.backRequested)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 3, 6, 3)
        row.addWidget(self.label, 1)
        for button in (self.resume_button, self.rerun_button, self.back_button):
            row.addWidget(button)
        self.set_ticket(None)

    def show_run(self, past: PastRun, date: str, *, resumable: bool) -> None:
        status = past.document["status"]
        self.label.setText(f"Viewing run {past.run_id} from {date} — read-only ({status})")
        self.resume_button.setEnabled(resumable)
        self.set_ticket(None)

    def set_ticket(self, ticket_id: str | None) -> None:
        """The Tier 3 ticket selected in the past run's tree (None: none)."""
        self.rerun_button.setEnabled(ticket_id is not None)
        self.rerun_button.setText(f"Re-run {ticket_id}…" if ticket_id else "Re-run ticket…")


class RerunDialog(QDialog):
    """The prompt and model of a re-run; ``chosen(ticket_id, model, prompt)`` on OK."""

    chosen = Signal(str, str, str)

    def __init__(self, ticket_id: str, prompt: str, model: str, models: Sequence[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rerunDialog")
        self.setWindowTitle(f"Re-run {ticket_id} in a new run")
        self.ticket_id = ticket_id
        self.prompt = QPlainTextEdit(prompt)
        self.prompt.setObjectName("rerunPrompt")
        self.model = ModelCombo([*models, *([model] if model and model not in models else [])],
                                model)
        self.model.setObjectName("rerunModel")
        self.error = error_label()
        self.buttons = buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                                  | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._on_ok)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(QLabel("The prompt as it was sent; edit it, or the model, and run the "
                           "ticket again as a new attempt. The past run stays as it was."))
        form.addRow("Model", self.model)
        form.addRow("Prompt", self.prompt)
        form.addRow(self.error)
        form.addRow(buttons)
        self.resize(720, 520)

    @Slot()
    def _on_ok(self) -> None:
        prompt, model = self.prompt.toPlainText(), self.model.chosen()
        if not prompt.strip():
            show_error(self.error, "The prompt is empty")
            return
        if not model:
            show_error(self.error, "Choose a model")
            return
        self.chosen.emit(self.ticket_id, model, prompt)
        self.accept()
