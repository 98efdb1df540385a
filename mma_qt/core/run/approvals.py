"""Approvals: the human's gate before a spawn (and later file edits and commands).

Each request is its own object keyed by ``(ticket_id, kind)``, so several can be pending
at once and answering one never touches another. With ``auto`` every request is approved
at once (``--auto``). Lives on the asyncio loop (GUI thread).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..live.events import EventBus


class ApprovalError(KeyError):
    pass


@dataclass(eq=False, slots=True)
class Approval:
    kind: str
    ticket_id: str
    detail: str
    future: asyncio.Future[bool] = field(repr=False)

    @property
    def key(self) -> str:
        return f"{self.ticket_id}:{self.kind}"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "ticket_id": self.ticket_id,
                "detail": self.detail}


class ApprovalBroker:
    KINDS = ("spawn", "file_edit", "command")

    def __init__(self, bus: EventBus, *, auto: bool) -> None:
        self.bus = bus
        self.auto = auto
        self._pending: dict[str, Approval] = {}

    async def request(self, kind: str, ticket_id: str, detail: str = "") -> bool:
        if kind not in self.KINDS:
            raise ValueError(f"unknown approval kind {kind!r}")
        if self.auto:
            return True
        approval = Approval(kind, ticket_id, detail, asyncio.get_running_loop().create_future())
        if approval.key in self._pending:
            raise ApprovalError(f"approval {approval.key} is already pending")
        self._pending[approval.key] = approval
        self.bus.publish("approval", state="requested", **approval.to_dict())
        try:
            return await approval.future
        finally:
            self._pending.pop(approval.key, None)

    def pending(self) -> list[Approval]:
        """Requests still unanswered (not those answered whose waiter has yet to resume)."""
        return [a for a in self._pending.values() if not a.future.done()]

    def resolve(self, key: str, approved: bool) -> None:
        approval = self._pending.get(key)
        if approval is None or approval.future.done():
            raise ApprovalError(f"no pending approval {key!r}")
        approval.future.set_result(approved)
        self.bus.publish(
            "approval", state="approved" if approved else "rejected", **approval.to_dict()
        )

    def reject_all(self, ticket_id: str | None = None) -> None:
        for approval in self.pending():
            if ticket_id is None or approval.ticket_id == ticket_id:
                self.resolve(approval.key, False)
