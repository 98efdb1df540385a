"""The user's MCP servers as tools: config, start, calls, failures, stop. All offline.

The servers are ``mcp_echo_server.py`` (written with the SDK's ``MCPServer``, mcp 2's
FastMCP), run over stdio or over streamable HTTP on loopback.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.status import McpServerState
from mma_qt.core.settings.config import Config, ConfigError, read_config, save_config
from mma_qt.core.settings.mcp_config import McpServerConfig
from mma_qt.core.tools import Sandbox, ToolRegistry
from mma_qt.core.tools.mcp import McpServers, McpTool, plain_schema, resolve_env

from .mcp_helpers import echo_server, free_port, http_echo_server, process_alive, wait_until

LOGGER = "mma_qt.core.tools.mcp"


def servers_of(**tables: dict[str, Any]) -> McpServers:
    """An McpServers for ``[mcp.servers.NAME]`` tables, validated as the config file is."""
    config = Config.model_validate({"mcp": {"servers": tables}})
    return McpServers(config.mcp.servers)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every warning or worse, from any logger (the SDK's included)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture(scope="module")
def echo() -> Iterator[McpServers]:
    """One stdio echo server for the tests that only call it; echo and add auto-approved."""
    servers = servers_of(echo=echo_server(auto_approve=["echo", "add"],
                                          env={"MCP_TEST_GREETING": "hello "}))
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def registry(tmp_path: Path) -> ToolRegistry:
    return ToolRegistry(Sandbox(tmp_path))


# -- calls -------------------------------------------------------------------------------


def test_stdio_server_tool_is_registered_and_called_through_the_registry(
        echo: McpServers, registry: ToolRegistry) -> None:
    echo.register(registry)
    assert {"echo__echo", "echo__add", "echo__fail", "echo__hang"} <= set(registry.names())

    result = registry.run("echo__echo", {"text": "world"})
    assert result.ok, result.text
    assert result.text == "hello world"  # MCP_TEST_GREETING came from the server's env
    assert registry.run("echo__add", '{"a": 2, "b": 3}').text == "5"


def test_registered_schema_is_the_servers_own_in_plain_form(
        echo: McpServers, registry: ToolRegistry) -> None:
    echo.register(registry)
    spec = registry.spec("echo__add")
    assert spec is not None
    assert spec.parameters == {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    }
    assert spec.description == "Add two integers."


def test_status_lists_a_running_server_and_its_tools(echo: McpServers) -> None:
    [status] = echo.status()
    assert status.name == "echo"
    assert status.state == McpServerState.RUNNING
    assert status.transport == "stdio"
    assert "mcp_echo_server.py" in status.target
    assert [t.name for t in status.tools] == ["echo__echo", "echo__add", "echo__fail",
                                              "echo__hang"]
    assert status.line().endswith(": running, 4 tools")


def test_auto_approve_marks_exactly_the_listed_tools_as_not_needing_approval(
        echo: McpServers, registry: ToolRegistry) -> None:
    echo.register(registry)
    tools = {tool.spec.name: tool for tool in echo.tools()}
    assert {name for name, tool in tools.items() if not tool.needs_approval} == {
        "echo__echo", "echo__add"}
    # The gate asks for the others, as for any mutating tool.
    assert not registry.is_mutating("echo__echo")
    assert registry.is_mutating("echo__fail")
    assert registry.is_mutating("echo__hang")
    assert {t.name for t in echo.status()[0].tools if t.needs_approval} == {
        "echo__fail", "echo__hang"}


def test_mcp_tool_preview_shows_its_arguments_as_pretty_json(
        echo: McpServers, registry: ToolRegistry) -> None:
    echo.register(registry)
    change = registry.preview("echo__fail", {"reason": "because", "extra": [1, 2]})
    assert change.tool == "echo__fail"
    assert change.note == '{\n  "extra": [\n    1,\n    2\n  ],\n  "reason": "because"\n}'
    assert change.diff == "" and change.command is None
    assert registry.describe("echo__fail", {"reason": "x"}) == 'echo__fail {"reason":"x"}'


def test_tool_error_reported_by_the_server_is_an_error_result(
        echo: McpServers, registry: ToolRegistry) -> None:
    echo.register(registry)
    result = registry.run("echo__fail", {"reason": "no such issue"})
    assert not result.ok
    assert result.text.startswith("error: MCP server 'echo': tool 'fail' reported an error\n")
    assert "no such issue" in result.text


def test_bad_arguments_come_back_as_an_error_result(
        echo: McpServers, registry: ToolRegistry) -> None:
    echo.register(registry)
    result = registry.run("echo__add", {"a": "two"})
    assert not result.ok
    assert result.text.startswith("error: MCP server 'echo'")


def test_hanging_tool_call_times_out_with_an_error_result(
        echo: McpServers, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    result = echo.call("echo__hang", {}, timeout=1)
    assert not result.ok
    assert result.text == "error: MCP server 'echo' did not answer 'hang' within 1 s"
    assert warnings_of(caplog) == ["MCP server 'echo' did not answer 'hang' within 1 s"]
    # The server itself still answers.
    assert echo.call("echo__echo", {"text": "again"}).text == "hello again"


def test_cancelled_token_abandons_a_running_call(echo: McpServers) -> None:
    cancel = CancelToken()
    results = []
    caller = threading.Thread(
        target=lambda: results.append(echo.call("echo__hang", {}, timeout=600, cancel=cancel)))
    caller.start()
    cancel.cancel("stop")
    caller.join(30)
    assert not caller.is_alive()
    assert not results[0].ok
    assert "cancelled" in results[0].text


def test_tool_output_is_bounded_by_the_registrys_limit(echo: McpServers) -> None:
    result = echo.call("echo__echo", {"text": "x" * 500}, output_limit=100)
    assert result.ok and result.truncated
    assert "[output cut: showing" in result.text


def test_streamable_http_server_tool_is_called_over_loopback(registry: ToolRegistry) -> None:
    with http_echo_server() as url:
        servers = servers_of(web=dict(url=url))
        with servers:
            [status] = servers.status()
            assert status.state == McpServerState.RUNNING, status.reason
            assert status.transport == "http" and status.target == url
            servers.register(registry)
            result = registry.run("web__add", {"a": 40, "b": 2})
            assert result.ok and result.text == "42"
            assert registry.is_mutating("web__add")  # no auto_approve: it asks


# -- failures ----------------------------------------------------------------------------


def test_http_server_that_is_not_listening_fails_to_start(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    url = f"http://127.0.0.1:{free_port()}/mcp"
    with servers_of(nobody={"url": url, "timeout_s": 30}) as servers:
        [status] = servers.status()
    assert status.state == McpServerState.FAILED
    assert status.reason.startswith("failed to start: ConnectError")
    assert warnings_of(caplog) == [f"MCP server 'nobody' {status.reason}"]


def test_server_that_exits_at_start_up_fails_with_one_log_line(
        registry: ToolRegistry, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    crash = [sys.executable, "-c",
             "import sys; sys.stderr.write('boom: no config found\\n'); sys.exit(3)"]
    servers = servers_of(broken={"command": crash}, echo=echo_server())
    with servers:
        broken, echo = servers.status()
        assert broken.state == McpServerState.FAILED
        assert broken.reason == ("failed to start: the server closed the connection; "
                                 "its last output: boom: no config found")
        assert broken.tools == ()
        assert echo.state == McpServerState.RUNNING  # the other server is not affected
        servers.register(registry)
        assert not [name for name in registry.names() if name.startswith("broken__")]
        assert registry.run("echo__echo", {"text": "ok"}).ok
    assert warnings_of(caplog) == [f"MCP server 'broken' {broken.reason}"]


def test_server_whose_program_is_missing_fails_with_the_reason(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with servers_of(ghost={"command": ["/nonexistent/mcp-server"]}) as servers:
        [status] = servers.status()
    assert status.state == McpServerState.FAILED
    assert status.reason == ("failed to start: cannot run '/nonexistent/mcp-server': "
                             "no such file or directory")
    assert len(warnings_of(caplog)) == 1


def test_server_that_never_answers_fails_to_start_within_its_timeout(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    silent = [sys.executable, "-c", "import time; time.sleep(600)"]
    with servers_of(mute={"command": silent, "timeout_s": 1}) as servers:
        [status] = servers.status()
        assert status.state == McpServerState.FAILED
        assert status.reason == "failed to start: no answer within 1 s"
    assert servers.status()[0].state == McpServerState.FAILED
    assert warnings_of(caplog) == ["MCP server 'mute' failed to start: no answer within 1 s"]


def test_server_that_dies_mid_run_is_one_log_line_and_a_tool_error(
        tmp_path: Path, registry: ToolRegistry, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    pid_file = tmp_path / "pids"
    with servers_of(echo=echo_server(env={"MCP_TEST_PID_FILE": str(pid_file)})) as servers:
        servers.register(registry)
        assert registry.run("echo__echo", {"text": "alive"}).ok
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        wait_until(lambda: servers.status()[0].state == McpServerState.FAILED)
        result = registry.run("echo__echo", {"text": "anyone?"})
        assert not result.ok
        assert result.text == ("error: MCP server 'echo' is not available: "
                               "stopped: the server closed the connection")
    assert warnings_of(caplog) == ["MCP server 'echo' stopped: the server closed the connection"]


def test_stop_kills_a_stdio_server_that_ignores_stdin_close(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    servers = servers_of(stubborn=echo_server("--stubborn",
                                              env={"MCP_TEST_PID_FILE": str(pid_file)}))
    servers.start()
    assert servers.status()[0].state == McpServerState.RUNNING
    pids = [int(pid) for pid in pid_file.read_text().split()]
    assert len(pids) == 2 and all(process_alive(pid) for pid in pids)  # server and child
    servers.stop()
    assert servers.status()[0].state == McpServerState.STOPPED
    assert not [pid for pid in pids if process_alive(pid)]


def test_stop_before_start_means_nothing_starts(registry: ToolRegistry) -> None:
    # A run cancelled while its servers were about to start.
    def loops() -> int:
        return sum(t.name == "mcp-servers" for t in threading.enumerate())

    before = loops()
    servers = servers_of(echo=echo_server())
    servers.stop()
    servers.stop()  # idempotent
    assert [s.state for s in servers.start()] == [McpServerState.STOPPED]
    servers.register(registry)
    assert "echo__echo" not in registry.names()
    assert loops() == before


def test_servers_start_only_once(echo: McpServers) -> None:
    with pytest.raises(RuntimeError, match="starts once"):
        echo.start()


def test_no_servers_configured_starts_nothing(registry: ToolRegistry) -> None:
    servers = McpServers({})
    assert servers.start() == []
    servers.register(registry)
    assert not [name for name in registry.names() if "__" in name]
    servers.stop()


# -- secrets -----------------------------------------------------------------------------


def test_env_reference_takes_the_apps_variable(
        monkeypatch: pytest.MonkeyPatch, registry: ToolRegistry) -> None:
    monkeypatch.setenv("MMA_TEST_GREETING", "hi from the app, ")
    with servers_of(echo=echo_server(env={"MCP_TEST_GREETING": "${MMA_TEST_GREETING}"})) as s:
        s.register(registry)
        assert registry.run("echo__echo", {"text": "x"}).text == "hi from the app, x"


def test_env_reference_to_an_unset_variable_fails_naming_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMA_TEST_UNSET", raising=False)
    with servers_of(echo=echo_server(env={"TOKEN": "${MMA_TEST_UNSET}"})) as servers:
        [status] = servers.status()
    assert status.state == McpServerState.FAILED
    assert status.reason == ("failed to start: env TOKEN refers to ${MMA_TEST_UNSET}, "
                             "which is not set")


def test_servers_secrets_never_reach_the_log_or_the_status(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    leak = [sys.executable, "-c",
            "import os, sys; sys.stderr.write('bad token ' + os.environ['API_TOKEN']); "
            "sys.exit(1)"]
    with servers_of(leaky={"command": leak, "env": {"API_TOKEN": "s3cr3t-value"}}) as servers:
        [status] = servers.status()
    assert status.state == McpServerState.FAILED
    assert status.reason.endswith("its last output: bad token ***")
    assert "s3cr3t-value" not in caplog.text


def test_resolve_env_replaces_references_and_keeps_the_rest() -> None:
    assert resolve_env({"A": "${X}/bin:${Y}", "B": "plain $X"}, {"X": "/opt", "Y": "2"}) == {
        "A": "/opt/bin:2", "B": "plain $X"}


# -- config ------------------------------------------------------------------------------


def test_mcp_config_round_trips_through_the_file(tmp_path: Path) -> None:
    config = Config.model_validate({"mcp": {"servers": {
        "github": {"command": ["npx", "-y", "server-github"],
                   "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}", "API_KEY": "abc"},
                   "cwd": str(tmp_path), "auto_approve": ["search_issues"]},
        "docs": {"url": "http://127.0.0.1:8765/mcp", "timeout_s": 30},
    }}})
    path = save_config(config, tmp_path / "config.toml")
    loaded, warnings = read_config(path)
    assert loaded == config
    assert warnings == []  # the env's token-named variables are the server's, not dropped
    github = loaded.mcp.servers["github"]
    assert github.env == {"GITHUB_TOKEN": "${GITHUB_TOKEN}", "API_KEY": "abc"}
    assert github.timeout_s == 60.0
    assert loaded.mcp.servers["docs"].command is None


def test_mcp_server_env_is_hidden_from_repr_and_validation_errors() -> None:
    server = McpServerConfig(command=["srv"], env={"TOKEN": "s3cr3t-value"})
    assert "s3cr3t-value" not in repr(server)
    assert "s3cr3t-value" not in repr(Config.model_validate(
        {"mcp": {"servers": {"x": {"command": ["srv"], "env": {"TOKEN": "s3cr3t-value"}}}}}))
    with pytest.raises(ValidationError) as caught:
        McpServerConfig(command=["srv"], url="http://h/mcp", env={"TOKEN": "s3cr3t-value"})
    assert "s3cr3t-value" not in str(caught.value)


@pytest.mark.parametrize(("table", "message"), [
    ('command = ["srv"]\nurl = "http://h/mcp"', "give either command"),
    ("auto_approve = []", "give either command"),
    ('url = "ftp://h"', "must be an http:// or https:// URL"),
    ('command = [""]', "the first item must be the program"),
    ('command = []', "mcp.servers.srv.command"),
    ('command = ["srv"]\nargs = ["x"]', "mcp.servers.srv.args: unknown key"),
    ('url = "http://h/mcp"\ncwd = "/tmp"', "env and cwd apply only"),
    ('command = ["srv"]\ntimeout_s = 0', "mcp.servers.srv.timeout_s"),
])
def test_bad_mcp_server_tables_are_refused(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[mcp.servers.srv]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        read_config(path)


@pytest.mark.parametrize("name", ["a__b", "_a", "a_", "9lives", "a.b", "x" * 33])
def test_mcp_server_names_must_make_safe_tool_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValidationError, match="MCP server name"):
        Config.model_validate({"mcp": {"servers": {name: {"command": ["srv"]}}}})


def test_safe_mcp_server_names_are_accepted() -> None:
    config = Config.model_validate({"mcp": {"servers": {
        name: {"command": ["srv"]} for name in ("github", "my-docs", "a_b_c", "X1")}}})
    assert list(config.mcp.servers) == ["github", "my-docs", "a_b_c", "X1"]


# -- schemas -----------------------------------------------------------------------------


def test_plain_schema_inlines_refs_and_drops_titles_and_null_branches() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "createArguments",
        "type": "object",
        "$defs": {"Label": {"title": "Label", "type": "object",
                            "properties": {"title": {"title": "Title", "type": "string"}}}},
        "properties": {
            "labels": {"title": "Labels", "type": "array", "items": {"$ref": "#/$defs/Label"}},
            "body": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None,
                     "title": "Body"},
            "node": {"$ref": "#/$defs/Missing"},
        },
        "required": ["labels"],
    }
    assert plain_schema(schema) == {
        "type": "object",
        "properties": {
            "labels": {"type": "array", "items": {
                "type": "object", "properties": {"title": {"type": "string"}}}},
            "body": {"type": "string"},
            "node": {},
        },
        "required": ["labels"],
    }


def test_plain_schema_gives_an_object_root_to_an_empty_schema() -> None:
    assert plain_schema({}) == {"type": "object", "properties": {}}


def test_plain_schema_cuts_a_recursive_ref() -> None:
    schema = {"type": "object", "properties": {"tree": {"$ref": "#/$defs/Node"}},
              "$defs": {"Node": {"type": "object",
                                 "properties": {"child": {"$ref": "#/$defs/Node"}}}}}
    deep = plain_schema(schema)["properties"]["tree"]
    depth = 0
    while deep:
        deep = deep["properties"]["child"]
        depth += 1
    assert 1 < depth < 20


def test_mcp_tools_are_tools(echo: McpServers) -> None:
    assert all(isinstance(tool, McpTool) for tool in echo.tools())
