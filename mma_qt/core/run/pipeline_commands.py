"""The controller's commands over the whole pipeline: a track proposal (plan, edit,
accept, re-plan), the run mode (step or auto), per-ticket step flags, a track's cancel,
and continuing a run whose tickets became ready again. A mixin of
:class:`~.controller.Controller`; the window and the hook call them through it.

Every command refused in the current state raises :class:`~.errors.ControllerError` with
the reason; a malformed edit raises :class:`~.errors.InvalidEdit` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..model.status import RunMode
from .errors import ControllerError

if TYPE_CHECKING:
    from ..live.session import MmaSession
    from .runner import EpicRunner


class PipelineCommands:
    if TYPE_CHECKING:
        session: MmaSession
        runner: EpicRunner | None

        def _require_runner(self) -> EpicRunner: ...

    # -- the track proposal -------------------------------------------------------------
    def plan_epic(self, epic: str, workspace: str = "") -> None:
        """Start a run that stops after Tier 1 with status ``proposed`` (a ``proposal``
        event); :meth:`accept_tracks` goes on, :meth:`replan` asks Tier 1 again."""
        raise ControllerError("plan_epic is not built yet")

    def proposed_tracks(self) -> list[dict[str, Any]]:
        """The tracks waiting for the user (``proposed`` runs only; else empty): id, title,
        description and every other field of Tier 1's plan."""
        return []

    def accept_tracks(self, tracks: Sequence[Mapping[str, Any]] | None = None,
                      drop: Sequence[str] = ()) -> None:
        """Run exactly the accepted tracks: ``tracks`` (edited, reordered; validated like
        Tier 1's output, :class:`InvalidEdit` naming the field) or the proposal, less
        ``drop``."""
        raise ControllerError("accept_tracks is not built yet")

    def replan(self, remark: str) -> None:
        """Ask Tier 1 again with the user's remark (``proposed`` runs only)."""
        raise ControllerError("replan is not built yet")

    # -- step or auto -------------------------------------------------------------------
    @property
    def mode(self) -> RunMode:
        """Whether spawns wait for the user (``step``) or not (``auto``)."""
        return RunMode.STEP

    def set_mode(self, mode: RunMode | str) -> RunMode:
        """Use ``mode`` now (pending spawns are approved at once when ``auto``) and for the
        next runs; publishes a ``mode`` event."""
        raise ControllerError("set_mode is not built yet")

    def set_ticket_step(self, ticket_id: str, step: bool) -> None:
        """Whether the ticket's spawns wait for the user even in ``auto`` mode."""
        raise ControllerError("set_ticket_step is not built yet")

    # -- tracks -------------------------------------------------------------------------
    def cancel_track(self, track_id: str) -> None:
        """Cancel one track (its Tier 2 call, workers, approvals); the others go on."""
        raise ControllerError("cancel_track is not built yet")

    def _continue_run(self) -> None:
        """Tickets became ready again (retry, unblock, skip, edit): wake the running
        tracks' conductors; when the run has ended, start a continuation of it that runs
        them (status ``running`` again; ``finished`` is emitted again when it ends)."""
        raise ControllerError("continuing a run is not built yet")
