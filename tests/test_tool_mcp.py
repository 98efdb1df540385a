"""The user's MCP servers in a run: started with it, their tools through the one gate,
a server that dies at start-up a log line, stopped when the run ends (acceptance 7)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.model.domain import Tier
from mma_qt.core.model.status import McpServerState, RunStatus, ToolDecision, ToolPolicy
from mma_qt.core.settings.config import Config

from .scripted import ScriptedFactory, call, plain_workspace, results_of, rounds
from .test_conductor import RUN_TIMEOUT_MS, finish
from .tools.mcp_helpers import echo_server


def test_an_mcp_tool_is_called_after_approval_and_a_dead_server_only_logs(
        qtbot: Any, start: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    servers = Config.model_validate({"mcp": {"servers": {
        "echo": echo_server(auto_approve=["add"]),
        "dead": {"command": [sys.executable, "-c", "raise SystemExit(3)"], "timeout_s": 30},
    }}}).mcp.servers
    script = rounds([call("echo__add", a=2, b=3)], [call("echo__echo", text="hello")], "Done.")
    factory = ScriptedFactory({"T-001": script})
    runner, task = start(factory, policy=ToolPolicy.ASK, mcp=servers,
                         workspace=str(plain_workspace(tmp_path / "ws")))
    approvals = runner.ctx.approvals
    qtbot.waitUntil(lambda: bool(approvals.pending()), timeout=RUN_TIMEOUT_MS)
    [item] = [a.to_dict() for a in approvals.pending()]
    assert (item["key"], item["tool"]) == ("T-001:tool:2", "echo__echo")
    assert '"text": "hello"' in item["note"]  # the arguments, shown as JSON
    approvals.resolve("T-001:tool:2", True)
    assert finish(qtbot, task) is RunStatus.DONE

    worker = factory.of(Tier.WORKER, "T-001")
    assert {"echo__echo", "echo__add"} <= {t.name for t in worker[0].tools}
    assert results_of(worker[1]) == ["5"] and results_of(worker[2]) == ["hello"]
    decisions = [r.decision for r in runner.session.tickets["T-001"].tool_calls]
    assert decisions == [ToolDecision.READ_ONLY, ToolDecision.APPROVED]  # add: auto_approve
    assert any("MCP server 'dead'" in r.getMessage() for r in caplog.records)
    qtbot.waitUntil(lambda: {s.state for s in runner.mcp.status()} <= {
        McpServerState.STOPPED, McpServerState.FAILED}, timeout=RUN_TIMEOUT_MS)
