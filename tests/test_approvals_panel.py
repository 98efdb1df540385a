"""The Approvals dock: the list (oldest first, counted in the title), the detail pane
(coloured diff, command, note, detail) and the intents it emits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLineEdit, QPlainTextEdit

from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.model.status import ToolPolicy
from mma_qt.ui.approvals_panel import ApprovalsPanel
from mma_qt.ui.dialogs import TextDialog, fixed_font
from mma_qt.ui.diff_highlighter import ADDED, HUNK, REMOVED
from mma_qt.wiring import AppParts

from .helpers import FINAL

pytestmark = pytest.mark.ui

DIFF = """--- a/src/report.py
+++ b/src/report.py
@@ -1,3 +1,3 @@
 import csv
-def export(rows):
+def export(rows, path):
     pass
"""

EDIT = {
    "key": "T-003:tool:1", "kind": "tool", "ticket_id": "T-003", "tool": "write_file",
    "path": "src/report.py", "diff": DIFF, "editable": "def export(rows, path):\n    pass\n",
    "detail": "write_file src/report.py",
}
COMMAND = {
    "key": "T-004:tool:1", "kind": "tool", "ticket_id": "T-004", "tool": "run_command",
    "command": "python -m pytest -q", "note": "runs unconfined: bubblewrap is missing",
    "editable": "python -m pytest -q", "detail": "run_command",
}
SPAWN = {"key": "T-001:spawn", "kind": "spawn", "ticket_id": "T-001",
         "detail": "Tier 3 worker for T-001: Add the CSV writer"}


@pytest.fixture
def panel(qtbot: Any) -> ApprovalsPanel:
    widget = ApprovalsPanel()
    qtbot.addWidget(widget)
    return widget


def line_colours(view: QPlainTextEdit) -> dict[str, str | None]:
    """Each line's foreground colour as the highlighter laid it out (None: plain)."""
    colours: dict[str, str | None] = {}
    block = view.document().begin()
    while block.isValid():
        formats = block.layout().formats()
        colours[block.text()] = formats[0].format.foreground().color().name() if formats else None
        block = block.next()
    return colours


def dialog_named(panel: ApprovalsPanel, name: str) -> TextDialog:
    dialog = panel.findChild(TextDialog, name)
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_the_panel_shows_a_diff_with_coloured_lines(panel: ApprovalsPanel, qtbot: Any) -> None:
    panel.set_approvals([EDIT])
    assert panel.detail.toPlainText() == DIFF
    qtbot.waitUntil(lambda: line_colours(panel.detail)["+def export(rows, path):"] is not None)
    colours = line_colours(panel.detail)
    assert colours["+def export(rows, path):"] == ADDED.name()
    assert colours["-def export(rows):"] == REMOVED.name()
    assert colours["@@ -1,3 +1,3 @@"] == HUNK.name()
    assert colours[" import csv"] is None
    assert panel.detail.font().family() == fixed_font().family()
    assert "write_file" in panel.header.text() and "src/report.py" in panel.header.text()


def test_a_spawn_shows_its_detail_uncoloured(panel: ApprovalsPanel, qtbot: Any) -> None:
    panel.set_approvals([EDIT])
    panel.set_approvals([SPAWN])
    assert panel.detail.toPlainText() == SPAWN["detail"]
    assert set(line_colours(panel.detail).values()) == {None}


def test_a_command_shows_with_its_note(panel: ApprovalsPanel) -> None:
    panel.set_approvals([COMMAND])
    assert panel.detail.toPlainText() == "python -m pytest -q"
    assert panel.detail.font().family() == fixed_font().family()
    assert not panel.note.isHidden()
    assert "bubblewrap" in panel.note.text()


def test_the_title_counts_pending_approvals_listed_oldest_first(panel: ApprovalsPanel) -> None:
    assert panel.windowTitle() == "Approvals"
    panel.set_approvals([SPAWN, EDIT, COMMAND])
    assert panel.windowTitle() == "Approvals (3)"
    keys = [panel.list.item(row).data(Qt.ItemDataRole.UserRole) for row in range(3)]
    assert keys == ["T-001:spawn", "T-003:tool:1", "T-004:tool:1"]
    panel.list.setCurrentRow(1)
    panel.set_approvals([EDIT, COMMAND])  # the oldest was answered: the selection stays
    assert panel.current_key() == "T-003:tool:1"
    panel.set_approvals([])
    assert panel.windowTitle() == "Approvals"
    assert not panel.approve_button.isEnabled() and not panel.reject_button.isEnabled()


def test_edit_is_enabled_only_when_the_approval_has_editable_text(
    panel: ApprovalsPanel,
) -> None:
    panel.set_approvals([SPAWN, EDIT])
    assert panel.current_key() == "T-001:spawn"
    assert panel.approve_button.isEnabled()
    assert not panel.edit_button.isEnabled()
    panel.list.setCurrentRow(1)
    assert panel.edit_button.isEnabled()


def test_approve_sends_the_key_and_no_edit(panel: ApprovalsPanel, qtbot: Any) -> None:
    panel.set_approvals([SPAWN])
    with qtbot.waitSignal(panel.approveRequested) as signal:
        qtbot.mouseClick(panel.approve_button, Qt.MouseButton.LeftButton)
    assert signal.args == ["T-001:spawn", None]


def test_edit_then_ok_approves_the_edited_text(panel: ApprovalsPanel, qtbot: Any) -> None:
    panel.set_approvals([EDIT])
    qtbot.mouseClick(panel.edit_button, Qt.MouseButton.LeftButton)
    editor = dialog_named(panel, "approvalEditor")
    assert editor.text() == EDIT["editable"]
    editor.set_text("def export(rows, path, dialect):\n    pass\n")
    with qtbot.waitSignal(panel.approveRequested) as signal:
        editor.accept()
    assert signal.args == ["T-003:tool:1", "def export(rows, path, dialect):\n    pass\n"]


def test_reject_asks_a_reason_and_sends_it(panel: ApprovalsPanel, qtbot: Any) -> None:
    panel.set_approvals([COMMAND])
    qtbot.mouseClick(panel.reject_button, Qt.MouseButton.LeftButton)
    prompt = dialog_named(panel, "rejectReason")
    line = prompt.findChild(QLineEdit)
    assert line is not None
    qtbot.keyClicks(line, "run the unit tests only")
    with qtbot.waitSignal(panel.rejectRequested) as signal:
        prompt.accept()
    assert signal.args == ["T-004:tool:1", "run the unit tests only"]


def test_cancelling_the_reason_prompt_rejects_nothing(panel: ApprovalsPanel, qtbot: Any) -> None:
    panel.set_approvals([COMMAND])
    sent: list[tuple[str, str]] = []
    panel.rejectRequested.connect(lambda key, reason: sent.append((key, reason)))
    qtbot.mouseClick(panel.reject_button, Qt.MouseButton.LeftButton)
    prompt = dialog_named(panel, "rejectReason")
    with qtbot.waitSignal(prompt.finished):
        prompt.reject()
    assert sent == []


@pytest.mark.parametrize("demo_app", [0.002], indirect=True)
def test_a_spawn_approved_in_the_dock_runs_and_the_dock_title_counts(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    window, controller = demo_app.window, demo_app.controller
    dock = window.findChild(QDockWidget, "ApprovalsDock")
    assert dock is not None
    window.set_auto(False)  # spawns wait for the user
    controller.set_tool_policy(ToolPolicy.AUTO)  # the worker's own tool calls do not
    window.start(sample_epic(), str(tmp_path))
    qtbot.waitUntil(lambda: dock.windowTitle().startswith("Approvals ("), timeout=30_000)
    key = window.approvals.current_key()  # the root of the track planned first
    assert key in ("T-001:spawn", "T-007:spawn", "T-009:spawn")
    assert window.action_enabled("approve")
    qtbot.mouseClick(window.approvals.approve_button, Qt.MouseButton.LeftButton)
    ticket_id = key.split(":")[0]
    qtbot.waitUntil(
        lambda: demo_app.session.tickets[ticket_id].status.value == "completed", timeout=30_000
    )
    controller.cancel()
    qtbot.waitUntil(lambda: demo_app.session.status in FINAL, timeout=30_000)
    qtbot.waitUntil(lambda: dock.windowTitle() == "Approvals")
    assert not window.action_enabled("approve")
