"""The controller: starts, steers and stops epic runs. QtCore only.

The window's actions and the hook's methods both call this one object, so everything
the window can do a script can do, through the same code.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ..live.session import MmaSession
from ..model.options import RunOptions
from ..model.status import RunStatus
from ..providers.base import ProviderFactory
from .runner import EpicRunner

log = logging.getLogger(__name__)


class ControllerError(RuntimeError):
    """A request that cannot be done now (e.g. start while running); said to the caller."""


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


class Controller(QObject):
    #: Emitted with the final status when a run ends.
    finished = Signal(str)

    def __init__(
        self,
        session: MmaSession,
        factory: ProviderFactory,
        options: RunOptions | None = None,
        *,
        auto: bool = False,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.factory = factory
        self.options = options or RunOptions()
        self.auto = auto
        self.runner: EpicRunner | None = None
        self._task: asyncio.Task[RunStatus] | None = None
        #: Set once ``finished`` was emitted for the current run.
        self._ended: asyncio.Future[None] | None = None
        #: The current run was shut down (its worker threads joined, with a bound).
        self._shut_down = False
        #: aclose gave up waiting for the run task: emit nothing from then on.
        self._closed = False

    def reconfigure(self, factory: ProviderFactory, options: RunOptions) -> None:
        """Use new providers and options from the next run on (a running run keeps its own)."""
        self.factory = factory
        self.options = options
        self.session.provider_label = factory.label

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def start_epic(self, epic: str, workspace: str = "", *, auto: bool | None = None) -> None:
        epic, folder = check_start(epic, workspace)
        if self.busy:
            raise ControllerError("a run is in progress: cancel it first")
        self.runner = EpicRunner(
            self.session, self.factory, self.options,
            auto=self.auto if auto is None else auto,
        )
        self._shut_down = False
        loop = asyncio.get_running_loop()
        self._ended = loop.create_future()
        self._task = loop.create_task(self.runner.begin(epic, str(folder)), name="mma-run")
        self._task.add_done_callback(self._on_done)

    def _on_done(self, task: asyncio.Task[RunStatus]) -> None:
        """Say how the run ended; then :meth:`aclose` may let the owner go."""
        try:
            if self._closed:
                # aclose gave up waiting and the owner may be gone: emit nothing.
                log.warning("the run task ended after the app stopped waiting for it")
                return
            self.finished.emit(self._final_status(task))
        finally:
            if self._ended is not None and not self._ended.done():
                self._ended.set_result(None)

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
        self._require_runner().pause()

    def resume(self) -> None:
        self._require_runner().resume()

    def cancel(self, ticket_id: str | None = None) -> None:
        runner = self._require_runner()
        try:
            runner.cancel(ticket_id)
        except KeyError as exc:
            raise ControllerError(str(exc.args[0])) from exc

    def resolve_approval(self, key: str, approved: bool) -> None:
        self._require_runner().ctx.approvals.resolve(key, approved)

    def pending_approvals(self) -> list[dict[str, str]]:
        if self.runner is None or not self.busy:
            return []
        return [a.to_dict() for a in self.runner.ctx.approvals.pending()]

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
