"""Whole runs on the qasync loop: failures, retries, plan repair, cancel, pause, approvals."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QTimer

from mma_qt.core.model.bundled import bundled
from mma_qt.core.model.cancel import CancelToken, PauseGate
from mma_qt.core.model.domain import Ticket, Tier, stream_id
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.records import Rollup, StreamRecord
from mma_qt.core.model.status import RunStatus, TicketStatus, ToolPolicy
from mma_qt.core.model.usage import Usage
from mma_qt.core.providers.base import (
    CompletionRequest,
    ProviderClient,
    ProviderError,
    StreamItem,
    TextDelta,
    UsageReport,
)
from mma_qt.core.providers.demo import DemoProviderFactory, Scenario, TicketScript
from mma_qt.core.run.runner import EpicRunner

SCENARIOS = Path(str(bundled("scenarios")))
RUN_TIMEOUT_MS = 30_000


def finish(qtbot, task, timeout: int = RUN_TIMEOUT_MS) -> RunStatus:
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


def scenario(name: str) -> Scenario:
    return Scenario.load(SCENARIOS / f"{name}.toml")


def text_of(runner: EpicRunner, tier: Tier, ticket_id: str) -> str:
    return runner.session.hub.text(stream_id(tier, ticket_id))


def status_of(runner: EpicRunner) -> dict[str, TicketStatus]:
    return {tid: t.status for tid, t in runner.session.tickets.items()}


def slow_wide(n: int, delay: float) -> DemoProviderFactory:
    """``n`` independent tickets whose Tier 3 streams are slow; planning is instant."""
    scripts = {f"T-{i:03d}": TicketScript(delay=delay) for i in range(1, n + 1)}
    return DemoProviderFactory(delay=0, scenario=Scenario(wide_tickets=n, tickets=scripts))


# -- failures, retries and plans --------------------------------------------------------

def test_failing_worker_fails_its_ticket_and_blocks_its_dependents(qtbot, start, caplog):
    caplog.set_level(logging.ERROR)
    runner, task = start(DemoProviderFactory(delay=0, scenario=scenario("failing-worker")))
    assert finish(qtbot, task) is RunStatus.FAILED
    session, tickets = runner.session, runner.session.tickets

    failed = tickets["T-002"]
    assert failed.status is TicketStatus.FAILED
    message = "ConnectionResetError: the build server closed the connection"
    assert message in failed.error
    assert message in text_of(runner, Tier.WORKER, "T-002")
    assert failed.retry_count == 2  # max_retries=2 by default, each after a QA diagnosis
    assert text_of(runner, Tier.QA, "T-002")
    assert session.records[stream_id(Tier.QA, "T-002")].status == "done"

    for tid in ("T-004", "T-005", "T-006"):  # T-006 only transitively
        ticket = tickets[tid]
        assert ticket.status is TicketStatus.BLOCKED, tid
        cause = next(d for d in ticket.depends_on if d in ticket.blocked_reason)
        assert tickets[cause].status in (TicketStatus.FAILED, TicketStatus.BLOCKED)
    assert "T-002" in tickets["T-004"].blocked_reason
    assert "T-002" in tickets["T-005"].blocked_reason
    assert {tid: tickets[tid].status for tid in ("T-001", "T-003")} == {
        "T-001": TicketStatus.COMPLETED, "T-003": TicketStatus.COMPLETED}

    assert session.status is RunStatus.FAILED
    assert "1 failed" in session.error and "3 blocked" in session.error
    assert any(r.levelno == logging.ERROR and "T-002" in r.getMessage() for r in caplog.records)


def test_flaky_worker_is_diagnosed_and_retried_up_the_ladder(qtbot, start):
    runner, task = start(DemoProviderFactory(delay=0, scenario=scenario("flaky-worker")))
    assert finish(qtbot, task) is RunStatus.DONE
    tickets = runner.session.tickets
    assert set(status_of(runner).values()) == {TicketStatus.COMPLETED}

    flaky = tickets["T-003"]
    assert (flaky.retry_count, flaky.model) == (1, "demo-worker-pro")
    assert flaky.qa_hint.startswith("Hint for the retry")
    text = text_of(runner, Tier.WORKER, "T-003")
    assert "TimeoutError: test runner did not answer" in text
    assert "--- attempt 2 on demo-worker-pro (qa retry) ---" in text
    hint = flaky.qa_hint.removeprefix("Hint for the retry:").strip()
    assert f"Taking the QA hint into account: {hint}" in text
    assert "TimeoutError" in text_of(runner, Tier.QA, "T-003")
    # One model call per round of each attempt: the first failed in its first round, the
    # retry's last round answered without a tool call.
    assert not [c for c in flaky.tool_calls if c.attempt == 0]
    retry_rounds = max(c.round for c in flaky.tool_calls if c.attempt == 1) + 1
    assert runner.session.records[stream_id(Tier.WORKER, "T-003")].calls == 1 + retry_rounds
    others = [t for t in tickets.values() if t is not flaky]
    assert all((t.retry_count, t.model) == (0, "demo-worker") for t in others)
    assert not any(stream_id(Tier.QA, t.id) in runner.session.records for t in others)


def test_tier_usage_lists_every_model_used_in_order_of_first_use(qtbot, start):
    runner, task = start(DemoProviderFactory(delay=0, scenario=scenario("failing-worker")),
                         RunOptions(max_retries=2))
    assert finish(qtbot, task) is RunStatus.FAILED
    ladder = ["demo-worker", "demo-worker-pro", "demo-worker-max"]
    record = runner.session.records[stream_id(Tier.WORKER, "T-002")]
    assert (list(record.models_used), record.model) == (ladder, "demo-worker-max")
    tier_usage = runner.session.snapshot(streams=False)["tier_usage"]
    assert tier_usage["Tier 3"]["model"] == ", ".join(ladder)
    assert tier_usage["Tier 4"]["model"] == "demo-qa"


def test_rollup_orders_models_by_first_use_across_records():
    later = StreamRecord("a", Tier.WORKER, "a", models_used={"m-second": 3.0})
    earlier = StreamRecord("b", Tier.WORKER, "b", models_used={"m-first": 1.0, "m-second": 2.0})
    assert Rollup.of([later, earlier]).models == ("m-first", "m-second")


def test_each_later_qa_diagnosis_is_marked_with_its_attempt_and_model(qtbot, start):
    runner, task = start(DemoProviderFactory(delay=0, scenario=scenario("failing-worker")),
                         RunOptions(max_retries=2))
    assert finish(qtbot, task) is RunStatus.FAILED
    text = text_of(runner, Tier.QA, "T-002")
    marker = "\n\n--- diagnosis of attempt 2 on demo-worker-pro ---\n"
    assert text.count("--- diagnosis of attempt") == 1  # none before the first diagnosis
    first, second = text.split(marker)
    for diagnosis in (first, second):
        assert "ConnectionResetError" in diagnosis and "Hint for the retry" in diagnosis
    assert runner.session.records[stream_id(Tier.QA, "T-002")].calls == 2


def test_malformed_plan_is_repaired(qtbot, start):
    runner, task = start(DemoProviderFactory(delay=0, scenario=scenario("malformed-plan")))
    assert finish(qtbot, task) is RunStatus.DONE
    tier2 = stream_id(Tier.TECH_LEAD)
    assert runner.session.hub.text(tier2).count("[plan rejected") == 1
    assert runner.session.records[tier2].calls == 2
    assert runner.session.records[tier2].status == "done"
    assert len(runner.session.tracks[0].tickets) == 6  # TR-1, the CSV export
    assert set(status_of(runner).values()) == {TicketStatus.COMPLETED}


def test_cyclic_plan_fails_the_run_naming_the_cycle(qtbot, start):
    runner, task = start(DemoProviderFactory(delay=0, scenario=scenario("cycle")))
    assert finish(qtbot, task) is RunStatus.FAILED
    error = runner.session.error
    assert "cycle" in error and "T-00" in error
    assert runner.session.tickets == {}
    # The repair request was tried once (plan_retries=1) before giving up.
    assert runner.session.hub.text(stream_id(Tier.TECH_LEAD)).count("[plan rejected") == 2


# -- cancel and pause --------------------------------------------------------------------

def streaming_ticket(runner: EpicRunner) -> Ticket | None:
    for ticket in runner.session.tickets.values():
        if ticket.status is TicketStatus.IN_PROGRESS and text_of(runner, Tier.WORKER, ticket.id):
            return ticket
    return None


def test_cancel_a_ticket_then_the_run_during_slow_streams(qtbot, start):
    runner, task = start(slow_wide(3, delay=0.05))  # ~4 s per Tier 3 stream
    qtbot.waitUntil(lambda: streaming_ticket(runner) is not None, timeout=RUN_TIMEOUT_MS)
    ticket = streaming_ticket(runner)
    assert ticket is not None
    workers = [t for t in threading.enumerate() if t.name.startswith("mma-worker")]
    assert workers

    started = time.monotonic()
    runner.cancel(ticket.id)
    qtbot.waitUntil(lambda: ticket.status is TicketStatus.CANCELLED, timeout=1_000)
    assert time.monotonic() - started < 1.0
    assert ticket.blocked_reason == "cancelled by the user"
    assert text_of(runner, Tier.WORKER, ticket.id).endswith("[cancelled: cancelled by the user]\n")
    others = [t for t in runner.session.tickets.values() if t is not ticket]
    assert all(t.status is TicketStatus.IN_PROGRESS for t in others)  # untouched

    started = time.monotonic()
    runner.cancel()
    qtbot.waitUntil(task.done, timeout=1_000)
    assert time.monotonic() - started < 1.0
    assert task.result() is RunStatus.CANCELLED
    assert runner.session.status is RunStatus.CANCELLED
    assert all(t.status is TicketStatus.CANCELLED for t in others)
    assert {t.blocked_reason for t in others} == {"run cancelled by the user"}

    runner.shutdown()
    assert not any(t.is_alive() for t in workers)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("mma-worker")]


class CountingGate(PauseGate):
    """A pause gate that counts the worker threads it holds."""

    def __init__(self) -> None:
        super().__init__()
        self._count_lock = threading.Lock()
        self.holding = 0

    def wait_open(self, token: CancelToken) -> None:
        if not self.paused:
            return super().wait_open(token)
        with self._count_lock:
            self.holding += 1
        try:
            return super().wait_open(token)
        finally:
            with self._count_lock:
                self.holding -= 1


def wait_event_loop_ms(qtbot, ms: int) -> None:
    """Let the event loop run for ``ms`` (a timer event, not a sleep)."""
    timer = QTimer()
    timer.setSingleShot(True)
    timer.setInterval(ms)
    with qtbot.waitSignal(timer.timeout, timeout=ms + 5_000):
        timer.start()


def test_pause_holds_streams_and_resume_finishes_the_run(qtbot, start):
    runner, task = start(DemoProviderFactory(delay=0.01, scenario=Scenario(tracks=1)))
    gate = runner.ctx.gate = CountingGate()
    session = runner.session

    def in_progress() -> list[Ticket]:
        return [t for t in session.tickets.values() if t.status is TicketStatus.IN_PROGRESS]

    qtbot.waitUntil(lambda: streaming_ticket(runner) is not None, timeout=RUN_TIMEOUT_MS)
    runner.pause()
    assert session.status is RunStatus.PAUSED
    # Every running worker is held between two chunks: none can write any more.
    qtbot.waitUntil(lambda: gate.holding == len(in_progress()), timeout=5_000)
    session.hub.drain()
    lengths = {sid: session.hub.length(sid) for sid in session.records}
    statuses = status_of(runner)
    assert any(lengths.values())

    wait_event_loop_ms(qtbot, 150)  # ~15 chunks per stream at full speed
    session.hub.drain()
    assert {sid: session.hub.length(sid) for sid in session.records} == lengths
    assert status_of(runner) == statuses  # nothing finished and nothing new started
    assert session.status is RunStatus.PAUSED and not task.done()

    runner.resume()
    assert session.status is RunStatus.RUNNING
    assert finish(qtbot, task) is RunStatus.DONE
    assert set(status_of(runner).values()) == {TicketStatus.COMPLETED}


# -- approvals ---------------------------------------------------------------------------

def test_spawn_approvals_gate_each_ticket(qtbot, start):
    # Spawns ask; the workers' tool calls do not (their gate: tests/test_tool_loop.py).
    runner, task = start(DemoProviderFactory(delay=0, scenario=Scenario(tracks=1)), auto=False,
                         policy=ToolPolicy.AUTO)
    approvals = runner.ctx.approvals
    events: list[dict] = []
    runner.session.bus.published.connect(events.append)

    def ticket(tid: str) -> Ticket:  # session.reset() replaces the dict: look up late
        return runner.session.tickets[tid]

    def pending() -> list[str]:
        return sorted(a.key for a in approvals.pending())

    qtbot.waitUntil(lambda: pending() == ["T-001:spawn"], timeout=RUN_TIMEOUT_MS)
    assert ticket("T-001").status is TicketStatus.WAITING
    assert not text_of(runner, Tier.WORKER, "T-001")  # nothing runs before approval
    assert {"state": "requested", "key": "T-001:spawn"}.items() <= [
        e for e in events if e["type"] == "approval"][-1].items()

    approvals.resolve("T-001:spawn", True)
    qtbot.waitUntil(lambda: pending() == ["T-002:spawn", "T-003:spawn"], timeout=RUN_TIMEOUT_MS)
    assert ticket("T-001").status is TicketStatus.COMPLETED
    assert text_of(runner, Tier.WORKER, "T-001")

    approvals.resolve("T-002:spawn", False)
    qtbot.waitUntil(lambda: ticket("T-002").status is TicketStatus.CANCELLED, timeout=5_000)
    assert ticket("T-002").blocked_reason == "spawn rejected"
    assert text_of(runner, Tier.WORKER, "T-002") == "[spawn rejected]\n"
    assert pending() == ["T-003:spawn"]  # answering one never touches another
    assert ticket("T-003").status is TicketStatus.WAITING

    approvals.resolve("T-003:spawn", True)
    assert finish(qtbot, task) is RunStatus.FAILED
    assert ticket("T-003").status is TicketStatus.COMPLETED
    assert ticket("T-004").blocked_reason == "dependency T-002 cancelled"
    assert {ticket(t).status for t in ("T-004", "T-005", "T-006")} == {TicketStatus.BLOCKED}


# -- regressions: bugs found while writing these tests ----------------------------------

def test_cancelling_a_ticket_during_its_qa_diagnosis_stops_it(qtbot, start):
    """A cancel that arrives while Tier 4 diagnoses a failure must not be lost.

    T-001 fails at once on its first attempt; its QA stream is slow (~1.5 s). Cancelling
    T-001 during the diagnosis must end the ticket `cancelled`, without the retry.
    """
    script = TicketScript(raise_message="TimeoutError: slow runner", raise_times=1,
                          after_chunks=0, delay=0.05)
    factory = DemoProviderFactory(
        delay=0, scenario=Scenario(wide_tickets=1, tickets={"T-001": script}))
    runner, task = start(factory)
    qa = stream_id(Tier.QA, "T-001")
    qtbot.waitUntil(lambda: bool(runner.session.hub.text(qa)), timeout=RUN_TIMEOUT_MS)
    runner.cancel("T-001")
    finish(qtbot, task)
    ticket = runner.session.tickets["T-001"]
    assert "--- attempt" not in text_of(runner, Tier.WORKER, "T-001"), "the retry ran anyway"
    assert ticket.status is TicketStatus.CANCELLED, ticket.status


class StuckClient:
    """A Tier 3 client stuck in a read that ignores cancel (as a hung socket would)."""

    def __init__(self, release: threading.Event) -> None:
        self._release = release

    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        yield TextDelta("started; ")
        self._release.wait(60)
        yield UsageReport(Usage(input=1, output=1), request.model)

    def close(self) -> None:
        pass


class StuckWorkerFactory(DemoProviderFactory):
    def __init__(self, release: threading.Event) -> None:
        super().__init__(delay=0, scenario=Scenario(wide_tickets=1))
        self._release = release

    def create(self, tier: Tier) -> ProviderClient:
        return StuckClient(self._release) if tier is Tier.WORKER else super().create(tier)


def test_shutdown_waits_only_a_bounded_time_for_a_stuck_worker(qtbot, start):
    """``EpicRunner.shutdown(timeout)``: "wait (bounded) for the worker threads to end"."""
    release = threading.Event()
    runner, _task = start(StuckWorkerFactory(release))
    closer = threading.Thread(target=runner.shutdown, kwargs={"timeout": 0.2}, daemon=True)
    try:
        qtbot.waitUntil(lambda: streaming_ticket(runner) is not None, timeout=RUN_TIMEOUT_MS)
        closer.start()
        closer.join(3.0)
        assert not closer.is_alive(), "shutdown(timeout=0.2) still waiting after 3 s"
    finally:
        release.set()
        if closer.ident is not None:  # started
            closer.join(10)


class RefusingFactory(DemoProviderFactory):
    """Tier 3 calls fail as a provider fails on a rejected key: final, not retryable."""

    def create(self, tier: Tier) -> ProviderClient:
        if tier is not Tier.WORKER:
            return super().create(tier)
        return RefusingClient()


class RefusingClient:
    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        raise ProviderError("openai rejected the API key (HTTP 401)", retryable=False)
        yield  # pragma: no cover - makes this a generator

    def close(self) -> None:
        """Nothing held."""


def test_a_final_provider_error_fails_the_ticket_without_retry(qtbot, start):
    runner, task = start(RefusingFactory(delay=0, scenario=Scenario(wide_tickets=2)))
    assert finish(qtbot, task) is RunStatus.FAILED
    for ticket in runner.session.tickets.values():
        assert ticket.status is TicketStatus.FAILED
        assert ticket.retry_count == 0
        assert "rejected the API key" in ticket.error
        assert "rejected the API key" in text_of(runner, Tier.WORKER, ticket.id)
    assert not any(r.tier is Tier.QA for r in runner.session.records.values())


class CountingFactory(DemoProviderFactory):
    """Records every client it creates and which calls ran on each."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clients: list[ProviderClient] = []
        self.calls_per_client: dict[int, int] = {}

    def create(self, tier: Tier) -> ProviderClient:
        client = super().create(tier)
        self.clients.append(client)
        inner = client.stream

        def stream(request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
            self.calls_per_client[id(client)] = self.calls_per_client.get(id(client), 0) + 1
            return inner(request, cancel)

        client.stream = stream  # type: ignore[method-assign]
        return client


def test_every_call_gets_its_own_provider_client(qtbot, start):
    """The old tool reset one shared provider session under running calls: here no two
    calls, concurrent or not, ever share a client."""
    factory = CountingFactory(delay=0.002, scenario=scenario("flaky-worker"))
    runner, task = start(factory)
    assert finish(qtbot, task) is RunStatus.DONE
    calls = sum(r.calls for r in runner.session.records.values())
    assert calls == len(factory.clients) >= 2 + 6 + 2  # plans, tickets, QA and its retry
    assert len({id(c) for c in factory.clients}) == len(factory.clients)
    assert set(factory.calls_per_client.values()) == {1}
