"""The tools of one run and track, offered to models and run by name. Pure, no Qt.

Build one :class:`ToolRegistry` per track working directory (it owns that directory's
:class:`~mma_qt.core.tools.sandbox.Sandbox` and
:class:`~mma_qt.core.tools.commands.CommandRunner`) and share one
:class:`~mma_qt.core.tools.claims.FileClaims` across the run's registries::

    claims = FileClaims()
    tools = ToolRegistry(Sandbox(worktree), settings=ToolSettings(max_timeout_s=600),
                         claims=claims)
    tools.register(mcp_tool)                 # extra tools, e.g. "SERVER__tool"
    worker_tools = tools.for_tier(Tier.WORKER)   # every tool
    qa_tools = tools.for_tier(Tier.QA)           # the read-only tools only

How the worker's tool loop uses it:

- ``specs()`` → the name, description and JSON schema of each tool, for the provider
  adapters (the same schema for every provider);
- ``spec(name).mutating`` → the call must pass the approval gate. An unknown name is
  treated as mutating, so nothing slips past the gate by being unknown;
- ``preview(name, args)`` → a :class:`~mma_qt.core.tools.base.ProposedChange` (the unified
  diff of the file, or the command and how it is confined) computed without touching
  disk, for the approval; it raises :class:`~mma_qt.core.tools.base.ToolError` for a call
  that would be refused anyway (bad arguments, a path out of the sandbox), which the
  worker returns to the model (``ToolResult.failure(exc.reason)``) without asking;
- ``edited(name, args, text)`` → the arguments with the user's edit (the new content, the
  new ``new_text``, or the command) applied; preview them again to show the final diff;
- ``run(name, args, ticket_id=..., cancel=...)`` → a
  :class:`~mma_qt.core.tools.base.ToolResult`; it never raises. Arguments may be a mapping
  or the JSON text a provider streamed; they are validated against the tool's schema and
  a bad call comes back as ``error: invalid arguments for ...``;
- ``describe(name, args)`` → the short line for the stream (``write_file src/a.py (41
  lines)``);
- at the end of a ticket, ``claims.release(ticket_id)`` → its changes (path, status, diff)
  for the commit, the patch store and the Changes view.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..model.cancel import CancelToken
from ..model.domain import Tier
from .base import ProposedChange, Tool, ToolContext, ToolError, ToolResult, ToolSettings, ToolSpec
from .builtin import builtin_tools
from .claims import FileClaims
from .commands import CommandRunner
from .sandbox import Sandbox

log = logging.getLogger(__name__)

#: What every provider accepts as a function name (OpenAI's rule is the strictest).
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolRegistry:
    """The tools of one track working directory; see the module docstring."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        settings: ToolSettings | None = None,
        claims: FileClaims | None = None,
        commands: CommandRunner | None = None,
        tools: Iterable[Tool] | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.settings = settings or ToolSettings()
        self.claims = claims or FileClaims()
        self.commands = commands or CommandRunner(
            sandbox.root, allow_network=self.settings.allow_network,
            output_limit=self.settings.output_limit)
        self._tools: dict[str, Tool] = {}
        for tool in builtin_tools() if tools is None else tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        """Add a tool (an MCP tool as ``SERVER__tool``, say). Names must be unique."""
        name = tool.spec.name
        if not TOOL_NAME.match(name):
            raise ValueError(f"tool name {name!r}: use 1-64 letters, digits, '_' or '-'")
        if name in self._tools:
            raise ValueError(f"a tool named {name!r} is already registered")
        self._tools[name] = tool

    def for_tier(self, tier: Tier) -> ToolRegistry:
        """The tools ``tier`` may use: all for Tier 3 workers, the read-only ones otherwise.

        The view shares this registry's sandbox, command runner and claims; tools
        registered here afterwards are not in it.
        """
        chosen = [t for t in self._tools.values() if tier == Tier.WORKER or not t.spec.mutating]
        return ToolRegistry(self.sandbox, settings=self.settings, claims=self.claims,
                            commands=self.commands, tools=chosen)

    def specs(self) -> list[ToolSpec]:
        return [tool.spec for tool in self._tools.values()]

    def names(self) -> list[str]:
        return list(self._tools)

    def spec(self, name: str) -> ToolSpec | None:
        tool = self._tools.get(name)
        return None if tool is None else tool.spec

    def is_mutating(self, name: str) -> bool:
        """Whether a call must pass the approval gate (unknown names: yes)."""
        spec = self.spec(name)
        return spec is None or spec.mutating

    def context(self, ticket_id: str | None = None,
                cancel: CancelToken | None = None) -> ToolContext:
        return ToolContext(self.sandbox, self.settings, self.commands, self.claims,
                           ticket_id, cancel)

    def run(
        self,
        name: str,
        args: Mapping[str, Any] | str,
        *,
        ticket_id: str | None = None,
        cancel: CancelToken | None = None,
    ) -> ToolResult:
        """Run one call. Never raises: a refusal or failure is an ``error:`` result."""
        try:
            tool, parsed = self._call(name, args)
            return tool.execute(parsed, self.context(ticket_id, cancel))
        except ToolError as exc:
            return ToolResult.failure(exc.reason)
        except Exception as exc:
            # A bug or an unforeseen OS failure: logged with its traceback, and still a
            # result the model (and the ticket's stream) can read.
            log.exception("tool %s failed on %r", name, args)
            return ToolResult.failure(f"{name} failed: {type(exc).__name__}: {exc}")

    def preview(self, name: str, args: Mapping[str, Any] | str) -> ProposedChange:
        """What the call would do, touching nothing; :class:`ToolError` if it would fail."""
        tool, parsed = self._call(name, args)
        return tool.preview(parsed, self.context())

    def edited(self, name: str, args: Mapping[str, Any] | str, edited: str) -> dict[str, Any]:
        """The call's arguments with the user's edit applied (:class:`ToolError` if none)."""
        tool, parsed = self._call(name, args)
        return tool.edited(parsed, edited)

    def describe(self, name: str, args: Mapping[str, Any] | str) -> str:
        """A short line for the stream; never raises."""
        tool = self._tools.get(name)
        if tool is None:
            return name
        try:
            parsed = _arguments(args)
        except ToolError:
            return name
        return tool.describe(parsed)

    def _call(self, name: str, args: Mapping[str, Any] | str) -> tuple[Tool, Mapping[str, Any]]:
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(self._tools) or "none"
            raise ToolError(f"there is no tool named {name!r} here; the tools are: {known}")
        return tool, _arguments(args)


def _arguments(args: Mapping[str, Any] | str) -> Mapping[str, Any]:
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            raise ToolError(f"the arguments are not valid JSON: {exc}") from exc
    if not isinstance(args, Mapping):
        raise ToolError("the arguments must be a JSON object")
    return args
