"""One epic run: Tier 1 plans tracks, Tier 2 plans tickets, the conductor runs them.

An :class:`EpicRunner` is created per run and owns every per-run object (worker pool, pause
gate, cancel token, approvals, file claims, each track's working directory, conductor):
starting a new run never shares anything with the old one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from ..context import Assembly
from ..live.session import MmaSession
from ..model import dag
from ..model.domain import Ticket, Tier, Track, stream_id
from ..model.options import RunOptions
from ..model.plans import PlanError, parse_tickets, parse_tracks
from ..model.status import RunStatus, StreamStatus, TicketStatus, ToolPolicy
from ..providers.base import CompletionRequest, ProviderFactory
from ..settings.mcp_config import McpServerConfig
from ..tools.mcp import McpServers, McpServerStatus
from .approvals import ApprovalBroker
from .conductor import Conductor, RunContext
from .workbench import TrackBench
from .worker import CallFailed

log = logging.getLogger(__name__)

T = TypeVar("T")


class RunFailed(Exception):
    """The run cannot go on; the message is shown as the run's error."""


class EpicRunner:
    def __init__(
        self,
        session: MmaSession,
        factory: ProviderFactory,
        options: RunOptions | None = None,
        *,
        auto: bool = True,
        policy: ToolPolicy | None = None,
        mcp: Mapping[str, McpServerConfig] | None = None,
    ) -> None:
        """``auto``: spawns are approved at once, and the tool policy is ``auto`` unless
        ``policy`` names another; otherwise the tool policy is ``policy`` or the options'.
        ``mcp``: the user's MCP servers (``[mcp.servers]``), started with the run (beside
        the planning) and stopped when it ends; their tools are offered to Tier 3."""
        self.options = options or RunOptions()
        if policy is None:
            policy = ToolPolicy.AUTO if auto else self.options.tool_policy
        self.ctx = RunContext(
            session=session,
            factory=factory,
            approvals=ApprovalBroker(session.bus, auto=auto, policy=policy),
            options=self.options,
        )
        self.conductor: Conductor | None = None
        #: Each planned track's working directory, by track id.
        self.benches: dict[str, TrackBench] = {}
        self.mcp = McpServers(mcp or {})
        self._mcp_starting: asyncio.Future[list[McpServerStatus]] | None = None
        self._status_before_pause = RunStatus.RUNNING

    @property
    def session(self) -> MmaSession:
        return self.ctx.session

    # -- control (GUI thread) --------------------------------------------------------
    def pause(self) -> None:
        if not self.session.status.is_active or self.ctx.gate.paused:
            return
        self._status_before_pause = self.session.status
        self.ctx.gate.pause()
        self.session.set_status(RunStatus.PAUSED)

    def resume(self) -> None:
        if not self.ctx.gate.paused:
            return
        self.ctx.gate.resume()
        if self.session.status is RunStatus.PAUSED:
            self.session.set_status(self._status_before_pause)
        if self.conductor is not None:
            self.conductor.wake()

    def set_tool_policy(self, policy: ToolPolicy) -> None:
        """Switch the run's tool policy; pending calls it allows are approved at once."""
        self.ctx.approvals.set_policy(policy)

    def cancel(self, ticket_id: str | None = None) -> None:
        if ticket_id is not None:
            if self.conductor is None or ticket_id not in self.session.tickets:
                raise KeyError(f"no running ticket {ticket_id!r}")
            self.conductor.cancel_ticket(ticket_id)
            return
        self._stop("run cancelled by the user")

    def shutdown(self, timeout: float = 1.5) -> list[str]:
        """Cancel everything; wait at most ``timeout`` s for worker threads to end.

        The run then ends on its own on the loop's next turns, every ticket settled.
        Returns the names of threads still running (logged): daemon threads that cannot
        hold up the app's exit.
        """
        self._stop("application closing")
        return self.ctx.pool.shutdown(timeout)

    def _stop(self, reason: str) -> None:
        self.ctx.token.cancel(reason)
        self.ctx.approvals.reject_all(reason=reason)
        self.ctx.gate.wake()
        if self.conductor is not None:
            self.conductor.wake()

    # -- the run ---------------------------------------------------------------------
    def begin(self, epic: str, workspace: str) -> Coroutine[Any, Any, RunStatus]:
        """Show the new run at once (a fresh session, planning); return the coroutine to run.

        Whoever reads the status right after a start (the hook's answer, ``mma-qt-hook
        wait``) sees this run, never the previous run's final status.
        """
        self.session.reset(epic, workspace)
        self.session.set_phase(self._planning_status(), Tier.ORCHESTRATOR)
        return self._run()

    async def run(self, epic: str, workspace: str) -> RunStatus:
        return await self.begin(epic, workspace)

    async def _run(self) -> RunStatus:
        session = self.session
        status, error = RunStatus.FAILED, ""
        try:
            self._start_mcp()
            tracks = await self._plan_tracks()
            session.set_tracks(tracks)
            for index, track in enumerate(tracks):
                if self.ctx.token.cancelled:
                    break
                tickets = await self._plan_tickets(track, index)
                session.set_plan(track, tickets)
                session.set_phase(
                    RunStatus.PAUSED if self.ctx.gate.paused else RunStatus.RUNNING, Tier.WORKER
                )
                await self._mcp_tools()
                self.benches[track.id] = bench = self.ctx.bench(track.id)
                self.conductor = Conductor(self.ctx, track, bench)
                await self.conductor.run()
            status, error = self._outcome()
        except RunFailed as exc:
            status, error = RunStatus.FAILED, str(exc)
            if not self.ctx.token.cancelled:  # a cancelled run did not fail: said below
                log.error("run failed: %s", exc)
        except asyncio.CancelledError:
            # Keeps the first reason: "application closing" when shutdown() came first.
            self.ctx.token.cancel("run task cancelled")
            reason = self.ctx.token.reason
            # Ticket tasks cut off with the run settle nothing themselves (a call that
            # ignored cancellation is left to its daemon thread): say how they ended.
            for ticket in session.tickets.values():
                if not ticket.status.is_final:
                    session.set_ticket(ticket, TicketStatus.CANCELLED, reason=reason)
            session.set_status(RunStatus.CANCELLED, reason)
            raise
        except Exception as exc:
            log.exception("internal error in the run")
            status, error = RunStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        finally:
            self._stop_mcp()
            self.ctx.pool.close()
        if self.ctx.token.cancelled:
            status, error = RunStatus.CANCELLED, self.ctx.token.reason
        session.set_status(status, error)
        return status

    # -- the user's MCP servers ---------------------------------------------------------
    def _start_mcp(self) -> None:
        """Start the servers in a worker thread, beside the planning (bounded; a server
        that fails is a warning in the log and offers no tools, never a failed run)."""
        if self.mcp.status():
            self._mcp_starting = asyncio.ensure_future(
                self.ctx.blocking("MCP servers", self.mcp.start))

    async def _mcp_tools(self) -> None:
        """Once the servers have started: their tools join the tracks' tools."""
        if self._mcp_starting is not None:
            starting, self._mcp_starting = self._mcp_starting, None
            await starting
            self.ctx.extra_tools = (*self.ctx.extra_tools, *self.mcp.tools())

    def _stop_mcp(self) -> None:
        """Stop the servers in a thread of their own (bounded), without holding the run up."""
        if self.mcp.status():
            threading.Thread(target=self.mcp.stop, name="mcp-stop", daemon=True).start()

    def _planning_status(self) -> RunStatus:
        return RunStatus.PAUSED if self.ctx.gate.paused else RunStatus.PLANNING

    def _outcome(self) -> tuple[RunStatus, str]:
        tickets = list(self.session.tickets.values())
        if self.ctx.token.cancelled:
            return RunStatus.CANCELLED, self.ctx.token.reason
        bad = [t for t in tickets if t.status is not TicketStatus.COMPLETED]
        if not bad:
            return RunStatus.DONE, ""
        counts: dict[str, int] = {}
        for t in bad:
            counts[str(t.status)] = counts.get(str(t.status), 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return RunStatus.FAILED, f"{summary} of {len(tickets)} tickets"

    async def _plan_tracks(self) -> list[Track]:
        session = self.session
        session.set_phase(self._planning_status(), Tier.ORCHESTRATOR)
        made = await self.ctx.assemble("Tier 1: context", self.ctx.context().tier1, session.epic)
        return await self._plan(Tier.ORCHESTRATOR, "Tier 1", "Tier 1: orchestrator", None,
                                made.with_feedback, parse_tracks)

    async def _plan_tickets(self, track: Track, index: int) -> list[Ticket]:
        session = self.session
        session.set_phase(self._planning_status(), Tier.TECH_LEAD)
        sid = stream_id(Tier.TECH_LEAD, None if index == 0 else track.id)
        made = await self.ctx.assemble(f"{sid}: context", self.ctx.context().tier2,
                                       session.epic, track)

        def parse(text: str) -> list[Ticket]:
            tickets = parse_tickets(text)
            taken = [t.id for t in tickets if t.id in session.tickets]
            if taken:
                raise dag.DagError(duplicates=taken)
            dag.validate(tickets)
            return tickets

        return await self._plan(Tier.TECH_LEAD, sid, f"Tier 2: {track.title}", track.id,
                                made.with_feedback, parse)

    async def _plan(
        self,
        tier: Tier,
        sid: str,
        title: str,
        track_id: str | None,
        prompt: Callable[[str], Assembly],
        parse: Callable[[str], T],
    ) -> T:
        """Ask ``tier`` for a plan; on a rejected plan ask again with the reason."""
        session = self.session
        session.open_stream(tier, title=title, track_id=track_id, sid=sid)
        model = self.ctx.factory.model_for(tier)
        feedback = ""
        last_error: Exception | None = None
        for attempt in range(self.options.plan_retries + 1):
            session.stream_running(sid, model)
            made = prompt(feedback)
            request = CompletionRequest(tier, model, made.system, made.prompt, sid,
                                        attempt=attempt, context=made.parts)
            try:
                outcome = await self.ctx.call(request, self.ctx.token)
            except CallFailed as failed:
                log.error("%s call failed: %s", tier.label, failed, exc_info=failed.cause)
                session.write(sid, f"\n\n[error] {failed}\n{failed.traceback_tail()}")
                session.stream_finished(sid, StreamStatus.FAILED)
                raise RunFailed(f"{tier.label} failed: {failed}") from failed
            if outcome.cancelled:
                session.stream_finished(sid, StreamStatus.CANCELLED)
                raise RunFailed(f"{tier.label} cancelled")
            try:
                result = parse(outcome.text)
            except (PlanError, dag.DagError) as exc:
                log.warning("%s plan rejected (attempt %d): %s", tier.label, attempt + 1, exc)
                session.write(sid, f"\n\n[plan rejected: {exc}]\n")
                feedback = (
                    f"\nYour previous reply was rejected: {exc}\n"
                    "Reply again with one valid JSON object in a ```json block.\n"
                )
                last_error = exc
                continue
            session.stream_finished(sid, StreamStatus.DONE)
            return result
        session.stream_finished(sid, StreamStatus.FAILED)
        raise RunFailed(f"{tier.label} plan rejected: {last_error}")
