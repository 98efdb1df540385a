"""The MCP servers of one run: start, register, tools, call, status, stop (see the package).

:class:`McpServers` is what the run uses; each server is a :class:`~.connection.Connection`
on a :class:`~.loop.LoopThread` of its own, which this object owns.
"""

from __future__ import annotations

import concurrent.futures
import logging
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...model.status import McpServerState
from ..base import OUTPUT_LIMIT, ToolResult, ToolSpec, bound_text
from .connection import STOP_BOUND_S, Connection, call_tool, start_all, stop_all
from .loop import CALL_GRACE_S, LoopThread
from .schema import plain_schema
from .status import McpServerStatus
from .text import result_text
from .tool import McpTool

if TYPE_CHECKING:
    from types import TracebackType

    from ...model.cancel import CancelToken
    from ...settings.mcp_config import McpServerConfig
    from ..registry import ToolRegistry

log = logging.getLogger(__name__)


class McpServers:
    """The MCP servers of one run; see the package docstring."""

    def __init__(self, servers: Mapping[str, McpServerConfig]) -> None:
        self._lock = threading.Lock()
        self._servers = {name: Connection(name, config, self._lock)
                         for name, config in servers.items()}
        self._loop: LoopThread | None = None
        self._stderr_dir: tempfile.TemporaryDirectory[str] | None = None
        #: Registered tool name → its server, filled by :meth:`start`.
        self._tools: dict[str, McpTool] = {}
        self._stopped = False

    # -- life ----------------------------------------------------------------------------

    def start(self) -> list[McpServerStatus]:
        """Start every server at once and list its tools; bounded by each ``timeout_s``.

        Never raises for a server that fails: it is one warning in the log and ``failed``
        in :meth:`status`, with no tools. Returns :meth:`status`. After :meth:`stop` (a
        run cancelled while it started, say) it starts nothing.
        """
        with self._lock:
            if self._loop is not None:
                raise RuntimeError("an McpServers starts once; make a new one for the next run")
            if self._stopped or not self._servers:
                started = None
            else:
                self._stderr_dir = tempfile.TemporaryDirectory(prefix="mma-mcp-")
                self._loop = LoopThread("mcp-servers")
                # Queued before any stop() can queue its own work on the loop.
                started = self._loop.submit(
                    start_all(self._servers.values(), Path(self._stderr_dir.name)))
        if started is None:
            return self.status()
        longest = max(s.config.timeout_s for s in self._servers.values())
        try:
            started.result(longest + CALL_GRACE_S)
        except TimeoutError:
            started.cancel()
            # Only if the servers' event loop itself is stuck: start_all is bounded.
            for server in self._servers.values():
                if server.state == McpServerState.STARTING:
                    server.fail("failed to start: the MCP event loop did not answer")
        self._index_tools()
        return self.status()

    def stop(self) -> None:
        """Stop every server (bounded by :data:`STOP_BOUND_S`); idempotent, never raises."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            loop = self._loop
        if loop is not None:
            try:
                loop.run(stop_all(self._servers.values()), STOP_BOUND_S + CALL_GRACE_S)
            except (TimeoutError, concurrent.futures.CancelledError):
                log.warning("MCP servers did not stop within %g s; abandoning them",
                            STOP_BOUND_S + CALL_GRACE_S)
            loop.close()
        if self._stderr_dir is not None:
            self._stderr_dir.cleanup()
            self._stderr_dir = None

    def __enter__(self) -> McpServers:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- what the run uses ---------------------------------------------------------------

    def tools(self) -> list[McpTool]:
        """The tools of every running server, in config order (after :meth:`start`)."""
        return list(self._tools.values())

    def register(self, registry: ToolRegistry) -> None:
        """Add every running server's tools to ``registry`` (one per track directory)."""
        for tool in self._tools.values():
            registry.register(tool)

    def status(self) -> list[McpServerStatus]:
        """Each configured server's state and tools, in config order; thread-safe."""
        with self._lock:
            return [server.status() for server in self._servers.values()]

    def call(
        self,
        name: str,
        args: Mapping[str, Any],
        timeout: float | None = None,
        cancel: CancelToken | None = None,
        *,
        output_limit: int | None = None,
    ) -> ToolResult:
        """Call the tool registered as ``name``; blocking, thread-safe, never raises.

        ``timeout`` defaults to the server's ``timeout_s``; a cancelled ``cancel`` token
        abandons the call at once.
        """
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult.failure(f"there is no MCP tool named {name!r}")
        server = self._servers[tool.server]
        with self._lock:
            state, reason, client = server.state, server.reason, server.client
        if state != McpServerState.RUNNING or client is None:
            return ToolResult.failure(f"MCP server {server.name!r} is not available: "
                                      f"{reason or state}")
        if cancel is not None and cancel.cancelled:
            return ToolResult.failure(f"MCP server {server.name!r}: the call was cancelled")
        limit = timeout if timeout is not None else server.config.timeout_s
        loop = self._loop
        assert loop is not None
        coro = call_tool(client, tool.tool, dict(args), limit)
        try:
            future = loop.submit(coro)
        except RuntimeError:  # the loop closed under us: stop() ran meanwhile
            coro.close()
            return ToolResult.failure(f"MCP server {server.name!r} is not available: stopped")
        if cancel is not None:
            def abandon() -> None:
                future.cancel()  # reaches the call's task on the loop
            cancel.on_cancel(abandon)
        try:
            result = future.result(limit + CALL_GRACE_S)
        except concurrent.futures.CancelledError:
            return ToolResult.failure(f"MCP server {server.name!r}: the call to {tool.tool!r} "
                                      "was cancelled")
        except TimeoutError:
            future.cancel()
            reason = f"did not answer {tool.tool!r} within {limit:g} s"
            server.warn(reason)
            return ToolResult.failure(f"MCP server {server.name!r} {reason}")
        except Exception as exc:
            log.debug("MCP call %s failed", name, exc_info=True)
            return server.call_failed(tool.tool, exc)
        text = result_text(result)
        text, truncated = bound_text(
            text, f"Ask {name} for less at a time (narrower arguments).",
            output_limit or OUTPUT_LIMIT)
        if result.is_error:
            return ToolResult.failure(
                f"MCP server {server.name!r}: tool {tool.tool!r} reported an error",
                text, truncated)
        return ToolResult.success(text or "(no output)", truncated=truncated)

    def _index_tools(self) -> None:
        tools: dict[str, McpTool] = {}
        with self._lock:
            for server in self._servers.values():
                for name, status in server.tools.items():
                    sdk = server.sdk_tools[name]
                    spec = ToolSpec(name, status.description, plain_schema(sdk.input_schema),
                                    mutating=status.needs_approval)
                    tools[name] = McpTool(self, spec, server.name, status.tool)
        self._tools = tools
