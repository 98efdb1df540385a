"""The epic panel: what to build, where (the workspace folder), and whether to be asked:
before each spawn (Auto-approve spawns) and before tool calls (the tool policy)."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.model.status import ToolPolicy
from .dialogs import browse_folder

#: What each tool policy means, shown in the selector.
POLICY_LABELS = {
    ToolPolicy.ASK: "ask before every change",
    ToolPolicy.AUTO_EDITS: "auto-edits (target files)",
    ToolPolicy.AUTO: "auto (everything)",
}


class EpicPanel(QWidget):
    """The epic text, the workspace folder (typed or browsed), the Auto-approve toggle and
    the tool policy selector."""

    #: Auto-approve was ticked or unticked (by the user or :meth:`set_auto`).
    autoToggled = Signal(bool)
    #: The user chose a tool policy (its value); not emitted by :meth:`set_policy`.
    policyChosen = Signal(str)

    def __init__(self, *, auto: bool, policy: ToolPolicy = ToolPolicy.ASK,
                 parent: QWidget | None = None) -> None:
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
        self.policy_combo = QComboBox()
        self.policy_combo.setObjectName("toolPolicy")
        self.policy_combo.setToolTip("Tool calls that change the workspace: which are "
                                     "approved without asking (this run and the next)")
        for value, label in POLICY_LABELS.items():
            self.policy_combo.addItem(label, str(value))
        self.set_policy(policy)
        self.policy_combo.activated.connect(self._on_policy_activated)
        row = QHBoxLayout()
        row.addWidget(QLabel("Workspace"))
        row.addWidget(self.workspace_edit, 1)
        row.addWidget(browse)
        row.addWidget(self.auto_check)
        row.addWidget(QLabel("Tools"))
        row.addWidget(self.policy_combo)
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

    def policy(self) -> str:
        return str(self.policy_combo.currentData())

    def set_policy(self, policy: ToolPolicy | str) -> None:
        """Show ``policy`` (a known value) as chosen, without emitting policyChosen."""
        self.policy_combo.setCurrentIndex(self.policy_combo.findData(str(ToolPolicy(policy))))

    @Slot(int)
    def _on_policy_activated(self, index: int) -> None:
        self.policyChosen.emit(str(self.policy_combo.itemData(index)))

    @Slot()
    def _browse(self) -> None:
        browse_folder(self, self.workspace_edit)
