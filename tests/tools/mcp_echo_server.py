"""A small MCP server for the MCP tests, written with the SDK's ``MCPServer`` (mcp 2's FastMCP).

Tools: ``echo(text)``, ``add(a, b)``, ``fail(reason)`` (a tool error), ``hang()`` (never
answers). Run as::

    python mcp_echo_server.py                       # stdio
    python mcp_echo_server.py --http PORT           # streamable HTTP on 127.0.0.1:PORT
    python mcp_echo_server.py --stubborn            # stdio; ignores stdin closing

If ``MCP_TEST_PID_FILE`` is set, the server writes its pid there (and, when stubborn, the
pid of a child it leaves running in its process group), one per line, before serving.
``MCP_TEST_GREETING`` (from the server's ``env`` in the config) prefixes ``echo``'s answer.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("echo-test")


@server.tool(description="Say the text back.")
def echo(text: str) -> str:
    return os.environ.get("MCP_TEST_GREETING", "") + text


@server.tool(description="Add two integers.")
def add(a: int, b: int) -> int:
    return a + b


@server.tool(description="Always fails with the reason given.")
def fail(reason: str) -> str:
    raise ToolError(reason)


@server.tool(description="Never answers.")
async def hang() -> str:
    await anyio.sleep_forever()
    return "unreachable"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, metavar="PORT")
    parser.add_argument("--stubborn", action="store_true")
    options = parser.parse_args()
    pids = [os.getpid()]
    if options.stubborn:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        pids.append(child.pid)
    pid_file = os.environ.get("MCP_TEST_PID_FILE")
    if pid_file:
        with open(pid_file, "w", encoding="utf-8") as handle:
            handle.write("".join(f"{pid}\n" for pid in pids))
    if options.http is not None:
        server.run("streamable-http", host="127.0.0.1", port=options.http)
    else:
        server.run("stdio")
    if options.stubborn:
        # stdin closed and the session ended: a well-behaved server exits here.
        while True:
            time.sleep(60)


if __name__ == "__main__":
    main()
