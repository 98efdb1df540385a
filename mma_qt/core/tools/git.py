"""A git trail per track, made with the ``git`` command line; a patch store without git.

When the workspace is in a git repository (:func:`find_repo`), each track works in a
worktree of its own, ``.mma/worktrees/<track-id>`` on branch ``mma/<track-id>``, created
from the current HEAD (:meth:`GitRepo.create_track_worktree`); ``.mma/`` is added to the
repository's ``info/exclude`` once so it never shows as untracked, and the user's checkout
is not touched by a run. Each completed ticket becomes one commit on the track's branch,
``<ticket-id>: <title>``, holding only the paths the ticket touched
(:meth:`GitRepo.commit_ticket`); a user without ``user.name``/``user.email`` gets the app's
identity (``mma-qt <mma-qt@localhost>``) for these commits rather than a failed ticket.
:meth:`GitRepo.merge_track` merges a track branch into the user's current branch with
``--no-ff``, on request only, and refuses with a clear message (:class:`MergeRefused`) on a
dirty tree or a conflict, aborting the merge so nothing is half-merged;
:meth:`GitRepo.remove_track` removes the worktree and deletes the merged branch.

Without git (a plain folder, the demo's temporary one), tools act on the workspace
directly and :class:`PatchStore` keeps each ticket's diff as
``.mma/patches/<ticket-id>.diff``.

Every call is blocking (run it off the GUI thread) and serialised per :class:`GitRepo`
object, so tickets finishing together never race for git's index lock.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .claims import FileChange

#: The app's folder inside a workspace (protected from tools, excluded from git).
APP_FOLDER = ".mma"
#: Identity for the app's commits when the user has configured none.
FALLBACK_NAME = "mma-qt"
FALLBACK_EMAIL = "mma-qt@localhost"
#: Track and ticket ids become branch names and file names: keep them plain.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_GIT_TIMEOUT_S = 120


class GitError(RuntimeError):
    """A git command failed; the message names the command and git's own words."""


class MergeRefused(GitError):
    """A merge that was not made (dirty tree, conflict): the user's branch is unchanged."""


def check_id(value: str, what: str) -> str:
    """``value`` if it is fit for a branch or file name, else :class:`ValueError`."""
    if not _ID.match(value) or ".." in value or value.endswith((".lock", ".")):
        raise ValueError(f"{what} {value!r} must be 1-64 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    return value


def git_available(git: str = "git") -> bool:
    return shutil.which(git) is not None


def find_repo(path: Path, git: str = "git") -> GitRepo | None:
    """The repository ``path`` is in, or None (no git installed, or not a repository)."""
    if not git_available(git):
        return None
    result = subprocess.run(
        [git, "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True,
        text=True, timeout=_GIT_TIMEOUT_S, env=_git_env(None), stdin=subprocess.DEVNULL,
        check=False)
    if result.returncode != 0:
        return None
    return GitRepo(Path(result.stdout.strip()), git=git)


@dataclass(frozen=True, slots=True)
class TrackWorktree:
    track_id: str
    path: Path
    branch: str
    #: The commit the track branch started from.
    base: str


@dataclass(frozen=True, slots=True)
class MergeResult:
    branch: str
    #: The user's branch (None: a detached HEAD).
    into: str | None
    #: The merge commit; None when the branch had nothing new ("already up to date").
    commit: str | None


class GitRepo:
    """One repository, driven through the ``git`` command line."""

    def __init__(self, root: Path, *, git: str = "git",
                 env: Mapping[str, str] | None = None) -> None:
        self.root = Path(root).resolve()
        self._git = git
        self._env = _git_env(env)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"GitRepo({str(self.root)!r})"

    # -- plumbing ------------------------------------------------------------------------

    def git(self, *args: str, cwd: Path | None = None, check: bool = True,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``git args`` in ``cwd`` (default: the repository); :class:`GitError` on failure
        when ``check``."""
        command = [self._git, *args]
        with self._lock:
            try:
                result = subprocess.run(
                    command, cwd=cwd or self.root, capture_output=True, text=True,
                    env=self._env, timeout=_GIT_TIMEOUT_S, input=stdin or "", check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise GitError(f"`git {' '.join(args)}` could not run: {exc}") from exc
        if check and result.returncode != 0:
            words = (result.stderr or result.stdout).strip()
            raise GitError(f"`git {' '.join(args)}` failed (exit {result.returncode}): {words}")
        return result

    def _out(self, *args: str, cwd: Path | None = None) -> str:
        return self.git(*args, cwd=cwd).stdout.strip()

    def head(self, cwd: Path | None = None) -> str:
        result = self.git("rev-parse", "--verify", "-q", "HEAD", cwd=cwd, check=False)
        if result.returncode != 0:
            raise GitError(f"the repository at {self.root} has no commit yet; commit once, "
                           "then start the run")
        return result.stdout.strip()

    def current_branch(self, cwd: Path | None = None) -> str | None:
        result = self.git("symbolic-ref", "-q", "--short", "HEAD", cwd=cwd, check=False)
        return result.stdout.strip() or None

    def _identity(self) -> list[str]:
        """``-c user.name=... -c user.email=...`` for what the user has not configured."""
        args = []
        for key, fallback in (("user.name", FALLBACK_NAME), ("user.email", FALLBACK_EMAIL)):
            if not self.git("config", "--get", key, check=False).stdout.strip():
                args += ["-c", f"{key}={fallback}"]
        return args

    # -- setup ---------------------------------------------------------------------------

    def exclude_app_folder(self) -> bool:
        """Add ``.mma/`` to the repository's ``info/exclude`` unless it is there already.

        Returns whether the line was added.
        """
        exclude = Path(self._out("rev-parse", "--git-path", "info/exclude"))
        if not exclude.is_absolute():
            exclude = self.root / exclude
        text = exclude.read_text(encoding="utf-8") if exclude.is_file() else ""
        if any(line.strip().strip("/") == APP_FOLDER for line in text.splitlines()):
            return False
        exclude.parent.mkdir(parents=True, exist_ok=True)
        prefix = "" if not text or text.endswith("\n") else "\n"
        with exclude.open("a", encoding="utf-8") as file:
            file.write(f"{prefix}{APP_FOLDER}/\n")
        return True

    def branch_name(self, track_id: str) -> str:
        return f"mma/{check_id(track_id, 'track id')}"

    def worktree_path(self, track_id: str) -> Path:
        return self.root / APP_FOLDER / "worktrees" / check_id(track_id, "track id")

    def create_track_worktree(self, track_id: str) -> TrackWorktree:
        """The track's worktree on ``mma/<track-id>``, created from HEAD if it is new.

        An existing worktree (a resumed run) is returned as it is.
        """
        branch, path = self.branch_name(track_id), self.worktree_path(track_id)
        with self._lock:
            self.exclude_app_folder()
            self.git("worktree", "prune")
            head = self.head()
            if self._is_worktree(path):
                base = self._out("merge-base", head, branch)
                return TrackWorktree(track_id, path, branch, base)
            path.parent.mkdir(parents=True, exist_ok=True)
            if self._branch_exists(branch):
                self.git("worktree", "add", str(path), branch)
                base = self._out("merge-base", head, branch)
            else:
                self.git("worktree", "add", "-b", branch, str(path), head)
                base = head
        return TrackWorktree(track_id, path, branch, base)

    def _is_worktree(self, path: Path) -> bool:
        listing = self._out("worktree", "list", "--porcelain")
        paths = {line.removeprefix("worktree ") for line in listing.splitlines()
                 if line.startswith("worktree ")}
        return any(Path(p).resolve() == path.resolve() for p in paths)

    def _branch_exists(self, branch: str) -> bool:
        return self.git("rev-parse", "--verify", "-q", f"refs/heads/{branch}",
                        check=False).returncode == 0

    def workdir_in(self, worktree: TrackWorktree, workspace: Path) -> Path:
        """The folder of ``worktree`` that stands for ``workspace`` (a folder of this repo)."""
        return worktree.path / Path(workspace).resolve().relative_to(self.root)

    # -- commits and diffs ---------------------------------------------------------------

    def commit_ticket(self, cwd: Path, ticket_id: str, title: str,
                      paths: Sequence[str]) -> str | None:
        """Commit ``paths`` (relative to ``cwd``, a track worktree folder) as
        ``<ticket-id>: <title>``; only those paths, even if others changed. Returns the
        commit, or None when they hold no change. Ignored files are left out."""
        message = f"{check_id(ticket_id, 'ticket id')}: {' '.join(title.split())}"
        with self._lock:
            specs = self._committable(cwd, paths)
            if not specs:
                return None
            self.git("add", "-A", "--", *specs, cwd=cwd)
            if self.git("diff", "--cached", "--quiet", "HEAD", "--", *specs, cwd=cwd,
                        check=False).returncode == 0:
                return None
            self.git(*self._identity(), "commit", "-q", "-m", message, "--", *specs, cwd=cwd)
            return self._out("rev-parse", "HEAD", cwd=cwd)

    def _committable(self, cwd: Path, paths: Sequence[str]) -> list[str]:
        """Literal pathspecs of ``paths`` that exist or are tracked, and are not ignored."""
        specs = [f":(literal){p}" for p in dict.fromkeys(paths)]
        if not specs:
            return []
        tracked = set(self.git("ls-files", "-z", "--", *specs, cwd=cwd).stdout.split("\0"))
        ignored = set(self._ignored(cwd, paths))
        return [spec for spec, path in zip(specs, dict.fromkeys(paths), strict=True)
                if path not in ignored and ((cwd / path).exists() or (cwd / path).is_symlink()
                                            or path in tracked)]

    def _ignored(self, cwd: Path, paths: Sequence[str]) -> list[str]:
        """Those of ``paths`` that .gitignore and the excludes ignore (tracked files never)."""
        result = self.git("check-ignore", "-z", "--stdin", cwd=cwd, check=False,
                          stdin="\0".join(paths) + "\0")
        if result.returncode not in (0, 1):  # 1: none is ignored
            raise GitError(f"`git check-ignore` failed (exit {result.returncode}): "
                           f"{result.stderr.strip()}")
        return [p for p in result.stdout.split("\0") if p]

    def commit_diff(self, commit: str) -> str:
        """The diff a commit made (a ticket's commit)."""
        return self.git("show", "--format=", "--no-color", "--no-ext-diff", commit).stdout

    def diff(self, base: str, head: str, paths: Iterable[str] = ()) -> str:
        """``git diff base head`` (optionally limited to ``paths``)."""
        literal = [f":(literal){p}" for p in paths]
        return self.git("diff", "--no-color", "--no-ext-diff", base, head, "--",
                        *literal).stdout

    def track_diff(self, track_id: str) -> str:
        """The track branch's changes since it left the user's current branch."""
        return self.git("diff", "--no-color", "--no-ext-diff",
                        f"HEAD...{self.branch_name(track_id)}").stdout

    def dirty_paths(self, cwd: Path | None = None) -> list[str]:
        """Tracked files with uncommitted (staged or unstaged) changes."""
        out = self.git("status", "--porcelain=v1", "-z", "--untracked-files=no",
                       cwd=cwd).stdout
        return [entry[3:] for entry in out.split("\0") if len(entry) > 3]

    # -- merge and cleanup ---------------------------------------------------------------

    def merge_track(self, track_id: str, message: str | None = None) -> MergeResult:
        """Merge ``mma/<track-id>`` into the user's current branch with ``--no-ff``.

        Raises :class:`MergeRefused` (and changes nothing) on a dirty working tree or a
        conflict; a conflicted merge is aborted.
        """
        branch = self.branch_name(track_id)
        with self._lock:
            into = self.current_branch()
            target = into or "the detached HEAD"
            if not self._branch_exists(branch):
                raise MergeRefused(f"there is no branch {branch} to merge")
            dirty = self.dirty_paths()
            if dirty:
                raise MergeRefused(
                    f"{target} has uncommitted changes ({', '.join(dirty[:10])}); commit or "
                    f"stash them, then merge {branch} again. Nothing was merged.")
            before = self.head()
            result = self.git(*self._identity(), "merge", "--no-ff", "--no-edit", "-m",
                              message or f"Merge track {track_id}", branch, check=False)
            if result.returncode != 0:
                raise MergeRefused(self._abort(branch, target, result))
            after = self.head()
        return MergeResult(branch, into, None if after == before else after)

    def _abort(self, branch: str, target: str,
               result: subprocess.CompletedProcess[str]) -> str:
        """Undo a failed merge; the message that says why it failed."""
        words = (result.stdout + result.stderr).strip()
        merging = self.git("rev-parse", "-q", "--verify", "MERGE_HEAD",
                           check=False).returncode == 0
        if not merging:
            return f"merging {branch} into {target} failed, nothing was merged: {words}"
        conflicts = self._out("diff", "--name-only", "--diff-filter=U").splitlines()
        self.git("merge", "--abort")
        where = ", ".join(conflicts) or "some files"
        return (f"merging {branch} into {target} conflicts in {where}; the merge was "
                "aborted and nothing was changed. Resolve it by hand (git merge "
                f"{branch}), or rework the track.")

    def remove_track(self, track_id: str, *, force: bool = False) -> None:
        """Remove the track's worktree and delete its branch (``-d``: it must be merged,
        unless ``force``)."""
        branch, path = self.branch_name(track_id), self.worktree_path(track_id)
        with self._lock:
            if self._is_worktree(path):
                self.git("worktree", "remove", *(["--force"] if force else []), str(path))
            if self._branch_exists(branch):
                self.git("branch", "-D" if force else "-d", branch)


def _git_env(env: Mapping[str, str] | None) -> dict[str, str]:
    base = dict(os.environ if env is None else env)
    # Parseable messages, no prompt for credentials, no editor, no pager.
    base.update(LC_ALL="C", GIT_TERMINAL_PROMPT="0", GIT_EDITOR="true", GIT_PAGER="cat")
    return base


class PatchStore:
    """Each ticket's diff as ``<workspace>/.mma/patches/<ticket-id>.diff`` (no git)."""

    def __init__(self, workspace: Path) -> None:
        self.folder = Path(workspace) / APP_FOLDER / "patches"

    def path(self, ticket_id: str) -> Path:
        return self.folder / f"{check_id(ticket_id, 'ticket id')}.diff"

    def write(self, ticket_id: str, changes: Iterable[FileChange]) -> Path | None:
        """Write the ticket's patch; None (and no file) when it changed nothing."""
        text = "".join(change.diff for change in changes)
        if not text:
            return None
        path = self.path(ticket_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
        return path

    def read(self, ticket_id: str) -> str | None:
        path = self.path(ticket_id)
        if not path.is_file():
            return None
        with path.open(encoding="utf-8", newline="") as file:
            return file.read()
