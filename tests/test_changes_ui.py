"""The window's side of tool calls: the Changes dock, Merge track and the tool policy
selector, on scripted runs in a temporary git repository."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.model.status import ToolPolicy
from mma_qt.core.settings.mcp_config import McpServerConfig
from mma_qt.hooks import cli
from mma_qt.hooks.client import ApiHookClient
from mma_qt.ui.changes_panel import split_diff
from mma_qt.ui.mcp_page import NOT_STARTED, McpServersPage
from mma_qt.ui.settings_dialog import SettingsDialog
from mma_qt.wiring import AppParts

from .helpers import run_off_gui_thread
from .scripted import (
    CALC,
    EDITED,
    EPIC,
    PlannedTicket,
    ScriptedFactory,
    call,
    edit_calc,
    git_workspace,
    rounds,
)
from .test_tool_hook import app_for  # noqa: F401  (the fixture ``app`` uses)

pytestmark = pytest.mark.ui

T_MS = 60_000


def edit_factory() -> ScriptedFactory:
    """One ticket that reads calc.py, edits it and adds notes.md."""
    return ScriptedFactory(
        {"T-001": rounds([call("read_file", path="calc.py")],
                         [edit_calc(), call("write_file", path="notes.md", content="hi\n")],
                         "Done.")},
        [PlannedTicket("T-001", ["calc.py", "notes.md"])])


@pytest.fixture
def app(request: pytest.FixtureRequest) -> Callable[..., AppParts]:
    """The real window, controller and hook (``app_for``'s); ``auto`` ticks Auto-approve
    spawns."""
    make_app = request.getfixturevalue("app_for")

    def make(factory: ScriptedFactory, *, auto: bool) -> AppParts:
        parts: AppParts = make_app(factory)
        parts.window.set_auto(auto)
        return parts

    return make


def wait_pending(qtbot: Any, parts: AppParts, key: str) -> None:
    qtbot.waitUntil(lambda: any(a["key"] == key for a in parts.controller.pending_approvals()),
                    timeout=T_MS)


@pytest.fixture
def git_ws(tmp_path: Path) -> Path:
    return git_workspace(tmp_path / "project")


def run_to_the_end(qtbot: Any, parts: AppParts, workspace: Path) -> None:
    parts.window.start(EPIC, str(workspace))
    qtbot.waitUntil(lambda: parts.session.status.is_final, timeout=T_MS)
    assert str(parts.session.status) == "done", parts.session.error


def test_selecting_a_ticket_shows_the_files_it_changed_and_their_diff(
        qtbot: Any, app: Any, git_ws: Path) -> None:
    parts = app(edit_factory(), auto=True)
    run_to_the_end(qtbot, parts, git_ws)
    changes = parts.window.changes
    parts.window.select("T-001")
    assert changes.target == ("ticket", "T-001")
    assert changes.paths() == [("modified", "calc.py"), ("added", "notes.md")]
    assert "-    return a + b\n+    return b + a" in changes.diff_view.toPlainText()
    changes.files.setCurrentItem(changes.files.topLevelItem(1))
    assert "+hi" in changes.diff_view.toPlainText()


def test_the_changes_dock_shows_the_track_branch_diff_when_no_ticket_is_selected(
        qtbot: Any, app: Any, git_ws: Path) -> None:
    parts = app(edit_factory(), auto=True)
    run_to_the_end(qtbot, parts, git_ws)
    changes = parts.window.changes
    parts.window.select("T-001")
    parts.window.select("Tier 1")  # a tier row: no ticket, no track → the active track
    assert changes.target == ("track", "TR-1")
    qtbot.waitUntil(lambda: changes.heading.text().startswith("Track TR-1"), timeout=T_MS)
    assert changes.paths() == [("modified", "calc.py"), ("added", "notes.md")]
    assert "+    return b + a" in changes.diff_view.toPlainText()


def test_the_changes_dock_follows_a_running_ticket_live(
        qtbot: Any, app: Any, git_ws: Path) -> None:
    parts = app(edit_factory(), auto=False)  # policy ask: the edit waits for us
    parts.window.start(EPIC, str(git_ws))
    controller, changes = parts.controller, parts.window.changes
    wait_pending(qtbot, parts, "T-001:spawn")
    controller.resolve_approval("T-001:spawn", True)
    parts.window.select("T-001")
    assert changes.paths() == []
    wait_pending(qtbot, parts, "T-001:tool:2")
    controller.resolve_approval("T-001:tool:2", True)
    # The dock refreshes on the ticket's ``tool`` events (throttled), without a click.
    qtbot.waitUntil(lambda: changes.paths()[:1] == [("modified", "calc.py")], timeout=T_MS)
    controller.resolve_approval("T-001:tool:3", True)
    qtbot.waitUntil(lambda: parts.session.status.is_final, timeout=T_MS)


def test_merge_track_is_disabled_until_the_track_is_done_then_merges_into_the_checkout(
        qtbot: Any, app: Any, git_ws: Path) -> None:
    parts = app(ScriptedFactory({"T-001": rounds([edit_calc()], "Swapped.")},
                                    [PlannedTicket("T-001", ["calc.py"])]), auto=False)
    window, controller = parts.window, parts.controller
    window.start(EPIC, str(git_ws))
    wait_pending(qtbot, parts, "T-001:spawn")
    assert not window.action_enabled("merge_track")  # planned, not done
    controller.resolve_approval("T-001:spawn", True)
    wait_pending(qtbot, parts, "T-001:tool:1")
    assert not window.action_enabled("merge_track")
    controller.resolve_approval("T-001:tool:1", True)
    qtbot.waitUntil(lambda: parts.session.status.is_final, timeout=T_MS)
    assert (git_ws / "calc.py").read_text(encoding="utf-8") == CALC  # untouched so far
    assert window.action_enabled("merge_track")
    window.trigger_action("merge_track")
    qtbot.waitUntil(lambda: "Merged track TR-1" in window.statusBar().currentMessage(),
                    timeout=T_MS)
    assert (git_ws / "calc.py").read_text(encoding="utf-8") == EDITED
    assert "into main: commit " in window.statusBar().currentMessage()
    assert not window.action_enabled("merge_track")  # merged once


def test_a_refused_merge_shows_its_reason_in_the_status_bar(
        qtbot: Any, app: Any, git_ws: Path) -> None:
    parts = app(ScriptedFactory({"T-001": rounds([edit_calc()], "Swapped.")},
                                    [PlannedTicket("T-001", ["calc.py"])]), auto=True)
    run_to_the_end(qtbot, parts, git_ws)
    (git_ws / "calc.py").write_text("def add(a, b):\n    return 0\n", encoding="utf-8")
    parts.window.trigger_action("merge_track")
    qtbot.waitUntil(lambda: "Merge of track TR-1 refused" in
                    parts.window.statusBar().currentMessage(), timeout=T_MS)
    assert "return 0" in (git_ws / "calc.py").read_text(encoding="utf-8")


def test_merge_track_is_a_hook_click_name(app: Any) -> None:
    parts = app(ScriptedFactory({}), auto=True)
    assert "merge_track" in parts.api.call("describe", {})["actions"]
    assert not parts.window.action_enabled("merge_track")  # nothing planned


def test_the_policy_selector_follows_set_tool_policy_over_the_hook(
        qtbot: Any, app: Any) -> None:
    parts = app(ScriptedFactory({}), auto=False)
    panel = parts.window.epic_panel
    assert panel.policy() == "ask"

    def script() -> Any:
        with ApiHookClient(parts.hook.path) as client:
            client.call("set_tool_policy", {"policy": "auto-edits"})
            return client.get_value("tool_policy")

    run_off_gui_thread(qtbot, script)
    qtbot.waitUntil(lambda: panel.policy() == "auto-edits")
    assert parts.api.call("get_value", {"name": "tool_policy"})["value"] == "auto-edits"


def test_choosing_a_tool_policy_in_the_window_sets_the_controllers(
        qtbot: Any, app: Any) -> None:
    parts = app(ScriptedFactory({}), auto=False)
    combo = parts.window.epic_panel.policy_combo
    with qtbot.waitSignal(parts.session.bus.published,
                          check_params_cb=lambda e: e["type"] == "tool_policy"):
        combo.activated.emit(combo.findData("auto"))
    assert parts.controller.current_tool_policy is ToolPolicy.AUTO
    assert parts.window.epic_panel.auto() is False  # Auto-approve spawns is its own box


def test_split_diff_lists_each_file_with_its_status() -> None:
    diff = ("diff --git a/a.py b/a.py\nindex 1..2 100644\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n"
            "-x\n+y\ndiff --git a/n.md b/n.md\nnew file mode 100644\n--- /dev/null\n"
            "+++ b/n.md\n@@ -0,0 +1 @@\n+hi\ndiff --git a/o.txt b/o.txt\n"
            "deleted file mode 100644\n")
    files = split_diff(diff)
    assert [(f["status"], f["path"]) for f in files] == [
        ("modified", "a.py"), ("added", "n.md"), ("deleted", "o.txt")]
    assert "".join(f["diff"] for f in files) == diff


def test_cli_tool_commands_against_a_live_app(
        qtbot: Any, app: Any, git_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = app(edit_factory(), auto=True)
    run_to_the_end(qtbot, parts, git_ws)

    def hook_cli(*args: str) -> tuple[int, Any]:
        code = run_off_gui_thread(qtbot, lambda: cli.main(["--hook", parts.hook.path, *args]))
        out = capsys.readouterr().out
        return code, json.loads(out) if out else None

    assert hook_cli("policy", "auto-edits") == (0, {"policy": "auto-edits"})
    qtbot.waitUntil(lambda: parts.window.epic_panel.policy() == "auto-edits")
    code, calls = hook_cli("tool-calls", "T-001")
    assert code == 0 and [c["name"] for c in calls] == ["read_file", "apply_edit", "write_file"]
    code, changes = hook_cli("changes", "T-001")
    assert code == 0 and [(c["status"], c["path"]) for c in changes] == [
        ("modified", "calc.py"), ("added", "notes.md")]
    code, merged = hook_cli("merge", "TR-1")
    assert code == 0 and (merged["type"], merged["state"], merged["into"]) == (
        "merge", "merged", "main")
    assert (git_ws / "notes.md").read_text(encoding="utf-8") == "hi\n"


def test_cli_merge_exits_1_when_the_merge_is_refused(
        qtbot: Any, app: Any, git_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = app(edit_factory(), auto=True)
    run_to_the_end(qtbot, parts, git_ws)
    (git_ws / "calc.py").write_text("dirty\n", encoding="utf-8")
    code = run_off_gui_thread(qtbot, lambda: cli.main(["--hook", parts.hook.path,
                                                       "merge", "TR-1"]))
    assert code == 1
    assert "merge refused:" in capsys.readouterr().err
    assert (git_ws / "calc.py").read_text(encoding="utf-8") == "dirty\n"


def open_mcp_page(parts: AppParts) -> McpServersPage:
    parts.window.trigger_action("settings")
    dialog = parts.window.findChild(SettingsDialog)
    assert dialog is not None
    page = dialog.findChild(McpServersPage)
    assert page is not None
    dialog.reject()
    return page


def test_the_mcp_page_lists_configured_servers_as_not_started_before_a_run(
        qtbot: Any, app: Any) -> None:
    parts = app(ScriptedFactory({}), auto=True)
    parts.controller.mcp = {"files": McpServerConfig(command=["uvx", "mcp-files"])}
    assert open_mcp_page(parts).rows() == [("files (stdio: uvx mcp-files)",
                                                  NOT_STARTED)]


def test_the_mcp_page_shows_a_server_that_failed_in_the_last_run(
        qtbot: Any, app: Any, git_ws: Path) -> None:
    parts = app(ScriptedFactory({"T-001": rounds("Nothing to do.")}), auto=True)
    parts.controller.mcp = {"broken": McpServerConfig(
        command=[sys.executable, "-c", "raise SystemExit(3)"], timeout_s=10)}
    run_to_the_end(qtbot, parts, git_ws)
    [(server, state)] = open_mcp_page(parts).rows()
    assert server.startswith("broken (stdio: ") and state.startswith("failed: ")
