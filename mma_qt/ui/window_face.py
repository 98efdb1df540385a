"""The window's public face: the methods through which the hook (and app.py) drive the
window — start a run, press a named action, select a row, read and set a named field —
never its widgets. A mixin of :class:`~.main_window.MainWindow`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction

from .actions import FIELD_NAMES

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel

    from ..core.run.controller import Controller
    from .epic_panel import EpicPanel
    from .run_panel import RunPanel
    from .stream_view import StreamView


class WindowFace:
    if TYPE_CHECKING:
        controller: Controller
        epic_panel: EpicPanel
        run_panel: RunPanel
        stream_view: StreamView
        status_label: QLabel
        totals_label: QLabel
        actions_by_name: dict[str, QAction]

        def windowTitle(self) -> str: ...

    def fill_epic(self, epic: str | None, workspace: str | None) -> None:
        """Put the epic and the workspace a run is started with (the hook's) in the epic
        panel, so the window shows them and later runs and the history use them."""
        if epic is not None:
            self.epic_panel.set_epic(epic)
        if workspace is not None:
            self.epic_panel.set_workspace(workspace)

    def start(self, epic: str | None = None, workspace: str | None = None) -> None:
        """Start a run (raises ControllerError when it cannot start)."""
        self.fill_epic(epic, workspace)
        self.controller.start_epic(
            self.epic_panel.epic(), self.epic_panel.workspace(), auto=self.epic_panel.auto()
        )
        self.run_panel.show_stream(None)
        self.epic_panel.set_policy(self.controller.current_tool_policy)

    def set_auto(self, auto: bool) -> None:
        """Tick or untick Auto-approve: whether the next run asks before each spawn."""
        self.epic_panel.set_auto(auto)

    def set_workspace(self, folder: str) -> None:
        """The workspace folder of the next run (as if typed in the epic panel)."""
        self.epic_panel.set_workspace(folder)

    def action_names(self) -> list[str]:
        """Every named action (:data:`ACTION_NAMES` and those the panels add, e.g. ``plan``)."""
        return list(self.actions_by_name)

    def action_enabled(self, name: str) -> bool:
        """Whether the named action (:data:`ACTION_NAMES`) can be pressed now."""
        return self._named_action(name).isEnabled()

    def trigger_action(self, name: str, *, later: bool = False) -> None:
        """Press the named action, or, ``later``, once control is back in the event loop."""
        action = self._named_action(name)
        if later:
            QTimer.singleShot(0, action.trigger)
        else:
            action.trigger()

    def _named_action(self, name: str) -> QAction:
        action = self.actions_by_name.get(name)
        if action is None:
            raise KeyError(f"no action {name!r}; actions: {', '.join(self.action_names())}")
        return action

    def select(self, target: str) -> str:
        """Select a row by stream id, ticket id or tier label; return its stream id or label."""
        return self.run_panel.select(target)

    def field_value(self, name: str) -> Any:
        """The value of the named field (:data:`FIELD_NAMES`)."""
        if name == "stream_text":
            self.stream_view.flush()
            return self.stream_view.toPlainText()
        values: dict[str, Callable[[], Any]] = {
            "epic": self.epic_panel.epic,
            "workspace": self.epic_panel.workspace,
            "auto": self.epic_panel.auto,
            "tool_policy": self.epic_panel.policy,
            "status_text": self.status_label.text,
            "totals_text": self.totals_label.text,
            "title": self.windowTitle,
        }
        if name == "selected":
            return self.stream_view.stream_id
        if name not in values:
            raise KeyError(f"no field {name!r}")
        return values[name]()

    def set_field_value(self, name: str, value: Any) -> None:
        """Set a settable field: epic, workspace, auto (a bool) or selected (a row)."""
        if name == "auto" and not isinstance(value, bool):
            raise TypeError("auto takes true or false")
        setters: dict[str, Callable[[Any], object]] = {
            "epic": self.epic_panel.set_epic,
            "workspace": self.set_workspace,
            "auto": self.set_auto,
            "tool_policy": self.controller.set_tool_policy,
            "selected": self.select,
        }
        if name in setters:
            setters[name](value if name == "auto" else str(value))
        elif name in FIELD_NAMES:
            raise KeyError(f"field {name!r} is read-only")
        else:
            raise KeyError(f"no field {name!r}")

