"""The run-wide bound on Tier 3 workers, shared by every track's conductor. Pure logic.

``max_workers`` counts the workers of all tracks together: a conductor takes a slot before
it starts a ticket and gives it back when the ticket's task ends; a slot given back wakes
every conductor (one of another track may have been waiting for it). Lives on the asyncio
loop (GUI thread): no lock.
"""

from __future__ import annotations

from collections.abc import Callable


class WorkerSlots:
    def __init__(self) -> None:
        #: Slots taken now.
        self.taken = 0
        #: The most taken at once, over the run (for tests and the log).
        self.peak = 0
        self._listeners: list[Callable[[], None]] = []

    def take(self, limit: int) -> bool:
        """Take a slot if fewer than ``limit`` are taken."""
        if self.taken >= limit:
            return False
        self.taken += 1
        self.peak = max(self.peak, self.taken)
        return True

    def give(self, _done: object = None) -> None:
        """Give a slot back (usable as a task's done callback) and wake the conductors."""
        self.taken -= 1
        for listener in list(self._listeners):
            listener()

    def listen(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` whenever a slot is given back; returns a function that stops it."""
        self._listeners.append(wake)
        return lambda: self._listeners.remove(wake)
