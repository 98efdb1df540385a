"""The repository map: the workspace's files with their sizes and line counts. No Qt.

Walked the way the tools see the workspace (:meth:`~mma_qt.core.tools.sandbox.Sandbox.walk`):
``.git`` and ``.mma`` never appear, what ``.gitignore`` files ignore is left out, symbolic
links are listed (marked) but never followed or read, so nothing outside the workspace is
ever looked at. Entries are sorted by name, so the same tree gives the same map, byte for
byte. A map over its budget shows its deepest folders folded into one summary line each,
level by level, until it fits; if even the top level does not fit, it is cut.

Blocking (file system): run it in a worker thread.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..tools.base import ToolError
from ..tools.sandbox import Sandbox
from .text import cut_head

log = logging.getLogger(__name__)

#: Entries walked at most; a larger tree is mapped as far as that.
MAX_ENTRIES = 20_000
#: Files up to this size have their lines counted.
COUNT_LINES_UP_TO = 1 << 20
LINK = "symbolic link"
TITLE = "Repository map (path, size, lines; what .gitignore ignores is left out):"


@dataclass(slots=True)
class _Node:
    name: str
    depth: int
    is_dir: bool = False
    note: str = ""
    files: int = 0
    size: int = 0
    children: list[_Node] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RepoMap:
    text: str
    #: Folded or cut to the budget.
    truncated: bool
    #: Every regular file walked, relative to the root (``src/a.py``), sorted.
    files: tuple[str, ...]


def repository_map(root: Path | str, budget: int) -> RepoMap:
    """The map of the folder ``root`` within ``budget`` characters."""
    try:
        sandbox = Sandbox(root)
    except ValueError as exc:
        log.warning("no repository map: %s", exc)
        return RepoMap(f"{TITLE}\n(no map: {exc})", False, ())
    top, files, problem = _walk(sandbox)
    depth = _deepest(top)
    text = _render(top, depth, problem)
    truncated = False
    while len(text) > budget and depth > 1:
        depth -= 1
        text, truncated = _render(top, depth, problem), True
    if len(text) > budget:
        text, _cut = cut_head(text, budget, "; list_dir shows the rest")
        truncated = True
    return RepoMap(text, truncated, tuple(sorted(files)))


def _walk(sandbox: Sandbox) -> tuple[_Node, list[str], str]:
    top = _Node(".", 0, is_dir=True)
    folders = {"": top}
    files: list[str] = []
    problem = ""
    try:
        for count, entry in enumerate(sandbox.walk(sandbox.root), 1):
            if count > MAX_ENTRIES:
                problem = f"(mapped the first {MAX_ENTRIES:,} entries only)"
                break
            parent = folders[entry.rel.rpartition("/")[0]]
            node = _Node(entry.rel.rpartition("/")[2], entry.depth, is_dir=entry.is_dir)
            if entry.is_symlink:
                node.note = LINK
            elif entry.is_dir:
                folders[entry.rel] = node
            else:
                node.size, node.note = _measure(entry.path)
                node.files = 1
                files.append(entry.rel)
            parent.children.append(node)
    except ToolError as exc:  # a folder that cannot be listed: said in the map
        log.warning("repository map of %s: %s", sandbox.root, exc)
        problem = f"(stopped: {exc})"
    _total(top)
    return top, files, problem


def _measure(path: Path) -> tuple[int, str]:
    """Size and a note (its lines, ``binary``, ``large``) of a regular file; never follows
    a symbolic link and never opens anything but a regular file (a FIFO would block)."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            return 0, "special file"
        if info.st_size > COUNT_LINES_UP_TO:
            return info.st_size, "large"
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(COUNT_LINES_UP_TO + 1)
    except OSError as exc:
        return 0, f"unreadable: {exc.strerror}"
    if b"\0" in data[:8192]:
        return len(data), "binary"
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return len(data), f"{lines} line{'s' * (lines != 1)}"


def _total(node: _Node) -> None:
    for child in node.children:
        if child.is_dir:
            _total(child)
        node.files += child.files
        node.size += child.size


def _deepest(node: _Node) -> int:
    return max((_deepest(c) for c in node.children), default=node.depth)


def _render(top: _Node, depth: int, problem: str) -> str:
    lines = [TITLE]
    if not top.children:
        lines.append("(no files)")
    _lines(top, depth, lines)
    if problem:
        lines.append(problem)
    return "\n".join(lines)


def _lines(node: _Node, depth: int, out: list[str]) -> None:
    for child in node.children:
        pad = "  " * (child.depth - 1)
        if child.note == LINK:
            out.append(f"{pad}{child.name}  ({LINK})")
        elif not child.is_dir:
            out.append(f"{pad}{child.name}  {size(child.size)}  {child.note}".rstrip())
        elif child.depth < depth or not child.children:
            out.append(f"{pad}{child.name}/")
            _lines(child, depth, out)
        else:
            files = f"{child.files} file{'s' * (child.files != 1)}"
            out.append(f"{pad}{child.name}/  … {files}, {size(child.size)}")


def size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1 << 20:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1 << 20):.1f} MiB"
