"""The tools Tier 3 workers use on the workspace, confined to it. Pure Python, no Qt.

- :mod:`.base`: :class:`ToolResult` (``ok``, ``text`` starting with ``error:`` when it
  failed), :class:`ToolError`, :class:`ToolSpec`, :class:`ProposedChange`,
  :class:`ToolSettings`, the :class:`Tool` base class, output bounding;
- :mod:`.sandbox`: :class:`Sandbox`, the one working directory a track's tools may touch;
- :mod:`.builtin`: ``read_file``, ``list_dir``, ``search_text``, ``get_skeleton``,
  ``write_file``, ``apply_edit``, ``delete_file``, and ``run_command`` from
  :mod:`.command_tool`;
- :mod:`.skeleton`: signatures and docstrings of a source file (``ast``, tree-sitter);
- :mod:`.commands`: :class:`CommandRunner`, commands in their own process group, with a
  scrubbed environment, confined by bubblewrap where it is available;
- :mod:`.claims`: :class:`FileClaims`, which running ticket wrote which file, and each
  ticket's changes as unified diffs;
- :mod:`.git`: the git trail (a worktree and branch per track, a commit per ticket, the
  merge on request) and the patch store without git;
- :mod:`.registry`: :class:`ToolRegistry`, the tools of one run and track, by name, never
  raising.

Nothing here imports Qt or the run machinery (an import-linter contract).
"""

from .base import (
    OUTPUT_LIMIT,
    ProposedChange,
    Tool,
    ToolContext,
    ToolError,
    ToolResult,
    ToolSettings,
    ToolSpec,
)
from .claims import FileChange, FileClaims
from .commands import CommandOutcome, CommandRunner
from .git import GitError, GitRepo, MergeRefused, PatchStore, TrackWorktree, find_repo
from .registry import ToolRegistry
from .sandbox import Sandbox

__all__ = [
    "OUTPUT_LIMIT",
    "CommandOutcome",
    "CommandRunner",
    "FileChange",
    "FileClaims",
    "GitError",
    "GitRepo",
    "MergeRefused",
    "PatchStore",
    "ProposedChange",
    "Sandbox",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "ToolSettings",
    "ToolSpec",
    "TrackWorktree",
    "find_repo",
]
