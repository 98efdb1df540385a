"""The window: model contract, in-place updates, stream view, settings, hook GUI methods."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QSettings
from PySide6.QtWidgets import QAbstractSlider

from mma_qt.core.live.streams import StreamHub
from mma_qt.core.model.domain import Ticket, Tier, Track, stream_id
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.providers.demo import DemoProviderFactory
from mma_qt.hooks.client import ApiHookClient, HookCallError
from mma_qt.ui.stream_view import StreamView
from mma_qt.ui.tree_model import COL_OUTPUT, COL_STATUS, StreamIdRole
from mma_qt.wiring import AppParts, assemble

from .conftest import close_app
from .helpers import FINAL, run_off_gui_thread, short_socket_path

pytestmark = pytest.mark.ui


def test_the_ui_tests_run_on_the_requested_qt_platform(qapp: Any) -> None:
    """Under .ci/run's X server, the window really is on xcb, not offscreen."""
    assert qapp.platformName() == os.environ["QT_QPA_PLATFORM"]


def run_to_end(demo_app: AppParts, qtbot: Any, workspace: Path) -> None:
    demo_app.window.start(sample_epic(), str(workspace))
    qtbot.waitUntil(lambda: demo_app.session.status in FINAL, timeout=60_000)


@pytest.mark.qt_log_level_fail("WARNING")  # QAbstractItemModelTester reports by warning
@pytest.mark.qt_log_ignore("propagateSizeHints")  # offscreen has no window manager hints
def test_model_passes_qtmodeltester_through_a_whole_run(
    demo_app: AppParts, qtbot: Any, qtmodeltester: Any, tmp_path: Path
) -> None:
    model = demo_app.window.model
    qtmodeltester.check(model)  # the C++ tester stays attached and checks every change
    run_to_end(demo_app, qtbot, tmp_path)
    qtmodeltester.check(model)
    tier3 = model.tier_index(Tier.WORKER)
    assert model.stream_rows(Tier.WORKER) == len(demo_app.session.tickets) >= 5
    track = model.index(0, 0, tier3)  # the tickets sit under their track's row
    first = model.index(0, 0, track)
    track_id = model.track_id(track)
    planned_first = next(t.id for t in demo_app.session.tickets.values()
                         if demo_app.session.records[stream_id(Tier.WORKER, t.id)].track_id
                         == track_id)
    assert first.data(StreamIdRole) == stream_id(Tier.WORKER, planned_first)
    assert model.parent(first) == track and model.parent(track) == tier3
    assert demo_app.window.tree.uniformRowHeights()


def test_live_updates_are_ranged_and_never_reset(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    model = demo_app.window.model
    resets: list[int] = []
    changes: list[tuple[QModelIndex, QModelIndex]] = []
    demo_app.window.start(sample_epic(), str(tmp_path))
    # Starting an epic resets the model once (a new tree); live updates never do.
    qtbot.waitUntil(lambda: demo_app.session.status != "idle", timeout=10_000)
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda tl, br, roles=(): changes.append((tl, br)))
    qtbot.waitUntil(lambda: demo_app.session.status in FINAL, timeout=60_000)
    model.flush()
    assert resets == []
    assert changes
    for top_left, bottom_right in changes:
        assert top_left.parent() == bottom_right.parent()
        assert top_left.row() <= bottom_right.row()
    # The Tier 3 row's output equals the sum over its tickets, as the hook reports it.
    tier3_output = sum(t.usage.output for t in demo_app.session.tickets.values())
    assert model.tier_index(Tier.WORKER, COL_OUTPUT).data() == str(tier3_output)


@pytest.mark.parametrize("demo_app", [0.01], indirect=True)
def test_stream_view_follows_the_tail_only_at_the_bottom(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    window = demo_app.window
    window.resize(900, 300)
    window.start(sample_epic(), str(tmp_path))
    qtbot.waitUntil(lambda: "T-001" in demo_app.session.tickets, timeout=30_000)
    window.select("T-001")
    view = window.stream_view
    assert view.stream_id == "Tier 3 (Worker): T-001"
    bar = view.verticalScrollBar()
    # Following is checked once the view has flushed text past the first screen; the wait
    # is on the condition itself, since a relayout may grow the range just after a flush.
    qtbot.waitUntil(lambda: bar.maximum() > 10 and view.at_bottom(), timeout=30_000)
    bar.triggerAction(QAbstractSlider.SliderAction.SliderToMinimum)  # the user scrolls up
    assert not view.following
    length = len(view.toPlainText())
    qtbot.waitUntil(lambda: len(view.toPlainText()) > length, timeout=30_000)
    assert bar.value() == 0
    qtbot.waitUntil(lambda: demo_app.session.status in FINAL, timeout=60_000)
    qtbot.waitUntil(
        lambda: view.toPlainText() == demo_app.session.hub.text("Tier 3 (Worker): T-001")
    )


def test_stream_view_keeps_following_when_it_is_resized(qtbot: Any) -> None:
    """A shorter view (a dock or the window resized, its layout settling) grows the scroll
    range with no new text; a view that was following keeps the tail in view, and follows
    until the user scrolls away, and again once they scroll back down."""
    hub = StreamHub()
    view = StreamView(hub)
    qtbot.addWidget(view)
    view.resize(600, 300)
    view.show()
    qtbot.waitExposed(view)
    view.show_stream("s")
    bar = view.verticalScrollBar()

    def write(lines: int) -> None:
        hub.write("s", "".join(f"line {i}\n" for i in range(lines)))
        hub.drain()
        view.flush()
        qtbot.waitUntil(lambda: view.toPlainText() == hub.text("s"))

    write(30)
    qtbot.waitUntil(lambda: bar.maximum() > 0 and view.at_bottom())
    view.resize(600, 150)
    write(3)
    qtbot.waitUntil(view.at_bottom)  # stuck above the tail before the fix
    bar.triggerAction(QAbstractSlider.SliderAction.SliderToMinimum)  # the user scrolls up
    write(3)
    assert (bar.value(), view.following) == (0, False)
    bar.triggerAction(QAbstractSlider.SliderAction.SliderToMaximum)  # and back down
    write(3)
    qtbot.waitUntil(view.at_bottom)
    assert view.following


def test_geometry_is_kept_in_qsettings(demo_app: AppParts, qtbot: Any, tmp_path: Path) -> None:
    demo_app.window.resize(710, 410)  # within the offscreen screen (800x600)
    demo_app.window.set_workspace(str(tmp_path))
    demo_app.window.close()
    settings = QSettings()
    assert settings.value("window/geometry") is not None
    assert settings.value("run/workspace") == str(tmp_path)
    again = assemble(
        DemoProviderFactory(delay=0), PricingTable.load(), RunOptions(), auto=True,
        hook_address=short_socket_path(),
    )
    try:
        assert again.window.size().width() == 710
        assert again.window.field_value("workspace") == str(tmp_path)
    finally:
        close_app(again, qtbot)


def test_demo_provider_is_clearly_labelled(demo_app: AppParts) -> None:
    assert "demo" in demo_app.window.windowTitle()
    assert "DEMO" in demo_app.window.provider_label.text()


def test_gui_automation_over_the_hook(demo_app: AppParts, qtbot: Any, tmp_path: Path) -> None:
    address = demo_app.hook.path

    def script() -> dict[str, Any]:
        with ApiHookClient(address) as client:
            described = client.call("describe")
            client.set_value("epic", "Add CSV export to the reports module")
            client.set_value("workspace", str(tmp_path))
            epic = client.get_value("epic")["value"]
            client.click("start")
            status = client.wait_for(lambda s: s["status"] in FINAL, 60, types=["status"])
            selected = client.select("T-002")["selected"]
            shown = client.get_value("stream_text")["value"]
            errors = {}
            for call, params in [
                ("click", {"name": "no_such_action"}),
                ("click", {"name": "pause"}),
                ("set_value", {"name": "title", "value": "x"}),
                ("select", {"target": "T-999"}),
                ("get_stream", {"stream_id": "nope"}),
                ("start_epic", {"epic": 42}),
                ("start_epic", {"epic": "x", "workspace": str(tmp_path / "missing")}),
            ]:
                try:
                    client.call(call, params)
                except HookCallError as exc:
                    errors[f"{call}:{next(iter(params.values()))}"] = exc.code
            stream = client.get_stream(selected, offset=10)
            return {"described": described, "epic": epic, "status": status,
                    "selected": selected, "shown": shown, "errors": errors,
                    "stream": stream}

    out = run_off_gui_thread(qtbot, script)
    assert "start" in out["described"]["actions"] and "epic" in out["described"]["fields"]
    assert out["epic"] == "Add CSV export to the reports module"
    assert out["status"]["status"] == "done"
    assert out["selected"] == "Tier 3 (Worker): T-002"
    full = out["status"]["mma_streams"]["Tier 3 (Worker): T-002"]
    assert out["shown"] == full
    assert out["stream"]["text"] == full[10:] and out["stream"]["length"] == len(full)
    assert out["errors"] == {
        "click:no_such_action": -32602,
        "click:pause": -32000,
        "set_value:title": -32602,
        "select:T-999": -32602,
        "get_stream:nope": -32602,
        "start_epic:42": -32602,
        "start_epic:x": -32000,
    }


def test_ticket_rows_show_their_ticket_status_from_the_plan_on(demo_app: AppParts) -> None:
    session = demo_app.session
    session.reset("epic", "/tmp")
    track = Track("TR-1", "Track")
    session.set_plan(track, [Ticket("T-001", "First"), Ticket("T-002", "Second", ("T-001",))])
    model = demo_app.window.model
    track = model.index(0, 0, model.tier_index(Tier.WORKER))
    shown = [model.index(row, COL_STATUS, track).data() for row in range(model.rowCount(track))]
    assert shown == ["todo", "todo"]


def test_selecting_a_stream_that_fills_the_view_shows_its_tail_and_follows_it(
    qtbot: Any,
) -> None:
    hub = StreamHub()
    line = "word " * 40 + "\n"
    hub.write("s", line * 20)
    hub.drain()
    view = StreamView(hub)
    qtbot.addWidget(view)
    view.resize(300, 200)
    view.show()
    view.show_stream("s")
    assert view.verticalScrollBar().maximum() > 10
    assert view.at_bottom()
    hub.write("s", line * 5)
    hub.drain()
    view.flush()
    assert view.at_bottom()


def test_the_stream_view_stays_at_the_tail_while_new_lines_are_laid_out(
    qtbot: Any, qapp: Any
) -> None:
    hub = StreamHub()
    view = StreamView(hub)
    qtbot.addWidget(view)
    view.resize(300, 200)
    with qtbot.waitExposed(view):
        view.show()
    view.show_stream("s")
    line = "word " * 30 + "\n"  # wraps: its height is known once it is laid out
    for lines in (1, 3, 30, 2):
        hub.write("s", line * lines)
        hub.drain()
        view.flush()
        qapp.processEvents()  # the view lays the new lines out, which moves its bar
        assert view.at_bottom(), lines
