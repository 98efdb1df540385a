"""What the window remembers between sessions (QSettings): its geometry, its docks and
toolbar, the run panel's splitter and the last workspace folder."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from .epic_panel import EpicPanel
from .run_panel import RunPanel


def restore_window(window: QMainWindow, run_panel: RunPanel, epic_panel: EpicPanel) -> None:
    settings = QSettings()
    saved = {key: settings.value(f"window/{key}") for key in ("geometry", "state", "splitter")}
    if not isinstance(saved["geometry"], QByteArray) or not window.restoreGeometry(
        saved["geometry"]
    ):
        window.resize(1200, 760)
    if isinstance(saved["state"], QByteArray):
        window.restoreState(saved["state"])
    if isinstance(saved["splitter"], QByteArray):
        run_panel.restoreState(saved["splitter"])
    workspace = settings.value("run/workspace", "")
    if isinstance(workspace, str) and not epic_panel.workspace():
        epic_panel.set_workspace(workspace)


def save_window(window: QMainWindow, run_panel: RunPanel, epic_panel: EpicPanel) -> None:
    settings = QSettings()
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState())
    settings.setValue("window/splitter", run_panel.saveState())
    settings.setValue("run/workspace", epic_panel.workspace())
    settings.sync()
