"""A spawn approval, editable: what the Tier 3 worker will be told, before it starts.

The exact system text (read-only), the prompt (editable), the model (an editable choice)
and the context parts the prompt was assembled from, with their sizes. :meth:`edits`
gives only what the user changed, as ``resolve_approval``'s ``prompt`` and ``model``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from . import formatting
from .dialogs import column, fixed_font
from .forms import ModelCombo

CONTEXT_COLUMNS = ("Context part", "Chars", "Tokens", "Shared", "Cut")


class Draft(NamedTuple):
    """The user's unsent version of a spawn: kept while they look at another approval."""

    prompt: str
    model: str


def is_editable_spawn(approval: Mapping[str, Any]) -> bool:
    """A spawn approval that carries what the worker will get (prompt, system, model)."""
    return approval.get("kind") == "spawn" and approval.get("prompt") is not None


class SpawnEditor(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._original = Draft("", "")
        self.system = QPlainTextEdit()
        self.system.setObjectName("spawnSystem")
        self.system.setReadOnly(True)
        self.system.setToolTip("The system text the worker gets, exactly (read-only)")
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("spawnPrompt")
        self.prompt.setToolTip("The prompt the worker gets, verbatim: edit it, then Approve")
        for editor in (self.system, self.prompt):
            editor.setFont(fixed_font())
            editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.model = ModelCombo([])
        self.model.setObjectName("spawnModel")
        self.model.setToolTip("The model of this attempt: one of the provider's, or type one")
        self.edited = QLabel("edited")
        self.edited.setStyleSheet("color: #ef6c00;")
        self.edited.hide()
        self.context = self._context_table()
        self.prompt.textChanged.connect(self._show_edited)
        self.model.currentTextChanged.connect(self._show_edited)
        self._lay_out()

    def _context_table(self) -> QTableWidget:
        table = QTableWidget(0, len(CONTEXT_COLUMNS))
        table.setObjectName("spawnContext")
        table.setHorizontalHeaderLabels(list(CONTEXT_COLUMNS))
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 6)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(CONTEXT_COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        table.setToolTip("What the prompt was assembled from; shared parts are the same for "
                         "every ticket of the track (the cached prefix)")
        return table

    def _lay_out(self) -> None:
        model_row = QHBoxLayout()
        model_row.addWidget(QLabel("Model"))
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.edited)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(column(QLabel("System (read-only)"), self.system,
                                  stretch=self.system))
        splitter.addWidget(column(QLabel("Prompt"), self.prompt, stretch=self.prompt))
        splitter.addWidget(self.context)
        for index, stretch in enumerate((1, 3, 1)):  # the prompt gets the room
            splitter.setStretchFactor(index, stretch)
        splitter.setSizes([90, 270, 90])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(model_row)
        layout.addWidget(splitter, 1)

    def set_models(self, models: Sequence[str]) -> None:
        """The provider's models to offer (any other name can be typed)."""
        current = self.model.chosen()
        self.model.clear()
        self.model.addItems(list(models))
        self.model.set_model(current)

    def load(self, approval: Mapping[str, Any], draft: Draft | None = None) -> None:
        """Show ``approval``; ``draft``: the user's unsent edits of it."""
        self._original = Draft(str(approval.get("prompt") or ""),
                               str(approval.get("model") or ""))
        shown = draft or self._original
        self.system.setPlainText(str(approval.get("system") or ""))
        self.prompt.setPlainText(shown.prompt)
        self.model.set_model(shown.model)
        self._show_context(approval.get("context") or [])
        self._show_edited()

    def _show_context(self, parts: Sequence[Mapping[str, Any]]) -> None:
        self.context.setRowCount(len(parts))
        for row, part in enumerate(parts):
            cells = (
                str(part.get("name", "")),
                f"{int(part.get('chars', 0)):,}",
                formatting.tokens(int(part.get("tokens", 0))),
                "shared" if part.get("shared") else "",
                "cut" if part.get("truncated") else "",
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col in (1, 2):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.context.setItem(row, col, item)

    def draft(self) -> Draft:
        return Draft(self.prompt.toPlainText(), self.model.chosen())

    def edits(self) -> dict[str, str]:
        """Only what changed: ``{"prompt": ..., "model": ...}``, either or none."""
        draft, original = self.draft(), self._original
        changed: dict[str, str] = {}
        if draft.prompt != original.prompt:
            changed["prompt"] = draft.prompt
        if draft.model and draft.model != original.model:
            changed["model"] = draft.model
        return changed

    @Slot()
    def _show_edited(self) -> None:
        self.edited.setVisible(bool(self.edits()))
