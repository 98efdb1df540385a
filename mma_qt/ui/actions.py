"""The window's named actions, its Run menu, toolbar and View menu.

The names are the hook's: ``click NAME`` presses the action of that name, ``set_value`` and
``get_value`` read and set the :data:`FIELD_NAMES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow

#: Action names for the hook's ``click`` (see the README), in Run-menu order.
ACTION_NAMES = (
    "new_epic", "start", "pause", "resume", "cancel", "cancel_ticket", "merge_track",
    "approve", "reject", "expand_all", "settings", "close",
)
#: Field names for the hook's ``set_value``/``get_value``.
FIELD_NAMES = ("epic", "workspace", "auto", "tool_policy", "selected", "stream_text",
               "status_text", "totals_text", "title")
TOOLBAR_ACTIONS = (
    "new_epic", "start", "pause", "resume", "cancel", "cancel_ticket", "merge_track",
)


class ActionSpec(NamedTuple):
    name: str
    text: str
    slot: Callable[[], object]
    shortcut: QKeySequence.StandardKey | str = ""


def make_actions(window: QMainWindow, specs: Sequence[ActionSpec]) -> dict[str, QAction]:
    """One QAction per spec, owned by ``window``, named for the hook, by name."""
    actions: dict[str, QAction] = {}
    for spec in specs:
        action = QAction(spec.text, window)
        action.setObjectName(spec.name)
        if spec.shortcut:
            action.setShortcut(QKeySequence(spec.shortcut))
        action.triggered.connect(spec.slot)
        actions[spec.name] = action
    missing = set(ACTION_NAMES) - set(actions)
    if missing:
        raise ValueError(f"no spec for the actions {sorted(missing)}")
    return actions


def install_menus(window: QMainWindow, actions: dict[str, QAction]) -> None:
    """The Run toolbar and menu, and a View menu that brings a closed dock back."""
    toolbar = window.addToolBar("Run")
    toolbar.setObjectName("RunToolbar")
    for name in TOOLBAR_ACTIONS:
        toolbar.addAction(actions[name])
    menu = window.menuBar().addMenu("&Run")
    for name in ACTION_NAMES:
        menu.addAction(actions[name])
    view = window.menuBar().addMenu("&View")
    for dock in window.findChildren(QDockWidget):
        view.addAction(dock.toggleViewAction())
