"""Tracks side by side: a queue that runs at most ``max_tracks`` at once, and how a track
and a run of several tracks ended. No Qt.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from ..model.cancel import CancelToken
from ..model.domain import Ticket, Track
from ..model.status import RunStatus, TrackStatus


class TrackQueue:
    """Runs ``work(track)`` for each track, in order, at most ``limit`` at once; a track
    that ended may join again (:meth:`add`: its tickets became ready)."""

    def __init__(self, work: Callable[[Track], Coroutine[Any, Any, None]], limit: int) -> None:
        self._work = work
        self._limit = max(1, limit)
        self._queue: list[Track] = []
        self._wake: asyncio.Future[None] | None = None

    def add(self, track: Track) -> None:
        """Run ``track`` (again) once a slot is free."""
        if track not in self._queue:
            self._queue.append(track)
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def run(self, tracks: Sequence[Track]) -> None:
        self._queue += [t for t in tracks if t not in self._queue]
        running: dict[asyncio.Task[None], Track] = {}
        loop = asyncio.get_running_loop()
        try:
            while True:
                while self._queue and len(running) < self._limit:
                    track = self._queue.pop(0)
                    if not track.status.is_final:  # not cancelled while queued
                        running[loop.create_task(self._work(track),
                                                 name=f"mma-track {track.id}")] = track
                if not running:
                    break
                self._wake = wake = loop.create_future()
                await asyncio.wait([*running, wake], return_when=asyncio.FIRST_COMPLETED)
                for task in [t for t in running if t.done()]:
                    del running[task]
                    task.result()  # a bug in a track's task propagates to the run
        finally:
            self._wake = None
            for task in running:
                task.cancel()


def count_phrase(counts: Mapping[str, int], noun: str) -> str:
    """``1 track done, 2 cancelled``: the noun (pluralised) after the first count only."""
    parts = [f"{n} {status}" for status, n in counts.items() if n]
    if parts:
        first_n = next(n for n in counts.values() if n)
        parts[0] = parts[0].replace(" ", f" {noun}{'s' * (first_n != 1)} ", 1)
    return ", ".join(parts)


def tickets_summary(tickets: Sequence[Ticket]) -> str:
    """``1 failed, 2 blocked of 6 tickets``: the tickets that are not done, by status."""
    bad = Counter(str(t.status) for t in tickets if not t.status.satisfies)
    total = len(tickets)
    return (", ".join(f"{n} {s}" for s, n in sorted(bad.items()))
            + f" of {total} ticket{'s' * (total != 1)}")


def track_outcome(track: Track, token: CancelToken) -> tuple[TrackStatus, str]:
    """Done when every ticket completed or was skipped; else cancelled (its token) or
    failed, saying how many tickets ended how."""
    if all(t.status.satisfies for t in track.tickets):
        return TrackStatus.DONE, ""
    if token.cancelled:
        return TrackStatus.CANCELLED, token.reason
    return TrackStatus.FAILED, tickets_summary(track.tickets)


def run_outcome(tracks: Sequence[Track]) -> tuple[RunStatus, str]:
    """Done when every track is done; else failed (a track failed) or cancelled, with how
    the tracks ended: ``1 track done, 1 cancelled (TR-2 cancelled: ...)``; one track: its
    own error."""
    if all(t.status is TrackStatus.DONE for t in tracks):
        return RunStatus.DONE, ""
    unfinished = [t for t in tracks if t.status is not TrackStatus.DONE]
    status = (RunStatus.CANCELLED if all(t.status is TrackStatus.CANCELLED for t in unfinished)
              else RunStatus.FAILED)
    if len(tracks) == 1:
        return status, tracks[0].error
    order = {s: i for i, s in enumerate(TrackStatus)}
    ended = sorted(tracks, key=lambda t: (t.status is not TrackStatus.DONE, order[t.status]))
    counts = Counter(str(t.status) for t in ended)
    why = "; ".join(f"{t.id} {t.status}: {t.error}" for t in tracks if t.error)
    return status, count_phrase(counts, "track") + (f" ({why})" if why else "")
