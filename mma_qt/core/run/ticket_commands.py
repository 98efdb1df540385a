"""The controller's per-ticket commands: retry, skip, block and unblock, the model of a
ticket, and edits of a ticket that has not started. A mixin of
:class:`~.controller.Controller`; the tree's context menu, the DAG view and the hook call
them through it.

Each refused in the ticket's current state raises :class:`~.errors.ControllerError` with
the reason (nothing changed); a malformed edit (a cycle, an unknown id) raises
:class:`~.errors.InvalidEdit` naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import ControllerError

if TYPE_CHECKING:
    from ..live.session import MmaSession
    from .runner import EpicRunner


class TicketCommands:
    if TYPE_CHECKING:
        session: MmaSession
        runner: EpicRunner | None

        def _require_runner(self) -> EpicRunner: ...

        def _continue_run(self) -> None: ...

    def retry(self, ticket_id: str, *, model: str | None = None,
              prompt: str | None = None) -> None:
        """Run a failed, cancelled or completed ticket again as a new attempt (with another
        model or prompt); its dependents blocked by it become ready again."""
        raise ControllerError("retry is not built yet")

    def skip(self, ticket_id: str, reason: str) -> None:
        """Mark a ticket that is not running skipped: done, for its dependents."""
        raise ControllerError("skip is not built yet")

    def block(self, ticket_id: str, reason: str) -> None:
        """Keep a ticket that has not started from running; its dependents are blocked
        with the reason."""
        raise ControllerError("block is not built yet")

    def unblock(self, ticket_id: str) -> None:
        """Undo :meth:`block`: the ticket and the dependents it blocked may run again."""
        raise ControllerError("unblock is not built yet")

    def set_ticket_model(self, ticket_id: str, model: str) -> None:
        """The model of the ticket's next attempts."""
        raise ControllerError("set_ticket_model is not built yet")

    def edit_ticket(self, ticket_id: str, *, title: str | None = None,
                    description: str | None = None,
                    depends_on: Sequence[str] | None = None,
                    target_files: Sequence[str] | None = None) -> None:
        """Change a ticket that has not started; the DAG is validated again first (a cycle
        or an unknown id: :class:`InvalidEdit`, nothing changed)."""
        raise ControllerError("edit_ticket is not built yet")
