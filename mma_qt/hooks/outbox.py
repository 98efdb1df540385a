"""What one hook connection still has to send, in order, written until a deadline.

Each message is an iterator of byte pieces; an empty piece is a point where the writer may
stop and go on later (a large answer being encoded). A message is written whole before the
next one starts, so answers and events leave in the order they were queued, however long
one of them takes to encode. Pure Python: the server decides when to pump.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator


class Outbox:
    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self._messages: deque[Iterator[bytes]] = deque()

    @property
    def pending(self) -> bool:
        return bool(self._messages)

    def put(self, pieces: Iterable[bytes]) -> None:
        """Queue one message behind everything queued before it."""
        self._messages.append(iter(pieces))

    def pump(self, deadline: float | None) -> bool:
        """Write until all is sent or ``deadline`` (``time.perf_counter``) has passed.

        Returns True when nothing is left. Raises what a message's iterator raises (a bug:
        encoding errors are answered, not raised); that message is dropped first.
        """
        while self._messages:
            head = self._messages[0]
            try:
                for piece in head:
                    if piece:
                        self._write(piece)
                    if deadline is not None and time.perf_counter() >= deadline:
                        return False
            except BaseException:
                self._messages.popleft()
                raise
            self._messages.popleft()
        return True

    def clear(self) -> int:
        """Forget every unsent message; returns how many there were."""
        count = len(self._messages)
        self._messages.clear()
        return count
