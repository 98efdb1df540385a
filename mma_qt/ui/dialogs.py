"""Dialogs. Opened with ``open()`` (never ``exec()``), so no nested loop re-enters tasks."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


def fixed_font() -> QFont:
    """The system's monospace font (streams, diffs, commands)."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.Monospace)
    return font


def browse_folder(parent: QWidget, edit: QLineEdit) -> None:
    """Let the user pick a folder, starting from ``edit``'s; put the choice in ``edit``."""
    folder = QFileDialog.getExistingDirectory(parent, "Workspace", edit.text())
    if folder:
        edit.setText(folder)


def column(*widgets: QWidget, stretch: QWidget | None = None) -> QWidget:
    """The widgets one above the other, without margins; ``stretch`` takes the room left."""
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if widget is stretch else 0)
    return holder


def ok_cancel(dialog: QDialog) -> QDialogButtonBox:
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


class NewEpicDialog(QDialog):
    """The epic and its workspace folder; on OK emits ``chosen(epic, workspace)``."""

    chosen = Signal(str, str)

    def __init__(self, epic: str, workspace: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New epic")
        self.epic_edit = QPlainTextEdit(epic)
        self.epic_edit.setPlaceholderText("Describe the epic, e.g. add CSV export to reports")
        self.workspace_edit = QLineEdit(workspace)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.workspace_edit, 1)
        row.addWidget(browse)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Epic"))
        layout.addWidget(self.epic_edit)
        layout.addWidget(QLabel("Workspace folder"))
        layout.addLayout(row)
        layout.addWidget(ok_cancel(self))
        self.resize(560, 320)
        self.accepted.connect(self._choose)

    @Slot()
    def _browse(self) -> None:
        browse_folder(self, self.workspace_edit)

    @Slot()
    def _choose(self) -> None:
        self.chosen.emit(self.epic_edit.toPlainText(), self.workspace_edit.text())


class TextDialog(QDialog):
    """Asks for a text about one thing (``tag``, e.g. an approval's key): one line, or a
    monospace editor with ``multiline``. On OK emits ``answered(tag, text)``."""

    answered = Signal(str, str)

    def __init__(
        self,
        tag: str,
        title: str,
        label: str,
        text: str = "",
        *,
        multiline: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.tag = tag
        self._line: QLineEdit | None = None
        self._editor: QPlainTextEdit | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(label))
        if multiline:
            self._editor = QPlainTextEdit(text)
            self._editor.setFont(fixed_font())
            self._editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            layout.addWidget(self._editor, 1)
            self.resize(720, 480)
        else:
            self._line = QLineEdit(text)
            layout.addWidget(self._line)
            self.resize(480, 120)
        layout.addWidget(ok_cancel(self))
        self.accepted.connect(self._answer)

    def text(self) -> str:
        if self._editor is not None:
            return self._editor.toPlainText()
        assert self._line is not None
        return self._line.text()

    def set_text(self, text: str) -> None:
        if self._editor is not None:
            self._editor.setPlainText(text)
        else:
            assert self._line is not None
            self._line.setText(text)

    @Slot()
    def _answer(self) -> None:
        self.answered.emit(self.tag, self.text())
