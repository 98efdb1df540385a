"""The controller's per-ticket commands: retry, skip, block and unblock, the model of a
ticket, and edits of a ticket that has not started. A mixin of
:class:`~.controller.Controller`; the tree's context menu, the DAG view and the hook call
them through it.

Each refused in the ticket's current state raises :class:`~.errors.ControllerError` with
the reason (nothing changed); a malformed edit (a cycle, an unknown id) raises
:class:`~.errors.InvalidEdit` naming the field.

A change is made between two turns of the ticket's conductor (everything runs on the GUI
thread), published as a ``ticket`` event per ticket it changed, then the conductor is woken
to look again at what is ready; when the run has already ended, a continuation of it runs
the tickets made ready again (:meth:`~.pipeline_commands.PipelineCommands._continue_run`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..model import dag
from ..model.domain import Ticket, Track
from ..model.status import TicketStatus
from .errors import ControllerError, InvalidEdit
from .spawns import settle_blocked

if TYPE_CHECKING:
    from ..live.session import MmaSession
    from .runner import EpicRunner

#: What ``retry`` runs again.
RETRYABLE = (TicketStatus.FAILED, TicketStatus.CANCELLED, TicketStatus.COMPLETED,
             TicketStatus.SKIPPED)
#: Not started: what ``block`` accepts (a waiting spawn is rejected).
NOT_STARTED = (TicketStatus.TODO, TicketStatus.WAITING)


class TicketCommands:
    if TYPE_CHECKING:
        session: MmaSession
        runner: EpicRunner | None

        @property
        def busy(self) -> bool: ...

        def _ticket(self, ticket_id: str) -> Ticket: ...

        def _continue_run(self) -> None: ...

    def retry(self, ticket_id: str, *, model: str | None = None,
              prompt: str | None = None) -> None:
        """Run a failed, cancelled, completed (or skipped) ticket again as a new attempt
        (reason ``user retry``), with ``model`` and ``prompt`` for that attempt, verbatim;
        its dependents blocked by it become ready again."""
        ticket, track, runner = self._target(ticket_id)
        if ticket.status not in RETRYABLE:
            raise ControllerError(f"{ticket_id} is {ticket.status.label}: only a failed, "
                                  "cancelled, completed or skipped ticket can be retried")
        chosen = None if model is None else _required("model", model)
        if prompt is not None and not prompt.strip():
            raise InvalidEdit("prompt", "is empty")
        ticket.next_model, ticket.prompt_override = chosen, prompt
        ticket.qa_hint = ticket.error = ""  # the new attempt starts from the ticket alone
        runner.ctx.claims.reopen(ticket_id)  # it may write its files again
        self._release(track, [ticket, *dag.blocked_by(track.tickets, ticket_id)])
        self._resume(track)

    def skip(self, ticket_id: str, reason: str = "") -> None:
        """Mark a ticket that is not running skipped: done, for its dependents (those it
        blocked become ready again). A spawn waiting for approval is rejected."""
        ticket, track, runner = self._target(ticket_id)
        if ticket.status is TicketStatus.IN_PROGRESS:
            raise ControllerError(f"{ticket_id} is running: cancel it first, then skip it")
        if ticket.status in (TicketStatus.COMPLETED, TicketStatus.SKIPPED):
            raise ControllerError(f"{ticket_id} is {ticket.status.label} already")
        reason = reason.strip() or "skipped by the user"
        waiting = ticket.status is TicketStatus.WAITING
        released = dag.blocked_by(track.tickets, ticket_id)
        ticket.blocked_by = None
        self.session.set_ticket(ticket, TicketStatus.SKIPPED, reason=reason)
        self._release(track, released)
        if waiting:
            runner.ctx.approvals.reject_all(ticket_id, reason)
        self._resume(track)

    def block(self, ticket_id: str, reason: str = "") -> None:
        """Keep a ticket that has not started from running (a spawn waiting for approval is
        rejected); its dependents are blocked, naming it and the reason."""
        ticket, track, runner = self._target(ticket_id)
        if ticket.status not in NOT_STARTED:
            raise ControllerError(f"{ticket_id} is {ticket.status.label}: only a ticket that "
                                  "has not started can be blocked")
        reason = reason.strip() or "blocked by the user"
        waiting = ticket.status is TicketStatus.WAITING
        ticket.blocked_by = None
        self.session.set_ticket(ticket, TicketStatus.BLOCKED, reason=reason)
        settle_blocked(self.session, track.tickets)
        if waiting:
            runner.ctx.approvals.reject_all(ticket_id, reason)
        self._wake(track)

    def unblock(self, ticket_id: str) -> None:
        """Undo :meth:`block` (or a block by a dependency that is no longer stopped): the
        ticket and the dependents it blocked may run again."""
        ticket, track, _runner = self._target(ticket_id)
        if ticket.status is not TicketStatus.BLOCKED:
            raise ControllerError(f"{ticket_id} is {ticket.status.label}, not blocked")
        for dep in ticket.depends_on:
            status = self.session.tickets[dep].status
            if status in dag.STOPPED:
                raise ControllerError(f"{ticket_id} waits for {dep}, which is {status.label}: "
                                      f"retry, skip or unblock {dep} first")
        self._release(track, [ticket, *dag.blocked_by(track.tickets, ticket_id)])
        self._resume(track)

    def set_ticket_model(self, ticket_id: str, model: str) -> None:
        """The model of the ticket's next attempts (``retry {model}`` still wins for its
        own attempt)."""
        ticket, track, _runner = self._target(ticket_id)
        ticket.model_override = _required("model", model)
        self.session.ticket_edited(ticket)
        self._wake(track)

    def edit_ticket(self, ticket_id: str, *, title: str | None = None,
                    description: str | None = None,
                    depends_on: Sequence[str] | None = None,
                    target_files: Sequence[str] | None = None) -> None:
        """Change a ticket that has not started (todo, or blocked before it ever ran); the
        DAG is validated again first, on a copy (a cycle or an unknown id:
        :class:`InvalidEdit` naming ``depends_on``, nothing changed)."""
        ticket, track, _runner = self._target(ticket_id)
        if ticket.attempts or ticket.status not in (TicketStatus.TODO, TicketStatus.BLOCKED):
            raise ControllerError(f"{ticket_id} is {ticket.status.label}: only a ticket that "
                                  "has not started can be edited")
        new_title = ticket.title if title is None else _required("title", title)
        new_description = (ticket.description if description is None
                           else _text("description", description))
        deps = ticket.depends_on if depends_on is None else _names("depends_on", depends_on)
        files = (ticket.target_files if target_files is None
                 else _names("target_files", target_files))
        try:
            dag.validate_edit(track.tickets, ticket_id, deps)
        except dag.DagError as exc:
            raise InvalidEdit("depends_on", str(exc)) from exc
        ticket.title, ticket.description = new_title, new_description
        ticket.depends_on, ticket.target_files = deps, files
        self.session.ticket_edited(ticket)
        if ticket.status is TicketStatus.BLOCKED and ticket.blocked_by not in (None, *deps):
            # What blocked it is no dependency any more.
            self._release(track, [ticket, *dag.blocked_by(track.tickets, ticket_id)])
        else:
            settle_blocked(self.session, track.tickets)  # a new dependency may be stopped
        self._resume(track)

    # -- helpers ------------------------------------------------------------------------
    def _target(self, ticket_id: str) -> tuple[Ticket, Track, EpicRunner]:
        """The ticket, its track and the run it belongs to, or ControllerError."""
        ticket = self._ticket(ticket_id)
        track = next((t for t in self.session.tracks
                      if any(x is ticket for x in t.tickets)), None)
        if track is None or self.runner is None:
            raise ControllerError(f"ticket {ticket_id} belongs to no track of this run")
        return ticket, track, self.runner

    def _release(self, track: Track, tickets: Iterable[Ticket]) -> None:
        """Make ``tickets`` todo again; those still waiting on another stopped dependency
        are blocked again at once, naming it."""
        for ticket in tickets:
            ticket.blocked_by = None
            ticket.blocked_reason = ""
            self.session.set_ticket(ticket, TicketStatus.TODO)
        settle_blocked(self.session, track.tickets)

    def _wake(self, track: Track) -> bool:
        """Wake the track's conductor if it is scheduling; False when it has ended."""
        runner = self.runner
        conductor = None if runner is None else runner.ctx.conductors.get(track.id)
        if self.busy and conductor is None:
            return True  # its conductor has yet to start: it will see the change
        if self.busy and conductor is not None and conductor.active:
            conductor.wake()
            return True
        return False

    def _resume(self, track: Track) -> None:
        """Tickets of ``track`` may run now: its conductor looks again, or (its run or
        its conductor having ended) the run is continued."""
        if not self._wake(track):
            self._continue_run()


def _text(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidEdit(field, "must be a string")
    return value


def _required(field: str, value: object) -> str:
    text = _text(field, value).strip()
    if not text:
        raise InvalidEdit(field, "is empty")
    return text


def _names(field: str, values: object) -> tuple[str, ...]:
    """Ticket ids or paths: a list of non-empty strings, each once, in order."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InvalidEdit(field, "must be a list of strings")
    return tuple(dict.fromkeys(_required(field, v) for v in values))
