"""Acceptance: the real window, the demo provider and the real local socket, end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.model.domain import Tier
from mma_qt.core.model.prompts import sample_epic
from mma_qt.hooks.client import ApiHookClient
from mma_qt.wiring import AppParts

from .helpers import (
    FINAL,
    AppProcess,
    app_env,
    assert_quiet,
    run_off_gui_thread,
    slow_first_ticket,
    worker_threads,
)


def assert_complete_run(status: dict[str, Any]) -> None:
    """The facts acceptance 1 and 2 ask for, checked on a get_mma_status answer."""
    assert status["status"] == "done", status["error"]
    tickets = status["tickets"]
    assert len(tickets) >= 5
    streams = status["mma_streams"]
    for ticket in tickets:
        assert ticket["status"] == "completed"
        text = streams[f"Tier 3 (Worker): {ticket['id']}"]
        assert ticket["id"] in text and len(text) > 200
    tier3 = status["tier_usage"]["Tier 3"]
    assert tier3["input"] > 0 and tier3["output"] > 0
    assert tier3["input"] == sum(t["usage"]["input"] for t in tickets)
    assert tier3["output"] == sum(t["usage"]["output"] for t in tickets)
    assert streams["Tier 1"] and streams["Tier 2 (Tech Lead)"]


@pytest.mark.ui
def test_epic_through_the_hook_reaches_every_stream(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    address = demo_app.hook.path

    def script() -> tuple[dict[str, Any], dict[str, Any]]:
        with ApiHookClient(address) as client:
            pong = client.ping()
            client.start_epic(sample_epic(), workspace=str(tmp_path))
            status = client.wait_for(lambda s: s["status"] in FINAL, 60, types=["status"])
            return pong, status

    pong, status = run_off_gui_thread(qtbot, script)
    assert pong["pong"] is True and pong["protocol"] == 1
    assert status["provider"] == "demo (offline)"
    assert status["workspace"] == str(tmp_path.resolve())
    assert_complete_run(status)
    # The window shows the same: every ticket row, totals in the status bar.
    model = demo_app.window.model
    assert model.stream_rows(Tier.WORKER) == len(status["tickets"])
    assert str(status["tier_usage"]["Tier 3"]["output"]) in model.index(2, 4).data()
    assert "done" in demo_app.window.status_label.text()


def _mma_qt_command() -> list[str]:
    script = Path(sys.executable).with_name("mma-qt")
    if script.exists():
        return [str(script)]
    found = shutil.which("mma-qt")
    return [found] if found else [sys.executable, "-m", "mma_qt"]


def test_command_line_run_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "out.json"
    result = subprocess.run(
        [*_mma_qt_command(), "--provider", "demo", "--demo-delay", "0",
         "--epic", sample_epic(), "--workspace", str(tmp_path), "--auto",
         "--exit-when-done", "--report", str(report)],
        capture_output=True, text=True, timeout=120, env=app_env(tmp_path), check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "mma-qt: hook listening on " in result.stderr
    assert_quiet(result.stderr)
    assert_complete_run(json.loads(report.read_text(encoding="utf-8")))
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.ui
def test_closing_the_window_mid_run_exits_promptly(tmp_path: Path) -> None:
    """Acceptance 6: closing the window during a run exits within 2 s, quietly.

    The app runs on the tests' Qt platform (conftest sets it): a real window under xcb.
    """
    env = {**app_env(tmp_path), "QT_QPA_PLATFORM": os.environ["QT_QPA_PLATFORM"]}
    app = AppProcess(
        ["--provider", "demo", "--demo-delay", "0", "--scenario", str(slow_first_ticket(tmp_path)),
         "--epic", sample_epic(), "--workspace", str(tmp_path), "--auto"],
        env, tmp_path,
    )
    try:
        app.expect("hook listening on")
        with ApiHookClient(app.hook) as client:
            client.wait_for(
                lambda s: any(t["status"] == "in_progress" for t in s["tickets"]),
                60, types=["ticket"],
            )
            client.click("close")
        closed_at = time.monotonic()
        returncode, stderr = app.finish(timeout=10)
        assert time.monotonic() - closed_at < 2.0
    finally:
        app.kill()
    assert returncode == 0, stderr
    assert_quiet(stderr)


@pytest.mark.ui
@pytest.mark.parametrize("demo_app", [0.05], indirect=True)
def test_closing_the_window_stops_every_worker_thread(
    demo_app: AppParts, qtbot: Any, tmp_path: Path
) -> None:
    demo_app.window.start(sample_epic(), str(tmp_path))
    qtbot.waitUntil(
        lambda: any(t.status == "in_progress" for t in demo_app.session.tickets.values()),
        timeout=30_000,
    )
    assert worker_threads()
    with qtbot.waitSignal(demo_app.window.closed, timeout=2000):
        demo_app.window.close()
    assert worker_threads() == []
    qtbot.waitUntil(lambda: demo_app.session.status == "cancelled", timeout=2000)
    assert not demo_app.controller.busy
    # The run ended in order: no ticket is left "in progress" by a cancelled task.
    assert all(t.status.is_final for t in demo_app.session.tickets.values())
