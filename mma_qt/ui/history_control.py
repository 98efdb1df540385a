"""Starting a new run from a past one, for the window and the hook alike: the recorder is
told which run the new one comes from (``parent_run_id``), then the controller resumes the
past run or re-runs one of its tickets (:mod:`~mma_qt.core.run.history_commands`)."""

from __future__ import annotations

from typing import Any

from ..core.history.recorder import HistoryRecorder
from ..core.history.store import PastRun
from ..core.run.controller import Controller


def go_on_from(controller: Controller, recorder: HistoryRecorder, past: PastRun, *,
               ticket_id: str | None = None, model: str | None = None,
               prompt: str | None = None) -> dict[str, Any]:
    """Resume ``past`` (``ticket_id`` None) or re-run its ticket with ``model`` and
    ``prompt``, in a new run recorded with ``parent_run_id``. Raises ControllerError
    (InvalidEdit naming a field) when refused, nothing started. Returns the new run's
    ``{run_id, parent_run_id, status}`` (``run_id`` None when history is off)."""
    recorder.parent_run_id = past.run_id
    try:
        if ticket_id is None:
            controller.resume_from(past.document, past.records, past.prompts)
        else:
            controller.rerun_from(past.document, past.records, past.prompts, ticket_id,
                                  model=model, prompt=prompt)
    finally:
        recorder.parent_run_id = None  # taken by the new run, or no run started
    return {"run_id": recorder.run_id, "parent_run_id": past.run_id,
            "status": str(controller.session.status)}
