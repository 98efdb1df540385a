"""A tool of one MCP server as a :class:`~mma_qt.core.tools.base.Tool`, named ``NAME__tool``."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..base import ProposedChange, Tool, ToolContext, ToolResult, ToolSpec

if TYPE_CHECKING:
    from .servers import McpServers

#: Between a registered tool's server name and the server's own tool name.
SEPARATOR = "__"

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def registered_name(server: str, tool: str) -> str:
    """``NAME__tool``; other characters than letters, digits, ``_`` and ``-`` become ``_``."""
    return f"{server}{SEPARATOR}{_UNSAFE_NAME_CHARS.sub('_', tool)}"


class McpTool(Tool):
    """A tool of one MCP server, run through its :class:`McpServers`."""

    def __init__(self, servers: McpServers, spec: ToolSpec, server: str, tool: str) -> None:
        self.spec = spec
        self.server = server
        self.tool = tool
        self._servers = servers

    @property
    def needs_approval(self) -> bool:
        """False exactly when the server's ``auto_approve`` lists this tool."""
        return self.spec.mutating

    def execute(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        return self._servers.call(self.spec.name, args, cancel=ctx.cancel,
                                  output_limit=ctx.settings.output_limit)

    def preview(self, args: Mapping[str, Any], ctx: ToolContext) -> ProposedChange:
        """The arguments, as pretty JSON, for the approval."""
        return ProposedChange(self.spec.name, dict(args), note=pretty_json(args))

    def describe(self, args: Mapping[str, Any]) -> str:
        text = json.dumps(dict(args), ensure_ascii=False, separators=(",", ":"))
        return f"{self.spec.name} {text if len(text) <= 80 else text[:79] + '…'}"


def pretty_json(args: Mapping[str, Any]) -> str:
    return json.dumps(dict(args), ensure_ascii=False, indent=2, sort_keys=True)
