"""The controller's commands that go on from a past run (issue 12): **Resume** an
interrupted run's unfinished tickets, and **re-run** one ticket of a past run with an
edited prompt or model. A mixin of :class:`~.controller.Controller`.

Either starts a new run in the live session: the past run is read back (by the caller,
off the GUI thread) and restored into the freshly reset session
(:func:`~mma_qt.core.live.restore.restore_run`) once the new run is active, so a recorder
on the session's bus records it into the new run, completed tickets with their streams
and usage included. Then the new run's runner continues it (the tickets that are ready
run; a re-run is a :meth:`retry` of its ticket). The past run itself is never changed.
Refusals raise :class:`~.errors.ControllerError` (nothing changed); a malformed edit
raises :class:`~.errors.InvalidEdit` naming the field.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..live.restore import restore_run
from ..model.domain import Tier
from ..model.records import StreamRecord
from ..model.status import RunStatus, TicketStatus, TrackStatus
from .errors import ControllerError, InvalidEdit
from .ticket_commands import RETRYABLE

if TYPE_CHECKING:
    from ..live.session import MmaSession
    from .runner import EpicRunner

#: What Resume runs again: every ticket that did not finish well.
DONE = (TicketStatus.COMPLETED, TicketStatus.SKIPPED)
#: Runs that may be resumed (an active run belongs to a process still running it).
RESUMABLE = (RunStatus.INTERRUPTED, RunStatus.FAILED, RunStatus.CANCELLED)


class HistoryCommands:
    if TYPE_CHECKING:
        session: MmaSession
        runner: EpicRunner | None
        _shut_down: bool

        @property
        def busy(self) -> bool: ...

        def _new_runner(self) -> EpicRunner: ...

        def _launch(self, run: Coroutine[Any, Any, RunStatus], name: str) -> None: ...

        def retry(self, ticket_id: str, *, model: str | None = None,
                  prompt: str | None = None) -> None: ...

    def resume_from(self, document: Mapping[str, Any], records: Sequence[StreamRecord],
                    prompts: Mapping[tuple[str, int], str] | None = None) -> None:
        """A new run that goes on from a past one (read with ``get_run(streams=True)``):
        its completed and skipped tickets are kept as they were, every other ticket runs
        again as a new attempt, and tracks Tier 2 had not planned yet are planned."""
        run_id = document.get("run_id")
        status = RunStatus(document.get("status", RunStatus.IDLE))
        if status not in RESUMABLE:
            raise ControllerError(f"run {run_id} is {status}: only an interrupted, failed "
                                  "or cancelled run can be resumed")
        if not document.get("tracks") and not document.get("tickets"):
            raise ControllerError(f"run {run_id} ended before its tracks were planned: "
                                  "start its epic again")
        unfinished = [t["id"] for t in document.get("tickets", [])
                      if TicketStatus(t["status"]) not in DONE]
        unplanned = [t["id"] for t in document.get("tracks", []) if not t.get("tickets")
                     and TrackStatus(t.get("status", TrackStatus.QUEUED)) is not TrackStatus.DONE]
        if not unfinished and not unplanned:
            raise ControllerError(f"run {run_id} has no unfinished ticket to resume "
                                  "(re-run a ticket instead)")
        self._go_on_from(document, records, prompts)
        session = self.session
        for ticket_id in unfinished:
            ticket = session.tickets[ticket_id]
            ticket.blocked_by, ticket.blocked_reason, ticket.error = None, "", ""
            ticket.qa_hint = ""
            session.set_ticket(ticket, TicketStatus.TODO)
        for track in session.tracks:  # ended while its last ticket's news was on its way
            if track.tickets and all(t.status.satisfies for t in track.tickets):
                session.set_track(track, TrackStatus.DONE)
        runner = self.runner
        assert runner is not None
        self._launch(runner.continue_run([t for t in session.tracks if t.id in unplanned]),
                     "mma-run-resumed")

    def rerun_from(self, document: Mapping[str, Any], records: Sequence[StreamRecord],
                   prompts: Mapping[tuple[str, int], str] | None, ticket_id: str, *,
                   model: str | None = None, prompt: str | None = None) -> None:
        """A new run that holds a past run as it ended and runs one of its tickets again
        as a new attempt, with ``prompt`` and ``model`` (verbatim) for that attempt."""
        past = next((t for t in document.get("tickets", []) if t["id"] == ticket_id), None)
        if past is None:
            raise InvalidEdit("ticket_id", f"no ticket {ticket_id!r} in run "
                                           f"{document.get('run_id')}")
        if prompt is not None and not prompt.strip():
            raise InvalidEdit("prompt", "is empty")
        if model is not None and not model.strip():
            raise InvalidEdit("model", "is empty")
        status = TicketStatus(past["status"])
        if status not in (*RETRYABLE, TicketStatus.INTERRUPTED):
            raise ControllerError(f"{ticket_id} was {status.label} in run "
                                  f"{document.get('run_id')}: only a ticket that ended "
                                  "can be run again")
        self._go_on_from(document, records, prompts)
        session = self.session
        for ticket in session.tickets.values():  # an interrupted run's: they ended there
            if not ticket.status.is_final or ticket.status is TicketStatus.INTERRUPTED:
                session.set_ticket(ticket, TicketStatus.CANCELLED,
                                   reason=f"interrupted in run {document.get('run_id')}")
        try:
            self.retry(ticket_id, model=model, prompt=prompt)
        except ControllerError as exc:
            session.set_status(RunStatus.FAILED, f"re-run of {ticket_id} refused: {exc}")
            raise

    def _go_on_from(self, document: Mapping[str, Any], records: Sequence[StreamRecord],
                    prompts: Mapping[tuple[str, int], str] | None) -> None:
        """A new run, active at once (so it is recorded), holding the past run."""
        from .controller import check_start  # the controller imports this module

        if self.busy:
            raise ControllerError("a run is in progress: cancel it first")
        epic, folder = check_start(str(document.get("epic") or ""),
                                   str(document.get("workspace") or ""))
        self.runner = self._new_runner()
        self._shut_down = False
        session = self.session
        session.reset(epic, str(folder))
        session.set_phase(RunStatus.RUNNING, Tier.WORKER)
        try:
            restore_run(session, document, records, prompts)
        except (KeyError, TypeError, ValueError) as exc:  # a document this app cannot read
            reason = f"cannot restore run {document.get('run_id')}: {type(exc).__name__}: {exc}"
            session.set_status(RunStatus.FAILED, reason)
            raise ControllerError(reason) from exc
