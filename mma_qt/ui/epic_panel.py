"""The epic panel: what to build, where (the workspace folder), and whether to be asked:
before each spawn (the mode: Step or Auto) and before tool calls (the tool policy)."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.model.status import RunMode, ToolPolicy
from .dialogs import browse_folder

#: What each tool policy means, shown in the selector.
POLICY_LABELS = {
    ToolPolicy.ASK: "ask before every change",
    ToolPolicy.AUTO_EDITS: "auto-edits (target files)",
    ToolPolicy.AUTO: "auto (everything)",
}


class EpicPanel(QWidget):
    """The epic text, the workspace folder (typed or browsed), the mode toggle (Step: every
    spawn waits for approval; Auto: none does) and the tool policy selector."""

    #: The mode changed to Auto (True) or Step (False), by the user, :meth:`set_auto` or
    #: :meth:`show_mode`.
    autoToggled = Signal(bool)
    #: The user chose a mode (its value), or :meth:`set_auto` did; not :meth:`show_mode`.
    modeChosen = Signal(str)
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
        self.mode_buttons = self._mode_toggle(auto)
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
        row.addWidget(QLabel("Mode"))
        for button in self.mode_buttons.values():
            row.addWidget(button)
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

    def _mode_toggle(self, auto: bool) -> dict[RunMode, QToolButton]:
        tips = {RunMode.STEP: "Step: every spawn waits for your approval (you can edit its "
                              "prompt and model)",
                RunMode.AUTO: "Auto: spawns start at once (tickets marked Step still wait)"}
        self._mode_group = QButtonGroup(self)
        buttons: dict[RunMode, QToolButton] = {}
        for mode in RunMode:
            button = QToolButton()
            button.setObjectName(f"mode_{mode}")
            button.setText(mode.label.capitalize())
            button.setCheckable(True)
            button.setAutoRaise(False)
            button.setToolTip(tips[mode] + " — this run and the next")
            self._mode_group.addButton(button)
            buttons[mode] = button
        buttons[RunMode.AUTO if auto else RunMode.STEP].setChecked(True)
        self._mode_group.buttonClicked.connect(self._on_mode_clicked)
        self._mode_group.buttonToggled.connect(self._on_mode_toggled)
        return buttons

    def mode(self) -> RunMode:
        return RunMode.AUTO if self.mode_buttons[RunMode.AUTO].isChecked() else RunMode.STEP

    def show_mode(self, mode: RunMode | str) -> None:
        """Show ``mode`` as the current one (the controller's), without emitting modeChosen."""
        self.mode_buttons[RunMode(mode)].setChecked(True)

    def auto(self) -> bool:
        return self.mode() is RunMode.AUTO

    def set_auto(self, auto: bool) -> None:
        """Choose Auto or Step, as the user would (emits modeChosen)."""
        self.show_mode(RunMode.AUTO if auto else RunMode.STEP)
        self.modeChosen.emit(str(self.mode()))

    @Slot(QAbstractButton)
    def _on_mode_clicked(self, button: QAbstractButton) -> None:
        self.modeChosen.emit(str(self.mode()))

    @Slot(QAbstractButton, bool)
    def _on_mode_toggled(self, button: QAbstractButton, checked: bool) -> None:
        if checked:
            self.autoToggled.emit(button is self.mode_buttons[RunMode.AUTO])

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
