"""A synthetic provider with exact chunk counts, for the streaming benchmark. No Qt.

Tiers 1 and 2 are answered by the demo provider (a wide plan of independent tickets, so
the real plan parsing and DAG code runs); Tier 3 workers stream exactly ``chunks``
numbered 16-character chunks (4 tokens by the documented estimator), either as fast as
possible or paced at a fixed interval. Every chunk is distinct, so a lost, duplicated
or swapped chunk shows in the text comparison.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.domain import Tier
from mma_qt.core.model.usage import Usage, estimate_tokens
from mma_qt.core.providers.base import (
    CompletionRequest,
    ProviderClient,
    StreamItem,
    TextDelta,
    UsageReport,
)
from mma_qt.core.providers.demo import DemoProviderFactory, Scenario

CHUNK_CHARS = 16
TOKENS_PER_CHUNK = CHUNK_CHARS // 4


def chunk_text(worker: int, index: int) -> str:
    """Chunk ``index`` of worker ``worker`` (1-based, as ticket T-001): 16 characters."""
    end = "\n" if index % 5 == 4 else " "
    return f"w{worker:03d} c{index:06d} ab{end}"


def expected_text(worker: int, chunks: int) -> str:
    return "".join(chunk_text(worker, i) for i in range(chunks))


def worker_of(ticket_id: str | None) -> int:
    """``"T-007"`` -> 7 (the demo's wide plan numbers tickets from 1)."""
    if not ticket_id or not ticket_id.startswith("T-"):
        raise ValueError(f"unexpected ticket id {ticket_id!r}")
    return int(ticket_id[2:])


class BenchProviderFactory:
    """A :class:`~mma_qt.core.providers.base.ProviderFactory`; reconfigured between runs.

    Only the GUI thread calls :meth:`configure` (between runs) and :meth:`create`; worker
    threads read the settings captured by their client.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.workers = 1
        self.chunks = 1
        self.interval = 0.0
        self.first_chunk_at: float | None = None
        self._plan = DemoProviderFactory(delay=0.0, scenario=Scenario(wide_tickets=1))

    def configure(self, workers: int, chunks: int, interval: float = 0.0) -> None:
        """The next run: ``workers`` tickets of ``chunks`` chunks, ``interval`` s apart."""
        self.workers, self.chunks, self.interval = workers, chunks, interval
        self.first_chunk_at = None
        self._plan = DemoProviderFactory(delay=0.0, scenario=Scenario(wide_tickets=workers))

    def mark_first_chunk(self, at: float) -> None:
        with self._lock:
            if self.first_chunk_at is None or at < self.first_chunk_at:
                self.first_chunk_at = at

    @property
    def label(self) -> str:
        return "benchmark (synthetic)"

    @property
    def is_demo(self) -> bool:
        return False

    def model_for(self, tier: Tier, attempt: int = 0) -> str:
        return self._plan.model_for(tier, attempt)

    def create(self, tier: Tier) -> ProviderClient:
        if tier is Tier.WORKER:
            return SyntheticWorkerClient(self, self.chunks, self.interval)
        return self._plan.create(tier)


class SyntheticWorkerClient:
    def __init__(self, factory: BenchProviderFactory, chunks: int, interval: float) -> None:
        self._factory = factory
        self._chunks = chunks
        self._interval = interval

    def close(self) -> None:
        """Nothing to release."""

    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        worker = worker_of(request.ticket_id)
        interval = self._interval
        start = time.perf_counter()
        self._factory.mark_first_chunk(start)
        sent = 0
        for index in range(self._chunks):
            if interval > 0:
                wait = start + index * interval - time.perf_counter()
                if wait > 0 and cancel.wait(wait):
                    break
            elif cancel.cancelled:
                break
            yield TextDelta(chunk_text(worker, index))
            sent += 1
        usage = Usage(
            input=estimate_tokens(request.system) + estimate_tokens(request.prompt),
            output=sent * TOKENS_PER_CHUNK,
            estimated=cancel.cancelled,
        )
        yield UsageReport(usage, request.model)
