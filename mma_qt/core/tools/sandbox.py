"""The working directory a track's tools may touch, and nothing else. Pure, no Qt.

One :class:`Sandbox` per track working directory (a git worktree or the plain workspace).
Every path a model gives is resolved by :meth:`Sandbox.resolve`, which refuses, with a
reason the model can read:

- absolute paths (``/etc/passwd``): tool paths are relative to the working directory;
- ``..`` leading above the working directory (``../x``, ``a/../../x``);
- symbolic links, anywhere on the path, that resolve outside it;
- anything inside ``.git`` or ``.mma`` (the repository's data, the app's own folder); a
  worktree's ``.git`` is a *file* and is refused just the same. The names are compared
  case-insensitively, for case-insensitive file systems.

:meth:`Sandbox.walk` lists a folder the way ``list_dir`` and ``search_text`` see it:
``.git``/``.mma`` skipped, what ``.gitignore`` files (the root's and nested ones) ignore
skipped, symbolic links listed but never followed.

A command run by ``run_command`` is not confined by this class: see
:mod:`mma_qt.core.tools.commands` (bubblewrap).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from .base import ToolError

#: Folder (or file) names no tool may read or write, at any depth.
PROTECTED_NAMES = (".git", ".mma")
_PROTECTED = {name.casefold() for name in PROTECTED_NAMES}


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a walk: its resolved path, its path relative to the root, its kind."""

    path: Path
    rel: str
    depth: int
    is_dir: bool
    is_symlink: bool


class Sandbox:
    """Resolves tool paths against one working directory and refuses every way out."""

    def __init__(self, root: Path | str) -> None:
        root = Path(root)
        if not root.is_dir():
            raise ValueError(f"the working directory {root} is not a folder")
        self._root = root.resolve(strict=True)

    @property
    def root(self) -> Path:
        return self._root

    def __repr__(self) -> str:
        return f"Sandbox({str(self._root)!r})"

    def resolve(self, path: str, *, must_exist: bool = False) -> Path:
        """The real path ``path`` names inside the working directory, or :class:`ToolError`."""
        if not isinstance(path, str) or not path.strip():
            raise ToolError("the path is empty; give a path relative to the working directory")
        if "\0" in path:
            raise ToolError(f"{path!r} contains a NUL character")
        if os.path.isabs(path) or path.startswith("~"):
            raise ToolError(f"{path!r} is an absolute path (or a home folder); tool paths are "
                            "relative to the working directory")
        normal = posixpath.normpath(path.replace(os.sep, "/"))
        if normal == ".." or normal.startswith("../"):
            raise ToolError(f"{path!r} leads outside the working directory")
        self._refuse_protected(path, normal)
        candidate = self._root / normal
        try:
            real = candidate.resolve(strict=False)
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
            raise ToolError(f"{path!r} cannot be resolved: {exc}") from exc
        if not real.is_relative_to(self._root):
            raise ToolError(f"{path!r} goes through a symbolic link that leads outside the "
                            "working directory")
        self._refuse_protected(path, real.relative_to(self._root).as_posix())
        if must_exist and not real.exists():
            raise ToolError(f"{path!r} does not exist")
        return real

    def _refuse_protected(self, path: str, rel: str) -> None:
        for part in rel.split("/"):
            if part.casefold() in _PROTECTED:
                raise ToolError(f"{path!r} is inside {part}, which tools may not touch "
                                "(the app manages it)")

    def relative(self, path: Path) -> str:
        """``path`` (inside the root) as the model should see it: ``src/a.py``, or ``.``."""
        rel = path.relative_to(self._root).as_posix()
        return rel or "."

    def is_protected(self, rel: str) -> bool:
        return any(part.casefold() in _PROTECTED for part in rel.split("/"))

    def walk(self, start: Path, max_depth: int | None = None) -> Iterator[Entry]:
        """Entries under ``start`` (resolved, inside the root), depth first, sorted by name.

        Skips ``.git``/``.mma`` and what ``.gitignore`` ignores; lists symbolic links but
        never descends through them. ``depth`` is 1 for ``start``'s children.
        """
        rules = IgnoreRules(self._root)
        yield from self._walk(start, 1, max_depth, rules)

    def _walk(
        self, folder: Path, depth: int, max_depth: int | None, rules: IgnoreRules
    ) -> Iterator[Entry]:
        try:
            with os.scandir(folder) as scan:
                items = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            raise ToolError(f"cannot list {self.relative(folder)}: {exc.strerror}") from exc
        for item in items:
            path = Path(item.path)
            rel = path.relative_to(self._root).as_posix()
            is_link = item.is_symlink()
            is_dir = item.is_dir(follow_symlinks=False)
            if self.is_protected(rel) or rules.ignored(path, is_dir):
                continue
            yield Entry(path, rel, depth, is_dir, is_link)
            if is_dir and (max_depth is None or depth < max_depth):
                yield from self._walk(path, depth + 1, max_depth, rules)


class IgnoreRules:
    """What the ``.gitignore`` files under a root ignore (nested files override outer ones)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}
        #: Per folder: the specs that apply inside it, outermost first, each with the
        #: prefix (its folder's path and "/") that makes a path relative to it.
        self._chains: dict[Path, list[tuple[str, pathspec.GitIgnoreSpec]]] = {}

    def _spec(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        if folder not in self._specs:
            file = folder / ".gitignore"
            spec = None
            if file.is_file() and not file.is_symlink():
                try:
                    lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
                except OSError as exc:
                    raise ToolError(f"cannot read {file.relative_to(self._root)}: "
                                    f"{exc.strerror}") from exc
                spec = pathspec.GitIgnoreSpec.from_lines(lines)
            self._specs[folder] = spec
        return self._specs[folder]

    def _chain(self, folder: Path) -> list[tuple[str, pathspec.GitIgnoreSpec]]:
        chain = self._chains.get(folder)
        if chain is None:
            top = folder == self._root or folder == folder.parent
            outer = [] if top else self._chain(folder.parent)
            spec = self._spec(folder)
            prefix = folder.as_posix().rstrip("/") + "/"
            chain = outer if spec is None else [*outer, (prefix, spec)]
            self._chains[folder] = chain
        return chain

    def ignored(self, path: Path, is_dir: bool) -> bool:
        """Whether git would ignore ``path`` (a path inside the root; folders of ignored
        folders are never asked about, since walks prune them)."""
        verdict = False
        full = path.as_posix() + ("/" if is_dir else "")
        for prefix, spec in self._chain(path.parent):
            result = spec.check_file(full[len(prefix):])
            if result.include is not None:
                verdict = result.include
        return verdict
