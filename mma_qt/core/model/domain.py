"""Tiers, tracks and tickets. Pure logic, no Qt."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .status import TicketStatus
from .usage import Usage


class Tier(IntEnum):
    ORCHESTRATOR = 1
    TECH_LEAD = 2
    WORKER = 3
    QA = 4

    @property
    def label(self) -> str:
        """The tier's name in ``tier_usage`` and in the tree: ``"Tier 3"``."""
        return f"Tier {int(self)}"

    @property
    def role(self) -> str:
        return _ROLES[self]


_ROLES = {
    Tier.ORCHESTRATOR: "Orchestrator",
    Tier.TECH_LEAD: "Tech Lead",
    Tier.WORKER: "Worker",
    Tier.QA: "QA",
}


def stream_id(tier: Tier, ticket_id: str | None = None) -> str:
    """Stream ids as scripts written for the original tool expect them.

    ``"Tier 1"``, ``"Tier 2 (Tech Lead)"``, ``"Tier 3 (Worker): T-001"``,
    ``"Tier 4 (QA): T-001"``.
    """
    if tier is Tier.ORCHESTRATOR:
        return "Tier 1"
    if tier is Tier.TECH_LEAD:
        return "Tier 2 (Tech Lead)" if ticket_id is None else f"Tier 2 (Tech Lead): {ticket_id}"
    if ticket_id is None:
        raise ValueError(f"{tier.label} streams belong to a ticket")
    return f"{tier.label} ({tier.role}): {ticket_id}"


TICKET_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


@dataclass(slots=True)
class Ticket:
    id: str
    title: str
    description: str = ""
    depends_on: tuple[str, ...] = ()
    target_files: tuple[str, ...] = ()
    status: TicketStatus = TicketStatus.TODO
    blocked_reason: str = ""
    retry_count: int = 0
    model_override: str | None = None
    #: The model that ran (or runs) this ticket's current attempt.
    model: str = ""
    #: Tier 3 usage of every attempt of this ticket.
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = 0.0
    error: str = ""
    qa_hint: str = ""
    started_at: float | None = None
    finished_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "status": str(self.status),
            "depends_on": list(self.depends_on),
            "target_files": list(self.target_files),
            "blocked_reason": self.blocked_reason,
            "retry_count": self.retry_count,
            "model_override": self.model_override,
            "model": self.model,
            "usage": self.usage.to_dict(),
            "cost_usd": self.cost_usd,
            "error": self.error,
        }


@dataclass(slots=True)
class Track:
    id: str
    title: str
    description: str = ""
    tickets: list[Ticket] = field(default_factory=list)

    def ticket(self, ticket_id: str) -> Ticket:
        for ticket in self.tickets:
            if ticket.id == ticket_id:
                return ticket
        raise KeyError(ticket_id)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "description": self.description}
