"""The event bus: one signal carrying JSON-ready dicts, published in the GUI thread.

Subscribers (the hook server's ``subscribe``, the headless progress printer, tests)
receive every state change as ``{"type": ..., "seq": n, ...}``. Types:

- ``status``: ``status``, ``active_tier``, ``error`` (run status changed)
- ``stream``: ``stream_id``, ``status``, ``title`` (a stream row appeared or changed)
- ``ticket``: ``ticket_id`` and the ticket's fields (``Ticket.to_dict``: ``status``,
  ``blocked_reason``, ``blocked_by``, ``error``, ``retry_count``, ``model``,
  ``model_override``, ``commit``, ``step``, ``attempts``, ...): a status change, or the user's edit
- ``attempt``: ``ticket_id`` and the attempt's fields (``Attempt.to_dict``: ``attempt``,
  ``model``, ``status``, ``edited``, ``reason``, ``usage``, ``cost_usd``, ``error``, ...)
  when an attempt of a Tier 3 worker starts and when it ends
- ``plan``: ``track``, ``tickets`` (ids) — a Tier 2 plan was accepted
- ``proposal``: ``state`` (proposed/replanning/accepted), ``tracks`` (every field of each
  proposed or accepted track) — a ``plan_epic`` run's track proposal
- ``track``: ``track_id``, ``status`` (queued/planning/running/done/failed/cancelled),
  ``error``
- ``mode``: ``mode`` (step/auto: whether spawns wait for the user)
- ``usage``: ``stream_id``, ``tier``, ``model``, ``usage``, ``cost_usd``
- ``text``: ``streams``: ``[{stream_id, length, delta}]`` (one event per ~16 ms drain,
  covering every stream that received text)
- ``approval``: ``state`` (requested/approved/rejected) and the approval's fields: ``key``,
  ``kind`` (spawn/tool), ``ticket_id``, ``track_id``, ``detail``, ``requested_at``, for a
  spawn ``attempt``, ``model``, ``system``, ``prompt``, ``context``, and for a tool call
  ``tool``, ``arguments``, ``path``, ``command``, ``diff``, ``note``, ``editable``,
  ``editable_field``; a decision adds ``by`` (user/policy/mode/run), ``edited``, ``reason``
- ``tool``: ``ticket_id``, ``index``, ``tier``, ``name``, ``description``, ``state``
  (requested/ran), ``decision``, ``approval_key``, ``ok``, ``summary`` (a tool call)
- ``tool_policy``: ``policy`` (the run's tool policy changed)
- ``merge``: ``track_id``, ``branch``, ``into``, ``commit`` (a track was merged)
- ``tracks``: ``tracks`` (Tier 1's tracks, as the run goes on with them)
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, Signal

#: Every event type, as ``describe`` lists them.
EVENT_TYPES = (
    "status", "stream", "text", "usage", "tracks", "plan", "ticket", "approval", "tool",
    "tool_policy", "merge", "proposal", "track", "attempt", "mode",
)


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
