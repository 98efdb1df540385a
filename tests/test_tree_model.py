"""The tree model on node objects: a third level (tracks), ranged updates per parent,
stale indexes, colours by status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QModelIndex, Qt

from mma_qt.core.live.session import MmaSession
from mma_qt.core.model.bundled import bundled
from mma_qt.core.model.domain import Ticket, Tier, Track, stream_id
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.model.status import RunStatus, StreamStatus, TicketStatus, TrackStatus
from mma_qt.core.model.usage import Usage
from mma_qt.core.providers.demo import DemoProviderFactory, Scenario
from mma_qt.ui import formatting
from mma_qt.ui.tree_model import (
    COL_COST,
    COL_ELAPSED,
    COL_INPUT,
    COL_NAME,
    COL_OUTPUT,
    COL_STATUS,
    STATUS_COLORS,
    MmaTreeModel,
    StatusRole,
    StreamIdRole,
)
from mma_qt.wiring import AppParts, assemble

from .conftest import close_app
from .helpers import short_socket_path

#: QAbstractItemModelTester reports a broken model contract as a Qt warning: fail on it.
#: (The offscreen platform warns that it has no window manager hints; that is no failure.)
pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints"),
]
SCENARIOS = Path(str(bundled("scenarios")))
GROUPED = (Tier.WORKER, Tier.QA)


@pytest.fixture
def session(qapp: QCoreApplication) -> Iterator[MmaSession]:
    session = MmaSession(PricingTable.load(), "test")
    session.reset("epic", "/tmp")
    yield session
    if shiboken6.isValid(session):
        shiboken6.delete(session)  # with its models: their timers stop on this thread


@pytest.fixture
def flaky_app(qtbot: Any, qloop: object) -> Iterator[AppParts]:
    """The real app on the demo provider, T-003 failing once so QA (Tier 4) runs too."""
    parts = assemble(
        DemoProviderFactory(delay=0, scenario=Scenario.load(SCENARIOS / "flaky-worker.toml")),
        PricingTable.load(), RunOptions(), auto=True, hook_address=short_socket_path(),
    )
    parts.window.show()
    yield parts
    close_app(parts, qtbot)


def two_tracks(session: MmaSession) -> None:
    parser, writer = Track("TR-1", "Parser"), Track("TR-2", "Writer")
    session.set_tracks([parser, writer])
    session.set_plan(parser, [Ticket("T-001", "Lexer"), Ticket("T-002", "Grammar", ("T-001",))])
    session.set_plan(writer, [Ticket("T-003", "Output")])


def names(model: MmaTreeModel, parent: QModelIndex) -> list[str]:
    return [model.index(row, COL_NAME, parent).data() for row in range(model.rowCount(parent))]


@pytest.mark.ui
def test_track_rows_pass_qtmodeltester_through_a_whole_run(
    flaky_app: AppParts, qtbot: Any, qtmodeltester: Any, tmp_path: Path
) -> None:
    session = flaky_app.session
    model = MmaTreeModel(session, flaky_app.window, track_tiers=GROUPED)
    qtmodeltester.check(model)  # stays attached: checks every insert at every level
    flaky_app.window.start(sample_epic(), str(tmp_path))
    qtbot.waitUntil(lambda: session.status.is_final, timeout=60_000)
    model.flush()
    qtmodeltester.check(model)
    assert session.status is RunStatus.DONE
    tier3 = model.tier_index(Tier.WORKER)
    # The demo's tracks, in the order their plans came in.
    assert sorted(names(model, tier3)) == sorted(f"{t.id} · {t.title}" for t in session.tracks)
    ticket = model.index_of(stream_id(Tier.WORKER, "T-003"))
    track = ticket.parent()  # TR-1, the CSV export
    assert model.rowCount(track) == len(session.tracks[0].tickets) >= 5
    assert track.parent() == tier3
    assert not tier3.parent().isValid()
    qa = model.index_of(stream_id(Tier.QA, "T-003"))  # T-003 failed once: QA diagnosed it
    assert qa.parent().parent() == model.tier_index(Tier.QA)


def test_rows_of_two_tracks_sit_at_the_third_level(
    session: MmaSession, qtmodeltester: Any
) -> None:
    model = MmaTreeModel(session, session, track_tiers=GROUPED)
    qtmodeltester.check(model)
    two_tracks(session)
    tier3 = model.tier_index(Tier.WORKER)
    assert names(model, tier3) == ["TR-1 · Parser", "TR-2 · Writer"]
    parser, writer = model.index(0, 0, tier3), model.index(1, 0, tier3)
    assert names(model, parser) == ["T-001: Lexer", "T-002: Grammar"]
    assert names(model, writer) == ["T-003: Output"]
    grammar = model.index(1, COL_STATUS, parser)
    assert grammar == model.index_of(stream_id(Tier.WORKER, "T-002"), COL_STATUS)
    assert grammar.parent() == parser and grammar.data(StreamIdRole).endswith("T-002")
    assert model.record(parser) is None and model.record(grammar) is session.records[
        stream_id(Tier.WORKER, "T-002")]
    assert model.index(0, COL_STATUS, tier3).data() == "2 todo"
    qtmodeltester.check(model)


def test_a_change_at_the_third_level_is_one_ranged_data_changed_per_parent(
    session: MmaSession,
) -> None:
    model = MmaTreeModel(session, session, track_tiers=GROUPED)
    two_tracks(session)
    model.flush()
    resets: list[int] = []
    changes: list[tuple[QModelIndex, QModelIndex]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda tl, br, roles=(): changes.append((tl, br)))
    for ticket in session.tickets.values():
        session.set_ticket(ticket, TicketStatus.IN_PROGRESS, model="m")
    model.flush()
    tier3 = model.tier_index(Tier.WORKER)
    parser, writer = model.index(0, 0, tier3), model.index(1, 0, tier3)
    spans = {
        (top.parent(), top.row(), bottom.row(), top.column(), bottom.column())
        for top, bottom in changes
    }
    assert resets == []
    assert len(changes) == len(spans) == 4  # one per parent, nothing twice
    assert spans == {
        (parser, 0, 1, 0, COL_ELAPSED),  # both tickets of TR-1: one range
        (writer, 0, 0, 0, COL_ELAPSED),
        (tier3, 0, 1, 0, COL_ELAPSED),  # both track rows
        (QModelIndex(), Tier.WORKER - 1, Tier.WORKER - 1, 0, COL_ELAPSED),  # Tier 3 only
    }
    assert model.index(0, COL_STATUS, tier3).data() == "2 in progress"


def test_an_index_kept_across_a_reset_finds_no_row(session: MmaSession) -> None:
    model = MmaTreeModel(session, session)
    two_tracks(session)
    stale = model.index_of(stream_id(Tier.WORKER, "T-002"), COL_NAME)
    session.reset("another epic", "/tmp")
    session.set_plan(Track("TR-9", "Other"), [Ticket("X-1", "a"), Ticket("X-2", "b")])
    # Row 1 under Tier 3 exists again, but it is another node: the old index finds nothing.
    assert model.index(1, COL_NAME, model.tier_index(Tier.WORKER)).data() == "X-2: b"
    assert model.data(stale) is None
    assert model.record(stale) is None
    assert not model.parent(stale).isValid()
    assert model.rowCount(stale) == 0


def test_status_cells_are_coloured_by_status_not_by_spelling(session: MmaSession) -> None:
    model = MmaTreeModel(session, session)
    two_tracks(session)
    plan = session.open_stream(Tier.ORCHESTRATOR, title="plan")
    session.stream_running(plan.stream_id, "m")
    session.set_ticket(session.tickets["T-001"], TicketStatus.IN_PROGRESS)
    ticket = model.index_of(stream_id(Tier.WORKER, "T-001"), COL_STATUS)
    tier1 = model.index_of(plan.stream_id, COL_STATUS)
    assert ticket.data() == "in progress" and tier1.data() == "running"
    assert ticket.data(StatusRole) == TicketStatus.IN_PROGRESS
    running = tier1.data(Qt.ItemDataRole.ForegroundRole).color()
    assert ticket.data(Qt.ItemDataRole.ForegroundRole).color() == running
    session.stream_finished(plan.stream_id, StreamStatus.DONE)
    session.set_ticket(session.tickets["T-001"], TicketStatus.COMPLETED)
    done = tier1.data(Qt.ItemDataRole.ForegroundRole).color()
    assert ticket.data(Qt.ItemDataRole.ForegroundRole).color() == done != running
    todo = model.index_of(stream_id(Tier.WORKER, "T-002"), COL_STATUS)
    assert todo.data(Qt.ItemDataRole.ForegroundRole) is None


def test_every_status_a_row_can_show_has_a_colour_unless_it_waits() -> None:
    waiting = {StreamStatus.WAITING, TicketStatus.TODO}
    for status in [*StreamStatus, *TicketStatus]:
        assert (status in STATUS_COLORS) is (status not in waiting), status


def test_a_track_row_rolls_up_the_usage_and_cost_of_its_tickets(session: MmaSession) -> None:
    model = MmaTreeModel(session, session, track_tiers=GROUPED)
    two_tracks(session)
    for ticket_id, tokens in (("T-001", 1000), ("T-002", 2000), ("T-003", 4000)):
        session.add_usage(stream_id(Tier.WORKER, ticket_id), "gpt-4o",
                          Usage(input=tokens, output=tokens // 10))
    model.flush()
    parser = model.index(0, 0, model.tier_index(Tier.WORKER))
    assert model.index(0, COL_INPUT, parser.parent()).data() == "3000"
    assert model.index(0, COL_OUTPUT, parser.parent()).data() == "300"
    cost = sum(session.records[stream_id(Tier.WORKER, t)].cost_usd for t in ("T-001", "T-002"))
    assert cost > 0
    assert model.index(0, COL_COST, parser.parent()).data() == formatting.cost(cost)
    assert model.index(1, COL_INPUT, parser.parent()).data() == "4000"  # TR-2 apart


def test_a_track_event_repaints_its_rows_whose_tooltip_and_colour_tell_its_status(
    session: MmaSession,
) -> None:
    model = MmaTreeModel(session, session, track_tiers=GROUPED)
    two_tracks(session)
    model.flush()
    changes: list[QModelIndex] = []
    model.dataChanged.connect(lambda top, bottom, roles=(): changes.append(top))
    writer = session.tracks[1]
    writer.status, writer.error = TrackStatus.FAILED, "Tier 2 gave no plan"
    session.bus.publish("track", track_id="TR-2", status="failed", error=writer.error)
    model.flush()
    row = model.index(1, COL_STATUS, model.tier_index(Tier.WORKER))
    assert [(c.parent(), c.row()) for c in changes] == [(row.parent(), 1)]
    tooltip = row.siblingAtColumn(COL_NAME).data(Qt.ItemDataRole.ToolTipRole)
    assert "track failed: Tier 2 gave no plan" in tooltip
    assert "whole track (every tier): input 0" in tooltip
    colour = row.data(Qt.ItemDataRole.ForegroundRole).color().name()
    assert colour == STATUS_COLORS[StreamStatus.FAILED]


@pytest.mark.ui
def test_the_window_groups_tier_2_3_and_4_streams_under_their_track(
    flaky_app: AppParts, qtmodeltester: Any
) -> None:
    session, model = flaky_app.session, flaky_app.window.model
    qtmodeltester.check(model)
    two_tracks(session)
    for track_id, sid in (("TR-1", "Tier 2 (Tech Lead)"), ("TR-2", "Tier 2 (Tech Lead): TR-2")):
        session.open_stream(Tier.TECH_LEAD, title=f"plan {track_id}", track_id=track_id,
                            sid=sid)
    session.open_stream(Tier.QA, "T-003", "QA T-003: Output", track_id="TR-2")
    plan = model.index_of("Tier 2 (Tech Lead): TR-2")
    assert plan.parent().data() == "TR-2 · Writer"
    assert plan.parent().parent() == model.tier_index(Tier.TECH_LEAD)
    assert model.index_of(stream_id(Tier.QA, "T-003")).parent().data() == "TR-2 · Writer"
    assert model.index_of(stream_id(Tier.WORKER, "T-001")).parent().data() == "TR-1 · Parser"
    assert model.stream_rows(Tier.WORKER) == 3 and model.stream_rows(Tier.TECH_LEAD) == 2
    qtmodeltester.check(model)
