"""Dialogs. Opened with ``open()`` (never ``exec()``), so no nested loop re-enters tasks."""

from __future__ import annotations

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


class NewEpicDialog(QDialog):
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
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Epic"))
        layout.addWidget(self.epic_edit)
        layout.addWidget(QLabel("Workspace folder"))
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.resize(560, 320)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Workspace", self.workspace_edit.text())
        if folder:
            self.workspace_edit.setText(folder)
