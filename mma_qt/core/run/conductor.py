"""The conductor: runs a track's ready tickets in parallel, on the asyncio (qasync) loop.

Scheduling happens on the loop (GUI thread); each model call runs in a worker thread of
the run's own :class:`~.pool.WorkerPool`, never qasync's default executor, so closing the
app never waits on a blocked call. State changes go through the session, in the GUI
thread. Workers never touch the session, the model or a widget: they only write text to
their stream through the hub.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from ..live.session import MmaSession
from ..model import dag
from ..model.cancel import CancelToken, PauseGate
from ..model.domain import Ticket, Tier, Track, stream_id
from ..model.options import RunOptions
from ..model.prompts import render
from ..model.status import StreamStatus, TicketStatus
from ..model.usage import Usage
from ..providers.base import CompletionRequest, ProviderError, ProviderFactory
from .approvals import ApprovalBroker
from .pool import WorkerPool
from .worker import CallFailed, CallOutcome, run_call

log = logging.getLogger(__name__)

__all__ = ["Conductor", "RunContext"]


@dataclass(slots=True)
class RunContext:
    """What every call of one run shares: all per-run objects, nothing process-global."""

    session: MmaSession
    factory: ProviderFactory
    approvals: ApprovalBroker
    options: RunOptions
    pool: WorkerPool = field(default_factory=WorkerPool)
    gate: PauseGate = field(default_factory=PauseGate)
    token: CancelToken = field(default_factory=CancelToken)

    async def call(self, request: CompletionRequest, token: CancelToken) -> CallOutcome:
        """Run one model call in a worker thread with a fresh provider client.

        Usage is recorded on the request's stream whether the call succeeds or fails. A
        call asked for after its token was cancelled (the app closing while a plan was about
        to be requested) is not made: its outcome is cancelled, with no usage.
        """
        if token.cancelled:
            return CallOutcome("", Usage(), request.model, cancelled=True)
        client = self.factory.create(request.tier)
        write = self.session.hub.writer(request.stream_id)
        try:
            outcome = await asyncio.wrap_future(
                self.pool.submit(
                    request.stream_id, run_call, client, request, write, token, self.gate
                )
            )
        except CallFailed as failed:
            self.session.add_usage(request.stream_id, failed.model, failed.usage)
            raise
        self.session.add_usage(request.stream_id, outcome.model, outcome.usage)
        return outcome


def _worth_retrying(failed: CallFailed) -> bool:
    """A provider error it calls final (a rejected key, a refused request) fails the ticket
    at once: a diagnosis and another model cannot change the provider's answer."""
    return not (isinstance(failed.cause, ProviderError) and not failed.cause.retryable)


class Conductor:
    def __init__(self, ctx: RunContext, track: Track) -> None:
        self.ctx = ctx
        self.track = track
        self._tokens: dict[str, CancelToken] = {}
        self._wake: asyncio.Future[None] | None = None

    # -- control (GUI thread) --------------------------------------------------------
    def wake(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def cancel_ticket(self, ticket_id: str, reason: str = "cancelled by the user") -> None:
        ticket = self.track.ticket(ticket_id)
        token = self._tokens.get(ticket_id)
        if token is not None:
            token.cancel(reason)
        elif ticket.status is TicketStatus.TODO:
            self.ctx.approvals.reject_all(ticket_id)
            self.ctx.session.set_ticket(ticket, TicketStatus.CANCELLED, reason=reason)
        self.wake()

    # -- scheduling ------------------------------------------------------------------
    async def run(self) -> None:
        tickets = self.track.tickets
        running: dict[asyncio.Task[None], str] = {}
        try:
            while True:
                self._settle(tickets)
                if not self.ctx.gate.paused and not self.ctx.token.cancelled:
                    active = set(running.values())
                    for ticket in dag.ready(tickets):
                        if len(running) >= self.ctx.options.max_workers:
                            break
                        if ticket.id not in active:
                            task = asyncio.create_task(self._run_ticket(ticket))
                            running[task] = ticket.id
                if not running and (self.ctx.token.cancelled or not dag.ready(tickets)):
                    break
                wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._wake = wake
                waiters: list[asyncio.Future[None]] = [*running, wake]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for task in [t for t in running if t.done()]:
                    del running[task]
                    task.result()  # a conductor bug propagates to the runner
        finally:
            for task in running:
                task.cancel()
            self._settle(tickets)

    def _settle(self, tickets: list[Ticket]) -> None:
        session = self.ctx.session
        for ticket in dag.cascade_blocked(tickets):
            session.set_ticket(ticket, TicketStatus.BLOCKED, reason=ticket.blocked_reason)
        if self.ctx.token.cancelled:
            for ticket in tickets:
                if ticket.status is TicketStatus.TODO:
                    session.set_ticket(ticket, TicketStatus.CANCELLED, reason=self.ctx.token.reason)

    async def _run_ticket(self, ticket: Ticket) -> None:
        ctx, session = self.ctx, self.ctx.session
        sid = stream_id(Tier.WORKER, ticket.id)
        approved = await ctx.approvals.request("spawn", ticket.id, f"{ticket.id}: {ticket.title}")
        if not approved or ctx.token.cancelled or ticket.status is not TicketStatus.TODO:
            if ticket.status is TicketStatus.TODO:
                reason = ctx.token.reason if ctx.token.cancelled else "spawn rejected"
                session.write(sid, f"[{reason}]\n")
                session.set_ticket(ticket, TicketStatus.CANCELLED, reason=reason)
            return
        # One token for the ticket's whole life (attempts and QA), so a cancel is never lost
        # between attempts.
        token = CancelToken(ctx.token)
        self._tokens[ticket.id] = token
        try:
            await self._attempts(ticket, sid, token)
        finally:
            self._tokens.pop(ticket.id, None)

    async def _attempts(self, ticket: Ticket, sid: str, token: CancelToken) -> None:
        ctx, session = self.ctx, self.ctx.session
        while True:
            model = ticket.model_override or ctx.factory.model_for(Tier.WORKER, ticket.retry_count)
            if ticket.retry_count:
                session.write(sid, f"\n\n--- retry {ticket.retry_count} on {model} ---\n")
            session.set_ticket(ticket, TicketStatus.IN_PROGRESS, model=model)
            try:
                outcome = await ctx.call(self._request(ticket, model, sid), token)
            except CallFailed as failed:
                log.error("ticket %s failed: %s", ticket.id, failed, exc_info=failed.cause)
                session.write(sid, f"\n\n[error] {failed}\n{failed.traceback_tail()}")
                if (
                    ticket.retry_count < ctx.options.max_retries
                    and not token.cancelled
                    and _worth_retrying(failed)
                ):
                    ticket.qa_hint = await self._diagnose(ticket, failed, token)
                    ticket.retry_count += 1
                    if not token.cancelled:
                        continue
                if token.cancelled:
                    session.write(sid, f"\n[cancelled: {token.reason}]\n")
                    session.set_ticket(ticket, TicketStatus.CANCELLED, reason=token.reason,
                                       error=str(failed))
                else:
                    session.set_ticket(ticket, TicketStatus.FAILED, error=str(failed))
                return
            if outcome.cancelled:
                session.write(sid, f"\n[cancelled: {token.reason}]\n")
                session.set_ticket(ticket, TicketStatus.CANCELLED, reason=token.reason)
            else:
                session.set_ticket(ticket, TicketStatus.COMPLETED)
            return

    def _request(self, ticket: Ticket, model: str, sid: str) -> CompletionRequest:
        session = self.ctx.session
        done = [d for d in ticket.depends_on if session.tickets[d].status is TicketStatus.COMPLETED]
        prompt = render(
            Tier.WORKER,
            epic=session.epic,
            track_title=self.track.title,
            ticket_title=ticket.title,
            ticket_id=ticket.id,
            ticket_description=ticket.description,
            target_files=", ".join(ticket.target_files) or "(none named)",
            dependencies=", ".join(done) or "(none)",
            workspace=session.workspace,
            qa_hint=ticket.qa_hint or "(none)",
        )
        return CompletionRequest(
            Tier.WORKER, model, prompt.system, prompt.user, sid, ticket.id,
            attempt=ticket.retry_count,
        )

    async def _diagnose(self, ticket: Ticket, failed: CallFailed, token: CancelToken) -> str:
        """Tier 4: a diagnosis of the failure, whose last paragraph is the retry's hint."""
        ctx, session = self.ctx, self.ctx.session
        record = session.open_stream(
            Tier.QA, ticket.id, f"QA {ticket.id}: {ticket.title}", track_id=self.track.id
        )
        model = ctx.factory.model_for(Tier.QA)
        if ticket.retry_count:  # marked as the Tier 3 stream marks its retries
            session.write(
                record.stream_id,
                f"\n\n--- diagnosis of attempt {ticket.retry_count + 1} on {failed.model} ---\n",
            )
        prompt = render(
            Tier.QA,
            ticket_title=ticket.title,
            ticket_id=ticket.id,
            error=str(failed),
            output_tail="\n".join(failed.text.splitlines()[-20:]) or "(no output)",
        )
        session.stream_running(record.stream_id, model)
        request = CompletionRequest(
            Tier.QA, model, prompt.system, prompt.user, record.stream_id, ticket.id,
            attempt=ticket.retry_count,
        )
        try:
            outcome = await ctx.call(request, CancelToken(token))
        except CallFailed as qa_failed:
            log.error("QA for %s failed: %s", ticket.id, qa_failed, exc_info=qa_failed.cause)
            session.write(record.stream_id, f"\n[error] {qa_failed}\n")
            session.stream_finished(record.stream_id, StreamStatus.FAILED)
            return ""
        session.stream_finished(
            record.stream_id,
            StreamStatus.CANCELLED if outcome.cancelled else StreamStatus.DONE,
        )
        paragraphs = [p.strip() for p in outcome.text.split("\n\n") if p.strip()]
        return paragraphs[-1][:1000] if paragraphs else ""


