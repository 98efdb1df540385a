"""``[mcp.servers.NAME]``: the user's MCP servers in ``config.toml``. Pure, no Qt.

Run by :class:`mma_qt.core.tools.mcp.McpServers`; the ``[mcp]`` table of
:class:`~mma_qt.core.settings.config.Config`. An ``env`` table is kept as written (a token
among its values): hidden from ``repr`` and from validation errors.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ConfigDict, Field, field_validator, model_validator

from .strict import Strict, check_url

#: An MCP server's name: its tools are offered as ``NAME__tool``, so no ``__`` inside, and
#: only what every provider accepts in a function name.
MCP_SERVER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*(?:_[A-Za-z0-9-]+)*$")
MCP_SERVER_NAME_MAX = 32


class McpServerConfig(Strict):
    """``[mcp.servers.NAME]``: one MCP server, run as a command (stdio) or reached at a URL.

    Validation errors never show the values given (``env`` may hold a token).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, hide_input_in_errors=True)

    #: stdio: the program and its arguments, e.g. ``["uvx", "mcp-server-git"]``.
    command: list[str] | None = Field(default=None, min_length=1)
    #: stdio: variables added to the server's small default environment (PATH, HOME, ...);
    #: ``"${NAME}"`` in a value is replaced by the app's own variable at start.
    env: dict[str, str] = Field(default_factory=dict, repr=False)
    #: stdio: the server's working directory (default: the app's).
    cwd: Path | None = None
    #: streamable HTTP: the server's endpoint, e.g. ``http://127.0.0.1:8765/mcp``.
    url: str | None = None
    #: The server's tools that run without asking (the others pass the approval gate).
    auto_approve: list[str] = Field(default_factory=list)
    #: Seconds to wait for the server to start, and for each tool call.
    timeout_s: float = Field(default=60.0, gt=0, le=3600)

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value[0].strip():
            raise ValueError("the first item must be the program to run")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command = [...] (stdio) or url = \"...\" (HTTP)")
        if self.url is not None and (self.env or self.cwd is not None):
            raise ValueError("env and cwd apply only to a server started with command")
        return self


class McpConfig(Strict):
    """``[mcp]``: the user's MCP servers, by name."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, hide_input_in_errors=True)

    servers: dict[str, McpServerConfig] = Field(default_factory=dict)

    @field_validator("servers")
    @classmethod
    def _names(cls, value: dict[str, McpServerConfig]) -> dict[str, McpServerConfig]:
        for name in value:
            if len(name) > MCP_SERVER_NAME_MAX or not MCP_SERVER_NAME.match(name):
                raise ValueError(
                    f"MCP server name {name!r}: use up to {MCP_SERVER_NAME_MAX} letters, digits, "
                    "'-' or single '_', starting with a letter (tools are named NAME__tool)"
                )
        return value
