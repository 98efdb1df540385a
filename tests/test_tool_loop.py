"""The tool loop on whole runs: the gate, policies, the git trail, pause, cancel, limits.

Offline: a scripted provider (tests/scripted.py) makes the tool calls round by round.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.domain import Tier, stream_id
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.status import RunMode, RunStatus, TicketStatus, ToolDecision, ToolPolicy
from mma_qt.core.run.approvals import Approval, ApprovalBroker, Decision, ToolRequest
from mma_qt.core.run.controller import ControllerError
from mma_qt.core.run.runner import EpicRunner
from mma_qt.core.tools import Sandbox, Tool, ToolContext, ToolRegistry, ToolResult, ToolSpec
from mma_qt.core.tools.claims import unified_diff

from .scripted import (
    CALC,
    EDITED,
    EPIC,
    PlannedTicket,
    ScriptedFactory,
    by_attempt,
    call,
    edit_calc,
    git_workspace,
    plain_workspace,
    results_of,
    round_of,
    rounds,
)
from .test_conductor import RUN_TIMEOUT_MS, CountingGate, finish
from .tools.conftest import tree_state
from .tools.test_git import git


@pytest.fixture
def plain_ws(tmp_path: Path) -> Path:
    return plain_workspace(tmp_path / "plain")


@pytest.fixture
def git_ws(tmp_path: Path) -> Path:
    return git_workspace(tmp_path / "project")


def tool_approvals(runner: EpicRunner) -> list[Approval]:
    return [a for a in runner.ctx.approvals.pending() if a.kind == "tool"]


def ticket_text(runner: EpicRunner, ticket_id: str = "T-001") -> str:
    runner.session.hub.drain()
    return runner.session.hub.text(stream_id(Tier.WORKER, ticket_id))


def hunks(diff: str) -> str:
    """A diff without its header lines (git adds ``diff --git`` and ``index`` lines)."""
    return diff[diff.index("@@"):]


# -- acceptance 1: an approved edit, committed on the track's branch, merged on request ----

def run_coroutine(qtbot: Any, qloop: asyncio.AbstractEventLoop, coroutine: Any) -> Any:
    task = qloop.create_task(coroutine)
    qtbot.waitUntil(task.done, timeout=RUN_TIMEOUT_MS)
    return task.result()


def test_an_approved_edit_is_committed_on_the_track_branch_and_merged_on_request(
        qtbot: Any, qloop: asyncio.AbstractEventLoop, controller_for: Any, git_ws: Path) -> None:
    factory = ScriptedFactory(
        {"T-001": rounds([call("read_file", path="calc.py")], [edit_calc()], "Swapped.")},
        [PlannedTicket("T-001", ["calc.py"], title="Swap the operands")])
    controller = controller_for(factory, RunOptions(tool_policy=ToolPolicy.ASK), auto=False)
    events: list[dict[str, Any]] = []
    controller.session.bus.published.connect(events.append)
    controller.start_epic(EPIC, str(git_ws))

    def keys() -> list[str]:
        return [a["key"] for a in controller.pending_approvals()]

    qtbot.waitUntil(lambda: keys() == ["T-001:spawn"], timeout=RUN_TIMEOUT_MS)
    controller.resolve_approval("T-001:spawn", True)
    qtbot.waitUntil(lambda: keys() == ["T-001:tool:2"], timeout=RUN_TIMEOUT_MS)
    [item] = controller.pending_approvals()
    assert {k: item[k] for k in ("kind", "ticket_id", "tool", "path", "command")} == {
        "kind": "tool", "ticket_id": "T-001", "tool": "apply_edit", "path": "calc.py",
        "command": None}
    assert item["diff"] == unified_diff("calc.py", CALC, EDITED)
    assert item["editable"] == "b + a" and item["editable_field"] == "new_text"
    worktree = git_ws / ".mma" / "worktrees" / "TR-1"
    assert (worktree / "calc.py").read_text(encoding="utf-8") == CALC  # not before approval

    controller.resolve_approval("T-001:tool:2", True)
    qtbot.waitUntil(lambda: not controller.busy, timeout=RUN_TIMEOUT_MS)
    assert controller.session.status is RunStatus.DONE
    assert (worktree / "calc.py").read_text(encoding="utf-8") == EDITED
    assert hunks(git(git_ws, "show", "--format=", "mma/TR-1")) == hunks(item["diff"])
    assert git(git_ws, "show", "--name-only", "--format=%s", "mma/TR-1").split() == [
        "T-001:", "Swap", "the", "operands", "calc.py"]
    ticket = controller.session.tickets["T-001"]
    assert ticket.commit == git(git_ws, "rev-parse", "mma/TR-1").strip()
    # The user's checkout is untouched until the merge.
    assert (git_ws / "calc.py").read_text(encoding="utf-8") == CALC
    assert git(git_ws, "status", "--porcelain") == ""

    merged = run_coroutine(qtbot, qloop, controller.merge_track("TR-1"))
    assert (git_ws / "calc.py").read_text(encoding="utf-8") == EDITED
    assert merged == {"track_id": "TR-1", "branch": "mma/TR-1", "into": "main",
                      "commit": git(git_ws, "rev-parse", "HEAD").strip()}
    assert [e for e in events if e["type"] == "merge"][-1]["commit"] == merged["commit"]

    calls = controller.tool_calls("T-001")
    assert [(c["name"], c["decision"], c["ok"], c["approval_key"]) for c in calls] == [
        ("read_file", "read_only", True, None), ("apply_edit", "approved", True, "T-001:tool:2")]
    assert "return a + b" in calls[0]["result"]
    assert controller.changes("T-001") == [
        {"path": "calc.py", "status": "modified", "diff": item["diff"]}]
    tool_events = [(e["index"], e["state"]) for e in events if e["type"] == "tool"]
    assert tool_events == [(1, "requested"), (1, "ran"), (2, "requested"), (2, "waiting"),
                           (2, "ran")]
    assert controller.runner is not None
    text = ticket_text(controller.runner)
    assert "\n→ read_file calc.py\n✓ " in text and "\n→ apply_edit calc.py\n" in text


def test_merge_track_refuses_a_dirty_tree_and_leaves_it_as_it_was(
        qtbot: Any, qloop: asyncio.AbstractEventLoop, controller_for: Any, git_ws: Path) -> None:
    factory = ScriptedFactory({"T-001": rounds([edit_calc()], "Swapped.")},
                              [PlannedTicket("T-001", ["calc.py"])])
    controller = controller_for(factory, RunOptions(), auto=True)
    events: list[dict[str, Any]] = []
    controller.session.bus.published.connect(events.append)
    controller.start_epic(EPIC, str(git_ws))
    qtbot.waitUntil(lambda: not controller.busy, timeout=RUN_TIMEOUT_MS)
    (git_ws / "calc.py").write_text("# mine\n" + CALC, encoding="utf-8")
    with pytest.raises(ControllerError, match="uncommitted changes"):
        run_coroutine(qtbot, qloop, controller.merge_track("TR-1"))
    assert (git_ws / "calc.py").read_text(encoding="utf-8") == "# mine\n" + CALC
    [refused] = [e for e in events if e["type"] == "merge"]
    assert refused["state"] == "refused" and "uncommitted changes" in refused["message"]
    with pytest.raises(ControllerError, match="no planned track"):
        run_coroutine(qtbot, qloop, controller.merge_track("TR-9"))


def test_set_tool_policy_switches_the_running_run_and_is_announced(
        qtbot: Any, controller_for: Any, plain_ws: Path) -> None:
    factory = ScriptedFactory({"T-001": rounds([edit_calc()], "Done.")})
    controller = controller_for(factory, RunOptions(), auto=False)
    controller.set_tool_policy("ask")
    events: list[dict[str, Any]] = []
    controller.session.bus.published.connect(events.append)
    with pytest.raises(ControllerError, match="unknown tool policy 'yolo'; use one of: ask, "
                                              "auto-edits, auto"):
        controller.set_tool_policy("yolo")
    with pytest.raises(ControllerError, match="no ticket 'T-001'"):
        controller.tool_calls("T-001")
    controller.start_epic(EPIC, str(plain_ws))
    qtbot.waitUntil(lambda: bool(controller.pending_approvals()), timeout=RUN_TIMEOUT_MS)
    controller.resolve_approval("T-001:spawn", True)
    qtbot.waitUntil(lambda: [a["key"] for a in controller.pending_approvals()] == [
        "T-001:tool:1"], timeout=RUN_TIMEOUT_MS)
    assert controller.current_tool_policy is ToolPolicy.ASK
    assert controller.set_tool_policy("auto") is ToolPolicy.AUTO
    qtbot.waitUntil(lambda: not controller.busy, timeout=RUN_TIMEOUT_MS)
    assert [e["policy"] for e in events if e["type"] == "tool_policy"] == ["auto"]
    assert controller.tool_calls("T-001")[0]["decision"] == "auto"
    assert (plain_ws / "calc.py").read_text(encoding="utf-8") == EDITED
    with pytest.raises(ControllerError, match="not in a git repository"):
        controller.start_merge("TR-1")  # refused at once: nothing to merge without git


# -- acceptance 2: rejection with a reason; edits; policies ---------------------------------

def asked_to_edit_calc(qtbot: Any, start: Any,
                       workspace: Path) -> tuple[ScriptedFactory, EpicRunner, Any]:
    """A run (policy ask) whose T-001 proposes to edit calc.py, then ends; once it waits
    for that approval (``T-001:tool:1``)."""
    factory = ScriptedFactory({"T-001": rounds([edit_calc()], "Done.")})
    runner, task = start(factory, policy=ToolPolicy.ASK, workspace=str(workspace))
    qtbot.waitUntil(lambda: bool(tool_approvals(runner)), timeout=RUN_TIMEOUT_MS)
    return factory, runner, task


def test_a_rejected_edit_leaves_the_file_and_the_model_reads_the_reason(
        qtbot: Any, start: Any, plain_ws: Path) -> None:
    factory, runner, task = asked_to_edit_calc(qtbot, start, plain_ws)
    runner.ctx.approvals.resolve("T-001:tool:1", False, reason="keep the operands in order")
    assert finish(qtbot, task) is RunStatus.DONE
    assert (plain_ws / "calc.py").read_text(encoding="utf-8") == CALC
    second = factory.of(Tier.WORKER, "T-001")[1]
    assert results_of(second) == ["error: rejected by the user: keep the operands in order"]
    [record] = runner.session.tickets["T-001"].tool_calls
    assert (record.decision, record.reason, record.ok) == (
        ToolDecision.REJECTED, "keep the operands in order", False)
    assert "✗ error: rejected by the user: keep the operands in order\n" in ticket_text(runner)
    assert not (plain_ws / ".mma" / "patches").exists()  # nothing changed: no patch


def test_an_edited_approval_runs_the_users_version_and_keeps_a_patch_without_git(
        qtbot: Any, start: Any, plain_ws: Path) -> None:
    _factory, runner, task = asked_to_edit_calc(qtbot, start, plain_ws)
    runner.ctx.approvals.resolve("T-001:tool:1", True, edited="b + a  # swapped")
    assert finish(qtbot, task) is RunStatus.DONE
    expected = "def add(a, b):\n    return b + a  # swapped\n"
    assert (plain_ws / "calc.py").read_text(encoding="utf-8") == expected
    [record] = runner.session.tickets["T-001"].tool_calls
    assert (record.decision, record.edited) == (ToolDecision.APPROVED, "b + a  # swapped")
    patch = plain_ws / ".mma" / "patches" / "T-001.diff"
    assert patch.read_text(encoding="utf-8") == unified_diff("calc.py", CALC, expected)
    assert runner.session.tickets["T-001"].patch == str(patch)


def test_auto_edits_approves_edits_of_target_files_and_asks_for_the_rest(
        qtbot: Any, start: Any, plain_ws: Path) -> None:
    factory = ScriptedFactory(
        {"T-001": rounds([edit_calc(), call("write_file", path="other.py", content="x = 1\n"),
                          call("run_command", command="true")], "Done.")},
        [PlannedTicket("T-001", ["calc.py"])])
    runner, task = start(factory, policy=ToolPolicy.AUTO_EDITS, workspace=str(plain_ws))
    qtbot.waitUntil(lambda: [a.key for a in tool_approvals(runner)] == ["T-001:tool:2"],
                    timeout=RUN_TIMEOUT_MS)
    assert (plain_ws / "calc.py").read_text(encoding="utf-8") == EDITED  # ran unasked
    runner.ctx.approvals.resolve("T-001:tool:2", True)
    qtbot.waitUntil(lambda: [a.key for a in tool_approvals(runner)] == ["T-001:tool:3"],
                    timeout=RUN_TIMEOUT_MS)
    assert tool_approvals(runner)[0].to_dict()["command"] == "true"
    runner.set_tool_policy(ToolPolicy.AUTO)  # switched during the run: approves the pending
    assert finish(qtbot, task) is RunStatus.DONE
    decisions = [r.decision for r in runner.session.tickets["T-001"].tool_calls]
    assert decisions == [ToolDecision.AUTO, ToolDecision.APPROVED, ToolDecision.AUTO]


def test_waiting_on_one_tickets_approval_never_holds_up_another(
        qtbot: Any, start: Any, plain_ws: Path) -> None:
    factory = ScriptedFactory(
        {"T-001": rounds([edit_calc()], "Done."),
         "T-002": rounds([call("write_file", path="b.py", content="b = 2\n")], "Done.")},
        [PlannedTicket("T-001", ["calc.py"]), PlannedTicket("T-002", ["b.py"])])
    runner, task = start(factory, policy=ToolPolicy.ASK, workspace=str(plain_ws))
    qtbot.waitUntil(lambda: len(tool_approvals(runner)) == 2, timeout=RUN_TIMEOUT_MS)
    assert [a.key for a in tool_approvals(runner)] in (
        ["T-001:tool:1", "T-002:tool:1"], ["T-002:tool:1", "T-001:tool:1"])
    runner.ctx.approvals.resolve("T-002:tool:1", False, reason="not now")
    tickets = runner.session.tickets
    qtbot.waitUntil(lambda: tickets["T-002"].status is TicketStatus.COMPLETED,
                    timeout=RUN_TIMEOUT_MS)
    assert tickets["T-001"].status is TicketStatus.IN_PROGRESS  # still waiting, untouched
    assert [a.key for a in tool_approvals(runner)] == ["T-001:tool:1"]
    runner.ctx.approvals.resolve("T-001:tool:1", True)
    assert finish(qtbot, task) is RunStatus.DONE


# -- acceptance 4 (first point): a failing command, QA, the hint in the retry --------------

def test_a_failing_command_fails_the_attempt_and_the_qa_hint_reaches_the_retry(
        qtbot: Any, start: Any, plain_ws: Path) -> None:
    failing = rounds([call("run_command", command="echo boom-output; exit 3")], "Tests ran.")
    factory = ScriptedFactory({"T-001": by_attempt(failing, rounds("Fixed it."))})
    runner, task = start(factory, workspace=str(plain_ws))  # auto: no approvals
    assert finish(qtbot, task) is RunStatus.DONE
    ticket = runner.session.tickets["T-001"]
    assert (ticket.status, ticket.retry_count) == (TicketStatus.COMPLETED, 1)
    assert ticket.qa_hint.startswith("Hint for the retry")
    [qa] = factory.of(Tier.QA, "T-001")
    assert "the last command failed: `echo boom-output; exit 3`: error: exit code 3" in qa.prompt
    assert "boom-output" in qa.prompt  # the command's output reaches the diagnosis
    assert {t.name for t in qa.tools} == {"read_file", "list_dir", "search_text",
                                          "get_skeleton"}
    retry = factory.of(Tier.WORKER, "T-001")[-1]
    assert retry.attempt == 1 and f"QA hint: {ticket.qa_hint}" in retry.prompt
    assert "✗ error: exit code 3\n" in ticket_text(runner)


def test_a_command_that_passes_after_a_failing_one_completes_the_ticket(
        qtbot: Any, start: Any, plain_ws: Path) -> None:
    script = rounds([call("run_command", command="exit 1")],
                    [call("run_command", command="exit 0")], "Green now.")
    factory = ScriptedFactory({"T-001": script})
    runner, task = start(factory, RunOptions(max_retries=0), workspace=str(plain_ws))
    assert finish(qtbot, task) is RunStatus.DONE
    assert runner.session.tickets["T-001"].retry_count == 0


# -- acceptance 5: no mutating tool runs without an approval decision -----------------------

class Probe(Tool):
    """A stand-in for an MCP tool (``SERVER__tool``): mutating, counts its runs."""

    spec = ToolSpec("probe__touch", "Touches something outside the builtin tools.",
                    {"type": "object", "properties": {}}, mutating=True)

    def __init__(self) -> None:
        self.runs = 0

    def execute(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        self.runs += 1
        return ToolResult.success("touched")


#: Valid arguments for every tool the registry holds; a new tool must be added here.
SAMPLE_ARGUMENTS: dict[str, dict[str, Any]] = {
    "read_file": {"path": "calc.py"},
    "list_dir": {"path": "."},
    "search_text": {"pattern": "add"},
    "get_skeleton": {"path": "calc.py"},
    "write_file": {"path": "new.py", "content": "x = 1\n"},
    "apply_edit": {"path": "calc.py", "old_text": "a + b", "new_text": "b + a"},
    "delete_file": {"path": "notes.txt"},
    "run_command": {"command": "touch made-by-a-command"},
    "probe__touch": {},
}


class RecordingBroker(ApprovalBroker):
    """Records every tool approval it is asked for, and answers with ``verdict``."""

    def __init__(self, runner: EpicRunner, log: list[tuple[str, str]], verdict: bool) -> None:
        super().__init__(runner.session.bus, mode=RunMode.AUTO)
        self.log = log
        self.verdict = verdict

    async def request_tool(self, ticket_id: str, index: int, request: ToolRequest, *,
                           track_id: str | None = None,
                           token: CancelToken | None = None) -> Decision:
        self.log.append(("asked", request.change.tool))
        return Decision(self.verdict, reason="recorded")


@pytest.mark.parametrize("verdict", [True, False], ids=["approved", "rejected"])
def test_every_mutating_tool_passes_the_gate_before_it_runs(
        qtbot: Any, start: Any, plain_ws: Path, monkeypatch: pytest.MonkeyPatch,
        verdict: bool) -> None:
    probe = Probe()
    registry = ToolRegistry(Sandbox(plain_ws))
    registry.register(probe)
    names = registry.names()
    assert set(names) == set(SAMPLE_ARGUMENTS), "give every tool sample arguments here"
    log: list[tuple[str, str]] = []
    original = ToolRegistry.run

    def spy(self: ToolRegistry, name: str, args: Any, **kwargs: Any) -> ToolResult:
        log.append(("ran", name))
        return original(self, name, args, **kwargs)

    monkeypatch.setattr(ToolRegistry, "run", spy)
    tickets = [PlannedTicket(f"T-{i:03d}", [f"part_{i}"]) for i, _ in enumerate(names, 1)]
    factory = ScriptedFactory(
        {t.id: rounds([call(name, **SAMPLE_ARGUMENTS[name])], "Done.")
         for t, name in zip(tickets, names, strict=True)}, tickets)
    before = tree_state(plain_ws)
    runner, task = start(factory, RunOptions(max_workers=len(names)), workspace=str(plain_ws))
    runner.ctx.approvals = RecordingBroker(runner, log, verdict)
    runner.ctx.extra_tools = (probe,)
    assert finish(qtbot, task) is RunStatus.DONE

    mutating = {n for n in names if registry.is_mutating(n)}
    assert mutating == {"write_file", "apply_edit", "delete_file", "run_command", "probe__touch"}
    assert {n for kind, n in log if kind == "asked"} == mutating
    for name in names:
        if name not in mutating:
            assert ("ran", name) in log
        elif verdict:
            assert log.index(("asked", name)) < log.index(("ran", name)), name
        else:
            assert ("ran", name) not in log, name
    if not verdict:
        assert probe.runs == 0
        assert tree_state(plain_ws) == before  # nothing changed on disk
    else:
        assert probe.runs == 1 and (plain_ws / "made-by-a-command").exists()


# -- limits, pause, cancel, scheduling ------------------------------------------------------

def test_a_ticket_out_of_tool_rounds_fails_with_that_reason(
        qtbot: Any, start: Any, plain_ws: Path) -> None:
    factory = ScriptedFactory({"T-001": rounds([call("list_dir", path=".")])})  # never stops
    runner, task = start(factory, RunOptions(max_tool_rounds=3), workspace=str(plain_ws))
    assert finish(qtbot, task) is RunStatus.FAILED
    ticket = runner.session.tickets["T-001"]
    assert ticket.status is TicketStatus.FAILED
    assert ticket.error == "no final answer after 3 rounds of tool calls (max_tool_rounds)"
    assert ticket.retry_count == 0  # not retried: another model would loop as long
    assert [round_of(r) for r in factory.of(Tier.WORKER, "T-001")] == [1, 2, 3]
    record = runner.session.records[stream_id(Tier.WORKER, "T-001")]
    assert (record.calls, record.usage.input) == (3, 300)  # usage of every round


class Gate(Tool):
    """A read-only tool that holds until the test releases it."""

    spec = ToolSpec("hold_here", "Waits.", {"type": "object", "properties": {}})

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def execute(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        self.entered.set()
        self.release.wait(30)
        return ToolResult.success("released")


def test_pause_holds_the_next_round_until_resume(qtbot: Any, start: Any, plain_ws: Path) -> None:
    tool = Gate()
    factory = ScriptedFactory({"T-001": rounds([call("hold_here")], "Done.")})
    runner, task = start(factory, workspace=str(plain_ws))
    runner.ctx.extra_tools = (tool,)
    gate = runner.ctx.gate = CountingGate()
    qtbot.waitUntil(tool.entered.is_set, timeout=RUN_TIMEOUT_MS)
    runner.pause()
    tool.release.set()
    qtbot.waitUntil(lambda: gate.holding == 1, timeout=RUN_TIMEOUT_MS)  # between the rounds
    ticket = runner.session.tickets["T-001"]
    assert ticket.tool_calls[0].ok is True
    assert len(factory.of(Tier.WORKER, "T-001")) == 1  # round 2 not asked while paused
    assert ticket.status is TicketStatus.IN_PROGRESS
    runner.resume()
    assert finish(qtbot, task) is RunStatus.DONE
    assert len(factory.of(Tier.WORKER, "T-001")) == 2


def test_pause_holds_an_approved_call_until_resume(qtbot: Any, start: Any, plain_ws: Path) -> None:
    _factory, runner, task = asked_to_edit_calc(qtbot, start, plain_ws)
    gate = runner.ctx.gate = CountingGate()
    runner.pause()
    runner.ctx.approvals.resolve("T-001:tool:1", True)
    qtbot.waitUntil(lambda: gate.holding == 1, timeout=RUN_TIMEOUT_MS)
    assert (plain_ws / "calc.py").read_text(encoding="utf-8") == CALC  # not run yet
    runner.resume()
    assert finish(qtbot, task) is RunStatus.DONE
    assert (plain_ws / "calc.py").read_text(encoding="utf-8") == EDITED


def processes_with(marker: str) -> list[str]:
    """Pids of live processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # it ended while we looked
        if marker in cmdline:
            found.append(entry.name)
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_cancelling_a_ticket_kills_its_running_command(
        qtbot: Any, start: Any, plain_ws: Path) -> None:
    marker = "987.654"  # a sleep no other process runs
    factory = ScriptedFactory(
        {"T-001": rounds([call("run_command", command=f"touch started; sleep {marker}")],
                         "Done.")})
    runner, task = start(factory, workspace=str(plain_ws))
    qtbot.waitUntil(lambda: (plain_ws / "started").exists() and bool(processes_with(marker)),
                    timeout=RUN_TIMEOUT_MS)
    runner.cancel("T-001")
    ticket = runner.session.tickets["T-001"]
    qtbot.waitUntil(lambda: ticket.status is TicketStatus.CANCELLED, timeout=RUN_TIMEOUT_MS)
    assert processes_with(marker) == []
    assert ticket.tool_calls[0].result.startswith("error: cancelled")
    assert finish(qtbot, task) is RunStatus.FAILED  # its only ticket did not complete
    assert runner.session.error == "1 cancelled of 1 ticket"


def test_cancelling_a_ticket_that_waits_for_an_approval_withdraws_it(
        qtbot: Any, start: Any, plain_ws: Path) -> None:
    _factory, runner, task = asked_to_edit_calc(qtbot, start, plain_ws)
    runner.cancel("T-001")
    ticket = runner.session.tickets["T-001"]
    qtbot.waitUntil(lambda: ticket.status is TicketStatus.CANCELLED, timeout=RUN_TIMEOUT_MS)
    assert runner.ctx.approvals.pending() == []
    [record] = ticket.tool_calls
    assert (record.decision, record.reason) == (ToolDecision.REJECTED, "cancelled by the user")
    assert record.result == "error: cancelled: cancelled by the user"
    assert (plain_ws / "calc.py").read_text(encoding="utf-8") == CALC
    assert finish(qtbot, task) is RunStatus.FAILED  # its only ticket did not complete


def test_tickets_with_overlapping_target_files_never_run_at_the_same_time(
        qtbot: Any, start: Any, plain_ws: Path) -> None:
    tickets = [PlannedTicket("T-001", ["src/calc.py"]), PlannedTicket("T-002", ["src/"]),
               PlannedTicket("T-003", ["docs/calc.md"])]
    factory = ScriptedFactory({t.id: rounds("Done.") for t in tickets}, tickets)
    # Step mode: every started ticket shows as a pending spawn, so what the conductor
    # started side by side is seen without depending on how fast the threads are.
    runner, task = start(factory, RunOptions(max_workers=3), auto=False,
                         workspace=str(plain_ws), policy=ToolPolicy.AUTO)
    approvals = runner.ctx.approvals

    def pending() -> set[str]:
        return {a.ticket_id for a in approvals.pending()}

    # T-002 covers T-001's file: it waits; T-003 overlaps nothing and starts beside T-001.
    qtbot.waitUntil(lambda: pending() == {"T-001", "T-003"}, timeout=10_000)
    approvals.resolve("T-003:spawn", True)
    qtbot.waitUntil(lambda: runner.session.tickets["T-003"].status is TicketStatus.COMPLETED,
                    timeout=10_000)
    assert pending() == {"T-001"}  # T-002 still waits for T-001 to end
    approvals.resolve("T-001:spawn", True)
    qtbot.waitUntil(lambda: pending() == {"T-002"}, timeout=10_000)
    assert runner.session.tickets["T-001"].status is TicketStatus.COMPLETED
    approvals.resolve("T-002:spawn", True)
    assert finish(qtbot, task) is RunStatus.DONE


def test_a_workspace_that_is_not_a_folder_fails_the_ticket_with_the_reason(
        qtbot: Any, start: Any, tmp_path: Path) -> None:
    factory = ScriptedFactory({"T-001": rounds([call("list_dir", path=".")], "Done.")})
    runner, task = start(factory, workspace=os.fspath(tmp_path / "missing"))
    assert finish(qtbot, task) is RunStatus.FAILED
    error = runner.session.tickets["T-001"].error
    assert "is not a folder" in error and runner.session.tickets["T-001"].retry_count == 0
