"""The event bus: one signal carrying JSON-ready dicts, published in the GUI thread.

Subscribers (the hook server's ``subscribe``, the headless progress printer, tests)
receive every state change as ``{"type": ..., "seq": n, ...}``. Types:

- ``status``: ``status``, ``active_tier``, ``error`` (run status changed)
- ``stream``: ``stream_id``, ``status``, ``title`` (a stream row appeared or changed)
- ``ticket``: ``ticket_id``, ``status``, ``blocked_reason``, ``retry_count``, ``model``
- ``plan``: ``track``, ``tickets`` (ids) — a Tier 2 plan was accepted
- ``usage``: ``stream_id``, ``tier``, ``model``, ``usage``, ``cost_usd``
- ``text``: ``streams``: ``[{stream_id, length, delta}]`` (one event per ~16 ms drain,
  covering every stream that received text)
- ``approval``: ``key``, ``kind``, ``ticket_id``, ``state`` (requested/approved/rejected)
- ``log``: ``level``, ``message`` (warnings and errors the user should see)
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, Signal


class EventBus(QObject):
    published = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._seq = 0

    def publish(self, type_: str, **data: Any) -> dict[str, Any]:
        self._seq += 1
        event = {"type": type_, "seq": self._seq, "time": round(time.time(), 3), **data}
        self.published.emit(event)
        return event
