"""One configured MCP server: its connection, held open on the servers' event loop.

A :class:`Connection` is one task on the :class:`~.loop.LoopThread` that opens the
transport (a stdio process or streamable HTTP), lists the server's tools and waits until
stop or until the server ends. Its state changes under the one lock of its
:class:`~.servers.McpServers`, so their status is one snapshot; every failure is one
warning in the log, with the server's secrets cut out and its stderr's last lines.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import threading
from collections.abc import Collection
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import anyio

from ...model.status import McpServerState
from ..base import ToolResult
from ..registry import TOOL_NAME
from .env import redact, resolve_env, secrets_of
from .loop import CALL_GRACE_S
from .status import McpServerStatus, McpToolStatus
from .text import describe_exception
from .tool import registered_name
from .watched import watched

if TYPE_CHECKING:
    from mcp import Client
    from mcp.client import Transport
    from mcp_types import CallToolResult
    from mcp_types import Tool as SdkTool

    from ...settings.mcp_config import McpServerConfig

log = logging.getLogger(__name__)

#: Longest :func:`stop_all` waits for the servers to close. The SDK closes a stdio
#: server's stdin, waits 2 s, sends SIGTERM to its process group, waits 2 s, then SIGKILL.
STOP_BOUND_S = 10.0
#: Pages of ``tools/list`` read at most from one server.
LIST_PAGES_MAX = 20
#: Characters of a server's stderr quoted in a failure reason.
STDERR_TAIL = 300


@dataclass(eq=False)
class Connection:
    """One configured server's state; changed on the event loop under ``lock``."""

    name: str
    config: McpServerConfig
    #: Its :class:`~.servers.McpServers`' lock, shared by all its servers.
    lock: threading.Lock
    state: McpServerState = McpServerState.STOPPED
    reason: str = ""
    client: Client | None = None
    #: Registered name (``NAME__tool``) → its status, and the server's listing of it.
    tools: dict[str, McpToolStatus] = field(default_factory=dict)
    sdk_tools: dict[str, SdkTool] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    stopping: bool = False
    #: Where a stdio server's stderr goes: set by :meth:`begin`, a file in it per server.
    stderr_dir: Path | None = None
    stderr: Path | None = None
    # Created on the event loop:
    ready: asyncio.Event | None = None
    wake: asyncio.Event | None = None
    task: asyncio.Task[None] | None = None

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "stdio" if self.config.command is not None else "http"

    @property
    def target(self) -> str:
        if self.config.command is not None:
            return shlex.join(self.config.command)
        assert self.config.url is not None
        parts = urlsplit(self.config.url)
        # Without credentials (user:password@) or the query, where a token may be.
        return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))

    def status(self) -> McpServerStatus:
        """Its state and tools; the caller holds ``lock``."""
        return McpServerStatus(self.name, self.transport, self.target, self.state, self.reason,
                               tuple(self.tools.values()))

    # -- on the servers' event loop ------------------------------------------------------

    def begin(self, stderr_dir: Path) -> None:
        """Start its task: ``starting`` until it runs, fails or stops."""
        self.stderr_dir = stderr_dir
        self.ready, self.wake = asyncio.Event(), asyncio.Event()
        with self.lock:
            self.state = McpServerState.STARTING
        self.task = asyncio.get_running_loop().create_task(self._serve(),
                                                           name=f"mcp-{self.name}")

    async def started(self) -> None:
        """Until it runs or failed; past its ``timeout_s`` it fails and its task is cancelled."""
        assert self.ready is not None and self.task is not None
        try:
            await asyncio.wait_for(self.ready.wait(), self.config.timeout_s)
        except TimeoutError:
            self.fail(f"failed to start: no answer within "
                      f"{self.config.timeout_s:g} s{self.stderr_tail()}")
            self.task.cancel()

    def request_stop(self) -> asyncio.Task[None] | None:
        """Tell its task to close the connection; the task, while it still runs."""
        self.stopping = True
        if self.wake is not None:
            self.wake.set()
        return self.task if self.task is not None and not self.task.done() else None

    async def _serve(self) -> None:
        """Hold the connection open until stop (or until it ends by itself)."""
        assert self.ready is not None and self.wake is not None
        try:
            await self._session()
        except Exception as exc:
            log.debug("MCP server %r ended", self.name, exc_info=True)
            with self.lock:
                state = self.state
            if self.stopping:
                log.warning("MCP server %r did not stop cleanly: %s", self.name,
                            self.redact(describe_exception(exc)))
            elif state == McpServerState.STARTING:
                self.fail(f"failed to start: {describe_exception(exc)}{self.stderr_tail()}")
            elif state == McpServerState.RUNNING:
                self.fail(f"stopped: {describe_exception(exc)}{self.stderr_tail()}")
        finally:
            with self.lock:
                self.client = None
                if self.state != McpServerState.FAILED:
                    self.state = McpServerState.STOPPED
            self.ready.set()

    async def _session(self) -> None:
        from mcp import Client
        from mcp_types import Implementation

        from .... import __version__

        assert self.ready is not None and self.wake is not None
        wake = self.wake

        def closed() -> None:
            wake.set()

        async with AsyncExitStack() as stack:
            transport = watched(self._transport(stack), closed)
            client = Client(transport, client_info=Implementation(name="mma-qt",
                                                                  version=__version__),
                            read_timeout_seconds=self.config.timeout_s, cache=None)
            await stack.enter_async_context(client)
            listed = await _list_tools(client)
            self._running(client, listed)
            await wake.wait()
            if not self.stopping:
                self.fail(f"stopped: the server closed the connection{self.stderr_tail()}")

    def _transport(self, stack: AsyncExitStack) -> Transport:
        from mcp.client.stdio import StdioServerParameters, stdio_client
        from mcp.client.streamable_http import streamable_http_client

        config = self.config
        if config.url is not None:
            return streamable_http_client(config.url)
        assert config.command is not None and self.stderr_dir is not None
        env = resolve_env(config.env, os.environ)
        self.secrets = secrets_of(env)
        self.stderr = self.stderr_dir / f"{self.name}.stderr"
        # Append mode: the server writes through its own descriptor whatever we read.
        errlog = stack.enter_context(self.stderr.open("a", encoding="utf-8"))
        cwd = None if config.cwd is None else config.cwd.expanduser()
        params = StdioServerParameters(command=config.command[0], args=config.command[1:],
                                       env=env, cwd=cwd)
        return stdio_client(params, errlog=errlog)

    def _running(self, client: Client, listed: list[SdkTool]) -> None:
        auto = set(self.config.auto_approve)
        tools: dict[str, McpToolStatus] = {}
        sdk_tools: dict[str, SdkTool] = {}
        for sdk in listed:
            name = registered_name(self.name, sdk.name)
            if not TOOL_NAME.match(name) or name in tools:
                log.warning("MCP server %r: tool %r left out: %s", self.name, sdk.name,
                            "its name is taken" if name in tools else
                            f"{name!r} is not a usable tool name (too long?)")
                continue
            description = sdk.description or f"Tool {sdk.name!r} of MCP server {self.name!r}."
            tools[name] = McpToolStatus(name, sdk.name, description, sdk.name not in auto)
            sdk_tools[name] = sdk
        unknown = sorted(auto - {t.tool for t in tools.values()})
        if unknown:
            log.warning("MCP server %r offers no tool named %s (in its auto_approve)",
                        self.name, ", ".join(map(repr, unknown)))
        with self.lock:
            self.state, self.reason, self.client = McpServerState.RUNNING, "", client
            self.tools, self.sdk_tools = tools, sdk_tools
        assert self.ready is not None
        self.ready.set()
        log.info("MCP server %r running: %d tools", self.name, len(tools))

    # -- either thread -------------------------------------------------------------------

    def fail(self, reason: str) -> None:
        """Mark the server failed with one warning (only the first failure is logged)."""
        reason = self.redact(reason)
        with self.lock:
            if self.state == McpServerState.FAILED:
                return
            self.state, self.reason, self.client = McpServerState.FAILED, reason, None
        log.warning("MCP server %r %s", self.name, reason)

    def warn(self, what: str) -> None:
        log.warning("MCP server %r %s", self.name, self.redact(what))

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def call_failed(self, tool: str, exc: Exception) -> ToolResult:
        """The result of a call to ``tool`` that raised ``exc``; a dead server fails."""
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED

        if isinstance(exc, MCPError) and exc.code != CONNECTION_CLOSED:
            # The server answered with a protocol error (unknown tool, bad arguments...).
            return ToolResult.failure(
                f"MCP server {self.name!r} refused the call to {tool!r}: "
                f"{self.redact(str(exc))}")
        with self.lock:
            already = self.state == McpServerState.FAILED
        if not already:
            self.fail(f"stopped answering: {describe_exception(exc)}{self.stderr_tail()}")
        with self.lock:
            reason = self.reason
        return ToolResult.failure(f"MCP server {self.name!r} {reason}")

    def stderr_tail(self) -> str:
        """``; its last output: ...`` from the server's stderr, or nothing."""
        if self.stderr is None:
            return ""
        try:
            with self.stderr.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 4 * STDERR_TAIL))
                data = handle.read().decode("utf-8", "replace")
        except OSError as exc:
            log.warning("cannot read MCP server %r's stderr: %s", self.name, exc)
            return ""
        lines = [line.strip() for line in data.splitlines() if line.strip()]
        tail = " / ".join(lines[-3:])
        if len(tail) > STDERR_TAIL:
            tail = "…" + tail[-STDERR_TAIL:]
        return f"; its last output: {tail}" if tail else ""


# -- all of them, on the servers' event loop ---------------------------------------------


async def start_all(connections: Collection[Connection], stderr_dir: Path) -> None:
    """Start every server at once; until each runs or failed (bounded by its ``timeout_s``)."""
    for connection in connections:
        connection.begin(stderr_dir)
    await asyncio.gather(*(connection.started() for connection in connections))


async def stop_all(connections: Collection[Connection]) -> None:
    """Stop every server; one still running after :data:`STOP_BOUND_S` is cancelled."""
    tasks = [task for task in (c.request_stop() for c in connections) if task is not None]
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=STOP_BOUND_S)
    for task in pending:
        log.warning("MCP server task %s did not stop within %g s; cancelled",
                    task.get_name(), STOP_BOUND_S)
        task.cancel()


async def call_tool(client: Client, tool: str, args: dict[str, Any],
                    timeout: float) -> CallToolResult:
    with anyio.fail_after(timeout):
        # The SDK's own read timeout only as a backstop: fail_after speaks first.
        return await client.call_tool(tool, args, read_timeout_seconds=timeout + CALL_GRACE_S)


async def _list_tools(client: Client) -> list[SdkTool]:
    tools: list[SdkTool] = []
    cursor: str | None = None
    for _ in range(LIST_PAGES_MAX):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools
