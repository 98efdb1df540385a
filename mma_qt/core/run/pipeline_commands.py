"""The controller's commands over the whole pipeline: a track proposal (plan, edit,
accept, re-plan), the run mode (step or auto), per-ticket step flags, a track's cancel,
and continuing a run whose tickets became ready again. A mixin of
:class:`~.controller.Controller`; the window and the hook call them through it.

Every command refused in the current state raises :class:`~.errors.ControllerError` with
the reason; a malformed edit raises :class:`~.errors.InvalidEdit` naming the field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..model.plans import PlanError, check_tracks
from ..model.status import RunMode, RunStatus, ToolPolicy
from .errors import ControllerError, InvalidEdit, choice

if TYPE_CHECKING:
    from ..live.session import MmaSession
    from .runner import EpicRunner


class PipelineCommands:
    if TYPE_CHECKING:
        session: MmaSession
        runner: EpicRunner | None
        _mode: RunMode
        _auto: bool
        tool_policy: ToolPolicy
        _shut_down: bool
        _task: asyncio.Task[RunStatus] | None

        @property
        def busy(self) -> bool: ...

        def _require_runner(self) -> EpicRunner: ...

        def _start(self, epic: str, workspace: str, *, auto: bool | None,
                   propose: bool) -> None: ...

        def _launch(self, run: Coroutine[Any, Any, RunStatus], name: str) -> None: ...

    # -- the track proposal -------------------------------------------------------------
    def plan_epic(self, epic: str, workspace: str = "") -> None:
        """Start a run that stops after Tier 1 with status ``proposed`` (a ``proposal``
        event); :meth:`accept_tracks` goes on, :meth:`replan` asks Tier 1 again."""
        self._start(epic, workspace, auto=None, propose=True)

    def proposed_tracks(self) -> list[dict[str, Any]]:
        """The tracks waiting for the user (``proposed`` runs only; else empty): id, title,
        description and every other field of Tier 1's plan."""
        return [dict(t) for t in self.session.proposed_tracks]

    def _proposing(self, action: str) -> EpicRunner:
        runner = self.runner
        if runner is None or not self.busy or not runner.proposing:
            status = self.session.status
            raise ControllerError(f"cannot {action}: no track proposal waits for an answer "
                                  f"(the run is {status}); start one with plan_epic")
        return runner

    def accept_tracks(self, tracks: Sequence[Mapping[str, Any]] | None = None,
                      drop: Sequence[str] = ()) -> None:
        """Run exactly the accepted tracks: ``tracks`` (edited, reordered; validated like
        Tier 1's output, :class:`InvalidEdit` naming the field) or the proposal, less
        ``drop``."""
        runner = self._proposing("accept tracks")
        if tracks is None:
            chosen = self.proposed_tracks()
        else:
            try:
                chosen = check_tracks(list(tracks) if isinstance(tracks, Sequence)
                                      and not isinstance(tracks, str) else tracks)
            except PlanError as exc:
                raise InvalidEdit(exc.field or "tracks",
                                  str(exc).removeprefix(f"{exc.field}: ")) from exc
        ids = [t["id"] for t in chosen]
        unknown = [d for d in drop if d not in ids]
        if unknown:
            raise InvalidEdit("drop", f"no track {', '.join(map(repr, unknown))} to drop "
                                      f"(tracks: {', '.join(ids)})")
        kept = [t for t in chosen if t["id"] not in set(drop)]
        if not kept:
            raise InvalidEdit("drop", "every track would be dropped: nothing would run "
                                      "(cancel the run instead)")
        runner.accept(kept)

    def replan(self, remark: str) -> None:
        """Ask Tier 1 again with the user's remark (``proposed`` runs only)."""
        runner = self._proposing("re-plan")
        remark = " ".join(str(remark).split())
        if not remark:
            raise InvalidEdit("remark", "the remark is empty: say what Tier 1 should change")
        runner.replan(remark)

    # -- step or auto -------------------------------------------------------------------
    @property
    def mode(self) -> RunMode:
        """Whether spawns wait for the user (``step``) or not (``auto``): the running run's,
        which is also the next runs'."""
        return self._mode

    def set_mode(self, mode: RunMode | str) -> RunMode:
        """Use ``mode`` now (pending spawns are approved at once when ``auto``) and for the
        next runs; publishes a ``mode`` event."""
        chosen = choice(RunMode, mode, "mode")
        self._mode = chosen
        if chosen is RunMode.STEP:
            self._auto = False  # --auto means auto mode: it cannot stay with step
        if self.runner is not None and self.busy:
            self.runner.set_mode(chosen)
        else:
            self.session.set_mode(chosen)
        return chosen

    def set_ticket_step(self, ticket_id: str, step: bool) -> None:
        """Whether the ticket's spawns wait for the user even in ``auto`` mode."""
        ticket = self.session.tickets.get(ticket_id)
        if ticket is None:
            raise ControllerError(f"no ticket {ticket_id!r} in this run")
        self.session.set_step(ticket, bool(step))
        if self.runner is not None and self.busy:
            self.runner.ctx.approvals.release_spawns()

    # -- tracks -------------------------------------------------------------------------
    def cancel_track(self, track_id: str) -> None:
        """Cancel one track (its Tier 2 call, workers, approvals); the others go on."""
        runner = self._require_runner()
        try:
            runner.cancel_track(track_id)
        except KeyError as exc:
            raise ControllerError(str(exc.args[0])) from exc

    def _continue_run(self) -> None:
        """Tickets became ready again (retry, unblock, skip, edit): wake the running
        tracks' conductors; when the run has ended, start a continuation of it that runs
        them (status ``running`` again; ``finished`` is emitted again when it ends)."""
        runner = self.runner
        if runner is None:
            raise ControllerError("no run to continue")
        if self.busy:
            runner.continue_tracks()
            return
        if self._shut_down:
            raise ControllerError("the run was shut down (the app is closing)")
        if not runner.ready_tracks():
            raise ControllerError("nothing to run: no ticket of this run is ready "
                                  "(retry, unblock or skip one first)")
        # The mode and tool policy chosen since the run ended apply to its continuation,
        # as they would to a new run (else the status says auto while spawns wait).
        runner.set_mode(self._mode)
        runner.set_tool_policy(ToolPolicy.AUTO if self._auto else self.tool_policy)
        self._launch(runner.continue_run(), "mma-run-continued")
