"""The conductor: runs a track's ready tickets in parallel, on the asyncio (qasync) loop.

Scheduling happens on the loop (GUI thread); each model call and each tool call runs in a
worker thread of the run's own :class:`~.pool.WorkerPool`, never qasync's default
executor, so closing the app never waits on a blocked call. State changes go through the
session, in the GUI thread. Workers never touch the session, the model or a widget: they
only write text to their stream through the hub.

Each attempt of a ticket (the first, each automatic retry after QA's diagnosis, each retry
the user asks for) is kept on the ticket (:class:`~..model.domain.Attempt`) and starts with
its own spawn approval, which shows the request the worker will get and may edit its
prompt and model (the ticket is ``waiting`` meanwhile). An attempt is a conversation with
tools (:mod:`.tool_loop`). Two tickets whose ``target_files`` overlap never run at the same
time. When a ticket ends, its changes are kept by the track's
:class:`~.workbench.TrackBench`: a commit on the track's branch (git) or a patch file (no
git).

The user's per-ticket commands (retry, skip, block, ...) change tickets between the
conductor's turns, then :meth:`Conductor.wake` it: it looks again at what is ready.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from ..context import Assembly, ContextBuilder
from ..live.session import MmaSession
from ..model import dag
from ..model.cancel import Cancelled, CancelToken, PauseGate
from ..model.domain import Ticket, Tier, Track, stream_id
from ..model.options import RunOptions
from ..model.status import StreamStatus, TicketStatus
from ..model.usage import Usage
from ..providers.base import CompletionRequest, ProviderError, ProviderFactory
from ..tools import FileClaims, Tool, ToolSettings
from .approvals import ApprovalBroker
from .pool import PoolClosed, WorkerPool
from .slots import WorkerSlots
from .spawns import FIRST, QA_RETRY, USER_RETRY, Ending, Spawned, Spawning, settle_blocked
from .tool_loop import ToolLoop, ToolLoopError
from .workbench import TrackBench
from .worker import CallFailed, CallOutcome, run_call

log = logging.getLogger(__name__)

__all__ = ["Conductor", "RunContext"]


P = ParamSpec("P")
R = TypeVar("R")


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
    #: Which running ticket wrote which file, and each ticket's changes (every track).
    claims: FileClaims = field(default_factory=FileClaims)
    #: Tools offered to Tier 3 besides the builtin ones (e.g. MCP tools, ``SERVER__tool``).
    extra_tools: tuple[Tool, ...] = ()
    #: Each track's conductor, by track id, once it has started (running or ended).
    conductors: dict[str, Conductor] = field(default_factory=dict)
    #: Tier 3 workers running, across every track (at most ``options.max_workers``).
    slots: WorkerSlots = field(default_factory=WorkerSlots)
    _context: ContextBuilder | None = field(default=None, init=False)

    def context(self) -> ContextBuilder:
        """The run's context assembly: its repository map and track prefixes are made once."""
        if self._context is None:
            self._context = ContextBuilder(self.session.workspace, self.options.context)
        return self._context

    def bench(self, track_id: str) -> TrackBench:
        """A new working directory for the track (prepared on its first tool call)."""
        return TrackBench(self.session.workspace, track_id, settings=self.tool_settings(),
                          claims=self.claims, extra_tools=self.extra_tools)

    def tool_settings(self) -> ToolSettings:
        longest = self.options.max_command_timeout_s
        return ToolSettings(default_timeout_s=min(ToolSettings().default_timeout_s, longest),
                            max_timeout_s=longest, allow_network=self.options.allow_network)

    async def blocking(self, name: str, fn: Callable[P, R], *args: P.args,
                       **kwargs: P.kwargs) -> R:
        """``fn(*args, **kwargs)`` in a worker thread of the run's pool, awaited."""
        return await asyncio.wrap_future(self.pool.submit(name, fn, *args, **kwargs))

    async def assemble(self, name: str, fn: Callable[P, Assembly], *args: P.args,
                       **kwargs: P.kwargs) -> Assembly:
        """A prompt's context, ``fn`` of :meth:`context`, read in the run's pool. Once the
        run is cancelled nothing is read (the pool may be shut down): the assembly is
        empty, and the call it was for is not made (:meth:`call`)."""
        if self.token.cancelled:
            return Assembly("", "", ())
        return await self.blocking(name, fn, *args, **kwargs)

    async def hold(self, token: CancelToken, name: str = "paused") -> bool:
        """Wait (without blocking the loop) while the run is paused; False once cancelled."""
        if self.gate.paused and not token.cancelled:
            try:
                await self.blocking(name, self.gate.wait_open, token)
            except Cancelled:
                return False
        return not token.cancelled

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
            outcome = await self.blocking(
                request.stream_id, run_call, client, request, write, token, self.gate)
        except CallFailed as failed:
            self.session.add_usage(request.stream_id, failed.model, failed.usage)
            raise
        self.session.add_usage(request.stream_id, outcome.model, outcome.usage)
        return outcome


def _worth_retrying(failed: CallFailed) -> bool:
    """A provider error it calls final (a rejected key, a refused request) fails the ticket
    at once: a diagnosis and another model cannot change the provider's answer. So does
    running out of tool rounds."""
    cause = failed.cause
    if isinstance(cause, ToolLoopError):
        return cause.retryable
    return not (isinstance(cause, ProviderError) and not cause.retryable)


def _described(failed: CallFailed) -> tuple[str, str]:
    """A failed attempt's error and the traceback lines to show (none for a tool loop's
    own reasons, which are no crash)."""
    if isinstance(failed.cause, ToolLoopError):
        return str(failed.cause), ""
    return str(failed), failed.traceback_tail()


class Conductor(Spawning):
    def __init__(self, ctx: RunContext, track: Track, bench: TrackBench | None = None,
                 token: CancelToken | None = None) -> None:
        self.ctx = ctx
        self.track = track
        #: The track's cancel token (a child of the run's): cancels its tickets only.
        self.token = token or ctx.token
        self.bench = bench or ctx.bench(track.id)
        self._tokens: dict[str, CancelToken] = {}
        self._wake: asyncio.Future[None] | None = None
        #: Whether :meth:`run` is scheduling: a change woken then is seen; once it has
        #: returned, a ticket made ready again needs a continuation of the run.
        self.active = False

    # -- control (GUI thread) --------------------------------------------------------
    def wake(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def cancel_ticket(self, ticket_id: str, reason: str = "cancelled by the user") -> None:
        ticket = self.track.ticket(ticket_id)
        token = self._tokens.get(ticket_id)
        if token is not None:
            token.cancel(reason)
            self.ctx.approvals.reject_all(ticket_id, reason)  # its pending tool calls
        elif ticket.status is TicketStatus.TODO:
            self.ctx.approvals.reject_all(ticket_id, reason)
            self.ctx.session.set_ticket(ticket, TicketStatus.CANCELLED, reason=reason)
        self.wake()

    # -- scheduling ------------------------------------------------------------------
    async def run(self) -> None:
        tickets = self.track.tickets
        running: dict[asyncio.Task[None], str] = {}
        self.ctx.conductors[self.track.id] = self
        self.active = True
        try:
            while True:
                self._settle(tickets)
                if not self.ctx.gate.paused and not self.token.cancelled:
                    self._start_ready(tickets, running)
                if not running and (self.token.cancelled or not dag.ready(tickets)):
                    break
                wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._wake = wake
                waiters: list[asyncio.Future[None]] = [*running, wake]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for task in [t for t in running if t.done()]:
                    del running[task]
                    task.result()  # a conductor bug propagates to the runner
        finally:
            self.active = False
            for task in running:
                task.cancel()
            # Cancelled ticket tasks settle (their attempts end, their events go out) before
            # the run does: left running, they finished after the session was gone.
            ended = await asyncio.gather(*running, return_exceptions=True)
            for result in ended:
                if isinstance(result, Exception):
                    log.error("a ticket task failed as the track stopped", exc_info=result)
            self._settle(tickets)

    def _start_ready(self, tickets: list[Ticket], running: dict[asyncio.Task[None], str]) -> None:
        """Start ready tickets while the run has worker slots (``max_workers`` across
        tracks), never two whose target files overlap."""
        for ticket in dag.ready(tickets):
            if ticket.id in running.values():
                continue
            active = [self.track.ticket(tid) for tid in running.values()]
            if any(dag.overlap(ticket.target_files, other.target_files) for other in active):
                continue
            if not self.ctx.slots.take(self.ctx.options.max_workers):
                break
            task = asyncio.create_task(self._run_ticket(ticket))
            task.add_done_callback(self.ctx.slots.give)
            running[task] = ticket.id

    def _settle(self, tickets: list[Ticket]) -> None:
        session = self.ctx.session
        if self.token.cancelled:  # first: a stopped run's waiting tickets are not "blocked"
            for ticket in tickets:
                if ticket.status is TicketStatus.TODO:
                    session.set_ticket(ticket, TicketStatus.CANCELLED, reason=self.token.reason)
        settle_blocked(session, tickets)

    async def _run_ticket(self, ticket: Ticket) -> None:
        if ticket.status is not TicketStatus.TODO:
            return  # a command settled it (block, skip) before its task began
        session = self.ctx.session
        sid = stream_id(Tier.WORKER, ticket.id)
        # One token for the ticket's whole run (its spawns, attempts and QA), so a cancel
        # is never lost between attempts.
        token = CancelToken(self.token)
        self._tokens[ticket.id] = token
        try:
            ending = await self._attempts(ticket, sid, token)
            if ticket.tool_calls:  # release its files even when a command settled it
                kept = await self._keep_changes(ticket, sid, ending or Ending(ticket.status))
                ending = ending and kept
            if ending is not None:
                self._end_current(ticket, ending.status, ending.error)
                session.set_ticket(ticket, ending.status, reason=ending.reason,
                                   error=ending.error)
        finally:
            self._tokens.pop(ticket.id, None)
            self._end_current(ticket, TicketStatus.CANCELLED, "stopped with the run")

    async def _attempts(self, ticket: Ticket, sid: str, token: CancelToken) -> Ending | None:
        """Attempts until one completes, or the automatic retries are spent; each failed
        one is diagnosed by QA first. The last attempt is left for the caller to end.
        None: a command settled the ticket (block, skip) while a spawn waited."""
        ctx, session = self.ctx, self.ctx.session
        reason = USER_RETRY if ticket.attempts else FIRST
        retries = 0
        while True:
            spawned = await self._spawn(ticket, sid, token, reason)
            if not isinstance(spawned, Spawned):
                return spawned
            loop = ToolLoop(ctx, self.bench, ticket, token)
            try:
                outcome = await loop.converse(spawned.request)
            except CallFailed as failed:
                error, tail = _described(failed)
                retrying = (retries < ctx.options.max_retries and not token.cancelled
                            and _worth_retrying(failed))
                # An attempt QA diagnoses and retries is a warning; the ticket failing is
                # the error (a run that ends done logs none). The traceback goes either way.
                if retrying:
                    log.warning("ticket %s attempt %d failed, QA diagnoses it for a retry: %s",
                                ticket.id, len(ticket.attempts), error, exc_info=failed.cause)
                else:
                    log.error("ticket %s failed: %s", ticket.id, error, exc_info=failed.cause)
                session.write(sid, f"\n\n[error] {error}\n{tail}")
                if retrying:
                    self._end_current(ticket, TicketStatus.FAILED, error)
                    ticket.qa_hint = await self._diagnose(ticket, failed, token)
                    retries += 1
                    reason = QA_RETRY
                    if not token.cancelled:
                        continue
                if token.cancelled:
                    session.write(sid, f"\n[cancelled: {token.reason}]\n")
                    return Ending(TicketStatus.CANCELLED, token.reason, error)
                return Ending(TicketStatus.FAILED, error=error)
            if outcome.cancelled:
                session.write(sid, f"\n[cancelled: {token.reason}]\n")
                return Ending(TicketStatus.CANCELLED, token.reason)
            ticket.answer = outcome.text
            return Ending(TicketStatus.COMPLETED)

    async def _keep_changes(self, ticket: Ticket, sid: str, ending: Ending) -> Ending:
        """Release the ticket's files; commit a completed ticket's changes on the track's
        branch (git), or write its patch (no git). A commit that fails fails the ticket."""
        completed = ending.status is TicketStatus.COMPLETED
        try:
            trail = await self.ctx.blocking(f"{sid}: changes", self.bench.finish, ticket.id,
                                            ticket.title, commit=completed)
        except PoolClosed:
            # The app closed between the ticket's last answer and now: nothing failed.
            reason = (f"{self.token.reason or 'stopped with the run'}: its changes were not "
                      "kept (they stay where it made them)")
            log.warning("%s %s", ticket.id, reason)
            self.ctx.session.write(sid, f"\n[cancelled: {reason}]\n")
            return Ending(TicketStatus.CANCELLED, reason)
        except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as exc:
            # GitError is a RuntimeError.
            self.ctx.session.write(sid, f"\n[error] keeping its changes failed: {exc}\n")
            if completed:
                log.error("committing the changes of %s failed: %s", ticket.id, exc)
                return Ending(TicketStatus.FAILED, error=f"committing its changes failed: {exc}")
            # Nothing is lost: an unfinished ticket's changes stay where it made them.
            log.warning("recording the changes of %s failed: %s", ticket.id, exc)
            return ending
        if trail.commit is not None or trail.patch is not None:  # else keep an earlier one
            ticket.commit = trail.commit
            ticket.patch = None if trail.patch is None else str(trail.patch)
        files = len(trail.changes)
        if trail.commit is not None:
            where = f"committed {trail.commit[:10]} on {self.bench.branch}"
        elif trail.patch is not None:
            where = f"patch in {trail.patch}"
        elif files:
            where = f"left uncommitted in {self.bench.workdir}"
        else:
            return ending
        self.ctx.session.write(sid, f"\n[{files} changed file{'s' * (files != 1)}: {where}]\n")
        return ending

    async def _request(self, ticket: Ticket, model: str, sid: str) -> CompletionRequest:
        """Tier 3's request, its context read in the run's pool (the track's working
        directory once its first tool call opened it, else the workspace)."""
        session = self.ctx.session
        done = [session.tickets[d] for d in ticket.depends_on
                if session.tickets[d].status is TicketStatus.COMPLETED]
        made = await self.ctx.assemble(
            f"{sid}: context", self.ctx.context().tier3, session.epic, self.track, ticket,
            root=self.bench.workdir or session.workspace, done=done)
        return CompletionRequest(
            Tier.WORKER, model, made.system, made.prompt, sid, ticket.id,
            attempt=ticket.retry_count, context=made.parts,
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
        made = await ctx.assemble(
            f"{record.stream_id}: context", ctx.context().tier4, session.epic, self.track,
            ticket, root=self.bench.workdir or session.workspace, error=_described(failed)[0],
            output=failed.text)
        session.stream_running(record.stream_id, model)
        request = CompletionRequest(
            Tier.QA, model, made.system, made.prompt, record.stream_id, ticket.id,
            attempt=ticket.retry_count, context=made.parts,
        )
        loop = ToolLoop(ctx, self.bench, ticket, CancelToken(token), tier=Tier.QA)
        try:
            outcome = await loop.converse(request)
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


