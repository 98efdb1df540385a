"""StreamHub: many writer threads, one coalesced path to the GUI thread, nothing lost."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication

from mma_qt.core.live.session import MmaSession
from mma_qt.core.live.streams import StreamHub
from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.domain import Ticket, Tier, Track, stream_id
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.status import RunMode, TicketStatus
from mma_qt.core.model.usage import Usage
from mma_qt.core.providers.base import (
    CompletionRequest,
    ProviderClient,
    StreamItem,
    TextDelta,
    UsageReport,
)
from mma_qt.core.run.approvals import ApprovalBroker
from mma_qt.core.run.conductor import Conductor, RunContext

WORKERS = 64
CHUNKS = 2000


@pytest.fixture
def hub(qapp) -> Iterator[StreamHub]:
    return StreamHub()


@pytest.fixture
def session(qapp) -> Iterator[MmaSession]:
    return MmaSession(PricingTable.load(), "numbered (test)")


def produced(worker: str) -> list[str]:
    """What one worker writes: distinct, numbered chunks, so a loss or swap shows."""
    return [f"{worker}:{i};" for i in range(CHUNKS)]


class Recorder:
    """Collects ``appended`` emissions per stream."""

    def __init__(self, hub: StreamHub) -> None:
        self.emissions = 0
        self.parts: dict[str, list[str]] = defaultdict(list)
        hub.appended.connect(self.on_appended)

    def on_appended(self, new: dict[str, str]) -> None:
        self.emissions += 1
        for sid, text in new.items():
            self.parts[sid].append(text)


# -- the hub alone ---------------------------------------------------------------------

def test_64_threads_x_2000_chunks_at_full_speed_lose_nothing(qtbot, hub: StreamHub) -> None:
    recorder = Recorder(hub)
    start = threading.Barrier(WORKERS, timeout=30)
    sids = [f"Tier 3 (Worker): W-{w:02d}" for w in range(WORKERS)]

    def work(sid: str) -> None:
        write = hub.writer(sid)
        start.wait()  # all threads write at once, as fast as they can
        for chunk in produced(sid):
            write(chunk)

    threads = [threading.Thread(target=work, args=(sid,), daemon=True) for sid in sids]
    for thread in threads:
        thread.start()
    # The GUI thread keeps running its event loop (and so the hub's drains) meanwhile.
    qtbot.waitUntil(lambda: not any(t.is_alive() for t in threads), timeout=90_000)
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive()
    qtbot.waitUntil(lambda: all(hub.chunk_count(s) == CHUNKS for s in sids), timeout=5_000)

    assert sorted(hub.stream_ids()) == sorted(sids)
    for sid in sids:
        expected = "".join(produced(sid))
        assert hub.text(sid) == expected
        assert hub.length(sid) == len(expected)
        assert "".join(recorder.parts[sid]) == expected  # delivered in order, once
        # Coalesced: far fewer deliveries than chunks written.
        assert len(recorder.parts[sid]) < CHUNKS / 10, len(recorder.parts[sid])
    assert recorder.emissions < WORKERS * CHUNKS / 100


def test_gui_thread_write_is_visible_after_drain(hub: StreamHub) -> None:
    recorder = Recorder(hub)
    assert hub.write("s", "hello ") == 0
    assert hub.write("s", "world") == 1
    assert hub.write("s", "") == -1  # empty text is not a chunk
    assert hub.text("s") == "" and recorder.emissions == 0  # pending until drained
    hub.drain()
    assert hub.text("s") == "hello world"
    assert hub.text("s", 6) == "world"
    assert (hub.length("s"), hub.chunk_count("s")) == (11, 2)
    assert recorder.parts == {"s": ["hello world"]}
    hub.drain()  # nothing pending: no empty emission
    assert recorder.emissions == 1
    assert hub.text("unknown") == "" and hub.length("unknown") == 0


def test_timer_delivers_without_an_explicit_drain(qtbot) -> None:
    hub = StreamHub(drain_ms=1)
    with qtbot.waitSignal(hub.appended, timeout=2_000) as blocker:
        hub.write("a", "x")
        hub.write("b", "y")
    assert blocker.args == [{"a": "x", "b": "y"}]
    assert hub.text("a") == "x"


def test_clear_delivers_pending_text_then_forgets_every_stream(hub: StreamHub) -> None:
    recorder = Recorder(hub)
    hub.write("s", "old")
    hub.clear()
    assert recorder.parts == {"s": ["old"]}
    assert hub.stream_ids() == [] and hub.text("s") == ""
    assert hub.write("s", "new") == 0  # numbering restarts with the new transcript
    hub.drain()
    assert hub.text("s") == "new"


# -- the same load through the real pipeline --------------------------------------------

class NumberedClient:
    """A Tier 3 stream of CHUNKS numbered chunks, then its usage."""

    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        assert request.tier is Tier.WORKER and request.ticket_id
        for chunk in produced(request.ticket_id):
            yield TextDelta(chunk)
        output = CHUNKS + int(request.ticket_id.removeprefix("T-"))
        yield UsageReport(Usage(input=7, output=output), request.model)

    def close(self) -> None:
        pass


class NumberedFactory:
    label = "numbered (test)"
    is_demo = False

    def model_for(self, tier: Tier, attempt: int = 0) -> str:
        return "test-worker"

    def create(self, tier: Tier) -> ProviderClient:
        return NumberedClient()


def test_64_workers_through_the_conductor_lose_nothing(qtbot, qloop, session) -> None:
    session.reset("an epic", "/ws")
    track = Track("TR-1", "Wide")
    tickets = [Ticket(f"T-{i:03d}", f"Part {i}") for i in range(WORKERS)]
    session.set_plan(track, tickets)
    ctx = RunContext(
        session=session,
        factory=NumberedFactory(),
        approvals=ApprovalBroker(session.bus, mode=RunMode.AUTO),
        options=RunOptions(max_workers=WORKERS),
    )
    task = qloop.create_task(Conductor(ctx, track).run())
    try:
        qtbot.waitUntil(task.done, timeout=100_000)
        assert task.exception() is None
    finally:
        ctx.token.cancel("test over")
        task.cancel()
        while not task.done():
            QCoreApplication.processEvents()
        assert ctx.pool.shutdown(timeout=10) == []  # every worker thread has ended

    for ticket in tickets:
        assert ticket.status is TicketStatus.COMPLETED, (ticket.id, ticket.error)
        sid = stream_id(Tier.WORKER, ticket.id)
        assert session.hub.chunk_count(sid) == CHUNKS
        assert session.hub.text(sid) == "".join(produced(ticket.id))
        assert ticket.usage.output == CHUNKS + int(ticket.id.removeprefix("T-"))
    rollup = session.tier_rollup(Tier.WORKER)
    assert rollup.usage.output == sum(t.usage.output for t in tickets)
    assert rollup.usage.input == 7 * WORKERS
