"""The user's MCP servers, their tools offered to workers as ``NAME__tool``. Pure, no Qt.

Configured in ``config.toml`` (:class:`~mma_qt.core.settings.config.McpServerConfig`)::

    [mcp.servers.github]
    command = ["npx", "-y", "@modelcontextprotocol/server-github"]
    env = { GITHUB_TOKEN = "${GITHUB_TOKEN}" }
    auto_approve = ["search_issues"]

One :class:`McpServers` per run (no globals)::

    servers = McpServers(config.mcp.servers)
    servers.start()              # every server, at once; blocks until each runs or failed
    servers.register(registry)   # its tools into each track's ToolRegistry, NAME__tool
    ...                          # worker threads: registry.run("github__search_issues", ...)
    servers.stop()               # bounded; a stdio server that ignores it is killed

**Threads.** The official ``mcp`` SDK is anyio-based. It runs on an asyncio event loop of
its own, in a daemon thread owned by the :class:`McpServers` (never on the app's qasync
loop). Each server is one task there that holds its connection open until
:meth:`McpServers.stop`; :meth:`McpServers.call` is blocking and thread-safe, for the
worker pool's threads. The SDK is imported only when a server is configured.

**Tools.** Each tool a server lists becomes a :class:`McpTool` named ``NAME__tool`` (other
characters than letters, digits, ``_`` and ``-`` become ``_``), with the server's own JSON
schema in the plain form every provider accepts (:func:`plain_schema`). It is
``mutating`` — it passes the approval gate, its arguments shown as pretty JSON — unless the
server's ``auto_approve`` lists it (:attr:`McpTool.needs_approval`).

**Failures.** A server that cannot start, stops answering, dies or lets a call run past its
``timeout_s`` is one warning in the log (``MCP server 'github' failed to start: ...``) and
an ``error: MCP server 'github' ...`` result for the model. Nothing here raises into the
run or hangs it: start, every call and stop are bounded. :meth:`McpServers.status` gives
each server's state (starting, running, failed with the reason, stopped) and tools for the
Settings page.

**Secrets.** A stdio server gets the SDK's small default environment (``PATH``, ``HOME``,
``USER``, ...: never the app's provider keys) plus its configured ``env``; ``"${NAME}"`` in
a value takes the app's variable ``NAME``. Those values are never logged: they are cut out
of every log line and reason shown here. A server's stderr goes to a file of this object
(removed at :meth:`McpServers.stop`), whose last lines explain a failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import re
import shlex
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import anyio

from ..model.status import McpServerState
from .base import (
    OUTPUT_LIMIT,
    ProposedChange,
    Tool,
    ToolContext,
    ToolResult,
    ToolSpec,
    bound_text,
)
from .registry import TOOL_NAME

if TYPE_CHECKING:
    from types import TracebackType

    from mcp import Client
    from mcp.client import Transport
    from mcp.client._transport import ReadStream, TransportStreams
    from mcp.shared.message import SessionMessage
    from mcp_types import CallToolResult
    from mcp_types import Tool as SdkTool

    from ..model.cancel import CancelToken
    from ..settings.mcp_config import McpServerConfig
    from .registry import ToolRegistry

log = logging.getLogger(__name__)

#: Between a registered tool's server name and the server's own tool name.
SEPARATOR = "__"
#: Extra seconds the calling thread waits past a call's own timeout before giving up on
#: the server's event loop itself.
CALL_GRACE_S = 5.0
#: Longest :meth:`McpServers.stop` waits for the servers to close. The SDK closes a stdio
#: server's stdin, waits 2 s, sends SIGTERM to its process group, waits 2 s, then SIGKILL.
STOP_BOUND_S = 10.0
#: Pages of ``tools/list`` read at most from one server.
LIST_PAGES_MAX = 20
#: Characters of a server's stderr quoted in a failure reason.
STDERR_TAIL = 300

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
#: Values shorter than this are not cut out of log lines (they would cut common words).
_SECRET_MIN = 4

T = TypeVar("T")


class McpError(Exception):
    """A server that cannot be started as configured (the message says why)."""


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


# -- the servers -------------------------------------------------------------------------


@dataclass(eq=False)
class _Server:
    """One configured server's state; changed on the event loop under ``McpServers._lock``."""

    name: str
    config: McpServerConfig
    state: McpServerState = McpServerState.STOPPED
    reason: str = ""
    client: Client | None = None
    #: Registered name (``NAME__tool``) → its status, and the server's listing of it.
    tools: dict[str, McpToolStatus] = field(default_factory=dict)
    sdk_tools: dict[str, SdkTool] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    stopping: bool = False
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


class McpServers:
    """The MCP servers of one run; see the module docstring."""

    def __init__(self, servers: Mapping[str, McpServerConfig]) -> None:
        self._servers = {name: _Server(name, config) for name, config in servers.items()}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
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
                loop = self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._run_loop, args=(loop,),
                                                name="mcp-servers", daemon=True)
                self._thread.start()
                # Queued before any stop() can queue its own work on the loop.
                started = asyncio.run_coroutine_threadsafe(self._start_all(), loop)
        if started is None:
            return self.status()
        longest = max(s.config.timeout_s for s in self._servers.values())
        try:
            started.result(longest + CALL_GRACE_S)
        except TimeoutError:
            started.cancel()
            # Only if the servers' event loop itself is stuck: _start_all is bounded.
            for server in self._servers.values():
                if server.state == McpServerState.STARTING:
                    self._fail(server, "failed to start: the MCP event loop did not answer")
        self._index_tools()
        return self.status()

    def stop(self) -> None:
        """Stop every server (bounded by :data:`STOP_BOUND_S`); idempotent, never raises."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            try:
                self._on_loop(self._stop_all(), STOP_BOUND_S + CALL_GRACE_S)
            except (TimeoutError, concurrent.futures.CancelledError):
                log.warning("MCP servers did not stop within %g s; abandoning them",
                            STOP_BOUND_S + CALL_GRACE_S)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(CALL_GRACE_S)
            if thread.is_alive():
                log.warning("the MCP servers' event loop did not end within %g s", CALL_GRACE_S)
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
            return [
                McpServerStatus(s.name, s.transport, s.target, s.state, s.reason,
                                tuple(s.tools.values()))
                for s in self._servers.values()
            ]

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
        coro = _call_tool(client, tool.tool, dict(args), limit)
        try:
            future = asyncio.run_coroutine_threadsafe(coro, loop)
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
            self._warn(server, reason)
            return ToolResult.failure(f"MCP server {server.name!r} {reason}")
        except Exception as exc:
            log.debug("MCP call %s failed", name, exc_info=True)
            return self._call_failed(server, tool.tool, exc)
        text = result_text(result)
        text, truncated = bound_text(
            text, f"Ask {name} for less at a time (narrower arguments).",
            output_limit or OUTPUT_LIMIT)
        if result.is_error:
            return ToolResult.failure(
                f"MCP server {server.name!r}: tool {tool.tool!r} reported an error",
                text, truncated)
        return ToolResult.success(text or "(no output)", truncated=truncated)

    # -- internals: on the calling thread ------------------------------------------------

    def _on_loop(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=CALL_GRACE_S))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

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

    def _call_failed(self, server: _Server, tool: str, exc: Exception) -> ToolResult:
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED

        if isinstance(exc, MCPError) and exc.code != CONNECTION_CLOSED:
            # The server answered with a protocol error (unknown tool, bad arguments...).
            return ToolResult.failure(
                f"MCP server {server.name!r} refused the call to {tool!r}: "
                f"{self._redact(server, str(exc))}")
        with self._lock:
            already = server.state == McpServerState.FAILED
        if not already:
            self._fail(server, f"stopped answering: {describe_exception(exc)}"
                               f"{self._stderr_tail(server)}")
        with self._lock:
            reason = server.reason
        return ToolResult.failure(f"MCP server {server.name!r} {reason}")

    # -- internals: on the servers' event loop -------------------------------------------

    async def _start_all(self) -> None:
        async def ready(server: _Server) -> None:
            assert server.ready is not None and server.task is not None
            try:
                await asyncio.wait_for(server.ready.wait(), server.config.timeout_s)
            except TimeoutError:
                self._fail(server, f"failed to start: no answer within "
                                   f"{server.config.timeout_s:g} s{self._stderr_tail(server)}")
                server.task.cancel()

        for server in self._servers.values():
            server.ready, server.wake = asyncio.Event(), asyncio.Event()
            with self._lock:
                server.state = McpServerState.STARTING
            server.task = asyncio.get_running_loop().create_task(
                self._serve(server), name=f"mcp-{server.name}")
        await asyncio.gather(*(ready(server) for server in self._servers.values()))

    async def _stop_all(self) -> None:
        tasks = []
        for server in self._servers.values():
            server.stopping = True
            if server.wake is not None:
                server.wake.set()
            if server.task is not None and not server.task.done():
                tasks.append(server.task)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=STOP_BOUND_S)
        for task in pending:
            log.warning("MCP server task %s did not stop within %g s; cancelled",
                        task.get_name(), STOP_BOUND_S)
            task.cancel()

    async def _serve(self, server: _Server) -> None:
        """Hold one server's connection open until stop (or until it ends by itself)."""
        assert server.ready is not None and server.wake is not None
        try:
            await self._session(server)
        except Exception as exc:
            log.debug("MCP server %r ended", server.name, exc_info=True)
            with self._lock:
                state = server.state
            if server.stopping:
                log.warning("MCP server %r did not stop cleanly: %s", server.name,
                            self._redact(server, describe_exception(exc)))
            elif state == McpServerState.STARTING:
                self._fail(server, f"failed to start: {describe_exception(exc)}"
                                   f"{self._stderr_tail(server)}")
            elif state == McpServerState.RUNNING:
                self._fail(server, f"stopped: {describe_exception(exc)}"
                                   f"{self._stderr_tail(server)}")
        finally:
            with self._lock:
                server.client = None
                if server.state != McpServerState.FAILED:
                    server.state = McpServerState.STOPPED
            server.ready.set()

    async def _session(self, server: _Server) -> None:
        from mcp import Client
        from mcp_types import Implementation

        from ... import __version__

        assert server.ready is not None and server.wake is not None
        wake = server.wake

        def closed() -> None:
            wake.set()

        async with AsyncExitStack() as stack:
            transport = _watched(self._transport(server, stack), closed)
            client = Client(transport, client_info=Implementation(name="mma-qt",
                                                                  version=__version__),
                            read_timeout_seconds=server.config.timeout_s, cache=None)
            await stack.enter_async_context(client)
            listed = await _list_tools(client)
            self._running(server, client, listed)
            await wake.wait()
            if not server.stopping:
                self._fail(server, "stopped: the server closed the connection"
                                   f"{self._stderr_tail(server)}")

    def _transport(self, server: _Server, stack: AsyncExitStack) -> Transport:
        from mcp.client.stdio import StdioServerParameters, stdio_client
        from mcp.client.streamable_http import streamable_http_client

        config = server.config
        if config.url is not None:
            return streamable_http_client(config.url)
        assert config.command is not None and self._stderr_dir is not None
        env = resolve_env(config.env, os.environ)
        server.secrets = tuple(v for v in env.values() if len(v) >= _SECRET_MIN)
        server.stderr = Path(self._stderr_dir.name) / f"{server.name}.stderr"
        # Append mode: the server writes through its own descriptor whatever we read.
        errlog = stack.enter_context(server.stderr.open("a", encoding="utf-8"))
        cwd = None if config.cwd is None else config.cwd.expanduser()
        params = StdioServerParameters(command=config.command[0], args=config.command[1:],
                                       env=env, cwd=cwd)
        return stdio_client(params, errlog=errlog)

    def _running(self, server: _Server, client: Client, listed: list[SdkTool]) -> None:
        auto = set(server.config.auto_approve)
        tools: dict[str, McpToolStatus] = {}
        sdk_tools: dict[str, SdkTool] = {}
        for sdk in listed:
            name = f"{server.name}{SEPARATOR}{_UNSAFE_NAME_CHARS.sub('_', sdk.name)}"
            if not TOOL_NAME.match(name) or name in tools:
                log.warning("MCP server %r: tool %r left out: %s", server.name, sdk.name,
                            "its name is taken" if name in tools else
                            f"{name!r} is not a usable tool name (too long?)")
                continue
            description = sdk.description or f"Tool {sdk.name!r} of MCP server {server.name!r}."
            tools[name] = McpToolStatus(name, sdk.name, description, sdk.name not in auto)
            sdk_tools[name] = sdk
        unknown = sorted(auto - {t.tool for t in tools.values()})
        if unknown:
            log.warning("MCP server %r offers no tool named %s (in its auto_approve)",
                        server.name, ", ".join(map(repr, unknown)))
        with self._lock:
            server.state, server.reason, server.client = McpServerState.RUNNING, "", client
            server.tools, server.sdk_tools = tools, sdk_tools
        assert server.ready is not None
        server.ready.set()
        log.info("MCP server %r running: %d tools", server.name, len(tools))

    # -- internals: either thread --------------------------------------------------------

    def _fail(self, server: _Server, reason: str) -> None:
        """Mark the server failed with one warning (only the first failure is logged)."""
        reason = self._redact(server, reason)
        with self._lock:
            if server.state == McpServerState.FAILED:
                return
            server.state, server.reason, server.client = McpServerState.FAILED, reason, None
        log.warning("MCP server %r %s", server.name, reason)

    def _warn(self, server: _Server, what: str) -> None:
        log.warning("MCP server %r %s", server.name, self._redact(server, what))

    def _redact(self, server: _Server, text: str) -> str:
        for secret in server.secrets:
            text = text.replace(secret, "***")
        return text

    def _stderr_tail(self, server: _Server) -> str:
        """``; its last output: ...`` from the server's stderr, or nothing."""
        if server.stderr is None:
            return ""
        try:
            with server.stderr.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 4 * STDERR_TAIL))
                data = handle.read().decode("utf-8", "replace")
        except OSError as exc:
            log.warning("cannot read MCP server %r's stderr: %s", server.name, exc)
            return ""
        lines = [line.strip() for line in data.splitlines() if line.strip()]
        tail = " / ".join(lines[-3:])
        if len(tail) > STDERR_TAIL:
            tail = "…" + tail[-STDERR_TAIL:]
        return f"; its last output: {tail}" if tail else ""


# -- helpers -----------------------------------------------------------------------------


async def _call_tool(client: Client, tool: str, args: dict[str, Any],
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


@asynccontextmanager
async def _watched(inner: Transport, on_close: Callable[[], None]
                   ) -> AsyncIterator[TransportStreams]:
    """``inner``, calling ``on_close`` when the server's side of it ends (EOF)."""
    async with inner as (read, write):
        yield _WatchedReadStream(read, on_close), write


class _WatchedReadStream:
    """A transport's read stream that reports its end (the server died or hung up)."""

    def __init__(self, inner: ReadStream[SessionMessage | Exception],
                 on_close: Callable[[], None]) -> None:
        self._inner = inner
        self._on_close = on_close

    async def receive(self) -> SessionMessage | Exception:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._on_close()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _WatchedReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _WatchedReadStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:
        # e.g. ``last_context``, which the SDK's dispatcher reads when the stream has it.
        return getattr(self._inner, name)


def resolve_env(env: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """``env`` with each ``${NAME}`` replaced by ``environ[NAME]``.

    Raises :class:`McpError` naming the variable (never a value) when one is unset.
    """
    def value(name: str, text: str) -> str:
        def sub(match: re.Match[str]) -> str:
            ref = match.group(1)
            if ref not in environ:
                raise McpError(f"env {name} refers to ${{{ref}}}, which is not set")
            return environ[ref]
        return _ENV_REFERENCE.sub(sub, text)

    return {name: value(name, text) for name, text in env.items()}


def describe_exception(exc: BaseException) -> str:
    """The innermost cause in one line (exception groups unwrapped)."""
    from mcp import MCPError
    from mcp_types import CONNECTION_CLOSED

    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, McpError):
        return str(exc)
    if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
        return "the server closed the connection"
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"cannot run {exc.filename!r}: no such file or directory"
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename!r}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = str(exc).strip().splitlines()
    name = type(exc).__name__
    return f"{name}: {text[0]}" if text else name


def result_text(result: CallToolResult) -> str:
    """The text a model reads from a tool's result: text blocks, other blocks described."""
    parts: list[str] = []
    for block in result.content:
        if block.type == "text":
            parts.append(block.text)
        elif block.type in ("image", "audio"):
            parts.append(f"[{block.type} {block.mime_type}, {len(block.data) * 3 // 4:,} bytes]")
        elif block.type == "resource_link":
            parts.append(f"[resource link: {block.uri}]")
        elif block.type == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            parts.append(text if isinstance(text, str) else
                         f"[resource {resource.uri} ({resource.mime_type or 'binary'})]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


# -- schemas -----------------------------------------------------------------------------

#: Keywords dropped from a server's schema: metadata providers reject or do not need.
_DROPPED = frozenset({"$schema", "$id", "$comment", "$defs", "definitions", "title",
                      "examples"})
_REF_DEPTH = 8


def plain_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A tool's JSON schema in the plain form every provider accepts.

    Local ``$ref`` s are inlined (a recursive one, past a few levels, becomes ``{}``);
    titles, ``$schema``, ``$defs`` and examples dropped; an optional value's
    ``anyOf [X, null]`` becomes X. The root is always an object with ``properties``.
    """
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    out = _plain_node(schema, defs, 0)
    out["type"] = "object"
    out.setdefault("properties", {})
    return out


def _plain_node(node: Any, defs: Mapping[str, Any], depth: int) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1]) if ref.startswith("#/") else None
        if target is None or depth >= _REF_DEPTH:
            return {}
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _plain_node(merged, defs, depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {name: _plain_node(sub, defs, depth) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, Mapping):
            out[key] = _plain_node(value, defs, depth)
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
            branches = [_plain_node(b, defs, depth) for b in value
                        if not (isinstance(b, Mapping) and b.get("type") == "null")]
            if key != "allOf" and len(branches) == 1:
                out.update({k: v for k, v in branches[0].items() if k not in out})
            elif branches:
                out[key] = branches
        else:
            out[key] = value
    if "default" in out and out["default"] is None:
        del out["default"]
    return out
