"""One progress line per state change, for headless runs and terminals. Pure formatting."""

from __future__ import annotations

from typing import Any, TextIO

from PySide6.QtCore import QObject, Slot

from .core.model.domain import Tier
from .core.model.status import ProposalState, StreamStatus, TicketStatus


def format_event(event: dict[str, Any]) -> str | None:
    kind = event.get("type")
    if kind == "status":
        tier = f" ({event['active_tier']})" if event.get("active_tier") else ""
        error = f": {event['error']}" if event.get("error") else ""
        return f"status {event['status']}{tier}{error}"
    if kind == "plan":
        count = len(event["tickets"])
        return (f"plan {event['track']['id']}: {count} ticket{'' if count == 1 else 's'} "
                + ", ".join(event["tickets"]))
    if kind == "ticket":
        detail = ""
        if event.get("status") == TicketStatus.IN_PROGRESS:
            detail = f" on {event.get('model')}"
        elif event.get("error"):
            detail = f": {event['error']}"
        elif event.get("blocked_reason"):
            detail = f": {event['blocked_reason']}"
        return f"ticket {event['ticket_id']} {event['status']}{detail}"
    if (kind == "stream" and event.get("tier") == Tier.QA.label
            and event.get("status") == StreamStatus.RUNNING):
        return f"QA diagnosing {event['ticket_id']} ({event.get('model')})"
    if kind == "track":
        error = f": {event['error']}" if event.get("error") else ""
        return f"track {event['track_id']} {event['status']}{error}"
    if kind == "proposal" and event.get("state") == ProposalState.PROPOSED:
        return "tracks proposed: " + ", ".join(t["id"] for t in event["tracks"])
    if kind == "mode":
        return f"mode {event['mode']}"
    if kind == "approval" and event.get("state") == "requested":
        return f"approval needed: {event['kind']} {event['ticket_id']} (key {event['key']})"
    return None


class ProgressPrinter(QObject):
    def __init__(self, stream: TextIO, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._stream = stream

    @Slot(object)
    def on_event(self, event: dict[str, Any]) -> None:
        line = format_event(event)
        if line is not None:
            print(f"mma-qt: {line}", file=self._stream, flush=True)
