"""The controller: starts, steers and stops epic runs. QtCore only.

The window's actions and the hook's methods both call this one object, so everything
the window can do a script can do, through the same code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from ..live.session import MmaSession
from ..model.domain import Ticket, Track
from ..model.options import RunOptions
from ..model.status import RunMode, RunStatus, TicketStatus, ToolPolicy
from ..providers.base import ProviderFactory
from ..settings.mcp_config import McpServerConfig
from ..tools import GitError
from .errors import ControllerError, InvalidEdit, choice
from .history_commands import HistoryCommands
from .pipeline_commands import PipelineCommands
from .pool import WorkerPool
from .runner import EpicRunner
from .ticket_commands import TicketCommands
from .workbench import BenchError, TrackBench

log = logging.getLogger(__name__)

T = TypeVar("T")


def _merge_done(task: asyncio.Task[dict[str, Any]]) -> None:
    """A merge nobody awaits (started over the hook) still has its refusal logged; the
    ``merge`` event has already told the subscribers."""
    if task.cancelled() or (exc := task.exception()) is None:
        return
    if isinstance(exc, ControllerError):
        log.warning("merge refused: %s", exc)
    else:
        log.error("merge failed", exc_info=exc)


def check_workspace(workspace: str = "") -> Path:
    """The resolved workspace folder (``""``: the current one), or why it cannot be used."""
    try:
        folder = Path(workspace).expanduser() if workspace else Path.cwd()
        if folder.is_dir():
            return folder.resolve()
    except (OSError, RuntimeError) as exc:  # no home for "~user", cwd removed, no access
        raise ControllerError(f"workspace {workspace!r}: {exc}") from exc
    raise ControllerError(f"workspace {str(folder)!r} is not a folder")


def check_start(epic: str, workspace: str = "") -> tuple[str, Path]:
    """The stripped epic and the workspace folder, or why a run cannot start."""
    epic = epic.strip()
    if not epic:
        raise ControllerError("the epic is empty")
    return epic, check_workspace(workspace)


__all__ = ["Controller", "ControllerError", "InvalidEdit", "check_start", "check_workspace"]


class Controller(HistoryCommands, PipelineCommands, TicketCommands, QObject):
    #: Emitted with the final status when a run ends.
    finished = Signal(str)

    def __init__(
        self,
        session: MmaSession,
        factory: ProviderFactory,
        options: RunOptions | None = None,
        *,
        auto: bool = False,
        mcp: Mapping[str, McpServerConfig] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.factory = factory
        self.options = options or RunOptions()
        #: Whether spawns start at once (mode ``auto``) for the next runs.
        self._mode = RunMode.AUTO if auto else RunMode.STEP
        self._auto = auto
        session.set_mode(self._mode)
        #: The user's MCP servers (``[mcp.servers]``), started with each run.
        self.mcp: Mapping[str, McpServerConfig] = dict(mcp or {})
        #: The tool policy of the next run (and of the current one, when set during it).
        self.tool_policy = self.options.tool_policy
        self.runner: EpicRunner | None = None
        #: Threads for git work outside a run (merges, track diffs).
        self._pool = WorkerPool()
        self._task: asyncio.Task[RunStatus] | None = None
        #: Set once ``finished`` was emitted for the current run (or its continuation).
        self._ended: asyncio.Future[None] | None = None
        #: The current run was shut down (its worker threads joined, with a bound).
        self._shut_down = False
        #: aclose gave up waiting for the run task: emit nothing from then on.
        self._closed = False

    @property
    def auto(self) -> bool:
        """``--auto``: the next runs start spawns at once (mode ``auto``) and approve every
        tool call (tool policy ``auto``). Setting it sets the mode of the next runs."""
        return self._auto

    @auto.setter
    def auto(self, value: bool) -> None:
        self._auto = value
        self._mode = RunMode.AUTO if value else RunMode.STEP
        if not self.busy:
            self.session.set_mode(self._mode)

    def reconfigure(self, factory: ProviderFactory, options: RunOptions, *,
                    mcp: Mapping[str, McpServerConfig] | None = None) -> None:
        """Use new providers and options (and MCP servers, when given) from the next run on
        (a running run keeps its own)."""
        self.factory = factory
        self.options = options
        self.tool_policy = options.tool_policy
        if mcp is not None:
            self.mcp = dict(mcp)
        self.session.provider_label = factory.label

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def start_epic(self, epic: str, workspace: str = "", *, auto: bool | None = None) -> None:
        """Start a run that goes straight through. ``auto`` (default: :attr:`auto`) sets
        :attr:`auto` first: spawns start at once and every tool call is approved (tool
        policy ``auto``); otherwise the mode is :attr:`mode` and the tool policy
        :attr:`tool_policy`."""
        self._start(epic, workspace, auto=auto, propose=False)

    def _start(self, epic: str, workspace: str, *, auto: bool | None, propose: bool) -> None:
        epic, folder = check_start(epic, workspace)
        if self.busy:
            raise ControllerError("a run is in progress: cancel it first")
        if auto is not None:
            self.auto = auto
        self.runner = self._new_runner()
        self._shut_down = False
        self._launch(self.runner.begin(epic, str(folder), propose=propose), "mma-run")

    def _new_runner(self) -> EpicRunner:
        return EpicRunner(
            self.session, self.factory, self.options, mode=self._mode,
            policy=ToolPolicy.AUTO if self._auto else self.tool_policy, mcp=self.mcp,
        )

    def _launch(self, run: Coroutine[Any, Any, RunStatus], name: str) -> None:
        """Run the runner's coroutine as the current run task; ``finished`` when it ends."""
        loop = asyncio.get_running_loop()
        self._ended = ended = loop.create_future()
        self._task = task = loop.create_task(run, name=name)
        task.add_done_callback(lambda done: self._on_done(done, ended))

    def _on_done(self, task: asyncio.Task[RunStatus], ended: asyncio.Future[None]) -> None:
        """Say how the run ended; then :meth:`aclose` may let the owner go."""
        try:
            if self._closed:
                # aclose gave up waiting and the owner may be gone: emit nothing.
                log.warning("the run task ended after the app stopped waiting for it")
                return
            self.finished.emit(self._final_status(task))
        finally:
            if not ended.done():
                ended.set_result(None)

    def _final_status(self, task: asyncio.Task[RunStatus]) -> str:
        if task.cancelled():
            if not self.session.status.is_final:
                # Cancelled before it ran: nothing else will say the run ended.
                self.session.set_status(RunStatus.CANCELLED, "run task cancelled")
            return str(RunStatus.CANCELLED)
        exc = task.exception()
        if exc is None:
            return str(task.result())
        # EpicRunner.run handles every failure itself; reaching here is a bug.
        log.error("run task crashed", exc_info=exc)
        self.session.set_status(RunStatus.FAILED, f"internal error: {exc}")
        return str(RunStatus.FAILED)

    def _require_runner(self) -> EpicRunner:
        if self.runner is None or not self.busy:
            raise ControllerError("no run in progress")
        return self.runner

    def pause(self) -> None:
        runner = self._require_runner()
        if runner.proposing:
            raise ControllerError("nothing to pause: the track proposal waits for your "
                                  "answer (accept the tracks or re-plan)")
        runner.pause()

    def resume(self) -> None:
        self._require_runner().resume()

    def cancel(self, ticket_id: str | None = None) -> None:
        runner = self._require_runner()
        try:
            runner.cancel(ticket_id)
        except KeyError as exc:
            raise ControllerError(str(exc.args[0])) from exc

    # -- approvals and the tool policy ---------------------------------------------------
    def resolve_approval(self, key: str, approved: bool, *, edited: str | None = None,
                         reason: str = "", prompt: str | None = None,
                         model: str | None = None) -> None:
        """Answer one pending approval. ``edited``: the user's version of the call's
        editable argument (approve only); ``reason``: why it was rejected (the model reads
        it); ``prompt``/``model``: a spawn's edited prompt and model (approve only; the
        worker gets them verbatim). Raises :class:`ApprovalError` for an unknown key or an
        impossible edit."""
        self._require_runner().ctx.approvals.resolve(key, approved, edited=edited,
                                                     reason=reason, prompt=prompt, model=model)

    def pending_approvals(self) -> list[dict[str, Any]]:
        """Every pending approval, oldest first (see ``Approval.to_dict`` for the fields)."""
        if self.runner is None or not self.busy:
            return []
        return [a.to_dict() for a in self.runner.ctx.approvals.pending()]

    @property
    def current_tool_policy(self) -> ToolPolicy:
        """The running run's tool policy, else the next run's."""
        if self.runner is not None and self.busy:
            return self.runner.ctx.approvals.policy
        return self.tool_policy

    def set_tool_policy(self, policy: ToolPolicy | str) -> ToolPolicy:
        """Use ``policy`` for the running run (pending calls it allows are approved at once)
        and the next ones. Publishes a ``tool_policy`` event."""
        chosen = choice(ToolPolicy, policy, "tool policy")
        self.tool_policy = chosen
        if self.runner is not None and self.busy:
            self.runner.set_tool_policy(chosen)
        self.session.bus.publish("tool_policy", policy=str(chosen))
        return chosen

    # -- what tickets did ------------------------------------------------------------------
    def _ticket(self, ticket_id: str) -> Ticket:
        ticket = self.session.tickets.get(ticket_id)
        if ticket is None:
            raise ControllerError(f"no ticket {ticket_id!r} in this run")
        return ticket

    def tool_calls(self, ticket_id: str) -> list[dict[str, Any]]:
        """The ticket's tool calls, in order: arguments, decision, edit, result."""
        return [record.to_dict() for record in self._ticket(ticket_id).tool_calls]

    def changes(self, ticket_id: str) -> list[dict[str, str]]:
        """The files the ticket changed: ``[{path, status, diff}]`` (added / modified /
        deleted; a git-style unified diff). Live while it runs, frozen when it ends."""
        self._ticket(ticket_id)
        if self.runner is None:
            return []
        return [{"path": c.path, "status": c.status, "diff": c.diff}
                for c in self.runner.ctx.claims.changes(ticket_id)]

    def _track(self, track_id: str) -> tuple[Track, TrackBench]:
        track = next((t for t in self.session.tracks if t.id == track_id), None)
        bench = None if self.runner is None else self.runner.benches.get(track_id)
        if track is None or bench is None:
            raise ControllerError(f"no planned track {track_id!r} in this run")
        return track, bench

    async def track_diff(self, track_id: str) -> str:
        """The track's changes: its branch against the user's branch (git), or the diffs
        of its finished tickets."""
        _track, bench = self._track(track_id)
        return await self._git(f"diff {track_id}", bench.diff)

    async def merge_track(self, track_id: str) -> dict[str, Any]:
        """Merge a done track's branch into the user's current branch (``--no-ff``).

        Refuses (:class:`ControllerError`, nothing merged) when the track is not done, the
        workspace has no git, the user's tree is dirty or the merge conflicts. Either way a
        ``merge`` event says how it ended.
        """
        return await self.start_merge(track_id)

    def start_merge(self, track_id: str) -> asyncio.Task[dict[str, Any]]:
        """Check at once that the track can be merged (:class:`ControllerError` if not),
        then merge in a worker thread. A ``merge`` event says how it ended: ``state``
        ``merged`` (with ``branch``, ``into``, ``commit``) or ``refused`` (``message``)."""
        bench = self._mergeable(track_id)
        task = asyncio.get_running_loop().create_task(self._merge(track_id, bench))
        task.add_done_callback(_merge_done)
        return task

    def can_merge(self, track_id: str) -> bool:
        """Whether :meth:`start_merge` would start now (cheap: no git is run)."""
        try:
            self._mergeable(track_id)
        except ControllerError:
            return False
        return True

    def _mergeable(self, track_id: str) -> TrackBench:
        """The bench of a done track on git, or ControllerError saying why not."""
        track, bench = self._track(track_id)
        unfinished = [t for t in track.tickets if t.status is not TicketStatus.COMPLETED]
        if not track.tickets or unfinished:
            states = ", ".join(f"{t.id} {t.status.label}" for t in unfinished) or "no tickets"
            raise ControllerError(f"track {track_id} is not done ({states}); only a track "
                                  "whose tickets all completed can be merged")
        try:
            bench.check_mergeable()
        except BenchError as exc:
            raise ControllerError(str(exc)) from exc
        return bench

    async def _merge(self, track_id: str, bench: TrackBench) -> dict[str, Any]:
        try:
            result = await self._git(f"merge {track_id}", bench.merge)
        except ControllerError as exc:
            self.session.bus.publish("merge", track_id=track_id, state="refused",
                                     message=str(exc))
            raise
        answer = {"track_id": track_id, "branch": result.branch, "into": result.into,
                  "commit": result.commit}
        self.session.bus.publish("merge", state="merged", **answer)
        return answer

    async def _git(self, name: str, fn: Callable[[], T]) -> T:
        """``fn`` in a thread of the controller's own pool; its refusals as ControllerError."""
        try:
            return await asyncio.wrap_future(self._pool.submit(name, fn))
        except (BenchError, GitError) as exc:  # MergeRefused is a GitError
            raise ControllerError(str(exc)) from exc

    def shutdown(self) -> None:
        """Stop the run and its worker threads (bounded: workers stop within 1.5 s).

        The run task then ends on its own on the loop's next turns, with every ticket
        settled; await :meth:`aclose` before deleting this object's owner, so that
        ``finished`` is emitted while it still exists.
        """
        if self.runner is None or self._shut_down:
            return
        self._shut_down = True
        stragglers = self.runner.shutdown()
        if stragglers and self._task is not None and not self._task.done():
            # A call that ignores cancellation would hold the run up: end its task now.
            self._task.cancel()

    async def aclose(self, timeout: float = 2.0) -> None:
        """Shut down and wait until the run has ended and ``finished`` was emitted.

        A run still going after ``timeout`` s (a call that ignores cancellation) has its
        task cancelled and is waited for as long again; after that nothing is emitted.
        """
        self.shutdown()
        ended = self._ended
        if ended is None or ended.done():
            return
        await asyncio.wait([ended], timeout=timeout)
        if not ended.done() and self._task is not None:
            log.warning("the run did not stop within %.1f s; cancelling its task", timeout)
            self._task.cancel()
            await asyncio.wait([ended], timeout=timeout)
        if not ended.done():
            self._closed = True
            log.error("the run task did not end within %.1f s of being cancelled", timeout)
