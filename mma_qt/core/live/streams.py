"""Per-stream text buffers, and the one path from worker threads to the GUI thread.

Workers call :meth:`StreamHub.write` from any thread: the chunk is numbered (per stream)
and appended to a locked pending list. Only the first write after a drain emits a queued
``_wake`` signal, so however fast workers stream there is at most one wake in flight: no
backlog of per-token signals can build up in the GUI event queue. The wake starts a
single-shot timer (~16 ms, one frame), whose drain moves every pending chunk into the
stream's full transcript and emits :attr:`StreamHub.appended` once with all new text.
The transcripts live here, in the core, never in a widget.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

log = logging.getLogger(__name__)

DEFAULT_DRAIN_MS = 16
#: Pending chunks above which a worker thread asks for an immediate drain and waits (up to
#: BACKPRESSURE_WAIT_S) for it: a memory bound for a GUI thread that falls far behind.
#: Real providers wait on the network and never get here; a lower bound would trade
#: throughput for GIL hand-offs (measured: 4,096 cut full-speed ingest 7x; see
#: benchmarks/README.md).
BACKPRESSURE_CHUNKS = 65536
BACKPRESSURE_WAIT_S = 0.05


class StreamOrderError(AssertionError):
    """A chunk arrived out of sequence: a broken invariant, never expected."""


class StreamText:
    """One stream's full transcript: appended to in pieces, joined lazily."""

    __slots__ = ("_joined", "_length", "_parts", "chunks")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._joined = ""
        self._length = 0
        #: Chunks received; equals the next expected sequence number.
        self.chunks = 0

    def append(self, text: str) -> None:
        self._parts.append(text)
        self._length += len(text)

    def __len__(self) -> int:
        return self._length

    def text(self, offset: int = 0) -> str:
        if self._parts:
            self._joined += "".join(self._parts)
            self._parts.clear()
        return self._joined[offset:] if offset else self._joined


#: A pending chunk: (stream id, sequence number, text). A plain tuple: building a frozen
#: dataclass per chunk cost two thirds of write() (benchmarks/README.md).
Chunk = tuple[str, int, str]


class StreamHub(QObject):
    """Collects chunks from any thread and delivers them, coalesced, in the GUI thread."""

    #: ``dict[str, str]``: stream id -> text appended by this drain, in stream order.
    appended = Signal(object)
    _wake = Signal()
    _urgent = Signal()

    def __init__(self, parent: QObject | None = None, *, drain_ms: int = DEFAULT_DRAIN_MS):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._gui_thread = threading.get_ident()
        self._pending: list[Chunk] = []
        self._next_seq: dict[str, int] = {}
        self._wake_sent = False
        self._urgent_sent = False
        self._streams: dict[str, StreamText] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(drain_ms)
        self._timer.timeout.connect(self.drain)
        self._wake.connect(self._on_wake, Qt.ConnectionType.QueuedConnection)
        self._urgent.connect(self.drain, Qt.ConnectionType.QueuedConnection)

    # -- any thread ------------------------------------------------------------------
    def write(self, stream_id: str, text: str) -> int:
        """Queue ``text`` for ``stream_id``; return its sequence number. Thread-safe."""
        if not text:
            return -1
        with self._lock:
            if (
                len(self._pending) >= BACKPRESSURE_CHUNKS
                and threading.get_ident() != self._gui_thread
            ):
                # Ask for a drain now rather than at the next tick, and wait for it. Never
                # for long: a GUI thread that cannot drain (a modal dialog) only lets the
                # list grow; it never loses or stalls a worker.
                if not self._urgent_sent:
                    self._urgent_sent = True
                    self._urgent.emit()
                self._drained.wait(BACKPRESSURE_WAIT_S)
            seq = self._next_seq.get(stream_id, 0)
            self._next_seq[stream_id] = seq + 1
            self._pending.append((stream_id, seq, text))
            wake = not self._wake_sent
            self._wake_sent = True
        if wake:
            self._wake.emit()
        return seq

    def writer(self, stream_id: str) -> Callable[[str], int]:
        """A callable that writes to one stream, handed to a worker."""

        def write(text: str) -> int:
            return self.write(stream_id, text)

        return write

    # -- GUI thread ------------------------------------------------------------------
    @Slot()
    def _on_wake(self) -> None:
        with self._lock:
            pending = bool(self._pending)
        # A wake can arrive after a synchronous drain() already took its chunks.
        if pending and not self._timer.isActive():
            self._timer.start()

    @Slot()
    def drain(self) -> None:
        """Move pending chunks into the transcripts and emit :attr:`appended` once.

        Called by the timer, and directly (GUI thread) when a caller needs every chunk
        written so far to be visible, e.g. before a ticket is marked finished.
        """
        with self._lock:
            batch, self._pending = self._pending, []
            self._wake_sent = self._urgent_sent = False
            self._drained.notify_all()
        if not batch:
            return
        self._timer.stop()
        new: dict[str, list[str]] = {}
        expected: dict[str, int] = {}
        for sid, seq, text in batch:
            parts = new.get(sid)
            if parts is None:
                parts = new[sid] = []
                stream = self._streams.get(sid)
                expected[sid] = 0 if stream is None else stream.chunks
            if seq != expected[sid]:
                raise StreamOrderError(f"{sid}: chunk {seq} arrived, {expected[sid]} expected")
            expected[sid] = seq + 1
            parts.append(text)
        joined = {sid: "".join(parts) for sid, parts in new.items()}
        for sid, text in joined.items():
            stream = self._streams.get(sid)
            if stream is None:
                stream = self._streams[sid] = StreamText()
            stream.append(text)  # one string per stream per drain, not one per chunk
            stream.chunks = expected[sid]
        self.appended.emit(joined)

    def text(self, stream_id: str, offset: int = 0) -> str:
        stream = self._streams.get(stream_id)
        return "" if stream is None else stream.text(offset)

    def length(self, stream_id: str) -> int:
        stream = self._streams.get(stream_id)
        return 0 if stream is None else len(stream)

    def chunk_count(self, stream_id: str) -> int:
        stream = self._streams.get(stream_id)
        return 0 if stream is None else stream.chunks

    def stream_ids(self) -> list[str]:
        return list(self._streams)

    def clear(self) -> None:
        """Forget every transcript (a new epic). Pending chunks are delivered first."""
        self.drain()
        with self._lock:
            self._next_seq.clear()
        self._streams.clear()
