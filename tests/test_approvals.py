"""The approval broker on its own: keys, fields, decisions, policies, oldest first."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import shiboken6

from mma_qt.core.live.events import EventBus
from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.context import ContextPart
from mma_qt.core.model.status import ToolPolicy
from mma_qt.core.run.approvals import (
    ApprovalBroker,
    ApprovalError,
    Decision,
    SpawnRequest,
    ToolRequest,
    policy_allows,
)
from mma_qt.core.tools import ProposedChange

SPAWN = SpawnRequest("TR-1", 1, "demo-worker", "You are a worker.", "Ticket: x\n",
                     (ContextPart("system", "You are a worker.", shared=True),))


def edit(path: str, targets: tuple[str, ...] = ("src/a.py",)) -> ToolRequest:
    change = ProposedChange("apply_edit", {"path": path, "old_text": "x", "new_text": "y"},
                            path=path, diff="--- a\n+++ b\n", editable_text="y")
    return ToolRequest(change, f"apply_edit {path}", "new_text", targets)


def command(text: str = "pytest -q") -> ToolRequest:
    change = ProposedChange("run_command", {"command": text}, command=text,
                            editable_text=text, note="confined by bubblewrap")
    return ToolRequest(change, f"run_command {text}", "command", ("src/a.py",))


@pytest.fixture
def bus(qloop: asyncio.AbstractEventLoop) -> Iterator[EventBus]:
    bus = EventBus()
    yield bus
    shiboken6.delete(bus)


def ask(qtbot: Any, qloop: asyncio.AbstractEventLoop, broker: ApprovalBroker, ticket: str,
        index: int, request: ToolRequest) -> asyncio.Task[Decision]:
    """The broker's decision on a request, once the request is pending."""
    task = qloop.create_task(broker.request_tool(ticket, index, request))
    key = f"{ticket}:tool:{index}"
    qtbot.waitUntil(lambda: any(a.key == key for a in broker.pending()), timeout=5_000)
    return task


def decided(qtbot: Any, *tasks: asyncio.Task[Any]) -> None:
    qtbot.waitUntil(lambda: all(t.done() for t in tasks), timeout=5_000)


@pytest.mark.parametrize(("policy", "request_", "allowed"), [
    (ToolPolicy.ASK, edit("src/a.py"), False),
    (ToolPolicy.AUTO_EDITS, edit("src/a.py"), True),
    (ToolPolicy.AUTO_EDITS, edit("./src//a.py"), True),
    (ToolPolicy.AUTO_EDITS, edit("src/b.py"), False),
    (ToolPolicy.AUTO_EDITS, edit("src/b.py", targets=("src/",)), True),
    (ToolPolicy.AUTO_EDITS, command(), False),
    (ToolPolicy.AUTO, command(), True),
], ids=["ask", "target", "target-spelled-otherwise", "other-path", "target-folder",
        "command", "auto"])
def test_policy_allows_what_it_says(policy: ToolPolicy, request_: ToolRequest,
                                    allowed: bool) -> None:
    assert policy_allows(policy, request_) is allowed


def test_tool_approvals_carry_their_fields_and_are_listed_oldest_first(
        qtbot: Any, qloop: asyncio.AbstractEventLoop, bus: EventBus) -> None:
    broker = ApprovalBroker(bus)
    events: list[dict[str, Any]] = []
    bus.published.connect(events.append)
    first = ask(qtbot, qloop, broker, "T-002", 4, command())
    second = ask(qtbot, qloop, broker, "T-001", 1, edit("src/a.py"))
    assert [a.key for a in broker.pending()] == ["T-002:tool:4", "T-001:tool:1"]
    item = broker.pending()[0].to_dict()
    assert {k: item[k] for k in ("kind", "tool", "path", "command", "diff", "note", "editable",
                                 "editable_field")} == {
        "kind": "tool", "tool": "run_command", "path": None, "command": "pytest -q",
        "diff": "", "note": "confined by bubblewrap", "editable": "pytest -q",
        "editable_field": "command"}
    assert events[-1]["state"] == "requested" and events[-1]["key"] == "T-001:tool:1"

    broker.resolve("T-001:tool:1", True, edited="z")
    broker.resolve("T-002:tool:4", False, reason="not on this machine")
    decided(qtbot, first, second)
    assert second.result() == Decision(True, edited="z")
    assert first.result() == Decision(False, reason="not on this machine")
    assert (events[-1]["state"], events[-1]["reason"], events[-1]["by"]) == (
        "rejected", "not on this machine", "user")


def test_an_edit_is_refused_where_there_is_nothing_to_edit_or_on_rejection(
        qtbot: Any, qloop: asyncio.AbstractEventLoop, bus: EventBus) -> None:
    broker = ApprovalBroker(bus)
    spawn = qloop.create_task(broker.request_spawn("T-001", SPAWN, "T-001: x"))
    qtbot.waitUntil(lambda: bool(broker.pending()), timeout=5_000)
    tool = ask(qtbot, qloop, broker, "T-002", 1, command())
    with pytest.raises(ApprovalError, match="nothing to edit"):
        broker.resolve("T-001:spawn", True, edited="y")
    with pytest.raises(ApprovalError, match="an edit is approved"):
        broker.resolve("T-002:tool:1", False, edited="y")
    with pytest.raises(ApprovalError, match="no pending approval"):
        broker.resolve("T-003:tool:1", True)
    assert len(broker.pending()) == 2  # nothing was decided by the refusals
    broker.reject_all(reason="run cancelled")
    decided(qtbot, spawn, tool)
    assert spawn.result() == Decision(False, reason="run cancelled", by="run")
    assert tool.result() == Decision(False, reason="run cancelled", by="run")


def test_switching_the_policy_approves_the_pending_calls_it_allows(
        qtbot: Any, qloop: asyncio.AbstractEventLoop, bus: EventBus) -> None:
    broker = ApprovalBroker(bus, policy=ToolPolicy.ASK)
    target = ask(qtbot, qloop, broker, "T-001", 1, edit("src/a.py"))
    shell = ask(qtbot, qloop, broker, "T-001", 2, command())
    broker.set_policy(ToolPolicy.AUTO_EDITS)
    decided(qtbot, target)
    assert target.result() == Decision(True, by="policy")
    assert [a.key for a in broker.pending()] == ["T-001:tool:2"] and not shell.done()
    broker.set_policy(ToolPolicy.AUTO)
    decided(qtbot, shell)
    assert shell.result().approved


def test_a_spawn_carries_what_the_worker_will_be_told_and_its_attempt_names_the_key(
        qtbot: Any, qloop: asyncio.AbstractEventLoop, bus: EventBus) -> None:
    broker = ApprovalBroker(bus)
    first = qloop.create_task(broker.request_spawn("T-003", SPAWN, "T-003: x"))
    third = qloop.create_task(broker.request_spawn(
        "T-003", SpawnRequest("TR-1", 3, "m", "s", "p"), "T-003: x (attempt 3)"))
    qtbot.waitUntil(lambda: len(broker.pending()) == 2, timeout=5_000)
    assert [a.key for a in broker.pending()] == ["T-003:spawn", "T-003:spawn:3"]
    item = broker.pending()[0].to_dict()
    assert {k: item[k] for k in ("kind", "ticket_id", "track_id", "attempt", "model",
                                 "system", "prompt", "context")} == {
        "kind": "spawn", "ticket_id": "T-003", "track_id": "TR-1", "attempt": 1,
        "model": "demo-worker", "system": "You are a worker.", "prompt": "Ticket: x\n",
        "context": [{"name": "system", "chars": 17, "tokens": 5, "shared": True,
                     "truncated": False}]}
    broker.resolve("T-003:spawn", True, prompt="  Exactly this.\n", model=" other-model ")
    broker.resolve("T-003:spawn:3", False, reason="not now")
    decided(qtbot, first, third)
    assert first.result() == Decision(True, prompt="  Exactly this.\n", model="other-model")
    assert third.result() == Decision(False, reason="not now")


def test_a_spawn_edit_is_refused_on_rejection_on_a_tool_call_and_when_empty(
        qtbot: Any, qloop: asyncio.AbstractEventLoop, bus: EventBus) -> None:
    broker = ApprovalBroker(bus)
    spawn = qloop.create_task(broker.request_spawn("T-001", SPAWN))
    tool = ask(qtbot, qloop, broker, "T-002", 1, command())
    with pytest.raises(ApprovalError, match="an edit is approved"):
        broker.resolve("T-001:spawn", False, prompt="p")
    with pytest.raises(ApprovalError, match="only a spawn's prompt and model"):
        broker.resolve("T-002:tool:1", True, model="m")
    with pytest.raises(ApprovalError, match="the prompt is empty"):
        broker.resolve("T-001:spawn", True, prompt=" \n")
    with pytest.raises(ApprovalError, match="the model is empty"):
        broker.resolve("T-001:spawn", True, model="")
    assert len(broker.pending()) == 2  # nothing was decided by the refusals
    broker.reject_all(reason="done")
    decided(qtbot, spawn, tool)


def test_tool_approvals_carry_their_track(
        qtbot: Any, qloop: asyncio.AbstractEventLoop, bus: EventBus) -> None:
    broker = ApprovalBroker(bus)
    task = qloop.create_task(broker.request_tool("T-001", 1, command(), track_id="TR-2"))
    qtbot.waitUntil(lambda: bool(broker.pending()), timeout=5_000)
    item = broker.pending()[0].to_dict()
    assert (item["track_id"], item["kind"], item["prompt"]) == ("TR-2", "tool", None)
    broker.reject_all(reason="done")
    decided(qtbot, task)


def test_a_request_made_after_its_token_was_cancelled_is_rejected_at_once(
        qtbot: Any, qloop: asyncio.AbstractEventLoop, bus: EventBus) -> None:
    # The run stopped while the spawn's prompt was being read: nobody would answer it.
    broker = ApprovalBroker(bus)
    token = CancelToken()
    token.cancel("run cancelled by the user")
    spawn = qloop.create_task(broker.request_spawn("T-008", SPAWN, "T-008: x", token=token))
    tool = qloop.create_task(broker.request_tool("T-008", 1, command(), token=token))
    decided(qtbot, spawn, tool)
    for task in (spawn, tool):
        assert task.result() == Decision(False, reason="run cancelled by the user", by="run")
    assert broker.pending() == []
