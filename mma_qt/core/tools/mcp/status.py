"""What the Settings page shows of the user's MCP servers: each one's state and tools."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...model.status import McpServerState


@dataclass(frozen=True, slots=True)
class McpToolStatus:
    """One tool a server offers: ``name`` as registered (``NAME__tool``), ``tool`` its own."""

    name: str
    tool: str
    description: str
    needs_approval: bool


@dataclass(frozen=True, slots=True)
class McpServerStatus:
    """A server's state for the Settings page; ``reason`` says why it failed."""

    name: str
    transport: Literal["stdio", "http"]
    #: The command line, or the URL without credentials or query.
    target: str
    state: McpServerState
    reason: str = ""
    tools: tuple[McpToolStatus, ...] = ()

    def line(self) -> str:
        """``github (stdio: npx -y server-github): running, 3 tools``."""
        if self.state == McpServerState.FAILED:
            what = f"failed: {self.reason}"
        elif self.state == McpServerState.RUNNING:
            what = f"running, {len(self.tools)} tool{'' if len(self.tools) == 1 else 's'}"
        else:
            what = str(self.state)
        return f"{self.name} ({self.transport}: {self.target}): {what}"
