"""The Graph dock with a large plan: ``python -m benchmarks.dag_view``.

Offscreen, in one process: an :class:`~mma_qt.core.live.session.MmaSession` and a shown
:class:`~mma_qt.ui.dag_view.DagPanel` (1200 x 700). A deterministic random plan of
``--tickets`` tickets (each depends on 0-3 of the 30 before it) is published the way the
runner does (``set_tracks``, ``set_plan``), then driven through ``session.set_ticket``
as a run would: every ticket waits, runs, some fail and run again, all complete.

Measured (milliseconds):

- ``layout``: the pure layout alone (``dag_layout.layout``), median of 5;
- ``build``: from ``set_plan`` to the picture built (``flush``: layout + items), median of
  5, and the first full paint of the fitted picture;
- ``updates``: ``--changes`` status changes at ``--rate`` per second, from a 16 ms timer in
  the GUI thread: the duration of each coalesced ``flush``, the GUI stall (a 5 ms probe
  timer's lateness, as ``benchmarks.streams`` measures it) and the GUI thread's CPU time;
- ``relayout``: a ticket's ``depends_on`` changed and its ticket event published, to the
  new picture built; median of 5.

Checks (``complete``): one node per ticket, one arrow per dependency, and after the
updates every node's colour is its ticket's status colour. Prints one JSON document;
exits 1 only when a check fails. Timings are reported, never asserted.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QT_API", "pyside6")

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

from mma_qt.core.live.session import MmaSession
from mma_qt.core.model.dag_layout import layout
from mma_qt.core.model.domain import Ticket, Track
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.status import TicketStatus
from mma_qt.ui.dag_items import STATUS_COLOURS
from mma_qt.ui.dag_view import DagPanel

from .streams import Probe, log, ms_stats

REPEATS = 5
TICK_MS = 16


class TimedPanel(DagPanel):
    """The panel, timing each flush (its timer calls this override)."""

    def __init__(self, session: MmaSession) -> None:
        super().__init__(session)
        self.flush_s: list[float] = []

    @Slot()
    def flush(self) -> None:
        started = time.perf_counter()
        super().flush()
        self.flush_s.append(time.perf_counter() - started)


def make_plan(count: int, seed: int = 11) -> list[Ticket]:
    rnd = random.Random(seed)
    tickets = []
    for i in range(count):
        earlier = range(max(0, i - 30), i)
        deps = sorted(rnd.sample(earlier, min(len(earlier), rnd.randint(0, 3))))
        tickets.append(Ticket(f"T-{i:03d}", f"Ticket number {i} of the benchmark plan",
                              depends_on=tuple(f"T-{j:03d}" for j in deps)))
    return tickets


def changes_for(count: int, total: int, seed: int = 5) -> list[tuple[int, TicketStatus]]:
    """``total`` (ticket index, status) changes in a run-like order: each ticket waits,
    runs, one in five fails and runs again, then completes; tickets interleave. When all
    have completed, they go round again."""
    rnd = random.Random(seed)
    out: list[tuple[int, TicketStatus]] = []
    while len(out) < total:
        walks = []
        for index in range(count):
            walk = [TicketStatus.WAITING, TicketStatus.IN_PROGRESS]
            if rnd.random() < 0.2:
                walk += [TicketStatus.FAILED, TicketStatus.IN_PROGRESS]
            walks.append([(index, status) for status in [*walk, TicketStatus.COMPLETED]])
        while walks and len(out) < total:
            walk = rnd.choice(walks)
            out.append(walk.pop(0))
            if not walk:
                walks.remove(walk)
    return out


def publish_plan(session: MmaSession, tickets: list[Ticket]) -> None:
    track = Track("TR-1", "Benchmark track")
    session.set_tracks([track])
    session.set_plan(track, tickets)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure_build(panel: TimedPanel, session: MmaSession, count: int) -> dict[str, Any]:
    builds, paints = [], []
    for _ in range(REPEATS):
        session.reset("benchmark", "/tmp")
        panel.flush()
        tickets = make_plan(count)
        builds.append(timed(lambda t=tickets: (publish_plan(session, t), panel.flush())))
        paints.append(timed(panel.view.viewport().repaint))
    graph = [(t.id, t.depends_on) for t in make_plan(count)]
    layouts = [timed(lambda: layout(graph)) for _ in range(REPEATS)]
    placed = layout(graph)
    return {
        "layout_ms": round(statistics.median(layouts) * 1e3, 2),
        "build_ms": round(statistics.median(builds) * 1e3, 2),
        "first_paint_ms": round(statistics.median(paints) * 1e3, 2),
        "ranks": len(placed.ranks),
        "widest_rank": max(len(r) for r in placed.ranks),
        "crossings": placed.crossings,
        "crossings_without_sweeps": layout(graph, sweeps=0).crossings,
    }


class Storm(QObject):
    """Applies the status changes, ``per_tick`` every 16 ms, then quits ``loop``."""

    def __init__(self, session: MmaSession, changes: list[tuple[int, TicketStatus]],
                 per_tick: int, loop: QEventLoop) -> None:
        super().__init__()
        self._session, self._changes, self._per_tick, self._loop = (
            session, changes, per_tick, loop)
        self._tickets = list(session.tickets.values())
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    @Slot()
    def _tick(self) -> None:
        batch, self._changes = self._changes[:self._per_tick], self._changes[self._per_tick:]
        for index, status in batch:
            self._session.set_ticket(self._tickets[index], status, model="bench-model")
        if not self._changes:
            self._timer.stop()
            QTimer.singleShot(200, self._loop.quit)  # let the last flush happen


def measure_updates(panel: TimedPanel, session: MmaSession, total: int,
                    rate: int) -> dict[str, Any]:
    changes = changes_for(len(session.tickets), total)
    per_tick = max(1, round(rate * TICK_MS / 1000))
    panel.flush_s.clear()
    probe = Probe()
    loop = QEventLoop()
    storm = Storm(session, changes, per_tick, loop)
    cpu, wall = time.thread_time(), time.perf_counter()
    probe.start()
    loop.exec()
    stalls = probe.stop()
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    storm.deleteLater()
    return {
        "changes": len(changes),
        "rate_per_s": round(per_tick * 1000 / TICK_MS),
        "flushes": len(panel.flush_s),
        "flush": ms_stats(panel.flush_s),
        "gui_stall": ms_stats(stalls),
        "gui_cpu_share": round(cpu / wall, 3),
    }


def measure_relayout(panel: TimedPanel, session: MmaSession) -> dict[str, Any]:
    tickets = list(session.tickets.values())
    samples = []
    for i in range(REPEATS):
        ticket = tickets[len(tickets) // 2 + i]
        earlier = [t.id for t in tickets[: len(tickets) // 2]]
        ticket.depends_on = (earlier[i], earlier[-1 - i])
        session.set_ticket(ticket, ticket.status)
        samples.append(timed(panel.flush))
    return {"relayout_ms": ms_stats(samples),
            "relayout_median_ms": round(statistics.median(samples) * 1e3, 2)}


def checks(panel: TimedPanel, session: MmaSession) -> dict[str, bool]:
    panel.flush()
    view, tickets = panel.view, session.tickets.values()
    edges = {(d, t.id) for t in tickets for d in t.depends_on}
    return {
        "one_node_per_ticket": set(view.nodes) == set(session.tickets),
        "one_arrow_per_dependency": set(view.edges) == edges,
        "colours_follow_status": all(
            view.nodes[t.id].fill.name() == STATUS_COLOURS[t.status][0] for t in tickets),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--changes", type=int, default=4000)
    parser.add_argument("--rate", type=int, default=1000, help="status changes per second")
    parser.add_argument("--quick", action="store_true", help="40 tickets, 400 changes")
    args = parser.parse_args(argv)
    if args.quick:
        args.tickets, args.changes = 40, 400
    app = QApplication.instance() or QApplication(sys.argv[:1])
    session = MmaSession(PricingTable.load(), "benchmark")
    panel = TimedPanel(session)
    panel.resize(1200, 700)
    panel.show()
    app.processEvents()
    log(f"build: {args.tickets} tickets x {REPEATS}")
    build = measure_build(panel, session, args.tickets)
    log(f"updates: {args.changes} status changes at {args.rate}/s")
    updates = measure_updates(panel, session, args.changes, args.rate)
    found = checks(panel, session)
    log("relayout")
    relayout = measure_relayout(panel, session)
    found.update({f"after_relayout_{k}": v for k, v in checks(panel, session).items()})
    document = {
        "benchmark": "mma_qt dag_view", "quick": args.quick, "tickets": args.tickets,
        "dependencies": sum(len(t.depends_on) for t in make_plan(args.tickets)),
        "complete": all(found.values()), "checks": found,
        "build": build, "updates": updates, "relayout": relayout,
    }
    panel.close()
    panel.deleteLater()
    session.deleteLater()
    app.processEvents()
    print(json.dumps(document, indent=2))
    return 0 if document["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
