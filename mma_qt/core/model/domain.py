"""Tiers, tracks and tickets. Pure logic, no Qt."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .status import TicketStatus, ToolCallState, ToolDecision, TrackStatus
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


@dataclass(slots=True)
class ToolCallRecord:
    """One tool call of a ticket (Tier 3, or its Tier 4 diagnosis), as ``get_tool_calls``
    reports it. Filled in as the call is decided and run, on the GUI thread."""

    #: 1-based, per ticket across its attempts: the ``N`` of its approval key ``T-003:tool:N``.
    index: int
    tier: Tier
    attempt: int
    round: int
    #: The model's id for the call.
    call_id: str
    name: str
    #: The arguments as the model sent them (empty when they were malformed).
    arguments: dict[str, Any]
    #: The short line the stream shows: ``write_file src/report.py (41 lines)``.
    description: str
    decision: ToolDecision = ToolDecision.PENDING
    #: The approval's key while or after it was asked (None: never asked).
    approval_key: str | None = None
    #: The user's edit of the editable argument, when they edited before approving.
    edited: str | None = None
    #: Why the user rejected it.
    reason: str = ""
    #: None until the result is in.
    ok: bool | None = None
    #: What the model received (starts with ``error:`` exactly when ``ok`` is false).
    result: str = ""
    summary: str = ""

    @property
    def finished(self) -> bool:
        return self.ok is not None

    @property
    def state(self) -> ToolCallState:
        """``requested``, ``waiting`` (for the user's approval), then ``ran``."""
        if self.finished:
            return ToolCallState.RAN
        if self.approval_key is not None and self.decision is ToolDecision.PENDING:
            return ToolCallState.WAITING
        return ToolCallState.REQUESTED

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "tier": self.tier.label,
            "attempt": self.attempt,
            "round": self.round,
            "call_id": self.call_id,
            "name": self.name,
            "arguments": dict(self.arguments),
            "description": self.description,
            "state": str(self.state),
            "decision": str(self.decision),
            "approval_key": self.approval_key,
            "edited": self.edited is not None,
            "edited_text": self.edited,
            "reason": self.reason,
            "ok": self.ok,
            "result": self.result,
            "summary": self.summary,
        }


@dataclass(slots=True)
class Attempt:
    """One run of a ticket by a Tier 3 worker: the first, an automatic retry after QA's
    diagnosis, or a retry the user asked for. Every attempt is kept."""

    #: 1-based, in order.
    number: int
    model: str
    status: TicketStatus = TicketStatus.IN_PROGRESS
    #: The user prompt as it was sent (after the user's edits, if any).
    prompt: str = ""
    #: Whether the user edited the prompt or the model before it ran.
    edited: bool = False
    #: Why it was made: ``"first"``, ``"qa retry"``, ``"user retry"``, ...
    reason: str = ""
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = 0.0
    error: str = ""
    #: QA's hint the attempt was given (a retry's), if any.
    qa_hint: str = ""
    started_at: float | None = None
    finished_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "model": self.model,
            "status": str(self.status),
            "edited": self.edited,
            "reason": self.reason,
            "usage": self.usage.to_dict(),
            "cost_usd": self.cost_usd,
            "error": self.error,
            "qa_hint": self.qa_hint,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


TICKET_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


@dataclass(slots=True)
class Ticket:
    id: str
    title: str
    description: str = ""
    depends_on: tuple[str, ...] = ()
    target_files: tuple[str, ...] = ()
    status: TicketStatus = TicketStatus.TODO
    #: Why it is blocked, cancelled or skipped.
    blocked_reason: str = ""
    #: The dependency whose failure (or block, or cancel) blocked it; None when the user
    #: blocked it, or when it is not blocked.
    blocked_by: str | None = None
    #: Attempts before the current one (automatic and user retries).
    retry_count: int = 0
    #: The model of every next attempt (``set_ticket_model``).
    model_override: str | None = None
    #: The model of the next attempt only (``retry {model}``).
    next_model: str | None = None
    #: The model that ran (or runs) this ticket's current attempt.
    model: str = ""
    #: Tier 3 usage of every attempt of this ticket.
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = 0.0
    error: str = ""
    qa_hint: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    #: Every tool call of every attempt, in order.
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    #: The commit of the ticket's changes on its track's branch (git workspaces).
    commit: str | None = None
    #: The file holding the ticket's diff (workspaces without git).
    patch: str | None = None
    #: Every attempt, in order (the last is the current one).
    attempts: list[Attempt] = field(default_factory=list)
    #: Its spawns wait for the user even in ``auto`` mode.
    step: bool = False
    #: The user's prompt for the next attempt (a spawn edit or ``retry {prompt}``).
    prompt_override: str | None = None
    #: The final answer of its completed attempt (what dependents' workers are told).
    answer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "status": str(self.status),
            "depends_on": list(self.depends_on),
            "target_files": list(self.target_files),
            "blocked_reason": self.blocked_reason,
            "blocked_by": self.blocked_by,
            "retry_count": self.retry_count,
            "model_override": self.model_override,
            "model": self.model,
            "usage": self.usage.to_dict(),
            "cost_usd": self.cost_usd,
            "error": self.error,
            "tool_calls": len(self.tool_calls),
            "commit": self.commit,
            "patch": self.patch,
            "step": self.step,
            "answer": self.answer,
            "attempts": [a.to_dict() for a in self.attempts],
        }


@dataclass(slots=True)
class Track:
    id: str
    title: str
    description: str = ""
    tickets: list[Ticket] = field(default_factory=list)
    status: TrackStatus = TrackStatus.QUEUED
    #: Why it failed or was cancelled.
    error: str = ""

    def ticket(self, ticket_id: str) -> Ticket:
        for ticket in self.tickets:
            if ticket.id == ticket_id:
                return ticket
        raise KeyError(ticket_id)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "description": self.description}
