"""The user's MCP servers, their tools offered to workers as ``NAME__tool``. Pure, no Qt.

Configured in ``config.toml`` (:class:`~mma_qt.core.settings.mcp_config.McpServerConfig`)::

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

**Modules.** :mod:`.servers`: :class:`McpServers`, the one object the run uses;
:mod:`.connection`: one server's connection, a task on the servers' event loop;
:mod:`.loop`: that event loop's daemon thread; :mod:`.watched`: the transport that reports a
server's end; :mod:`.tool`: :class:`McpTool` and its ``NAME__tool`` name; :mod:`.schema`:
:func:`plain_schema`; :mod:`.env`: :func:`resolve_env` and redaction of the values it gives;
:mod:`.text`: a result's text and an exception's cause; :mod:`.status`: the states the
Settings page shows.
"""

from .connection import LIST_PAGES_MAX, STDERR_TAIL, STOP_BOUND_S
from .env import McpError, resolve_env
from .loop import CALL_GRACE_S
from .schema import plain_schema
from .servers import McpServers
from .status import McpServerStatus, McpToolStatus
from .text import describe_exception, result_text
from .tool import SEPARATOR, McpTool, pretty_json

__all__ = [
    "CALL_GRACE_S",
    "LIST_PAGES_MAX",
    "SEPARATOR",
    "STDERR_TAIL",
    "STOP_BOUND_S",
    "McpError",
    "McpServerStatus",
    "McpServers",
    "McpTool",
    "McpToolStatus",
    "describe_exception",
    "plain_schema",
    "pretty_json",
    "resolve_env",
    "result_text",
]
