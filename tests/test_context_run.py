"""The context assembly inside a run (demo provider): read in the run's worker pool, the
repository map walked once per run, one prefix per track, each request carrying its
parts, and a ticket's final answer passed on to its dependents."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.context import assembly
from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.domain import Tier
from mma_qt.core.model.status import RunStatus
from mma_qt.core.providers.base import CompletionRequest, ProviderClient, StreamItem
from mma_qt.core.providers.demo import DemoProviderFactory


class RecordingFactory:
    """The demo factory, keeping every request its clients were asked."""

    def __init__(self) -> None:
        self.inner = DemoProviderFactory(delay=0)
        self.requests: list[CompletionRequest] = []
        self._lock = threading.Lock()
        self.label, self.is_demo = self.inner.label, self.inner.is_demo

    def model_for(self, tier: Tier, attempt: int = 0) -> str:
        return self.inner.model_for(tier, attempt)

    def create(self, tier: Tier) -> ProviderClient:
        return _Recording(self.inner.create(tier), self)

    def first_rounds(self, tier: Tier) -> list[CompletionRequest]:
        return [r for r in self.requests if r.tier is tier and not r.history]


class _Recording:
    def __init__(self, inner: ProviderClient, factory: RecordingFactory) -> None:
        self.inner, self.factory = inner, factory

    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        with self.factory._lock:
            self.factory.requests.append(request)
        yield from self.inner.stream(request, cancel)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def file_threads(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The threads the repository map was walked in and workspace files were read in."""
    seen: dict[str, list[str]] = {"map": [], "read": []}
    walk, read = assembly.repository_map, assembly.read_source

    def mapped(*args: Any) -> Any:
        seen["map"].append(threading.current_thread().name)
        return walk(*args)

    def reading(*args: Any) -> Any:
        seen["read"].append(threading.current_thread().name)
        return read(*args)

    monkeypatch.setattr(assembly, "repository_map", mapped)
    monkeypatch.setattr(assembly, "read_source", reading)
    return seen


def demo_run(qtbot: Any, start: Any, folder: Path) -> tuple[Any, RecordingFactory]:
    """The demo epic run to its end on ``folder`` (holding a README), spawns approved."""
    (folder / "README.md").write_text("# Reports\n", encoding="utf-8")
    factory = RecordingFactory()
    runner, task = start(factory, workspace=str(folder))
    qtbot.waitUntil(task.done, timeout=60_000)
    assert task.result() is RunStatus.DONE, runner.session.error
    return runner, factory


def test_context_is_read_in_the_worker_pool_and_the_map_walked_once_per_run(
    qtbot: Any, start: Any, tmp_path: Path, file_threads: dict[str, list[str]]
) -> None:
    demo_run(qtbot, start, tmp_path)
    assert len(file_threads["map"]) == 1
    assert file_threads["read"]  # target files, skeletons
    for name in file_threads["map"] + file_threads["read"]:
        assert name.startswith("mma-worker"), name
        assert name != threading.main_thread().name


def test_each_request_carries_its_parts_and_tickets_of_a_track_share_one_prefix(
    qtbot: Any, start: Any, tmp_path: Path
) -> None:
    runner, factory = demo_run(qtbot, start, tmp_path)
    (tier1,) = factory.first_rounds(Tier.ORCHESTRATOR)
    assert [p.name for p in tier1.context] == ["instructions", "repository map", "epic"]
    assert "README.md" in tier1.system
    workers = factory.first_rounds(Tier.WORKER)
    assert len(workers) == len(runner.session.tickets) >= 5
    by_track: dict[str, set[str]] = {}  # the demo plans three tracks: one prefix each
    for worker in workers:
        track = runner.session.records[worker.stream_id].track_id
        by_track.setdefault(str(track), set()).add(worker.system)
    assert len(by_track) >= 2
    assert all(len(systems) == 1 for systems in by_track.values())
    for worker in workers:
        names = [p.name for p in worker.context]
        assert names[:3] == ["instructions", "track", "repository map"]
        assert "ticket" in names
        shared = "".join(p.text for p in worker.context if p.shared and p.name != "track")
        assert len(shared) <= len(worker.system)

    tickets = runner.session.tickets
    answered = tickets["T-001"].answer
    assert answered and tickets["T-001"].to_dict()["answer"] == answered
    dependent = next(w for w in workers if w.ticket_id == "T-002")
    assert "T-001" in tickets["T-002"].depends_on
    assert "answer: T-001" in [p.name for p in dependent.context]
    assert answered.strip()[-60:] in dependent.prompt


def test_nothing_is_read_for_a_prompt_once_the_run_is_cancelled(
    qtbot: Any, start: Any, qloop: Any, tmp_path: Path
) -> None:
    """Closing the app cancels the run and shuts its pool down: a prompt asked for after
    that reads nothing (no "pool is shut down" error), and its call is not made."""
    runner, _task = start(DemoProviderFactory(delay=0), workspace=str(tmp_path))
    runner.shutdown()
    read: list[str] = []

    def tier1(epic: str) -> assembly.Assembly:
        read.append(epic)
        return assembly.Assembly("system", "prompt", ())

    asked = qloop.create_task(runner.ctx.assemble("Tier 1: context", tier1, "epic"))
    qtbot.waitUntil(asked.done, timeout=10_000)
    assert asked.result() == assembly.Assembly("", "", ())
    assert read == []
