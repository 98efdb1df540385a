"""What the window remembers between sessions (QSettings): its geometry, its docks and
toolbar, the run panel's splitter and the last workspace folder. On a first start (nothing
saved) the window takes 80 % of the screen, centred, and the tree as much width as its
columns need."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt
from PySide6.QtWidgets import QMainWindow, QStyle, QWidget

from .epic_panel import EpicPanel
from .run_panel import RunPanel
from .tree_columns import TREE_SHARE

#: A first start (no saved geometry) opens the window on this share of the screen.
SCREEN_SHARE = 0.8


def restore_window(window: QMainWindow, run_panel: RunPanel, epic_panel: EpicPanel) -> None:
    settings = QSettings()
    saved = {key: settings.value(f"window/{key}") for key in ("geometry", "state", "splitter")}
    if not isinstance(saved["geometry"], QByteArray) or not window.restoreGeometry(
        saved["geometry"]
    ):
        first_start_geometry(window)
    if isinstance(saved["state"], QByteArray):
        window.restoreState(saved["state"])
    if isinstance(saved["splitter"], QByteArray):
        run_panel.columns.split_by_user = run_panel.restoreState(saved["splitter"])
    else:  # the tree as wide as its columns need, the stream beside it at least a third
        tree = min(run_panel.columns.tree_width(), int(window.width() * TREE_SHARE))
        run_panel.setSizes([tree, max(window.width() - tree, 1)])
    workspace = settings.value("run/workspace", "")
    if isinstance(workspace, str) and not epic_panel.workspace():
        epic_panel.set_workspace(workspace)


def first_start_geometry(window: QWidget) -> None:
    """About :data:`SCREEN_SHARE` of the screen's available area, centred on it."""
    available = window.screen().availableGeometry()
    size = QSize(int(available.width() * SCREEN_SHARE), int(available.height() * SCREEN_SHARE))
    size = size.expandedTo(window.minimumSizeHint()).boundedTo(available.size())
    window.setGeometry(QStyle.alignedRect(
        Qt.LayoutDirection.LeftToRight, Qt.AlignmentFlag.AlignCenter, size, available))


def save_window(window: QMainWindow, run_panel: RunPanel, epic_panel: EpicPanel) -> None:
    settings = QSettings()
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState())
    settings.setValue("window/splitter", run_panel.saveState())
    settings.setValue("run/workspace", epic_panel.workspace())
    settings.sync()
