"""The shapes every tool shares: results, specs, proposed changes, settings. Pure, no Qt.

A tool call always ends in a :class:`ToolResult`. Its ``text`` is what the model reads; it
starts with ``error:`` exactly when ``ok`` is false, and then names the reason so the model
can recover (``error: '../x' leads outside the working directory``). Inside the tools a
refusal is a :class:`ToolError`; :meth:`mma_qt.core.tools.registry.ToolRegistry.run` turns
it (and any unexpected failure, logged with its traceback) into such a result, so nothing
raises out of a tool call.

Output is bounded: text over :data:`OUTPUT_LIMIT` characters is cut by :func:`bound_text`
with a note saying how to read the rest.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from ..model.cancel import CancelToken
    from .claims import FileClaims
    from .commands import CommandRunner
    from .sandbox import Sandbox

#: Characters of tool output the model receives at most.
OUTPUT_LIMIT = 20_000
#: The prefix of every failed result's text.
ERROR_PREFIX = "error:"


class ToolError(Exception):
    """A tool call refused or failed for a reason the model should read."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call gives back: ``ok`` is false exactly when ``text`` starts with ``error:``.

    ``summary`` is a short form for the ticket's stream (``41 lines``, ``exit code 0``,
    ``error: ...`` cut to one line); ``truncated`` says the text was cut by
    :func:`bound_text`.
    """

    ok: bool
    text: str
    summary: str = ""
    truncated: bool = False

    def __post_init__(self) -> None:
        if self.ok == self.text.startswith(ERROR_PREFIX):
            raise ValueError("a result's text starts with 'error:' exactly when it failed")

    @classmethod
    def failure(cls, reason: str, detail: str = "", truncated: bool = False) -> ToolResult:
        """``error: <reason>``, followed by ``detail`` (e.g. a command's output) if any."""
        text = f"{ERROR_PREFIX} {reason}"
        summary = _one_line(text)
        if detail:
            text = f"{text}\n{detail}"
        return cls(False, text, summary, truncated)

    @classmethod
    def success(cls, text: str, summary: str = "", truncated: bool = False) -> ToolResult:
        return cls(True, text, summary or _one_line(text), truncated)


def _one_line(text: str, width: int = 160) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= width else line[: width - 1] + "…"


def bound_text(text: str, how_to_read_more: str, limit: int = OUTPUT_LIMIT) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters (at a line end if one is near) plus a note.

    Returns the text and whether it was cut. The note says how many characters were left
    out and ``how_to_read_more`` (e.g. "call read_file with start_line=812").
    """
    if len(text) <= limit:
        return text, False
    cut = text.rfind("\n", 0, limit)
    keep = text[: cut + 1] if cut > limit // 2 else text[:limit]
    note = (f"\n[output cut: showing {len(keep):,} of {len(text):,} characters. "
            f"{how_to_read_more}]")
    return keep + note, True


@dataclass(frozen=True, slots=True)
class ToolSettings:
    """The run's tool limits. Filled from the config by whoever builds the registry."""

    output_limit: int = OUTPUT_LIMIT
    #: run_command's timeout when the model gives none, and the most it may ask for.
    default_timeout_s: float = 120.0
    max_timeout_s: float = 600.0
    #: run_command may reach the network (only meaningful under bubblewrap).
    allow_network: bool = False


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as offered to a model: the same JSON schema for every provider."""

    name: str
    description: str
    #: JSON schema of the arguments: ``{"type": "object", "properties": ..., "required": ...}``.
    parameters: Mapping[str, Any]
    #: True: the call changes the workspace (or runs a command) and must pass the approval gate.
    mutating: bool = False
    #: The argument the user may edit before approving (``content``, ``new_text``, ``command``).
    editable: str | None = None


@dataclass(frozen=True, slots=True)
class ProposedChange:
    """What a mutating call would do, computed without touching disk, for the approval gate.

    ``diff`` is a unified diff of the file against its proposed content (empty for
    commands and tools without a file); ``editable_text`` is the current value of the
    argument named by ``ToolSpec.editable`` (None: nothing to edit). ``note`` is a plain
    sentence to show beside it (e.g. how a command is confined).
    """

    tool: str
    arguments: Mapping[str, Any]
    path: str | None = None
    command: str | None = None
    diff: str = ""
    editable_text: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Everything a tool call may use: one per call, built by the registry."""

    sandbox: Sandbox
    settings: ToolSettings
    commands: CommandRunner
    claims: FileClaims
    ticket_id: str | None = None
    cancel: CancelToken | None = None


class Tool(ABC):
    """One tool. :meth:`execute` may raise :class:`ToolError`; the registry catches it.

    Extra tools (MCP tools later, as ``SERVER__tool``) subclass this and are added with
    :meth:`mma_qt.core.tools.registry.ToolRegistry.register`.
    """

    spec: ToolSpec

    @abstractmethod
    def execute(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        """Run the call with raw (JSON-decoded) arguments."""

    def preview(self, args: Mapping[str, Any], ctx: ToolContext) -> ProposedChange:
        """What the call would do, touching nothing. Default: its arguments as JSON."""
        return ProposedChange(self.spec.name, dict(args),
                              note=json.dumps(dict(args), ensure_ascii=False, indent=1))

    def edited(self, args: Mapping[str, Any], edited: str) -> dict[str, Any]:
        """``args`` with the user's edit of the editable argument applied."""
        if self.spec.editable is None:
            raise ToolError(f"{self.spec.name} has nothing the user can edit")
        return {**args, self.spec.editable: edited}

    def describe(self, args: Mapping[str, Any]) -> str:
        """A short line for the stream: ``write_file src/report.py``."""
        for key in ("path", "command", "pattern"):
            value = args.get(key)
            if isinstance(value, str):
                return f"{self.spec.name} {_one_line(value, 80)}"
        return self.spec.name


A = TypeVar("A", bound=BaseModel)


class Arguments(BaseModel):
    """Base of the builtin tools' argument models: unknown arguments are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelTool(Tool, Generic[A]):
    """A tool whose arguments are a pydantic model; its JSON schema is derived from it."""

    name: ClassVar[str]
    description: ClassVar[str]
    mutating: ClassVar[bool] = False
    editable: ClassVar[str | None] = None
    args_model: type[A]

    def __init__(self) -> None:
        self.spec = ToolSpec(self.name, self.description, json_schema(self.args_model),
                             self.mutating, self.editable)

    def parse(self, args: Mapping[str, Any]) -> A:
        try:
            return self.args_model.model_validate(dict(args))
        except ValidationError as exc:
            raise ToolError(f"invalid arguments for {self.name}: {describe_errors(exc)}") from exc

    def execute(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        return self.call(self.parse(args), ctx)

    def preview(self, args: Mapping[str, Any], ctx: ToolContext) -> ProposedChange:
        return self.propose(self.parse(args), ctx)

    @abstractmethod
    def call(self, args: A, ctx: ToolContext) -> ToolResult: ...

    def propose(self, args: A, ctx: ToolContext) -> ProposedChange:
        return super().preview(args.model_dump(), ctx)


def describe_errors(exc: ValidationError) -> str:
    """Pydantic's errors in one line a model can act on."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        if error["type"] == "extra_forbidden":
            parts.append(f"unexpected argument {where!r}")
        elif error["type"] == "missing":
            parts.append(f"missing required argument {where!r}")
        else:
            parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the plain form every provider accepts.

    No titles, no ``anyOf`` with null for optional arguments (they are simply not
    required), no ``default: null``.
    """
    raw = model.model_json_schema()
    properties = {name: _plain(prop) for name, prop in raw.get("properties", {}).items()}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    required = raw.get("required", [])
    if required:
        schema["required"] = list(required)
    return schema


def _plain(prop: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in prop.items() if k not in ("title", "anyOf")}
    for branch in prop.get("anyOf", ()):
        if branch.get("type") != "null":
            out.update({k: v for k, v in branch.items() if k != "title"})
    if out.get("default", 0) is None:
        del out["default"]
    return out
