"""Tool calls over the hook: approvals with a diff, an edit, a rejection's reason, the
calls and changes of a ticket, the tool policy, and the merge of a track."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.model.domain import Tier
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.tools.claims import unified_diff
from mma_qt.hooks.client import ApiHookClient
from mma_qt.hooks.protocol import INVALID_PARAMS, RpcError
from mma_qt.ui.hook_api import REFUSED
from mma_qt.wiring import AppParts, assemble

from .conftest import close_app
from .helpers import FINAL, run_off_gui_thread, short_socket_path
from .scripted import (
    CALC,
    EDITED,
    EPIC,
    PlannedTicket,
    ScriptedFactory,
    call,
    edit_calc,
    git_workspace,
    plain_workspace,
    results_of,
    rounds,
)

OWN = "def add(a, b):\n    return b + a  # mine\n"
T = 60.0

pytestmark = pytest.mark.ui  # the real window


@pytest.fixture
def app_for(qtbot: Any, qloop: Any) -> Iterator[Any]:
    """The real window, controller and hook on a scripted provider, nothing auto-approved."""
    made: list[AppParts] = []

    def make(factory: ScriptedFactory) -> AppParts:
        parts = assemble(factory, PricingTable.load(), RunOptions(), auto=False,
                         hook_address=short_socket_path())
        made.append(parts)
        return parts

    yield make
    for parts in made:
        close_app(parts, qtbot)


def waiting(client: ApiHookClient, key: str) -> dict[str, Any]:
    """The pending approval ``key``, once it is pending."""
    status = client.wait_for(lambda s: any(a["key"] == key for a in s["approvals"]), T,
                             types=["approval"])
    return next(a for a in status["approvals"] if a["key"] == key)


def test_a_tool_call_is_approved_with_an_edit_and_the_track_merged_over_the_hook(
        qtbot: Any, app_for: Any, tmp_path: Path) -> None:
    git_ws = git_workspace(tmp_path / "project")
    factory = ScriptedFactory(
        {"T-001": rounds([call("read_file", path="calc.py")], [edit_calc()], "Swapped.")},
        [PlannedTicket("T-001", ["calc.py"])])
    parts = app_for(factory)

    def script() -> dict[str, Any]:
        out: dict[str, Any] = {}
        with ApiHookClient(parts.hook.path) as client:
            out["policy"] = client.call("set_tool_policy", {"policy": "ask"})
            client.start_epic(EPIC, workspace=str(git_ws), auto=False)
            client.approve(waiting(client, "T-001:spawn")["key"])
            out["item"] = waiting(client, "T-001:tool:2")
            out["approved"] = client.call("approve", {"key": "T-001:tool:2",
                                                      "edited": "b + a  # mine"})
            out["status"] = client.wait_for(lambda s: s["status"] in FINAL, T,
                                            types=["status"])
            out["calls"] = client.call("get_tool_calls", {"ticket_id": "T-001"})
            out["changes"] = client.call("get_changes", {"ticket_id": "T-001"})
            with ApiHookClient(parts.hook.path) as watcher:
                watcher.subscribe(["merge"])
                out["merging"] = client.call("merge_track", {"track_id": "TR-1"})
                out["merged"] = watcher.next_event(T)
        return out

    out = run_off_gui_thread(qtbot, script)
    assert out["policy"] == {"policy": "ask"}
    item = out["item"]
    assert (item["kind"], item["tool"], item["path"]) == ("tool", "apply_edit", "calc.py")
    assert item["diff"] == unified_diff("calc.py", CALC, EDITED)
    assert out["approved"] == {"key": "T-001:tool:2", "approved": True}
    assert out["status"]["status"] == "done" and out["status"]["tool_policy"] == "ask"
    assert [(c["name"], c["decision"], c["edited"]) for c in out["calls"]] == [
        ("read_file", "read_only", False), ("apply_edit", "approved", True)]
    assert out["changes"] == [{"path": "calc.py", "status": "modified",
                               "diff": unified_diff("calc.py", CALC, OWN)}]
    assert (git_ws / "calc.py").read_text(encoding="utf-8") == OWN  # merged
    assert out["merging"] == {"merging": True, "track_id": "TR-1"}
    assert {k: out["merged"][k] for k in ("type", "state", "track_id", "into")} == {
        "type": "merge", "state": "merged", "track_id": "TR-1", "into": "main"}


def test_a_rejection_reason_sent_over_the_hook_reaches_the_model(
        qtbot: Any, app_for: Any, tmp_path: Path) -> None:
    workspace = plain_workspace(tmp_path / "plain")
    factory = ScriptedFactory({"T-001": rounds([edit_calc()], "Left it.")})
    parts = app_for(factory)  # tool policy: ask, from the default options

    def script() -> dict[str, Any]:
        with ApiHookClient(parts.hook.path) as client:
            client.start_epic(EPIC, workspace=str(workspace), auto=False)
            client.approve(waiting(client, "T-001:spawn")["key"])
            waiting(client, "T-001:tool:1")
            answer = client.call("reject", {"key": "T-001:tool:1", "reason": "not today"})
            client.wait_for(lambda s: s["status"] in FINAL, T, types=["status"])
            return answer

    assert run_off_gui_thread(qtbot, script) == {"key": "T-001:tool:1", "approved": False}
    assert (workspace / "calc.py").read_text(encoding="utf-8") == CALC
    second = factory.of(Tier.WORKER, "T-001")[1]
    assert results_of(second) == ["error: rejected by the user: not today"]


@pytest.mark.parametrize(("method", "params", "code", "message"), [
    ("set_tool_policy", {"policy": "yolo"}, INVALID_PARAMS, "one of: ask, auto-edits, auto"),
    ("approve", {"all": True, "edited": "x"}, INVALID_PARAMS, '"edited" goes with one "key"'),
    ("get_tool_calls", {}, INVALID_PARAMS, "ticket_id"),
    ("get_changes", {"ticket_id": "T-404"}, REFUSED, "no ticket 'T-404'"),
    ("merge_track", {"track_id": "TR-1"}, REFUSED, "no planned track 'TR-1'"),
], ids=["policy", "edited-all", "no-ticket-id", "unknown-ticket", "unknown-track"])
def test_tool_methods_refuse_bad_calls_naming_the_problem(
        app_for: Any, method: str, params: dict[str, Any], code: int, message: str) -> None:
    api = app_for(ScriptedFactory({})).api
    with pytest.raises(RpcError) as caught:
        api.call(method, params)
    assert caught.value.code == code and message in str(caught.value)
