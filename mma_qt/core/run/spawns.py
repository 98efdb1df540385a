"""An attempt's spawn: its request built, its approval asked for, the user's edits applied,
and the attempt started. A mixin of :class:`~.conductor.Conductor`, on the asyncio loop.

Each attempt of a ticket (the first, each automatic retry after QA, each user retry) asks
for its own spawn unless the run's mode allows it (``T-003:spawn``, then
``T-003:spawn:N``); meanwhile the ticket is ``waiting``. The approval shows the request as
it would be sent (system text, prompt, model, context parts); an approval may edit the
prompt and the model, and the worker then gets them verbatim. A retry's one-shot model and
prompt (``retry {model, prompt}``) are used the same way. Every attempt that starts is
kept on the ticket (:class:`~..model.domain.Attempt`), and its stream marks each one after
the first: ``--- attempt 2 on MODEL (user retry) ---``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..live.session import MmaSession
from ..model import dag
from ..model.cancel import CancelToken
from ..model.domain import Attempt, Ticket, Tier, Track
from ..model.status import TicketStatus
from ..providers.base import CompletionRequest
from .approvals import SpawnRequest

if TYPE_CHECKING:
    from .conductor import RunContext

#: Why an attempt was made (``Attempt.reason``, the stream's marker line).
FIRST = "first"
QA_RETRY = "qa retry"
USER_RETRY = "user retry"


@dataclass(frozen=True, slots=True)
class Ending:
    """How a ticket ends: its final status and why."""

    status: TicketStatus
    reason: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class Spawned:
    """An attempt whose spawn was approved: the request its worker gets (with the user's
    edits)."""

    attempt: Attempt
    request: CompletionRequest


def settle_blocked(session: MmaSession, tickets: Sequence[Ticket]) -> None:
    """Block (and say so) every todo ticket waiting on a failed, blocked or cancelled
    dependency, transitively."""
    for ticket in dag.cascade_blocked(tickets):
        session.set_ticket(ticket, TicketStatus.BLOCKED, reason=ticket.blocked_reason)


class Spawning:
    if TYPE_CHECKING:
        ctx: RunContext
        track: Track

        async def _request(self, ticket: Ticket, model: str,
                           sid: str) -> CompletionRequest: ...

    def _not_spawned(self, sid: str, number: int, why: str) -> Ending:
        """The attempt that never started: why, in its stream; the ticket cancelled."""
        self.ctx.session.write(sid, f"[{why}]\n" if number == 1
                               else f"\n\n[attempt {number}: {why}]\n")
        return Ending(TicketStatus.CANCELLED, why)

    async def _spawn(self, ticket: Ticket, sid: str, token: CancelToken,
                     reason: str) -> Spawned | Ending | None:
        """The next attempt: its request built, its spawn asked for (the ticket
        ``waiting`` meanwhile), the user's edits applied, and started. An ending when the
        spawn was rejected or the run cancelled; None when a command settled the ticket
        (block, skip) while it waited."""
        ctx, session = self.ctx, self.ctx.session
        number = len(ticket.attempts) + 1
        model = (ticket.next_model or ticket.model_override
                 or ctx.factory.model_for(Tier.WORKER, number - 1))
        request = replace(await self._request(ticket, model, sid), attempt=number - 1)
        edited = ticket.prompt_override is not None
        if ticket.prompt_override is not None:
            request = replace(request, prompt=ticket.prompt_override)
        spawn = SpawnRequest(self.track.id, number, request.model, request.system,
                             request.prompt, request.context)
        detail = f"{ticket.id}: {ticket.title}"
        if number > 1:
            detail += f" (attempt {number}, {reason})"
        asks = ctx.approvals.asks_spawn(ticket.step)
        expected = TicketStatus.WAITING if asks else ticket.status
        if asks:
            session.set_ticket(ticket, TicketStatus.WAITING)
        decision = await ctx.approvals.request_spawn(ticket.id, spawn, detail, step=ticket.step,
                                                     token=token)
        if ticket.status is not expected:
            return None
        if not decision.approved or token.cancelled:
            why = token.reason if token.cancelled else " ".join(
                ["spawn rejected:", decision.reason] if decision.reason else ["spawn rejected"])
            return self._not_spawned(sid, number, why)
        if decision.prompt is not None:
            request = replace(request, prompt=decision.prompt)
        if decision.model is not None:
            request = replace(request, model=decision.model)
        edited = edited or decision.prompt is not None or decision.model is not None
        ticket.next_model = ticket.prompt_override = None
        ticket.retry_count = number - 1
        if number > 1:
            session.write(sid, f"\n\n--- attempt {number} on {request.model} ({reason}) ---\n")
        session.start_attempt(ticket, Attempt(
            number, request.model, prompt=request.prompt, edited=edited, reason=reason,
            qa_hint=ticket.qa_hint))
        session.set_ticket(ticket, TicketStatus.IN_PROGRESS, model=request.model)
        return Spawned(ticket.attempts[-1], request)

    def _end_current(self, ticket: Ticket, status: TicketStatus, error: str = "") -> None:
        """End the ticket's current attempt, if it is still going."""
        current = ticket.attempts[-1] if ticket.attempts else None
        if current is not None and not current.status.is_final:
            self.ctx.session.end_attempt(ticket, current, status, error)
