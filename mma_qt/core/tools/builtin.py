"""The builtin tools, with the same names and JSON schemas for every provider. Pure, no Qt.

========================  =================================================  ========
tool                      arguments                                          mutating
========================  =================================================  ========
``read_file``             ``path``, ``start_line``?, ``end_line``? (1-based)  no
``list_dir``              ``path`` = ``.``, ``depth`` = 2                     no
``search_text``           ``pattern`` (Python regex), ``path``?, ``glob``?    no
``get_skeleton``          ``path``                                           no
``write_file``            ``path``, ``content``                              yes
``apply_edit``            ``path``, ``old_text``, ``new_text``                yes
``delete_file``           ``path``                                           yes
``run_command``           ``command``, ``timeout_s`` = 120                   yes
========================  =================================================  ========

Each tool's JSON schema is derived from its pydantic argument model
(:func:`mma_qt.core.tools.base.json_schema`); the model validates the arguments.
Every path goes through the :class:`~mma_qt.core.tools.sandbox.Sandbox`. Text files are
read and written as UTF-8 with their line endings untouched.

The mutating file tools have a :meth:`~mma_qt.core.tools.base.Tool.preview` that computes
the unified diff of the proposed change against the current file without touching disk,
and name the argument the user may edit before approving (``content`` for
``write_file``, ``new_text`` for ``apply_edit``, ``command`` for ``run_command``).
A write first claims the file for its ticket (:class:`~mma_qt.core.tools.claims.FileClaims`).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pathspec
from pydantic import Field

from .base import (
    Arguments,
    ModelTool,
    ProposedChange,
    Tool,
    ToolContext,
    ToolError,
    ToolResult,
    bound_text,
)
from .claims import unified_diff
from .command_tool import RunCommand
from .skeleton import skeleton

#: Files larger than this are not searched (nor read whole by search_text).
SEARCH_MAX_FILE_BYTES = 2_000_000
#: Matches search_text reports at most.
SEARCH_MAX_MATCHES = 500
#: A matching line is shown up to this many characters.
SEARCH_LINE_WIDTH = 300


def _read_text(ctx: ToolContext, path: Path) -> str:
    rel = ctx.sandbox.relative(path)
    if path.is_dir():
        raise ToolError(f"{rel} is a folder; use list_dir")
    try:
        with path.open(encoding="utf-8", newline="") as file:
            return file.read()
    except FileNotFoundError as exc:
        raise ToolError(f"{rel} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise ToolError(f"{rel} is not UTF-8 text (a binary file?)") from exc
    except OSError as exc:
        raise ToolError(f"cannot read {rel}: {exc.strerror}") from exc


def _bounded(ctx: ToolContext, text: str, how: str, summary: str) -> ToolResult:
    text, cut = bound_text(text, how, ctx.settings.output_limit)
    return ToolResult.success(text, summary, truncated=cut)


def _lines(count: int) -> str:
    return _count(count, "line")


def _count(count: int, noun: str, plural: str = "") -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


# -- read-only tools ---------------------------------------------------------------------


class PathArgs(Arguments):
    path: str = Field(description="File path relative to the working directory.")


P = TypeVar("P", bound=PathArgs)


class ReadFileArgs(PathArgs):
    start_line: int | None = Field(default=None, ge=1,
                                   description="First line to read (1-based). Default: 1.")
    end_line: int | None = Field(default=None, ge=1,
                                 description="Last line to read (1-based, inclusive). "
                                             "Default: the end of the file.")


class ReadFile(ModelTool[ReadFileArgs]):
    name = "read_file"
    description = ("Read a UTF-8 text file of the working directory, whole or a range of "
                   "lines (1-based, inclusive). Long output is cut; the note says how to "
                   "read on.")
    args_model = ReadFileArgs

    def call(self, args: ReadFileArgs, ctx: ToolContext) -> ToolResult:
        path = ctx.sandbox.resolve(args.path, must_exist=True)
        text = _read_text(ctx, path)
        lines = text.splitlines(keepends=True)
        start = args.start_line or 1
        end = min(args.end_line or len(lines), len(lines))
        if not lines:
            return ToolResult.success(f"({args.path} is empty)", "empty file")
        if start > len(lines):
            raise ToolError(f"{args.path} has {_lines(len(lines))}; start_line {start} is "
                            "past its end")
        if end < start:
            raise ToolError(f"end_line {end} is before start_line {start}")
        header = ""
        if (start, end) != (1, len(lines)):
            header = f"[{args.path}: lines {start}-{end} of {len(lines)}]\n"
        # Room for the note below, so only a single over-long line is ever cut mid-line.
        limit = ctx.settings.output_limit - 300
        shown: list[str] = []
        size = len(header)
        for line in lines[start - 1:end]:
            if shown and size + len(line) > limit:
                break
            shown.append(line)
            size += len(line)
        last = start - 1 + len(shown)
        text = header + "".join(shown)
        how = f"Call read_file with path={args.path!r} and start_line={last + 1} for the rest."
        if last < end:
            text += (f"\n[output cut: showing lines {start}-{last}; the file has "
                     f"{len(lines)} lines. {how}]")
        result = _bounded(ctx, text, "The line is too long to show whole.",
                          _lines(last - start + 1))
        return ToolResult.success(result.text, result.summary, last < end or result.truncated)


class ListDirArgs(Arguments):
    path: str = Field(default=".", description="Folder relative to the working directory.")
    depth: int = Field(default=2, ge=1, le=10, description="How many levels to list.")


class ListDir(ModelTool[ListDirArgs]):
    name = "list_dir"
    description = ("List a folder of the working directory as an indented tree (folders end "
                   "with '/', symbolic links with '@'). Skips .git, .mma and what .gitignore "
                   "ignores.")
    args_model = ListDirArgs

    def call(self, args: ListDirArgs, ctx: ToolContext) -> ToolResult:
        folder = ctx.sandbox.resolve(args.path, must_exist=True)
        if not folder.is_dir():
            raise ToolError(f"{args.path} is a file, not a folder; use read_file")
        lines = []
        for entry in ctx.sandbox.walk(folder, args.depth):
            name = entry.path.name + ("@" if entry.is_symlink else "/" if entry.is_dir else "")
            lines.append("  " * (entry.depth - 1) + name)
        if not lines:
            return ToolResult.success(f"({ctx.sandbox.relative(folder)} is empty)", "empty")
        how = "List a subfolder, or call list_dir with a smaller depth."
        summary = _count(len(lines), "entry", "entries")
        return _bounded(ctx, "\n".join(lines) + "\n", how, summary)


class SearchTextArgs(Arguments):
    pattern: str = Field(min_length=1, description="A Python regular expression.")
    path: str | None = Field(default=None, description="A file or folder to search in. "
                                                       "Default: the working directory.")
    glob: str | None = Field(default=None, description="Only files matching this "
                                                       "gitignore-style glob, e.g. '*.py' or "
                                                       "'src/**/*.ts'.")


class SearchText(ModelTool[SearchTextArgs]):
    name = "search_text"
    description = ("Search the text files of the working directory for a Python regular "
                   "expression; prints path:line: text for each matching line. Skips .git, "
                   ".mma and what .gitignore ignores.")
    args_model = SearchTextArgs

    def call(self, args: SearchTextArgs, ctx: ToolContext) -> ToolResult:
        try:
            regex = re.compile(args.pattern)
        except re.error as exc:
            raise ToolError(f"invalid regular expression {args.pattern!r}: {exc}") from exc
        start = ctx.sandbox.resolve(args.path or ".", must_exist=True)
        matcher = _glob(args.glob)
        if start.is_file():
            files = [start]
        else:
            files = [e.path for e in ctx.sandbox.walk(start)
                     if not e.is_dir and not e.is_symlink]
        found: list[str] = []
        for file in files:
            rel = ctx.sandbox.relative(file)
            if matcher is not None and not matcher.match_file(rel):
                continue
            found += _search_file(file, rel, regex)
            if len(found) >= SEARCH_MAX_MATCHES:
                found = found[:SEARCH_MAX_MATCHES]
                found.append(f"[stopped at {SEARCH_MAX_MATCHES} matches: narrow the pattern, "
                             "the path or the glob]")
                break
        if not found:
            return ToolResult.success(f"no match for {args.pattern!r}", "no match")
        how = "Narrow the pattern, the path or the glob."
        summary = _count(len(found), "match", "matches")
        return _bounded(ctx, "\n".join(found) + "\n", how, summary)


def _glob(glob: str | None) -> pathspec.GitIgnoreSpec | None:
    return pathspec.GitIgnoreSpec.from_lines([glob]) if glob else None


def _search_file(file: Path, rel: str, regex: re.Pattern[str]) -> list[str]:
    try:
        if file.stat().st_size > SEARCH_MAX_FILE_BYTES:
            return []
        text = file.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return []  # unreadable or binary: not text to search, by design
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if regex.search(line):
            shown = line if len(line) <= SEARCH_LINE_WIDTH else line[:SEARCH_LINE_WIDTH] + "…"
            found.append(f"{rel}:{number}: {shown}")
    return found


class GetSkeleton(ModelTool[PathArgs]):
    name = "get_skeleton"
    description = ("Show a source file's structure: imports, signatures and docstrings, "
                   "bodies elided, each definition with its line range (read it with "
                   "read_file).")
    args_model = PathArgs

    def call(self, args: PathArgs, ctx: ToolContext) -> ToolResult:
        path = ctx.sandbox.resolve(args.path, must_exist=True)
        text = skeleton(_read_text(ctx, path), path.suffix.lower())
        how = f"Read parts of {args.path} with read_file start_line/end_line."
        return _bounded(ctx, text, how, _lines(text.count("\n")))


# -- mutating tools ----------------------------------------------------------------------


class _FileChangeTool(ModelTool[P]):
    """A mutating file tool: preview = diff against the current file; run = claim, write."""

    mutating: ClassVar[bool] = True

    @abstractmethod
    def new_content(self, args: P, path: Path, ctx: ToolContext) -> str | None:
        """The file's content after the call (None: deleted). Touches nothing."""

    def propose(self, args: P, ctx: ToolContext) -> ProposedChange:
        path = ctx.sandbox.resolve(args.path)
        rel = ctx.sandbox.relative(path)
        after = self.new_content(args, path, ctx)
        before = _read_text(ctx, path) if path.exists() else None
        editable = getattr(args, self.editable) if self.editable else None
        return ProposedChange(self.name, args.model_dump(), path=rel,
                              diff=unified_diff(rel, before, after), editable_text=editable)

    def call(self, args: P, ctx: ToolContext) -> ToolResult:
        path = ctx.sandbox.resolve(args.path)
        rel = ctx.sandbox.relative(path)
        after = self.new_content(args, path, ctx)
        if ctx.ticket_id is not None:
            ctx.claims.claim(ctx.ticket_id, path, rel)
        try:
            if after is None:
                path.unlink()
                return ToolResult.success(f"deleted {rel}", "deleted")
            existed = path.exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8", newline="") as file:
                file.write(after)
        except OSError as exc:
            raise ToolError(f"cannot change {rel}: {exc.strerror}") from exc
        count = _lines(len(after.splitlines()))
        return ToolResult.success(f"{'updated' if existed else 'created'} {rel} ({count})",
                                  count)


class WriteFileArgs(PathArgs):
    content: str = Field(description="The file's whole new content.")


class WriteFile(_FileChangeTool[WriteFileArgs]):
    name = "write_file"
    description = ("Create a text file, or replace its whole content (folders are created "
                   "as needed). Prefer apply_edit for a change to part of a file.")
    editable = "content"
    args_model = WriteFileArgs

    def describe(self, args: Mapping[str, Any]) -> str:
        content = args.get("content")
        lines = f" ({_lines(len(content.splitlines()))})" if isinstance(content, str) else ""
        return super().describe(args) + lines

    def new_content(self, args: WriteFileArgs, path: Path, ctx: ToolContext) -> str | None:
        if path.is_dir():
            raise ToolError(f"{ctx.sandbox.relative(path)} is a folder")
        return args.content


class ApplyEditArgs(PathArgs):
    old_text: str = Field(min_length=1, description="Text to replace: it must occur exactly "
                                                    "once in the file, whitespace included.")
    new_text: str = Field(description="The replacement text.")


class ApplyEdit(_FileChangeTool[ApplyEditArgs]):
    name = "apply_edit"
    description = ("Replace one exact, unique occurrence of old_text in a file by new_text. "
                   "Include enough surrounding lines in old_text to make it unique.")
    editable = "new_text"
    args_model = ApplyEditArgs

    def new_content(self, args: ApplyEditArgs, path: Path, ctx: ToolContext) -> str | None:
        rel = ctx.sandbox.relative(path)
        if not path.exists():
            raise ToolError(f"{rel} does not exist; use write_file to create it")
        text = _read_text(ctx, path)
        count = text.count(args.old_text)
        if count == 0:
            raise ToolError(f"old_text was not found in {rel} (it must match exactly, "
                            "whitespace and line breaks included); read the file again")
        if count > 1:
            raise ToolError(f"old_text occurs {count} times in {rel}; it must be unique: "
                            "include more surrounding lines")
        return text.replace(args.old_text, args.new_text, 1)


class DeleteFile(_FileChangeTool[PathArgs]):
    name = "delete_file"
    description = "Delete a file of the working directory (not a folder)."
    args_model = PathArgs

    def new_content(self, args: PathArgs, path: Path, ctx: ToolContext) -> str | None:
        rel = ctx.sandbox.relative(path)
        if path.is_dir() and not path.is_symlink():
            raise ToolError(f"{rel} is a folder; delete_file deletes files only")
        if not path.exists() and not path.is_symlink():
            raise ToolError(f"{rel} does not exist")
        return None


def builtin_tools() -> list[Tool]:
    """Fresh instances of every builtin tool, in the order they are offered."""
    return [ReadFile(), ListDir(), SearchText(), GetSkeleton(), WriteFile(), ApplyEdit(),
            DeleteFile(), RunCommand()]
