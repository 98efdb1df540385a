"""The epic panel: what to build, where (the workspace folder), and whether to be asked."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .dialogs import browse_folder


class EpicPanel(QWidget):
    """The epic text, the workspace folder (typed or browsed) and the Auto-approve toggle."""

    #: Auto-approve was ticked or unticked (by the user or :meth:`set_auto`).
    autoToggled = Signal(bool)

    def __init__(self, *, auto: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.epic_edit = QPlainTextEdit()
        self.epic_edit.setPlaceholderText("Epic: what should the team build?")
        self.epic_edit.setFixedHeight(64)
        self.workspace_edit = QLineEdit()
        self.workspace_edit.setPlaceholderText("Workspace folder (default: current folder)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.auto_check = QCheckBox("Auto-approve spawns")
        self.auto_check.setChecked(auto)
        self.auto_check.toggled.connect(self.autoToggled)
        row = QHBoxLayout()
        row.addWidget(QLabel("Workspace"))
        row.addWidget(self.workspace_edit, 1)
        row.addWidget(browse)
        row.addWidget(self.auto_check)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.epic_edit)
        layout.addLayout(row)

    def epic(self) -> str:
        return self.epic_edit.toPlainText()

    def set_epic(self, epic: str) -> None:
        self.epic_edit.setPlainText(epic)

    def workspace(self) -> str:
        return self.workspace_edit.text()

    def set_workspace(self, folder: str) -> None:
        self.workspace_edit.setText(folder)

    def auto(self) -> bool:
        return self.auto_check.isChecked()

    def set_auto(self, auto: bool) -> None:
        self.auto_check.setChecked(auto)

    @Slot()
    def _browse(self) -> None:
        browse_folder(self, self.workspace_edit)
