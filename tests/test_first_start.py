"""A first start (no saved QSettings): the window's size and place, the tree's columns, and
the stream panel following the run until the user picks a row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QTreeView

from mma_qt.core.model.domain import Tier
from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.model.status import StreamStatus, TicketStatus
from mma_qt.core.model.usage import Usage
from mma_qt.ui.tree_model import COL_NAME, NUMERIC, TIER_TITLES, MmaTreeModel
from mma_qt.wiring import AppParts

from .helpers import FINAL

pytestmark = pytest.mark.ui


def rows(model: MmaTreeModel, parent: QModelIndex = QModelIndex()) -> list[QModelIndex]:
    found = []
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        found += [index, *rows(model, index)]
    return found


def overflow(tree: QTreeView, index: QModelIndex) -> int:
    """How many pixels the cell's text lacks to be shown whole (<= 0: it fits)."""
    header = tree.header()
    column = index.column()
    text = str(index.data() or "")
    left = tree.visualRect(index).left() if column == COL_NAME else header.sectionViewportPosition(
        column)
    right = header.sectionViewportPosition(column) + header.sectionSize(column)
    return left + tree.fontMetrics().horizontalAdvance(text) + 6 - right


def test_first_start_opens_on_80_percent_of_the_screen_centred(demo_app: AppParts) -> None:
    window = demo_app.window
    available = window.screen().availableGeometry()
    size = window.geometry().size()
    # 80 % of the screen, unless that is below what the window's docks need at least.
    least = window.minimumSizeHint()
    assert abs(size.width() - max(0.8 * available.width(), least.width())) <= 2
    assert abs(size.height() - max(0.8 * available.height(), least.height())) <= 2
    centre, middle = window.geometry().center(), available.center()
    assert abs(centre.x() - middle.x()) <= 2 and abs(centre.y() - middle.y()) <= 2


def test_first_start_columns_fit_the_tier_titles_and_the_numbers(
    demo_app: AppParts, qtbot: Any
) -> None:
    window, tree, model = demo_app.window, demo_app.window.tree, demo_app.window.model
    window.resize(600, 500)  # a small screen's window: the tree gets a narrow share
    session = demo_app.session
    session.reset("epic", "/tmp")
    record = session.open_stream(Tier.ORCHESTRATOR)
    session.add_usage(record.stream_id, "demo-orchestrator",
                      Usage(input=987_654, output=876_543, cache_read=765_432))
    model.flush()
    assert model.tier_index(Tier.WORKER).data() == TIER_TITLES[Tier.WORKER] == "Tier 3 · Workers"
    tiers = [model.tier_index(tier, column) for tier in Tier for column in (COL_NAME, *NUMERIC)]
    assert "987.7k" in {str(cell.data()) for cell in tiers}
    qtbot.waitUntil(lambda: all(overflow(tree, cell) <= 0 for cell in tiers), timeout=5_000)
    for column in NUMERIC:
        width = tree.fontMetrics().horizontalAdvance(str(model.headerData(column, 1)))
        assert tree.header().sectionSize(column) >= width


def test_columns_fit_ticket_titles_and_numbers_through_a_run(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    window, tree, model = demo_app.window, demo_app.window.tree, demo_app.window.model
    window.start(sample_epic(), str(tmp_path))
    qtbot.waitUntil(lambda: demo_app.session.status in FINAL, timeout=60_000)
    model.flush()
    assert model.stream_rows(Tier.WORKER) >= 5
    # Tier 1 and 2 rows, and track rows, are named after the epic and the track: elided,
    # not fitted.
    named = [model.tier_index(tier) for tier in Tier]
    named += [index for tier in (Tier.WORKER, Tier.QA)
              for index in rows(model, named[tier - 1]) if model.record(index) is not None]
    cells = [idx.siblingAtColumn(c) for idx in named for c in (COL_NAME, *NUMERIC)]
    cells += [idx.siblingAtColumn(c) for idx in rows(model) for c in NUMERIC]

    def all_fit() -> bool:
        return all(overflow(tree, cell) <= 0 for cell in cells)

    qtbot.waitUntil(all_fit, timeout=5_000)
    assert "T-004: Write unit tests for the model and the export" in {
        str(c.data()) for c in cells}


def test_a_column_the_user_resized_stays_as_they_left_it(demo_app: AppParts) -> None:
    tree = demo_app.window.tree
    columns = demo_app.window.run_panel.columns
    tree.header().resizeSection(COL_NAME, 90)  # as dragging the header's handle does
    columns.fit()
    assert tree.header().sectionSize(COL_NAME) == 90 and COL_NAME in columns.user_sized


@pytest.mark.parametrize("demo_app", [0.005], indirect=True)
def test_stream_panel_follows_the_stream_started_last_until_the_user_picks_a_row(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    window, session = demo_app.window, demo_app.session
    running = (StreamStatus.RUNNING, TicketStatus.IN_PROGRESS)
    started: list[str] = []

    def on_changed(sid: str) -> None:
        if session.records[sid].status in running and sid not in started:
            started.append(sid)

    session.streamChanged.connect(on_changed)
    window.start(sample_epic(), str(tmp_path))
    qtbot.waitUntil(lambda: any(s.startswith("Tier 3") for s in started), timeout=30_000)
    follower = window.run_panel.follower
    assert follower.following
    shown = window.stream_view.stream_id
    assert shown is not None and session.records[shown].status in running
    assert shown == [s for s in started if session.records[s].status in running][-1]
    assert window.run_panel.stream_title.text() == shown

    window.select("Tier 1")  # the user's choice
    chosen = len(started)
    qtbot.waitUntil(lambda: len(started) > chosen + 1, timeout=30_000)
    assert window.stream_view.stream_id == "Tier 1" and not follower.following
    qtbot.waitUntil(lambda: session.status in FINAL, timeout=60_000)
    session.streamChanged.disconnect(on_changed)
    assert window.stream_view.stream_id == "Tier 1"
