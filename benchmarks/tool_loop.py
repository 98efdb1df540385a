"""The cost of the tool loop per round, not counting the model: ``python -m benchmarks.tool_loop``.

The real app objects (``assemble``: session, controller, window, hook) run the demo's plan
(six tickets) offscreen. Tiers 1, 2 and 4 are the demo provider's; each Tier 3 ticket is a
scripted model that answers at once: ``ROUNDS`` rounds, each calling ``read_file`` on a small
file, then a final answer. The same plan with no tool round is the baseline, so

    overhead per round = (run with N rounds - run with 0 rounds) / (tickets x N)

is what one round costs the app itself: building the next request, the worker-thread round
trip, running the tool in the pool, the stream lines and the records. It is reported as
wall time and as process CPU time (every thread), each the median of ``--repeats`` pairs.
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import qasync
from PySide6.QtWidgets import QApplication

from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.domain import Tier
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.usage import Usage
from mma_qt.core.providers.base import (
    AssistantTurn,
    CompletionRequest,
    ProviderClient,
    StreamItem,
    TextDelta,
    ToolCall,
    UsageReport,
)
from mma_qt.core.providers.demo import DemoProviderFactory
from mma_qt.wiring import AppParts, assemble

from .streams import isolate_user_dirs

TICKETS = 6


class RoundsClient:
    """A Tier 3 model that answers at once: ``rounds`` read_file calls, then a final text."""

    def __init__(self, rounds: int) -> None:
        self._rounds = rounds

    def close(self) -> None:
        """Nothing to release."""

    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        done = sum(isinstance(turn, AssistantTurn) for turn in request.history)
        if done < self._rounds:
            yield ToolCall(f"call-{done}", "read_file", {"path": "notes.txt"})
        else:
            yield TextDelta("done")
        yield UsageReport(Usage(input=10, output=1), request.model)


class RoundsFactory(DemoProviderFactory):
    def __init__(self, rounds: int) -> None:
        super().__init__(delay=0.0)
        self.rounds = rounds

    def create(self, tier: Tier) -> ProviderClient:
        return RoundsClient(self.rounds) if tier is Tier.WORKER else super().create(tier)


async def one_run(tmp: Path, rounds: int, index: int) -> tuple[float, float, str]:
    """Wall and process CPU seconds of one whole run, and its final status."""
    workspace = tmp / f"ws-{rounds}-{index}"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("a small file\n" * 20, encoding="utf-8")
    parts: AppParts = assemble(
        RoundsFactory(rounds), PricingTable.load(), RunOptions(), auto=True,
        hook_address=str(tmp / f"h{rounds}-{index}.sock"),
    )
    finished: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    parts.controller.finished.connect(
        lambda status: finished.done() or finished.set_result(status))
    wall, cpu = time.perf_counter(), time.process_time()
    parts.window.start("Benchmark the tool loop", str(workspace))
    status = await asyncio.wait_for(finished, 300)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await parts.controller.aclose()
    parts.hook.close()
    parts.window.close()
    parts.window.deleteLater()
    return wall, cpu, status


async def measure(rounds: int, repeats: int, tmp: Path) -> dict[str, Any]:
    per_round_wall: list[float] = []
    per_round_cpu: list[float] = []
    statuses: set[str] = set()
    for index in range(repeats):
        base_wall, base_cpu, base_status = await one_run(tmp, 0, index)
        wall, cpu, status = await one_run(tmp, rounds, index)
        statuses |= {base_status, status}
        per_round_wall.append((wall - base_wall) / (TICKETS * rounds))
        per_round_cpu.append((cpu - base_cpu) / (TICKETS * rounds))
    return {
        "rounds_per_ticket": rounds,
        "tickets": TICKETS,
        "repeats": repeats,
        "statuses": sorted(statuses),
        "overhead_per_round_wall_ms": round(statistics.median(per_round_wall) * 1000, 3),
        "overhead_per_round_cpu_ms": round(statistics.median(per_round_cpu) * 1000, 3),
        "samples_wall_ms": [round(x * 1000, 3) for x in per_round_wall],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tool_loop")
    parser.add_argument("--rounds", type=int, default=40, help="tool rounds per ticket")
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs (median)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="mqt"))
    try:
        isolate_user_dirs(tmp)
        app = QApplication.instance() or QApplication(sys.argv[:1])
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        try:
            result = loop.run_until_complete(measure(args.rounds, args.repeats, tmp))
        finally:
            loop.close()
            asyncio.set_event_loop(None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"benchmark": "mma_qt tool loop", **result}, indent=2), flush=True)
    return 0 if result["statuses"] == ["done"] else 1


if __name__ == "__main__":
    sys.exit(main())
