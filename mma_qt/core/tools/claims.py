"""Which running ticket wrote which file, and what each ticket changed. Pure, no Qt.

One :class:`FileClaims` per run, shared by every track's registry. A mutating file tool
calls :meth:`FileClaims.claim` before it writes: the first write of a file by a ticket
records the file's content before the ticket touched it, and a write to a file that
*another running* ticket has written is refused with a tool error naming that ticket.
When a ticket ends, :meth:`FileClaims.release` frees its files and returns its changes
(path, status, unified diff), frozen: what the Changes view, the patch store and the
ticket's commit use.

:func:`unified_diff` is the one diff maker (approval previews use it too): git-style
``a/`` and ``b/`` headers, ``/dev/null`` for added and deleted files, and the
``\\ No newline at end of file`` marker, so a patch applies with ``git apply``.
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .base import ToolError

Status = Literal["added", "modified", "deleted"]


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    status: Status
    diff: str


@dataclass(slots=True)
class _Touched:
    rel: str
    before: bytes | None


@dataclass(slots=True)
class _Ticket:
    files: dict[Path, _Touched] = field(default_factory=dict)
    changes: list[FileChange] | None = None


class FileClaims:
    """Per-run record of the files each ticket wrote (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: dict[Path, str] = {}
        self._tickets: dict[str, _Ticket] = {}

    def claim(self, ticket_id: str, path: Path, rel: str) -> None:
        """Note that ``ticket_id`` is about to write ``path`` (``rel``: as the model names it).

        Raises :class:`ToolError` if another running ticket has written it.
        """
        with self._lock:
            owner = self._owner.get(path)
            if owner is not None and owner != ticket_id:
                raise ToolError(f"{rel} was written by {owner}, which is still running; "
                                "leave that file to it")
            ticket = self._tickets.setdefault(ticket_id, _Ticket())
            if ticket.changes is not None:
                raise ToolError(f"ticket {ticket_id} has ended; it cannot write any more")
            self._owner[path] = ticket_id
            if path not in ticket.files:
                ticket.files[path] = _Touched(rel, _read(path))

    def holder(self, path: Path) -> str | None:
        """The running ticket that has written ``path``, if any."""
        with self._lock:
            return self._owner.get(path)

    def touched(self, ticket_id: str) -> list[str]:
        """The paths ``ticket_id`` wrote (as the model named them), in order."""
        with self._lock:
            ticket = self._tickets.get(ticket_id)
            return [t.rel for t in ticket.files.values()] if ticket else []

    def changes(self, ticket_id: str) -> list[FileChange]:
        """The ticket's changes: as frozen at release, or as on disk now while it runs."""
        with self._lock:
            ticket = self._tickets.get(ticket_id)
            if ticket is None:
                return []
            if ticket.changes is not None:
                return list(ticket.changes)
            files = list(ticket.files.items())
        return _changes(files)

    def reopen(self, ticket_id: str) -> None:
        """The ticket runs again (a retry): it may write again, and its changes are counted
        from now on (the earlier ones were kept when it was released)."""
        with self._lock:
            ticket = self._tickets.get(ticket_id)
            if ticket is not None and ticket.changes is not None:
                del self._tickets[ticket_id]

    def release(self, ticket_id: str) -> list[FileChange]:
        """End the ticket: free its files, freeze and return its changes."""
        with self._lock:
            ticket = self._tickets.setdefault(ticket_id, _Ticket())
            for path in ticket.files:
                if self._owner.get(path) == ticket_id:
                    del self._owner[path]
            if ticket.changes is None:
                ticket.changes = _changes(list(ticket.files.items()))
            return list(ticket.changes)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ToolError(f"cannot read {path.name}: {exc.strerror}") from exc


def _changes(files: list[tuple[Path, _Touched]]) -> list[FileChange]:
    changes = []
    for path, touched in files:
        after = _read(path)
        if after == touched.before:
            continue
        status: Status = ("added" if touched.before is None
                          else "deleted" if after is None else "modified")
        changes.append(FileChange(touched.rel, status,
                                  unified_diff(touched.rel, touched.before, after)))
    return changes


def unified_diff(rel: str, before: str | bytes | None, after: str | bytes | None) -> str:
    """A git-style unified diff of one file; None stands for "does not exist"."""
    old, new = _text(before), _text(after)
    a = "/dev/null" if before is None else f"a/{rel}"
    b = "/dev/null" if after is None else f"b/{rel}"
    if old is False or new is False:
        return "" if before == after else f"Binary files {a} and {b} differ\n"
    if old == new:
        return ""
    lines = difflib.unified_diff(_lines(old), _lines(new), a, b)
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _text(content: str | bytes | None) -> str | Literal[False]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return False


def _lines(text: str) -> list[str]:
    """Lines split at "\n" only (a "\r" or form feed stays inside its line), ends kept."""
    return _LINE.findall(text)


_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")
