"""The controller: starts, steers and stops epic runs. QtCore only.

The window's actions and the hook's methods both call this one object, so everything
the window can do a script can do, through the same code.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ..live.session import MmaSession, RunStatus
from ..model.options import RunOptions
from ..providers.base import ProviderFactory
from .runner import EpicRunner

log = logging.getLogger(__name__)


class ControllerError(RuntimeError):
    """A request that cannot be done now (e.g. start while running); said to the caller."""


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

    def reconfigure(self, factory: ProviderFactory, options: RunOptions) -> None:
        """Use new providers and options from the next run on (a running run keeps its own)."""
        self.factory = factory
        self.options = options
        self.session.provider_label = factory.label

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def start_epic(self, epic: str, workspace: str = "", *, auto: bool | None = None) -> None:
        epic = epic.strip()
        if not epic:
            raise ControllerError("the epic is empty")
        if self.busy:
            raise ControllerError("a run is in progress: cancel it first")
        folder = Path(workspace).expanduser() if workspace else Path.cwd()
        if not folder.is_dir():
            raise ControllerError(f"workspace {str(folder)!r} is not a folder")
        self.runner = EpicRunner(
            self.session, self.factory, self.options,
            auto=self.auto if auto is None else auto,
        )
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self.runner.begin(epic, str(folder.resolve())))
        self._task.add_done_callback(self._on_done)

    def _on_done(self, task: asyncio.Task[RunStatus]) -> None:
        if task.cancelled():
            self.finished.emit(str(RunStatus.CANCELLED))
            return
        exc = task.exception()
        if exc is not None:
            # EpicRunner.run handles every failure itself; reaching here is a bug.
            log.error("run task crashed", exc_info=exc)
            self.session.set_status(RunStatus.FAILED, f"internal error: {exc}")
            self.finished.emit(str(RunStatus.FAILED))
            return
        self.finished.emit(str(task.result()))

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
        """Stop the run and its worker threads (bounded: workers stop within 1 s)."""
        if self.runner is not None:
            self.runner.shutdown()
        if self._task is not None and not self._task.done():
            self._task.cancel()
