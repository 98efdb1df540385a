"""Reading the workspace's files for a prompt: a file in full, its skeleton, the files it
imports. Every path goes through the track's :class:`~mma_qt.core.tools.sandbox.Sandbox`,
so a target file a plan names outside the workspace (``../x``, ``/etc/x``, a symbolic
link leading out, ``.git``) is refused and said so, never read. No Qt.

Blocking (file system): run it in a worker thread.
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..tools.base import ToolError
from ..tools.sandbox import Sandbox
from ..tools.skeleton import skeleton

#: Bytes read of one file at most (a budget cuts the text further).
READ_LIMIT = 4 << 20
_JS_IMPORT = re.compile(r"""(?:\bfrom\s+|\bimport\s+|\brequire\(\s*)['"](\.{1,2}/[^'"]+)['"]""")
_JS_SUFFIXES = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs")


@dataclass(frozen=True, slots=True)
class Source:
    """A workspace file as a prompt sees it: its text, or why there is none."""

    rel: str
    text: str = ""
    #: Why there is no text (missing, refused, binary, unreadable); empty when there is.
    problem: str = ""

    @property
    def readable(self) -> bool:
        return not self.problem


def read_source(sandbox: Sandbox, rel: str) -> Source:
    """The text of ``rel`` inside the sandbox (UTF-8, undecodable bytes replaced)."""
    try:
        path = sandbox.resolve(rel)
    except ToolError as exc:
        return Source(rel, problem=f"refused: {exc}")
    if not path.exists():
        return Source(rel, problem="does not exist yet")
    if not path.is_file():
        return Source(rel, problem="not a file")
    try:
        with path.open("rb") as handle:
            data = handle.read(READ_LIMIT)
    except OSError as exc:
        return Source(rel, problem=f"unreadable: {exc.strerror}")
    if b"\0" in data[:8192]:
        return Source(rel, problem=f"a binary file of {path.stat().st_size:,} bytes")
    return Source(rel, data.decode("utf-8", errors="replace"))


def skeleton_text(source: Source) -> str:
    """Signatures and docstrings of a readable source, or why there are none."""
    if not source.readable:
        return f"({source.problem})"
    return skeleton(source.text, Path(source.rel).suffix.lower())


def imported_files(source: Source, exists: Callable[[str], bool]) -> list[str]:
    """Workspace files ``source`` imports (Python modules and packages, relative imports of
    JavaScript/TypeScript), in the order of their imports: the first candidate of each
    import for which ``exists`` is true."""
    if not source.readable:
        return []
    suffix = Path(source.rel).suffix.lower()
    if suffix in (".py", ".pyi"):
        candidates = _python_candidates(source)
    elif suffix in _JS_SUFFIXES:
        candidates = _js_candidates(source)
    else:
        return []
    found: list[str] = []
    for group in candidates:
        hit = next((c for c in group if c != source.rel and exists(c)), None)
        if hit is not None and hit not in found:
            found.append(hit)
    return found


def _python_candidates(source: Source) -> Iterable[tuple[str, ...]]:
    """Per imported name, the files it may be, best first: ``from a import b`` is
    ``a/b.py`` (a submodule) or else ``a.py``; absolute imports also under ``src/``."""
    try:
        tree = ast.parse(source.text)
    except (SyntaxError, ValueError):
        return []  # the skeleton says it is not valid Python
    groups: list[tuple[str, ...]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            groups.extend(_module_files([a.name.replace(".", "/")], True) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ""
            if node.level:
                base = posixpath.dirname(source.rel)
                for _ in range(node.level - 1):
                    base = posixpath.dirname(base)
            module = posixpath.join(base, (node.module or "").replace(".", "/")).strip("/")
            groups.extend(
                _module_files([posixpath.join(module, a.name), module], not node.level)
                for a in node.names if a.name != "*")
            if any(a.name == "*" for a in node.names):
                groups.append(_module_files([module], not node.level))
    return groups


def _module_files(stems: list[str], absolute: bool) -> tuple[str, ...]:
    prefixes = ("", "src/") if absolute else ("",)
    return tuple(f"{prefix}{stem}{end}" for stem in stems if stem for prefix in prefixes
                 for end in (".py", "/__init__.py"))


def _js_candidates(source: Source) -> Iterable[tuple[str, ...]]:
    folder = posixpath.dirname(source.rel)
    groups = []
    for match in _JS_IMPORT.finditer(source.text):
        target = posixpath.normpath(posixpath.join(folder, match.group(1)))
        groups.append((target, *(target + s for s in _JS_SUFFIXES),
                       *(f"{target}/index{s}" for s in _JS_SUFFIXES)))
    return groups
