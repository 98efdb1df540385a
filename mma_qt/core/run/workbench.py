"""Where one track's tools act, and what each of its tickets leaves behind. No Qt.

A :class:`TrackBench` per track. It is opened on the track's first tool call
(:meth:`TrackBench.open`), never before, so a run whose models call no tool touches no
repository:

- in a git repository, the track works in its own worktree, ``.mma/worktrees/<track-id>``
  on branch ``mma/<track-id>``, created from the user's HEAD (``.mma/`` goes to the
  repository's ``info/exclude``); the user's checkout is not touched until
  :meth:`TrackBench.merge`. Each completed ticket's changes become one commit on the
  branch, holding only the paths the ticket touched (:meth:`TrackBench.finish`);
- without git, tools act on the workspace itself and each ticket's diff is written to
  ``.mma/patches/<ticket-id>.diff``.

Every method but :meth:`TrackBench.definitions` blocks (file system, ``git``): call them
in a worker thread.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..model.domain import Tier
from ..providers.base import ToolDefinition
from ..tools import (
    FileChange,
    FileClaims,
    GitRepo,
    PatchStore,
    Sandbox,
    Tool,
    ToolRegistry,
    ToolSettings,
    TrackWorktree,
    find_repo,
)
from ..tools.builtin import builtin_tools
from ..tools.git import MergeResult


class BenchError(RuntimeError):
    """The track's working directory cannot be prepared, or a request on it cannot be done."""


@dataclass(frozen=True, slots=True)
class Trail:
    """What a finished ticket left: its changes, and the commit or patch holding them."""

    changes: list[FileChange]
    commit: str | None = None
    patch: Path | None = None


class TrackBench:
    def __init__(self, workspace: str | Path, track_id: str, *, settings: ToolSettings,
                 claims: FileClaims, extra_tools: Sequence[Tool] = ()) -> None:
        self.workspace = Path(workspace)
        self.track_id = track_id
        self.settings = settings
        self.claims = claims
        self._tools: list[Tool] = [*builtin_tools(), *extra_tools]
        self._lock = threading.Lock()
        self._registry: ToolRegistry | None = None
        self.repo: GitRepo | None = None
        self.worktree: TrackWorktree | None = None
        self.workdir: Path | None = None
        #: The tickets finished so far, in order.
        self._finished: list[str] = []

    def definitions(self, tier: Tier) -> tuple[ToolDefinition, ...]:
        """The tools offered to ``tier``: all to Tier 3, the read-only ones otherwise.

        The registry enforces the same split (:meth:`ToolRegistry.for_tier`) when it runs.
        """
        return tuple(ToolDefinition(t.spec.name, t.spec.description, t.spec.parameters)
                     for t in self._tools if tier is Tier.WORKER or not t.spec.mutating)

    @property
    def branch(self) -> str | None:
        """The track's branch (git workspaces, once opened)."""
        return None if self.worktree is None else self.worktree.branch

    @property
    def opened(self) -> bool:
        return self._registry is not None

    def open(self) -> ToolRegistry:
        """The track's tools on its working directory, prepared on the first call."""
        with self._lock:
            if self._registry is None:
                self._registry = self._prepare()
            return self._registry

    def _prepare(self) -> ToolRegistry:
        if not self.workspace.is_dir():
            raise BenchError(f"the workspace {self.workspace} is not a folder")
        try:
            repo = find_repo(self.workspace)
            if repo is None:
                workdir = self.workspace.resolve()
            else:
                self.worktree = repo.create_track_worktree(self.track_id)
                workdir = repo.workdir_in(self.worktree, self.workspace)
                # A workspace folder that git does not track is not in the worktree yet.
                workdir.mkdir(parents=True, exist_ok=True)
            registry = ToolRegistry(Sandbox(workdir), settings=self.settings,
                                    claims=self.claims, tools=self._tools)
        # GitError is a RuntimeError; Sandbox and check_id raise ValueError.
        except (RuntimeError, ValueError, OSError, subprocess.SubprocessError) as exc:
            raise BenchError(f"cannot prepare the working directory of track "
                             f"{self.track_id}: {exc}") from exc
        self.repo, self.workdir = repo, workdir
        return registry

    def finish(self, ticket_id: str, title: str, *, commit: bool) -> Trail:
        """End the ticket's claims; commit its changes (git, when ``commit``) or write its
        patch (no git). Raises GitError or OSError when that fails."""
        changes = self.claims.release(ticket_id)
        if ticket_id not in self._finished:  # a retried ticket finishes again
            self._finished.append(ticket_id)
        if not changes or self.workdir is None:
            return Trail(changes)
        if self.repo is not None:
            sha = (self.repo.commit_ticket(self.workdir, ticket_id, title,
                                           [c.path for c in changes]) if commit else None)
            return Trail(changes, commit=sha)
        return Trail(changes, patch=PatchStore(self.workspace).write(ticket_id, changes))

    def check_mergeable(self) -> None:
        """Raise :class:`BenchError` when the track has no branch to merge. Cheap: no git."""
        if not self.opened:
            raise BenchError(f"track {self.track_id} changed nothing: there is nothing "
                             "to merge")
        if self.repo is None:
            raise BenchError(f"the workspace is not in a git repository: track "
                             f"{self.track_id} changed the workspace itself (each ticket's "
                             "diff is in .mma/patches)")

    def merge(self) -> MergeResult:
        """Merge the track's branch into the user's current branch (``--no-ff``).

        Raises :class:`BenchError` when there is nothing to merge and
        :class:`~mma_qt.core.tools.git.MergeRefused` on a dirty tree or a conflict.
        """
        self.check_mergeable()
        assert self.repo is not None  # checked above
        return self.repo.merge_track(self.track_id)

    def diff(self) -> str:
        """The track's changes: its branch against the user's branch, or (no git) the
        diffs of its finished tickets."""
        if self.repo is not None:
            return self.repo.track_diff(self.track_id)
        return "".join(c.diff for t in self._finished for c in self.claims.changes(t))
