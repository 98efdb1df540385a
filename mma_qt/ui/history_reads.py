"""What the History dock reads and writes, run on the window's :class:`~.tasks.TaskRunner`
thread, never on the GUI thread: the workspace's runs, one past run to show or go on
from, and a run's report written to a file.

Each first waits until the recorder's writer has committed what it was handed (when it
writes this workspace's history), so a run that just ended reads back whole.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..arguments import write_whole
from ..core.history.report import render
from ..core.history.schema import history_path
from ..core.history.store import HistoryStore, PastRun
from ..core.history.writer import HistoryWriter

#: The runs the dock lists, at most.
LIMIT = 200
#: How long a read waits for the writer's commit, at most (s).
SYNC_S = 5.0
#: Report formats by file suffix.
FORMATS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}


@dataclass(frozen=True, slots=True)
class Source:
    """Where to read: the workspace field's text, the recorder's writer (if any) and the
    runs this process is recording (never reported interrupted)."""

    workspace: str
    writer: HistoryWriter | None
    live: Collection[str]

    def store(self) -> HistoryStore:
        folder = Path(self.workspace or ".").expanduser().resolve()
        path = history_path(folder)
        if self.writer is not None and self.writer.path == path:
            self.writer.flush(SYNC_S)
        return HistoryStore(path, live=self.live)


def read_runs(source: Source) -> list[dict[str, Any]]:
    """The workspace's runs, newest first (none when it has no history yet)."""
    store = source.store()
    return store.list_runs(LIMIT) if store.path.exists() else []


def load_run(source: Source, run_id: str) -> PastRun:
    return source.store().load(run_id)


def report_format(path: str) -> str:
    """``md``, ``html`` or ``json`` by the file's suffix (Markdown without one)."""
    suffix = Path(path).suffix.lower()
    if suffix and suffix not in FORMATS:
        known = ", ".join(FORMATS)
        raise ValueError(f"{Path(path).name}: unknown report format {suffix!r} (use {known})")
    return FORMATS.get(suffix, "md")


def write_report(source: Source, run_id: str, path: str) -> str:
    """Write the run's report to ``path`` (through a temporary file beside it: the file is
    the whole report or untouched); return the path."""
    fmt = report_format(path)
    text = render(source.store().get_run(run_id), fmt)
    target = Path(path).expanduser()
    write_whole(target, text)
    return str(target)
