"""End-to-end streaming benchmark of mma_qt: worker threads -> StreamHub -> session -> views.

Run from the repository root::

    python -m benchmarks.streams                 # full run, ~35 s on 2 cores
    python -m benchmarks.streams --quick         # seconds; completeness only
    python -m benchmarks.streams --workers 64 --chunks 2000 --out benchmarks/results/latest.json
    python -m benchmarks.streams --history-only  # the history store's cost alone, ~3 min

Everything runs offscreen in one process on the real objects built by
:func:`mma_qt.wiring.assemble` (session, controller, window with its tree model and stream
view, hook server), driven by a qasync loop like ``mma-qt``. A synthetic provider
(:mod:`benchmarks.synthetic`) gives exact chunk counts. Prints ONE JSON document on stdout
(progress goes to stderr); exits 1 if any stream is incomplete or out of order. Targets
are reported as met/missed and never change the exit code.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QT_API", "pyside6")

import argparse
import asyncio
import gc
import json
import math
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import PySide6
import qasync
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot, qVersion
from PySide6.QtWidgets import QApplication

from mma_qt.core.history.store import HistoryStore
from mma_qt.core.model.domain import Tier, stream_id
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.status import TicketStatus
from mma_qt.hooks.client import ApiHookClient
from mma_qt.wiring import AppParts, assemble

from .synthetic import (
    CHUNK_CHARS,
    TOKENS_PER_CHUNK,
    BenchProviderFactory,
    chunk_text,
    expected_text,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
EPIC = "Benchmark: stream many independent write-ups at once"

PROBE_MS = 5
LIMIT_FLUSH_S = 0.016
LIMIT_MAX_BATCH = 256
NAIVE_CAP_CHUNKS = 250
REALISTIC_WORKERS = 32
REALISTIC_TOKENS_PER_S = 100
HOOK_STREAM_CHARS = 100_000
HOOK_CLIENTS = 4

TARGET_INGEST_RATIO = 0.5
TARGET_P99_STALL_MS = 20.0
TARGET_CPU_US_PER_TOKEN = 3.0
TARGET_HOOK_SUMMARY_P50_MS = 1.0
TARGET_HOOK_FULL_STALL_P99_MS = 20.0
TARGET_STARTUP_S = 1.0
TARGET_RSS_RATIO = 2.0


@dataclass(frozen=True, slots=True)
class Config:
    quick: bool
    workers: int
    chunks: int
    realistic_workers: int
    realistic_seconds: float
    naive_chunks: int
    repeats: int
    hook_full_calls: int
    hook_calls: int
    hook_concurrent_seconds: float
    startup_runs: int
    run_timeout_s: float
    history_only: bool = False

    @staticmethod
    def from_args(args: argparse.Namespace) -> Config:
        quick = bool(args.quick)
        workers = args.workers or (8 if quick else 64)
        chunks = args.chunks or (200 if quick else 2000)
        return Config(
            quick=quick,
            workers=workers,
            chunks=chunks,
            realistic_workers=min(REALISTIC_WORKERS, workers) if quick else REALISTIC_WORKERS,
            realistic_seconds=1.0 if quick else 10.0,
            naive_chunks=min(chunks, 50 if quick else NAIVE_CAP_CHUNKS),
            repeats=1 if quick else 3,
            hook_full_calls=3 if quick else 25,
            hook_calls=20 if quick else 300,
            hook_concurrent_seconds=0.3 if quick else 2.0,
            startup_runs=1 if quick else 5,
            run_timeout_s=120.0 if quick else 600.0,
            history_only=bool(getattr(args, "history_only", False)),
        )


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- small measuring helpers -----------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ms_stats(seconds: Sequence[float]) -> dict[str, Any]:
    """n, p50, p99 and max in milliseconds (null when there are no samples)."""
    if not seconds:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "n": len(seconds),
        "p50_ms": round(percentile(seconds, 0.50) * 1e3, 3),
        "p99_ms": round(percentile(seconds, 0.99) * 1e3, 3),
        "max_ms": round(max(seconds) * 1e3, 3),
    }


def rss_bytes() -> int:
    return _status_kib("VmRSS") * 1024


def peak_rss_bytes() -> int:
    return _status_kib("VmHWM") * 1024


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("mma-worker") and t.is_alive()]


def worker_sid(worker: int) -> str:
    return stream_id(Tier.WORKER, f"T-{worker:03d}")


class Probe(QObject):
    """A 5 ms single-shot timer in the GUI thread, re-armed on every tick.

    Each sample is the tick's lateness: how long after ``armed + interval`` it ran, i.e.
    how long the event loop could not serve a 5 ms timer.
    """

    def __init__(self, interval_ms: int = PROBE_MS) -> None:
        super().__init__()
        self._interval = interval_ms / 1000
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._armed = 0.0
        self.samples: list[float] = []

    def start(self) -> None:
        self.samples = []
        self._armed = time.perf_counter()
        self._timer.start()

    @Slot()
    def _tick(self) -> None:
        now = time.perf_counter()
        self.samples.append(max(0.0, now - self._armed - self._interval))
        self._armed = now
        self._timer.start()

    def stop(self) -> list[float]:
        if self._timer.isActive():
            overdue = time.perf_counter() - self._armed - self._interval
            if overdue > 0:
                self.samples.append(overdue)
        self._timer.stop()
        return self.samples


async def idle(seconds: float) -> None:
    """Let the Qt loop run for ``seconds`` (asyncio sleeps on a qasync loop spin Qt)."""
    await asyncio.sleep(seconds)


# -- end to end: an epic on the real objects -------------------------------------------

class EpicWatcher(QObject):
    """Follows one run from the GUI thread: selects a Tier 3 stream, counts delivery."""

    def __init__(self, parts: AppParts, expected_chars: int) -> None:
        super().__init__()
        loop = asyncio.get_running_loop()
        self.parts = parts
        self.expected_chars = expected_chars
        self.delivered_chars = 0
        self.drains = 0
        self.selected: str | None = None
        self.t_plan = 0.0
        self.cpu_plan = 0.0
        self.t_last = 0.0
        self.cpu_last = 0.0
        self.status = ""
        self.finished: asyncio.Future[str] = loop.create_future()
        parts.session.streamAdded.connect(self._on_stream_added)
        parts.session.hub.appended.connect(self._on_appended)
        parts.controller.finished.connect(self._on_finished)

    def close(self) -> None:
        self.parts.session.streamAdded.disconnect(self._on_stream_added)
        self.parts.session.hub.appended.disconnect(self._on_appended)
        self.parts.controller.finished.disconnect(self._on_finished)

    @Slot(str)
    def _on_stream_added(self, sid: str) -> None:
        if self.selected is None and sid.startswith("Tier 3 "):
            # The model has inserted the row (it connected first): show this stream.
            self.t_plan = time.perf_counter()
            self.cpu_plan = time.thread_time()
            self.selected = self.parts.window.select(sid)

    @Slot(object)
    def _on_appended(self, new: dict[str, str]) -> None:
        # Connected after the session and the stream view: they have handled this drain.
        self.drains += 1
        for sid, text in new.items():
            if sid.startswith("Tier 3 "):
                self.delivered_chars += len(text)
        if self.delivered_chars >= self.expected_chars and not self.t_last:
            self.t_last = time.perf_counter()
            self.cpu_last = time.thread_time()

    @Slot(str)
    def _on_finished(self, status: str) -> None:
        self.status = status
        if not self.finished.done():
            self.finished.set_result(status)


@dataclass(slots=True)
class EpicRun:
    workers: int
    chunks: int
    interval: float
    seconds: float  # first chunk produced -> last chunk delivered in the GUI thread
    run_seconds: float  # start_epic -> controller.finished
    gui_cpu_s: float  # GUI thread CPU, first Tier 3 row -> last chunk delivered
    gui_wall_s: float
    drains: int
    status: str
    timed_out: bool
    delivered_chars: int
    stalls: list[float]
    checks: dict[str, Any]

    @property
    def total_chunks(self) -> int:
        return self.workers * self.chunks

    @property
    def complete(self) -> bool:
        return bool(self.checks.get("complete"))


async def run_epic(
    parts: AppParts,
    factory: BenchProviderFactory,
    workspace: str,
    workers: int,
    chunks: int,
    *,
    interval: float = 0.0,
    probe: Probe | None = None,
    timeout: float,
    before_verify: Callable[[], Awaitable[None]] | None = None,
) -> EpicRun:
    factory.configure(workers, chunks, interval)
    expected_chars = workers * chunks * CHUNK_CHARS
    watcher = EpicWatcher(parts, expected_chars)
    if probe is not None:
        probe.start()
    t_start = time.perf_counter()
    parts.window.start(EPIC, workspace)
    timed_out = False
    try:
        await asyncio.wait_for(asyncio.shield(watcher.finished), timeout)
    except TimeoutError:
        timed_out = True
        log(f"run timed out after {timeout:g} s; cancelling")
        parts.controller.cancel()
        await asyncio.wait_for(watcher.finished, 30)
    t_done = time.perf_counter()
    stalls = probe.stop() if probe is not None else []
    watcher.close()
    if before_verify is not None:
        await before_verify()
    first = factory.first_chunk_at or t_start
    end = watcher.t_last or t_done
    return EpicRun(
        workers=workers,
        chunks=chunks,
        interval=interval,
        seconds=end - first,
        run_seconds=t_done - t_start,
        gui_cpu_s=(watcher.cpu_last or time.thread_time()) - watcher.cpu_plan,
        gui_wall_s=end - watcher.t_plan,
        drains=watcher.drains,
        status=watcher.status,
        timed_out=timed_out,
        delivered_chars=watcher.delivered_chars,
        stalls=stalls,
        checks=verify_epic(parts, workers, chunks, watcher.selected),
    )


def verify_epic(parts: AppParts, workers: int, chunks: int, shown: str | None) -> dict[str, Any]:
    """Every stream's text == its worker's chunks in order; the view shows its stream."""
    session, hub = parts.session, parts.session.hub
    bad_text: list[str] = []
    bad_count: list[str] = []
    for worker in range(1, workers + 1):
        sid = worker_sid(worker)
        if hub.text(sid) != expected_text(worker, chunks):
            bad_text.append(sid)
        if hub.chunk_count(sid) != chunks:
            bad_count.append(sid)
    tickets_done = sum(
        1 for t in session.tickets.values() if t.status is TicketStatus.COMPLETED
    )
    model = parts.window.model
    rows = model.stream_rows(Tier.WORKER)
    view_ok = False
    if shown is not None:
        worker = int(shown.rsplit("-", 1)[1])
        parts.window.stream_view.flush()  # the view refreshes at 10 Hz; show what is pending
        view_ok = parts.window.stream_view.toPlainText() == expected_text(worker, chunks)
    complete = (
        not bad_text
        and not bad_count
        and tickets_done == workers
        and rows == workers
        and view_ok
        and str(session.status) == "done"
    )
    return {
        "complete": complete,
        "streams_checked": workers,
        "streams_text_mismatch": bad_text[:10],
        "streams_chunk_count_mismatch": bad_count[:10],
        "tickets_completed": tickets_done,
        "model_rows": rows,
        "shown_stream": shown,
        "stream_view_matches": view_ok,
        "run_status": str(session.status),
    }


# -- the raw Qt limit: W threads -> GUI thread, no model work ------------------------------

class _Emitter(QObject):
    batch_list = Signal(list)
    batch_object = Signal(object)
    one = Signal(int, str)


class _Sink(QObject):
    """Receives in the GUI thread; stores the chunks and nothing else."""

    def __init__(self, workers: int, total: int) -> None:
        super().__init__()
        self.parts: list[list[Any]] = [[] for _ in range(workers + 1)]
        self.total = total
        self.received = 0
        self.t_last = 0.0
        self.emissions = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _count(self, n: int) -> None:
        self.received += n
        if self.received >= self.total and not self.done.done():
            self.t_last = time.perf_counter()
            self.done.set_result(None)

    @Slot(list)
    def on_list(self, batch: list[Any]) -> None:
        self.emissions += 1
        self.parts[batch[0]].append(batch)
        self._count(len(batch) - 1)

    @Slot(object)
    def on_object(self, batch: list[Any]) -> None:
        self.emissions += 1
        self.parts[batch[0]].append(batch)
        self._count(len(batch) - 1)

    @Slot(int, str)
    def on_one(self, worker: int, text: str) -> None:
        self.emissions += 1
        self.parts[worker].append(text)
        self._count(1)

    def text(self, worker: int, batched: bool) -> str:
        if batched:
            return "".join("".join(batch[1:]) for batch in self.parts[worker])
        return "".join(self.parts[worker])


def _produce_batched(emit: Callable[[list[Any]], None], worker: int, chunks: int) -> None:
    batch: list[Any] = [worker]
    deadline = time.perf_counter() + LIMIT_FLUSH_S
    for index in range(chunks):
        batch.append(chunk_text(worker, index))
        if len(batch) > LIMIT_MAX_BATCH or time.perf_counter() >= deadline:
            emit(batch)
            batch = [worker]
            deadline = time.perf_counter() + LIMIT_FLUSH_S
    if len(batch) > 1:
        emit(batch)


def _produce_naive(emit: Callable[[int, str], None], worker: int, chunks: int) -> None:
    for index in range(chunks):
        emit(worker, chunk_text(worker, index))


async def run_limit(
    kind: str, workers: int, chunks: int, probe: Probe, timeout: float
) -> dict[str, Any]:
    """``kind``: ``list`` (Signal(list)), ``object`` (Signal(object)) or ``naive``."""
    emitter = _Emitter()
    sink = _Sink(workers, workers * chunks)
    queued = Qt.ConnectionType.QueuedConnection
    target: Callable[..., None]
    if kind == "list":
        emitter.batch_list.connect(sink.on_list, queued)
        target = _produce_batched
        emit: Any = emitter.batch_list.emit
    elif kind == "object":
        emitter.batch_object.connect(sink.on_object, queued)
        target = _produce_batched
        emit = emitter.batch_object.emit
    else:
        emitter.one.connect(sink.on_one, queued)
        target = _produce_naive
        emit = emitter.one.emit
    threads = [
        threading.Thread(target=target, args=(emit, w, chunks), name=f"bench-{kind}-{w}")
        for w in range(1, workers + 1)
    ]
    probe.start()
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        await asyncio.wait_for(asyncio.shield(sink.done), timeout)
    except TimeoutError:
        timed_out = True
    stalls = probe.stop()
    end = sink.t_last or time.perf_counter()
    for thread in threads:
        thread.join(timeout=10)
    await idle(0.05)  # nothing more may arrive
    batched = kind != "naive"
    bad = [
        w for w in range(1, workers + 1) if sink.text(w, batched) != expected_text(w, chunks)
    ]
    seconds = end - t0
    total = workers * chunks
    result = {
        "path": {
            "list": "batched Signal(list), queued; no model work",
            "object": "batched Signal(object), queued; no model work",
            "naive": "one queued Signal(int, str) per chunk; no model work",
        }[kind],
        "workers": workers,
        "chunks_per_worker": chunks,
        "chunks": total,
        "emissions": sink.emissions,
        "seconds": round(seconds, 4),
        "chunks_per_s": round(total / seconds),
        "tokens_per_s": round(total * TOKENS_PER_CHUNK / seconds),
        "us_per_chunk": round(seconds / total * 1e6, 3),
        "stall": ms_stats(stalls),
        "complete": not bad and not timed_out and sink.received == total,
        "streams_mismatch": bad[:10],
    }
    if batched:
        result["batching"] = (
            f"per thread: flush every {LIMIT_FLUSH_S * 1000:g} ms or {LIMIT_MAX_BATCH} chunks"
        )
    emitter.deleteLater()
    sink.deleteLater()
    return result


async def run_limit_repeated(
    kind: str, workers: int, chunks: int, probe: Probe, timeout: float, repeats: int
) -> dict[str, Any]:
    """The median run of ``repeats`` (by chunks/s), with every run's rate and pooled stalls."""
    results = []
    for _ in range(repeats):
        results.append(await run_limit(kind, workers, chunks, probe, timeout))
        gc.collect()
    ordered = sorted(results, key=lambda r: r["chunks_per_s"])
    median = dict(ordered[len(ordered) // 2])
    median["runs"] = len(results)
    median["samples_chunks_per_s"] = [r["chunks_per_s"] for r in results]
    median["complete"] = all(r["complete"] for r in results)
    return median


# -- the hook ------------------------------------------------------------------------------

def top_up_streams(parts: AppParts, workers: int, size: int) -> int:
    """Grow every Tier 3 stream to ``size`` characters through the hub (GUI thread)."""
    hub = parts.session.hub
    filler = ("0123456789abcdef" * 256)  # 4 KiB
    for worker in range(1, workers + 1):
        sid = worker_sid(worker)
        missing = size - hub.length(sid)
        while missing > 0:
            piece = filler[: min(missing, len(filler))]
            hub.write(sid, piece)
            missing -= len(piece)
    hub.drain()
    return sum(hub.length(worker_sid(w)) for w in range(1, workers + 1))


def _timed_calls(
    address: str, call: Callable[[ApiHookClient], Any], n: int
) -> list[float]:
    with ApiHookClient(address, timeout=120) as client:
        client.ping()
        times: list[float] = []
        for _ in range(n):
            t = time.perf_counter()
            call(client)
            times.append(time.perf_counter() - t)
        return times


#: Timed calls from another process, as a real script makes them. A client in this process
#: would hold the GIL while it decodes a 6.5 MB answer (~10 ms) and stall the GUI itself.
_REMOTE_CLIENT = """
import json, sys, time
from mma_qt.hooks.client import ApiHookClient
address, method, params, n = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
with ApiHookClient(address, timeout=120) as client:
    client.call(method, params)
    print("ready", flush=True)
    sys.stdin.readline()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        client.call(method, params)
        times.append(time.perf_counter() - t)
print(json.dumps(times), flush=True)
"""


class RemoteClient:
    """A hook client in a child process: started and connected first, then told to go."""

    def __init__(self, address: str, method: str, params: dict[str, Any], n: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _REMOTE_CLIENT, address, method, json.dumps(params), str(n)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin, self._stdout = self.process.stdin, self.process.stdout
        if self._stdout.readline().strip() != "ready":
            raise RuntimeError("the remote hook client did not start")

    def run(self) -> list[float]:
        """Blocking: the timed calls' latencies in seconds."""
        self._stdin.write("go\n")
        self._stdin.flush()
        times: list[float] = json.loads(self._stdout.readline())
        if self.process.wait(60) != 0:
            raise RuntimeError(f"the remote hook client exited {self.process.returncode}")
        return times


def _once(address: str, call: Callable[[ApiHookClient], Any]) -> Any:
    with ApiHookClient(address, timeout=120) as client:
        return call(client)


def _calls_until(
    address: str, call: Callable[[ApiHookClient], Any], barrier: threading.Barrier, seconds: float
) -> tuple[list[float], float]:
    """Call until ``seconds`` after all clients are ready: (latencies, elapsed)."""
    with ApiHookClient(address, timeout=120) as client:
        client.ping()
        barrier.wait()
        start = time.perf_counter()
        deadline = start + seconds
        times: list[float] = []
        while True:
            t = time.perf_counter()
            if t >= deadline:
                return times, t - start
            call(client)
            times.append(time.perf_counter() - t)


async def _full_status_figures(
    address: str,
    calls: int,
    probe: Probe,
    off_gui: Callable[..., Awaitable[Any]],
) -> dict[str, Any]:
    """``get_mma_status`` with every stream's text: latency, and the GUI stall meanwhile.

    The figure that counts has the client in another process, as a real script is; the
    same calls from a client in this process are given too (its GIL-holding decode shows).
    """
    remote: RemoteClient = await off_gui(RemoteClient, address, "get_mma_status", {}, calls)
    probe.start()
    times = await off_gui(remote.run)
    stalls = probe.stop()
    probe.start()
    here = await off_gui(_timed_calls, address, lambda c: c.get_mma_status(), calls)
    here_stalls = probe.stop()
    return {
        "client": "another process",
        **ms_stats(times),
        "gui_stall_during": ms_stats(stalls),
        "client_in_this_process": {**ms_stats(here), "gui_stall_during": ms_stats(here_stalls)},
    }


async def run_hook(parts: AppParts, cfg: Config, probe: Probe) -> dict[str, Any]:
    address = parts.hook.path
    total_chars = top_up_streams(parts, cfg.workers, HOOK_STREAM_CHARS)
    tail_sid = worker_sid(1)
    offset = parts.session.hub.length(tail_sid) - 2000
    pool = ThreadPoolExecutor(HOOK_CLIENTS, thread_name_prefix="bench-hook")

    async def off_gui(fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.wrap_future(pool.submit(fn, *args))

    try:
        # One checked call of each form (untimed).
        with_streams: dict[str, Any] = await off_gui(
            _once, address, lambda c: c.get_mma_status()
        )
        summary: dict[str, Any] = await off_gui(
            _once, address, lambda c: c.get_mma_status(streams=False)
        )
        piece: dict[str, Any] = await off_gui(
            _once, address, lambda c: c.get_stream(tail_sid, offset)
        )
        full_ok = all(
            len(with_streams["mma_streams"][worker_sid(w)]) == HOOK_STREAM_CHARS
            for w in range(1, cfg.workers + 1)
        )
        summary_ok = summary["mma_streams"][tail_sid] == HOOK_STREAM_CHARS
        piece_ok = len(piece["text"]) == 2000 and piece["length"] == HOOK_STREAM_CHARS
        full_bytes = len(json.dumps(with_streams))
        summary_bytes = len(json.dumps(summary))
        del with_streams

        full_status = await _full_status_figures(address, cfg.hook_full_calls, probe, off_gui)
        summary_times = await off_gui(
            _timed_calls, address, lambda c: c.get_mma_status(streams=False), cfg.hook_calls
        )
        stream_times = await off_gui(
            _timed_calls, address, lambda c: c.get_stream(tail_sid, offset), cfg.hook_calls
        )
        ping_times = await off_gui(_timed_calls, address, lambda c: c.ping(), cfg.hook_calls)

        barrier = threading.Barrier(HOOK_CLIENTS, timeout=60)
        per_client = await asyncio.gather(
            *(
                off_gui(
                    _calls_until,
                    address,
                    lambda c: c.get_mma_status(streams=False),
                    barrier,
                    cfg.hook_concurrent_seconds,
                )
                for _ in range(HOOK_CLIENTS)
            )
        )
    finally:
        pool.shutdown(wait=True)
    all_times = [t for times, _ in per_client for t in times]
    active = max(elapsed for _, elapsed in per_client)
    return {
        "state": {
            "streams": len(parts.session.records),
            "tier3_streams": cfg.workers,
            "chars_per_tier3_stream": HOOK_STREAM_CHARS,
            "total_tier3_chars": total_chars,
            "full_response_bytes": full_bytes,
            "summary_response_bytes": summary_bytes,
            "answers_checked": full_ok and summary_ok and piece_ok,
        },
        "get_mma_status_full": full_status,
        "get_mma_status_summary": {"params": {"streams": False}, **ms_stats(summary_times)},
        "get_stream_offset": {
            "params": {"stream_id": tail_sid, "offset": offset},
            "text_chars": 2000,
            **ms_stats(stream_times),
        },
        "ping": ms_stats(ping_times),
        "concurrent_summary": {
            "clients": HOOK_CLIENTS,
            "requests": len(all_times),
            "seconds": round(active, 3),
            "requests_per_s": round(len(all_times) / active, 1) if active else None,
            **ms_stats(all_times),
        },
    }


# -- startup -------------------------------------------------------------------------------

def measure_startup(runs: int, tmp: Path) -> dict[str, Any]:
    script = Path(__file__).with_name("startup_probe.py")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    samples: list[dict[str, float]] = []
    errors: list[str] = []
    for run in range(runs):
        sock = str(Path(tempfile.mkdtemp(prefix="mqs", dir=tmp)) / "h.sock")
        t0 = time.time()
        proc = subprocess.run(
            [sys.executable, str(script), repr(t0), sock],
            capture_output=True, text=True, timeout=60, env=env, cwd=REPO_ROOT, check=False,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            errors.append(f"run {run}: rc {proc.returncode}: {proc.stderr[-500:]}")
            continue
        samples.append(json.loads(lines[-1]))
    keys = ["interpreter_s", "imports_s", "qapplication_s", "assembled_s", "show_s",
            "expose_s", "paint_s"]
    medians = {
        key: round(statistics.median(s[key] for s in samples), 4)
        for key in keys
        if samples and all(key in s for s in samples)
    }
    shown = medians.get("expose_s", medians.get("show_s"))
    return {
        "runs": len(samples),
        "method": "subprocess: t0 = parent's time.time() before spawn; child builds the app "
        "via assemble() on a qasync loop, shows the window (offscreen) and reports the first "
        "Show, Expose and Paint events",
        "median": medians,
        "shown_s": shown,
        "samples_shown_s": [
            round(s["expose_s"] if "expose_s" in s else s["show_s"], 4)
            for s in samples
            if "expose_s" in s or "show_s" in s
        ],
        "errors": errors,
    }


# -- the history store: the same runs with and without it ----------------------------------

def _history_bytes(parts: AppParts) -> int:
    """The history file's size with its WAL checkpointed into it (after what was handed
    over is committed)."""
    path, writer = parts.history.path, parts.history.writer
    if path is None or writer is None or not path.exists():
        return 0
    parts.history.flush()
    writer.flush(30)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return path.stat().st_size


def _stored_matches(parts: AppParts, run_id: str) -> bool:
    """Every stream the session holds is in the history, whole and in order."""
    path = parts.history.path
    assert path is not None and parts.history.writer is not None
    parts.history.flush()
    parts.history.writer.flush(30)
    stored = HistoryStore(path, live=(run_id,)).get_run(run_id)["mma_streams"]
    hub = parts.session.hub
    return all(stored.get(sid) == hub.text(sid) for sid in parts.session.records)


async def _history_run(parts: AppParts, factory: BenchProviderFactory, workspace: str,
                       workers: int, chunks: int, interval: float, probe: Probe | None,
                       store: bool, timeout: float) -> dict[str, Any]:
    history = parts.history
    history.enabled = store
    runs: list[str] = []
    history.recording.connect(runs.append)
    writer = history.writer
    rows0 = 0 if writer is None else writer.rows_written
    bytes0 = _history_bytes(parts)
    run = await run_epic(parts, factory, workspace, workers, chunks, interval=interval,
                         probe=probe, timeout=timeout)
    history.recording.disconnect(runs.append)
    tokens = run.total_chunks * TOKENS_PER_CHUNK
    figures: dict[str, Any] = {
        "store": store,
        "p99_stall_ms": ms_stats(run.stalls)["p99_ms"] if probe is not None else None,
        "gui_cpu_us_per_token": round(run.gui_cpu_s / tokens * 1e6, 3),
        "seconds": round(run.seconds, 3),
        "complete": run.complete,
    }
    if store and runs:
        figures["stored_complete"] = _stored_matches(parts, runs[-1])
        writer = history.writer
        assert writer is not None
        figures["history_off"] = writer.failure
        rows = writer.rows_written - rows0
        figures["rows_written"] = rows
        figures["rows_per_s"] = round(rows / run.run_seconds)
        grown = _history_bytes(parts) - bytes0
        figures["db_bytes_per_mb_streamed"] = round(grown / (run.delivered_chars / 1e6))
        figures["complete"] = run.complete and figures["stored_complete"]
    return figures


async def run_history(parts: AppParts, factory: BenchProviderFactory, workspace: str,
                      cfg: Config, probe: Probe) -> dict[str, Any]:
    """Full-speed ingest and the realistic load, each without and with the store, in
    alternating order; p99 GUI stall (probe on) and GUI CPU per token (probe off)."""
    interval = TOKENS_PER_CHUNK / REALISTIC_TOKENS_PER_S
    rchunks = max(1, round(cfg.realistic_seconds / interval))
    loads = {
        "full_speed": (cfg.workers, cfg.chunks, 0.0),
        "realistic": (cfg.realistic_workers, rchunks, interval),
    }
    result: dict[str, Any] = {
        "method": "the same epic without and with the history recorder (rows to a writer "
        "thread, WAL, group commits); off, on, on, off; stall with the probe, CPU without",
    }
    for name, (workers, chunks, gap) in loads.items():
        pairs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
        for store in (False, True, True, False):
            for with_probe in (True, False):
                log(f"history {name}: store {'on' if store else 'off'}, probe {with_probe}")
                figures = await _history_run(
                    parts, factory, workspace, workers, chunks, gap,
                    probe if with_probe else None, store, cfg.run_timeout_s)
                pairs["on" if store else "off"].append(figures)
                gc.collect()
        result[name] = {key: _history_summary(runs) for key, runs in pairs.items()}
        off, on = result[name]["off"], result[name]["on"]
        result[name]["store_adds_percent"] = {
            metric: round(100 * (on[metric] - off[metric]) / off[metric], 1)
            if off[metric] else None
            for metric in ("p99_stall_ms", "gui_cpu_us_per_token")
        }
    parts.history.enabled = True
    result["complete"] = all(
        r["complete"] for name in loads for side in ("off", "on")
        for r in [result[name][side]])
    return result


def _history_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of the probed runs' stalls and of the unprobed runs' CPU; rows from all."""
    stalls = [r["p99_stall_ms"] for r in runs if r["p99_stall_ms"] is not None]
    cpu = [r["gui_cpu_us_per_token"] for r in runs if r["p99_stall_ms"] is None]
    summary: dict[str, Any] = {
        "p99_stall_ms": round(statistics.mean(stalls), 2) if stalls else None,
        "gui_cpu_us_per_token": round(statistics.mean(cpu), 3) if cpu else None,
        "complete": all(r["complete"] for r in runs),
        "runs": runs,
    }
    stored = [r for r in runs if "rows_per_s" in r]
    if stored:
        summary["rows_per_s"] = round(statistics.mean(r["rows_per_s"] for r in stored))
        summary["db_bytes_per_mb_streamed"] = round(
            statistics.mean(r["db_bytes_per_mb_streamed"] for r in stored))
    return summary


# -- the whole benchmark -------------------------------------------------------------------

def ingest_figures(runs: list[EpicRun]) -> dict[str, Any]:
    """Median of the runs (by chunks/s); stalls are pooled over all runs."""
    first = runs[0]
    total = first.total_chunks
    tokens = total * TOKENS_PER_CHUNK
    ordered = sorted(runs, key=lambda r: r.seconds)
    median = ordered[len(ordered) // 2]
    return {
        "path": "synthetic worker threads -> run_call -> StreamHub.write -> 16 ms drain -> "
        "MmaSession (events, hook publish) -> MmaTreeModel (10 Hz) + StreamView (one stream "
        "shown)",
        "workers": first.workers,
        "chunks_per_worker": first.chunks,
        "chunks": total,
        "chunk_chars": CHUNK_CHARS,
        "tokens": tokens,
        "streamed_chars": first.delivered_chars,
        "runs": len(runs),
        "seconds": round(median.seconds, 4),
        "run_seconds": round(median.run_seconds, 4),
        "chunks_per_s": round(total / median.seconds),
        "tokens_per_s": round(tokens / median.seconds),
        "samples_chunks_per_s": [round(total / r.seconds) for r in runs],
        "drains": median.drains,
        "chunks_per_drain": round(total / max(1, median.drains), 1),
        "gui_cpu_s": round(median.gui_cpu_s, 4),
        "gui_cpu_us_per_token": round(median.gui_cpu_s / tokens * 1e6, 3),
        "timed_out": any(r.timed_out for r in runs),
        "checks": [r.checks for r in runs],
        "complete": all(r.complete for r in runs),
    }


def realistic_figures(run: EpicRun, rate: int) -> dict[str, Any]:
    tokens = run.total_chunks * TOKENS_PER_CHUNK
    return {
        "workers": run.workers,
        "tokens_per_s_per_worker": rate,
        "chunk_interval_s": run.interval,
        "chunks_per_worker": run.chunks,
        "tokens": tokens,
        "seconds": round(run.seconds, 3),
        "achieved_tokens_per_s": round(tokens / run.seconds),
        "gui_cpu_s": round(run.gui_cpu_s, 4),
        "gui_wall_s": round(run.gui_wall_s, 3),
        "gui_cpu_percent": round(100 * run.gui_cpu_s / run.gui_wall_s, 2)
        if run.gui_wall_s > 0 else None,
        "gui_cpu_us_per_token": round(run.gui_cpu_s / tokens * 1e6, 3),
        "complete": run.complete,
        "checks": run.checks,
    }


async def benchmark(cfg: Config, tmp: Path) -> dict[str, Any]:
    workspace = str(tmp / "workspace")
    os.makedirs(workspace, exist_ok=True)
    factory = BenchProviderFactory()
    parts = assemble(
        factory,
        PricingTable.load(),
        RunOptions(max_workers=max(cfg.workers, cfg.realistic_workers)),
        auto=True,
        hook_address=str(tmp / "hook.sock"),
    )
    parts.window.show()
    # The phases below measure the app without its history store; run_history compares.
    parts.history.enabled = False
    probe = Probe()
    result: dict[str, Any] = {}
    try:
        if cfg.history_only:
            await run_epic(parts, factory, workspace, cfg.workers, 50,
                           timeout=cfg.run_timeout_s)  # warm-up
            result["history"] = await run_history(parts, factory, workspace, cfg, probe)
            return result
        await idle(0.3)
        cpu0 = time.thread_time()
        probe.start()
        await idle(1.0 if not cfg.quick else 0.3)
        idle_stalls = probe.stop()
        idle_cpu = time.thread_time() - cpu0

        log(f"warm-up run: {cfg.workers} x 50 chunks")
        warm = await run_epic(parts, factory, workspace, cfg.workers, 50, timeout=cfg.run_timeout_s)
        del warm
        gc.collect()
        await idle(0.2)

        log(f"ingest: {cfg.workers} workers x {cfg.chunks} chunks at full speed")
        memory: dict[str, int] = {}
        gc.collect()
        memory["rss_before"] = rss_bytes()

        async def measure_memory() -> None:
            gc.collect()
            memory["rss_at_finish"] = rss_bytes()
            memory["peak_rss"] = peak_rss_bytes()
            # The run's executor shuts down without waiting: let its threads end, so their
            # stacks and per-thread malloc arenas are not counted as text.
            memory["worker_threads_at_finish"] = len(worker_threads())
            deadline = time.perf_counter() + 5
            while worker_threads() and time.perf_counter() < deadline:
                await idle(0.02)
            gc.collect()
            memory["rss_after"] = rss_bytes()

        ingest_runs: list[EpicRun] = []
        full_speed_stalls: list[float] = []
        for index in range(cfg.repeats):
            run = await run_epic(
                parts, factory, workspace, cfg.workers, cfg.chunks, probe=probe,
                timeout=cfg.run_timeout_s,
                before_verify=measure_memory if index == 0 else None,
            )
            ingest_runs.append(run)
            full_speed_stalls += run.stalls
            gc.collect()
        ingest = ingest_figures(ingest_runs)
        result["ingest"] = ingest
        streamed = ingest_runs[0].delivered_chars
        growth = memory["rss_after"] - memory["rss_before"]
        result["memory"] = {
            "method": "VmRSS after a warm-up run and gc, before the ingest run and after it, "
            "once its worker threads have ended (before verification touches the texts); "
            "streamed text is ASCII",
            "streamed_text_bytes": streamed,
            "rss_before_bytes": memory["rss_before"],
            "rss_at_finish_bytes": memory["rss_at_finish"],
            "worker_threads_at_finish": memory["worker_threads_at_finish"],
            "rss_at_finish_growth_over_text": round(
                (memory["rss_at_finish"] - memory["rss_before"]) / streamed, 3
            ) if streamed else None,
            "rss_after_bytes": memory["rss_after"],
            "rss_growth_bytes": growth,
            "rss_growth_over_text": round(growth / streamed, 3) if streamed else None,
            "peak_rss_bytes": memory["peak_rss"],
        }

        log("hook: 64 streams x 100 KB" if cfg.workers == 64 else
            f"hook: {cfg.workers} streams x 100 KB")
        result["hook"] = await run_hook(parts, cfg, probe)

        log("limit: batched Signal(list), Signal(object), naive per-chunk signal")
        limit_list = await run_limit_repeated(
            "list", cfg.workers, cfg.chunks, probe, cfg.run_timeout_s, cfg.repeats
        )
        limit_object = await run_limit_repeated(
            "object", cfg.workers, cfg.chunks, probe, cfg.run_timeout_s, cfg.repeats
        )
        naive = await run_limit_repeated(
            "naive", cfg.workers, cfg.naive_chunks, probe, cfg.run_timeout_s, cfg.repeats
        )
        ratio = ingest["chunks_per_s"] / limit_list["chunks_per_s"]
        result["limit"] = {
            "batched_signal_list": limit_list,
            "batched_signal_object": limit_object,
            "naive_per_chunk": naive,
            "ingest_over_limit": round(ratio, 3),
            "ingest_over_limit_object": round(
                ingest["chunks_per_s"] / limit_object["chunks_per_s"], 3
            ),
            "ingest_over_naive": round(ingest["chunks_per_s"] / naive["chunks_per_s"], 3),
        }

        interval = TOKENS_PER_CHUNK / REALISTIC_TOKENS_PER_S
        rchunks = max(1, round(cfg.realistic_seconds / interval))
        log(f"realistic: {cfg.realistic_workers} workers x {REALISTIC_TOKENS_PER_S} tokens/s "
            f"for {cfg.realistic_seconds:g} s, with the probe")
        real_probe = await run_epic(
            parts, factory, workspace, cfg.realistic_workers, rchunks, interval=interval,
            probe=probe, timeout=cfg.run_timeout_s,
        )
        log("realistic again, without the probe, for GUI CPU per token")
        real_cpu = await run_epic(
            parts, factory, workspace, cfg.realistic_workers, rchunks, interval=interval,
            timeout=cfg.run_timeout_s,
        )
        result["responsiveness"] = {
            "probe": f"{PROBE_MS} ms single-shot PreciseTimer re-armed each tick in the GUI "
            "thread; stall = lateness vs. its schedule",
            "idle": ms_stats(idle_stalls),
            "full_speed_ingest": {
                "runs": len(ingest_runs),
                **ms_stats(full_speed_stalls),
                "top_ms": sorted((round(x * 1e3, 1) for x in full_speed_stalls),
                                 reverse=True)[:5],
            },
            "realistic": {
                "load": f"{cfg.realistic_workers} workers x {REALISTIC_TOKENS_PER_S} tokens/s "
                f"for {cfg.realistic_seconds:g} s",
                **ms_stats(real_probe.stalls),
            },
            "limit_signal_list": limit_list["stall"],
            "naive_per_chunk": naive["stall"],
        }
        idle_seconds = 1.0 if not cfg.quick else 0.3
        result["gui_cpu"] = {
            "method": "time.thread_time() in the GUI thread from the first Tier 3 row to the "
            "last chunk delivered; separate run without the probe timer",
            "realistic": realistic_figures(real_cpu, REALISTIC_TOKENS_PER_S),
            "realistic_with_probe_us_per_token": round(
                real_probe.gui_cpu_s / (real_probe.total_chunks * TOKENS_PER_CHUNK) * 1e6, 3
            ),
            "idle_with_probe_cpu_percent": round(100 * idle_cpu / idle_seconds, 2),
            "full_speed_ingest_us_per_token": ingest["gui_cpu_us_per_token"],
        }
        result["realistic_complete"] = real_probe.complete and real_cpu.complete
        log("history: the same loads without and with the store")
        result["history"] = await run_history(parts, factory, workspace, cfg, probe)
    finally:
        parts.window.close()
        parts.history.close()
        parts.hook.close()
        parts.window.deleteLater()
        await idle(0.05)
    return result


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pyside6": PySide6.__version__,
        "qt": qVersion(),
        "qasync": metadata.version("qasync"),
        "qpa": os.environ.get("QT_QPA_PLATFORM"),
        "gil_switch_interval_s": sys.getswitchinterval(),
    }


def evaluate(result: dict[str, Any]) -> list[dict[str, Any]]:
    def target(metric: str, goal: str, measured: Any, unit: str, met: bool) -> dict[str, Any]:
        return {"metric": metric, "target": goal, "measured": measured, "unit": unit,
                "met": bool(met)}

    ratio = result["limit"]["ingest_over_limit"]
    p99 = result["responsiveness"]["full_speed_ingest"]["p99_ms"]
    cpu = result["gui_cpu"]["realistic"]["gui_cpu_us_per_token"]
    hook = result["hook"]["get_mma_status_summary"]["p50_ms"]
    full_stall = result["hook"]["get_mma_status_full"]["gui_stall_during"]["p99_ms"]
    startup = result["startup"]["shown_s"]
    rss = result["memory"]["rss_growth_over_text"]
    return [
        target("ingest / limit (chunks/s vs batched Signal(list))",
               f">= {TARGET_INGEST_RATIO}", ratio, "ratio", ratio >= TARGET_INGEST_RATIO),
        target("p99 GUI stall at full-speed ingest", f"<= {TARGET_P99_STALL_MS:g} ms", p99,
               "ms", p99 is not None and p99 <= TARGET_P99_STALL_MS),
        target("GUI CPU per token at realistic load", f"<= {TARGET_CPU_US_PER_TOKEN:g} us",
               cpu, "us/token", cpu <= TARGET_CPU_US_PER_TOKEN),
        target("hook get_mma_status summary p50", f"<= {TARGET_HOOK_SUMMARY_P50_MS:g} ms",
               hook, "ms", hook is not None and hook <= TARGET_HOOK_SUMMARY_P50_MS),
        target("p99 GUI stall during hook get_mma_status with 64 x 100 KB streams",
               f"<= {TARGET_HOOK_FULL_STALL_P99_MS:g} ms", full_stall, "ms",
               full_stall is not None and full_stall <= TARGET_HOOK_FULL_STALL_P99_MS),
        target("startup to first window shown (median)", f"<= {TARGET_STARTUP_S:g} s",
               startup, "s", startup is not None and startup <= TARGET_STARTUP_S),
        target("RSS growth / streamed text", f"<= {TARGET_RSS_RATIO:g}x", rss, "ratio",
               rss is not None and rss <= TARGET_RSS_RATIO),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.streams",
        description="End-to-end streaming benchmark of mma_qt (offscreen, one JSON on stdout).",
    )
    parser.add_argument("--quick", action="store_true",
                        help="seconds: 8 x 200 chunks, short phases; completeness only")
    parser.add_argument("--workers", type=int, default=None, metavar="W",
                        help="parallel workers for ingest (default 64; quick 8)")
    parser.add_argument("--chunks", type=int, default=None, metavar="C",
                        help="chunks per worker (default 2000; quick 200)")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="also write the JSON document to FILE")
    parser.add_argument("--history-only", action="store_true",
                        help="only the history store's phase (with and without it)")
    args = parser.parse_args(argv)
    for name in ("workers", "chunks"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1")
    if args.workers is not None and args.workers > 999:
        parser.error("--workers must be at most 999")
    return args


def isolate_user_dirs(tmp: Path) -> None:
    """Settings, logs and runtime files go to ``tmp``, never the user's profile."""
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"):
        folder = tmp / var.lower()
        folder.mkdir(mode=0o700)
        os.environ[var] = str(folder)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = Config.from_args(args)
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="mqb"))  # short: AF_UNIX paths are limited
    try:
        isolate_user_dirs(tmp)
        app = QApplication.instance() or QApplication(sys.argv[:1])
        app.setOrganizationName("mma-qt")
        app.setApplicationName("mma-qt")
        app.setQuitOnLastWindowClosed(False)
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        try:
            body = loop.run_until_complete(benchmark(cfg, tmp))
        finally:
            loop.close()
            asyncio.set_event_loop(None)
        if not cfg.history_only:
            log(f"startup: {cfg.startup_runs} subprocess run(s)")
            body["startup"] = measure_startup(cfg.startup_runs, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if cfg.history_only:
        print(json.dumps(body, indent=2, allow_nan=False), flush=True)
        return 0 if body["history"]["complete"] else 1
    complete = bool(
        body["history"]["complete"] and
        body["ingest"]["complete"]
        and body["realistic_complete"]
        and body["limit"]["batched_signal_list"]["complete"]
        and body["limit"]["batched_signal_object"]["complete"]
        and body["limit"]["naive_per_chunk"]["complete"]
        and body["hook"]["state"]["answers_checked"]
    )
    document: dict[str, Any] = {
        "benchmark": "mma_qt streams",
        "quick": cfg.quick,
        "complete": complete,
        "machine": machine_info(),
        "config": {
            "workers": cfg.workers,
            "chunks_per_worker": cfg.chunks,
            "chunk_chars": CHUNK_CHARS,
            "tokens_per_chunk": TOKENS_PER_CHUNK,
            "realistic_workers": cfg.realistic_workers,
            "realistic_seconds": cfg.realistic_seconds,
            "naive_chunks_per_worker": cfg.naive_chunks,
            "repeats_ingest_and_limit": cfg.repeats,
        },
        **{k: v for k, v in body.items() if k != "realistic_complete"},
    }
    document["targets"] = evaluate(document)
    if cfg.quick:
        document["note"] = "quick run: timings are not meaningful; only completeness counts"
    document["elapsed_s"] = round(time.perf_counter() - started, 2)
    text = json.dumps(document, indent=2, allow_nan=False)
    print(text, flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
