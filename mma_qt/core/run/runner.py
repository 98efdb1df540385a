"""One epic run: Tier 1 plans tracks, Tier 2 plans each track's tickets, conductors run them.

An :class:`EpicRunner` is created per run and owns every per-run object (worker pool, pause
gate, cancel token, approvals, file claims, each track's working directory and conductor):
starting a new run never shares anything with the old one.

A run may stop after Tier 1 (``propose=True``): its tracks wait for the user, who accepts
them (edited, reordered, some dropped: :meth:`EpicRunner.accept`) or asks Tier 1 again
with a remark (:meth:`EpicRunner.replan`). Accepted tracks run side by side, at most
``options.max_tracks`` at once, each in its own task with its own cancel token (a child of
the run's), Tier 2 stream, conductor and status; ``max_workers`` bounds the Tier 3 workers
of all tracks together (:class:`~.slots.WorkerSlots`). One track failing or being
cancelled leaves the others running. A run that ended may be continued
(:meth:`EpicRunner.continue_run`) when tickets became ready again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from ..live.session import MmaSession
from ..model import dag
from ..model.cancel import CancelToken
from ..model.domain import Tier, Track
from ..model.options import RunOptions
from ..model.plans import tracks_of
from ..model.status import RunMode, RunStatus, TicketStatus, ToolPolicy, TrackStatus
from ..providers.base import ProviderFactory
from ..settings.mcp_config import McpServerConfig
from ..tools.mcp import McpServers, McpServerStatus
from .approvals import ApprovalBroker
from .conductor import Conductor, RunContext
from .planning import Planner, RunFailed
from .pool import WorkerPool
from .proposal import Proposal
from .tracks import TrackQueue, run_outcome, track_outcome
from .workbench import TrackBench

log = logging.getLogger(__name__)

__all__ = ["EpicRunner", "RunFailed"]


class EpicRunner:
    def __init__(
        self,
        session: MmaSession,
        factory: ProviderFactory,
        options: RunOptions | None = None,
        *,
        auto: bool = True,
        mode: RunMode | None = None,
        policy: ToolPolicy | None = None,
        mcp: Mapping[str, McpServerConfig] | None = None,
    ) -> None:
        """``auto``: spawns start at once (mode ``auto``) and the tool policy is ``auto``,
        unless ``mode`` or ``policy`` name others; otherwise the mode is ``step`` and the
        tool policy ``policy`` or the options'. ``mcp``: the user's MCP servers
        (``[mcp.servers]``), started with the run (beside the planning) and stopped when it
        ends; their tools are offered to Tier 3."""
        self.options = options or RunOptions()
        if mode is None:
            mode = RunMode.AUTO if auto else RunMode.STEP
        if policy is None:
            policy = ToolPolicy.AUTO if auto else self.options.tool_policy
        self.ctx = RunContext(
            session=session,
            factory=factory,
            approvals=ApprovalBroker(session.bus, mode=mode, policy=policy,
                                     stepped=self._stepped),
            options=self.options,
        )
        session.set_mode(mode)
        #: The running conductors, by track id.
        self.conductors: dict[str, Conductor] = {}
        #: Each planned track's working directory, by track id.
        self.benches: dict[str, TrackBench] = {}
        #: Each accepted track's cancel token (a child of the run's), by track id.
        self.track_tokens: dict[str, CancelToken] = {}
        self.mcp = McpServers(mcp or {})
        self._mcp_starting: asyncio.Future[list[McpServerStatus]] | None = None
        self._mcp_added = False
        self._status_before_pause = RunStatus.RUNNING
        #: The accepted tracks' queue while they run.
        self._queue: TrackQueue | None = None
        self.planner = Planner(self.ctx)
        self.proposal = Proposal(self.planner)

    @property
    def session(self) -> MmaSession:
        return self.ctx.session

    def _stepped(self, ticket_id: str) -> bool:
        ticket = self.session.tickets.get(ticket_id)
        return ticket is not None and ticket.step

    # -- control (GUI thread) --------------------------------------------------------
    def pause(self) -> None:
        """Hold every stream between chunks and start nothing new. Nothing runs while a
        proposal waits for the user: then this does nothing."""
        status = self.session.status
        if not status.is_active or status is RunStatus.PROPOSED or self.ctx.gate.paused:
            return
        self._status_before_pause = status
        self.ctx.gate.pause()
        self.session.set_status(RunStatus.PAUSED)

    def resume(self) -> None:
        if not self.ctx.gate.paused:
            return
        self.ctx.gate.resume()
        if self.session.status is RunStatus.PAUSED:
            self.session.set_status(self._status_before_pause)
        self.wake()

    def wake(self) -> None:
        """Every running conductor looks at its tickets again."""
        for conductor in list(self.conductors.values()):
            conductor.wake()

    @property
    def mode(self) -> RunMode:
        return self.ctx.approvals.mode

    def set_mode(self, mode: RunMode) -> None:
        """Switch the run's mode; in ``auto`` pending spawns are approved at once (not
        those of tickets whose step flag is set)."""
        self.session.set_mode(mode)
        self.ctx.approvals.set_mode(mode)

    def set_tool_policy(self, policy: ToolPolicy) -> None:
        """Switch the run's tool policy; pending calls it allows are approved at once."""
        self.ctx.approvals.set_policy(policy)

    def cancel(self, ticket_id: str | None = None) -> None:
        if ticket_id is not None:
            track = self.track_of(ticket_id)
            conductor = None if track is None else self.conductors.get(track.id)
            if conductor is None:
                raise KeyError(f"no running ticket {ticket_id!r}")
            conductor.cancel_ticket(ticket_id)
            return
        self._stop("run cancelled by the user")

    def track_of(self, ticket_id: str) -> Track | None:
        return next((t for t in self.session.tracks
                     if any(x.id == ticket_id for x in t.tickets)), None)

    def cancel_track(self, track_id: str, reason: str = "track cancelled by the user") -> None:
        """Cancel one track: its Tier 2 call, its workers and its pending approvals; a
        queued track ends at once. KeyError: no such track, or it has ended."""
        track = next((t for t in self.session.tracks if t.id == track_id), None)
        token = self.track_tokens.get(track_id)
        if track is None or token is None:
            known = ", ".join(t.id for t in self.session.tracks) or "none yet"
            raise KeyError(f"no track {track_id!r} in this run (tracks: {known})")
        if track.status.is_final:
            raise KeyError(f"track {track_id} has ended ({track.status})")
        token.cancel(reason)
        for ticket in track.tickets:
            self.ctx.approvals.reject_all(ticket.id, reason)
        if track.status is TrackStatus.QUEUED:
            self.session.set_track(track, TrackStatus.CANCELLED, token.reason)
        conductor = self.conductors.get(track_id)
        if conductor is not None:
            conductor.wake()

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
        self.wake()
        self.proposal.stop()

    # -- the proposal (GUI thread) -----------------------------------------------------
    @property
    def proposing(self) -> bool:
        """Whether Tier 1's tracks wait for the user's answer."""
        return self.proposal.waiting

    def accept(self, tracks: list[dict[str, Any]]) -> None:
        """Go on with exactly these tracks (validated by the caller), in this order."""
        self.proposal.accept(tracks)

    def replan(self, remark: str) -> None:
        """Ask Tier 1 again, with the user's remark."""
        self.proposal.replan(remark)

    # -- the run ---------------------------------------------------------------------
    def begin(self, epic: str, workspace: str, *,
              propose: bool = False) -> Coroutine[Any, Any, RunStatus]:
        """Show the new run at once (a fresh session, planning); return the coroutine to run.

        Whoever reads the status right after a start (the hook's answer, ``mma-qt-hook
        wait``) sees this run, never the previous run's final status. ``propose``: stop
        after Tier 1 until the user answers (:meth:`accept`, :meth:`replan`).
        """
        self.session.reset(epic, workspace)
        self.session.set_phase(self.planner.status(), Tier.ORCHESTRATOR)
        return self._guarded(lambda: self._pipeline(propose))

    async def run(self, epic: str, workspace: str) -> RunStatus:
        return await self.begin(epic, workspace)

    def ready_tracks(self) -> list[Track]:
        """Tracks that have tickets ready to run."""
        return [t for t in self.session.tracks if t.tickets and dag.ready(t.tickets)]

    def continue_tracks(self) -> None:
        """While the run goes on: running conductors look again, and an ended track that
        has tickets ready runs its conductor again."""
        self.wake()
        for track in self.ready_tracks():
            if track.status.is_final and self._queue is not None:
                self._requeue(track)
                self._queue.add(track)

    def continue_run(self, unplanned: Sequence[Track] = ()) -> Coroutine[Any, Any, RunStatus]:
        """The run has ended and some tracks have tickets ready: run them again, on a fresh
        worker pool (status ``running``); return the coroutine to run. ``unplanned``:
        tracks whose tickets Tier 2 has yet to plan (a resumed run's), planned first."""
        tracks = [*self.ready_tracks(), *unplanned]
        if self.ctx.token.cancelled:
            self.ctx.token = CancelToken()
        self.ctx.pool = WorkerPool()
        for track in tracks:
            self._requeue(track)
        self.session.continue_run()
        return self._guarded(lambda: self._schedule(tracks))

    def _requeue(self, track: Track) -> None:
        token = self.track_tokens.get(track.id)
        if token is None or token.cancelled:
            self.track_tokens[track.id] = CancelToken(self.ctx.token)
        self.session.set_track(track, TrackStatus.QUEUED)

    async def _guarded(self, body: Callable[[], Awaitable[None]]) -> RunStatus:
        """Run ``body``; whatever happens, settle the run and say how it ended."""
        session = self.session
        status, error = RunStatus.FAILED, ""
        try:
            await body()
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
            self._settle_tracks(reason)
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
            self._settle_tracks(error)
        session.set_status(status, error)
        return status

    def _settle_tracks(self, reason: str) -> None:
        for track in self.session.tracks:
            if not track.status.is_final:
                self.session.set_track(track, TrackStatus.CANCELLED, reason)

    async def _pipeline(self, propose: bool) -> None:
        self._start_mcp()
        plan = await self.planner.tracks()
        if propose:
            answer = await self.proposal.wait(plan)
            if answer is None:  # stopped while the proposal waited
                return
            plan = answer
        tracks = tracks_of(plan)
        self.session.set_tracks(tracks)
        for track in tracks:
            self.track_tokens[track.id] = CancelToken(self.ctx.token)
        await self._schedule(tracks)

    # -- tracks side by side -------------------------------------------------------------
    async def _schedule(self, tracks: Sequence[Track]) -> None:
        """Run the tracks, at most ``max_tracks`` at once, in order; ended tracks that got
        ready tickets meanwhile (:meth:`continue_tracks`) join the queue."""
        self._queue = TrackQueue(self._track, self.options.max_tracks)
        try:
            await self._queue.run(tracks)
        finally:
            self._queue = None

    async def _track(self, track: Track) -> None:
        """One track: Tier 2 plans it (the first time), then its conductor runs it."""
        session, token = self.session, self.track_tokens[track.id]
        status, error = TrackStatus.FAILED, "stopped by an internal error (see the log)"
        try:
            if token.cancelled:
                return  # cancelled while queued: said below
            if not track.tickets:
                session.set_track(track, TrackStatus.PLANNING)
                if not self._any_running():
                    session.set_phase(self.planner.status(), Tier.TECH_LEAD)
                await self.planner.tickets(track, token)
            session.set_track(track, TrackStatus.RUNNING)
            session.set_phase(
                RunStatus.PAUSED if self.ctx.gate.paused else RunStatus.RUNNING, Tier.WORKER)
            await self._mcp_tools()
            bench = self.benches.get(track.id)
            if bench is None:
                self.benches[track.id] = bench = self.ctx.bench(track.id)
            conductor = Conductor(self.ctx, track, bench, token)
            self.conductors[track.id] = conductor
            stop_listening = self.ctx.slots.listen(conductor.wake)
            try:
                await conductor.run()
            finally:
                stop_listening()
                self.conductors.pop(track.id, None)
            status, error = track_outcome(track, token)
        except RunFailed as exc:
            status, error = TrackStatus.FAILED, str(exc)
            if not token.cancelled:  # a cancelled track did not fail: said below
                log.error("track %s failed: %s", track.id, exc)
        except asyncio.CancelledError:
            status, error = TrackStatus.CANCELLED, token.reason or "run task cancelled"
            raise
        finally:
            if token.cancelled and status is not TrackStatus.DONE:
                status, error = TrackStatus.CANCELLED, token.reason
            session.set_track(track, status, error)

    def _any_running(self) -> bool:
        return any(t.status is TrackStatus.RUNNING for t in self.session.tracks)

    # -- the user's MCP servers ---------------------------------------------------------
    def _start_mcp(self) -> None:
        """Start the servers in a worker thread, beside the planning (bounded; a server
        that fails is a warning in the log and offers no tools, never a failed run)."""
        if self.mcp.status():
            self._mcp_starting = asyncio.ensure_future(
                self.ctx.blocking("MCP servers", self.mcp.start))

    async def _mcp_tools(self) -> None:
        """Once the servers have started: their tools join the tracks' tools (every track
        waits for the same start; the first adds the tools)."""
        if self._mcp_starting is not None:
            await asyncio.shield(self._mcp_starting)
            if not self._mcp_added:
                self._mcp_added = True
                self.ctx.extra_tools = (*self.ctx.extra_tools, *self.mcp.tools())

    def _stop_mcp(self) -> None:
        """Stop the servers in a thread of their own (bounded), without holding the run up."""
        if self.mcp.status():
            threading.Thread(target=self.mcp.stop, name="mcp-stop", daemon=True).start()

    def _planning_status(self) -> RunStatus:
        return RunStatus.PAUSED if self.ctx.gate.paused else RunStatus.PLANNING

    def _outcome(self) -> tuple[RunStatus, str]:
        if self.ctx.token.cancelled:
            return RunStatus.CANCELLED, self.ctx.token.reason
        return run_outcome(self.session.tracks)
