"""Per-ticket control through the controller: attempts, editable spawns, retry, skip,
block and unblock, a ticket's model, edits of a ticket that has not started (issue 11,
acceptance 3), on live runs of the demo and the scripted provider.

Runs are in step mode (every spawn waits for approval) with the ``auto`` tool policy: a
pending spawn keeps a run alive while a command is tried, and each test approves spawns as
they come until the run ends.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.model import dag
from mma_qt.core.model.domain import Ticket, Tier, stream_id
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.model.status import RunStatus, TicketStatus, ToolPolicy
from mma_qt.core.model.usage import sum_usage
from mma_qt.core.providers.demo import Scenario
from mma_qt.core.run.approvals import ApprovalError
from mma_qt.core.run.controller import Controller, ControllerError, InvalidEdit

from .scripted import EPIC, PlannedTicket, ScriptedFactory, plain_workspace, rounds
from .test_conductor import RUN_TIMEOUT_MS, scenario
from .test_domain import tickets

STEP = RunOptions(tool_policy=ToolPolicy.AUTO)


# -- the graph on its own ------------------------------------------------------------------

def test_a_skipped_dependency_counts_as_done() -> None:
    first, second, third = tickets("T-1", "T-2:T-1", "T-3:T-2")
    first.status = TicketStatus.SKIPPED
    assert dag.ready([first, second, third]) == [second]
    assert dag.cascade_blocked([first, second, third]) == []


def test_tickets_blocked_by_one_are_found_transitively_and_name_the_users_reason() -> None:
    graph = tickets("T-1", "T-2:T-1", "T-3:T-2", "T-4", "T-5:T-4")
    graph[0].status, graph[0].blocked_reason = TicketStatus.BLOCKED, "waiting for review"
    graph[3].status = TicketStatus.FAILED
    blocked = dag.cascade_blocked(graph)
    assert [(t.id, t.blocked_by, t.blocked_reason) for t in blocked] == [
        ("T-2", "T-1", "dependency T-1 blocked: waiting for review"),
        ("T-3", "T-2", "dependency T-2 blocked"),
        ("T-5", "T-4", "dependency T-4 failed")]
    assert [t.id for t in dag.blocked_by(graph, "T-1")] == ["T-2", "T-3"]
    assert [t.id for t in dag.blocked_by(graph, "T-4")] == ["T-5"]


def test_an_edit_is_validated_on_a_copy() -> None:
    graph = tickets("T-1", "T-2:T-1", "T-3:T-2")
    with pytest.raises(dag.DagError) as info:
        dag.validate_edit(graph, "T-1", ["T-3"])
    assert info.value.cycle[0] == info.value.cycle[-1] and {"T-1", "T-3"} <= set(info.value.cycle)
    assert graph[0].depends_on == ()
    assert dag.validate_edit(graph, "T-3", ["T-1"])[-1] == "T-3"
    assert graph[2].depends_on == ("T-2",)


# -- driving a run ---------------------------------------------------------------------------

def keys(controller: Controller) -> list[str]:
    return sorted(a["key"] for a in controller.pending_approvals())


def wait_keys(qtbot: Any, controller: Controller, *wanted: str) -> None:
    qtbot.waitUntil(lambda: keys(controller) == sorted(wanted), timeout=RUN_TIMEOUT_MS)


def approving(qtbot: Any, controller: Controller, until: Callable[[], bool]) -> None:
    """Approve every approval as it comes, until ``until()`` holds."""
    while not until():
        qtbot.waitUntil(lambda: until() or bool(controller.pending_approvals()),
                        timeout=RUN_TIMEOUT_MS)
        if not until():
            for item in controller.pending_approvals():
                controller.resolve_approval(item["key"], True)


def to_the_end(qtbot: Any, controller: Controller) -> RunStatus:
    approving(qtbot, controller, lambda: not controller.busy)
    return controller.session.status


def ticket(controller: Controller, ticket_id: str) -> Ticket:
    return controller.session.tickets[ticket_id]


def events_of(controller: Controller, type_: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    controller.session.bus.published.connect(
        lambda event: found.append(event) if event["type"] == type_ else None)
    return found


def demo_run(controller_for: Any, tmp_path: Path, scenario_: Scenario | None = None,
             options: RunOptions = STEP) -> tuple[Controller, ScriptedFactory]:
    """A step-mode run of the demo (every request recorded), on an empty workspace."""
    factory = ScriptedFactory({}, scenario=scenario_)
    controller = controller_for(factory, options, auto=False)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    controller.start_epic(sample_epic(), str(workspace))
    return controller, factory


# -- acceptance 3 --------------------------------------------------------------------------

def test_edit_ticket_that_would_create_a_cycle_is_refused_and_changes_nothing(
        qtbot: Any, controller_for: Any, tmp_path: Path) -> None:
    controller, _factory = demo_run(controller_for, tmp_path)
    wait_keys(qtbot, controller, "T-001:spawn")
    before = [t.to_dict() for t in controller.session.tickets.values()]
    changes = events_of(controller, "ticket")

    with pytest.raises(InvalidEdit) as info:  # T-004 depends on T-002
        controller.edit_ticket("T-002", title="New", depends_on=["T-001", "T-004"])
    assert info.value.field == "depends_on"
    assert "dependency cycle" in str(info.value) and "T-002 -> T-004" in str(info.value)
    with pytest.raises(InvalidEdit, match=r"depends_on: .*unknown dependencies: T-002 -> T-099"):
        controller.edit_ticket("T-002", depends_on=["T-099"])
    with pytest.raises(InvalidEdit, match="title: is empty"):
        controller.edit_ticket("T-002", title=" ")
    with pytest.raises(ControllerError, match="T-001 is waiting: only a ticket that has not "
                                              "started can be edited"):
        controller.edit_ticket("T-001", title="Renamed")
    assert [t.to_dict() for t in controller.session.tickets.values()] == before
    assert changes == []

    # A valid edit applies, says so, and the conductor sees it: T-003 is ready at once.
    controller.edit_ticket("T-003", title="The CLI", depends_on=[], target_files=["cli.py"])
    edited = ticket(controller, "T-003")
    assert (edited.title, edited.depends_on, edited.target_files) == ("The CLI", (), ("cli.py",))
    assert [(e["ticket_id"], e["title"], e["depends_on"]) for e in changes] == [
        ("T-003", "The CLI", [])]
    wait_keys(qtbot, controller, "T-001:spawn", "T-003:spawn")
    controller.cancel()


def test_block_blocks_dependents_with_the_reason_and_unblock_lets_them_run_and_complete(
        qtbot: Any, controller_for: Any, tmp_path: Path) -> None:
    controller, _factory = demo_run(controller_for, tmp_path)
    wait_keys(qtbot, controller, "T-001:spawn")
    controller.block("T-002", "waiting for the schema review")
    blocked = {t.id: (t.status, t.blocked_by, t.blocked_reason)
               for t in controller.session.tickets.values()}
    because = "dependency T-002 blocked: waiting for the schema review"
    assert blocked["T-002"] == (TicketStatus.BLOCKED, None, "waiting for the schema review")
    assert blocked["T-004"] == (TicketStatus.BLOCKED, "T-002", because)
    assert blocked["T-005"] == (TicketStatus.BLOCKED, "T-002", because)
    assert blocked["T-006"][0] is TicketStatus.BLOCKED
    assert blocked["T-003"][0] is TicketStatus.TODO
    with pytest.raises(ControllerError, match="T-002 is blocked: only a ticket that has not "
                                              "started can be blocked"):
        controller.block("T-002", "again")
    with pytest.raises(ControllerError, match="T-004 waits for T-002, which is blocked"):
        controller.unblock("T-004")

    # The others go on; T-003's spawn keeps the run alive while T-002 stays blocked.
    controller.resolve_approval("T-001:spawn", True)
    wait_keys(qtbot, controller, "T-003:spawn")
    assert ticket(controller, "T-001").status is TicketStatus.COMPLETED
    assert ticket(controller, "T-002").status is TicketStatus.BLOCKED

    controller.unblock("T-002")
    statuses = {tid: ticket(controller, tid).status for tid in ("T-002", "T-004", "T-005", "T-006")}
    assert set(statuses.values()) == {TicketStatus.TODO}
    assert {ticket(controller, t).blocked_reason for t in statuses} == {""}
    wait_keys(qtbot, controller, "T-002:spawn", "T-003:spawn")
    assert to_the_end(qtbot, controller) is RunStatus.DONE
    assert {t.status for t in controller.session.tickets.values()} == {TicketStatus.COMPLETED}


def test_skip_lets_dependents_run_and_the_demo_still_leaves_passing_tests(
        qtbot: Any, controller_for: Any, tmp_path: Path) -> None:
    controller, _factory = demo_run(controller_for, tmp_path)
    # T-005 (the end-to-end tests of the command line) is the demo's ticket worth skipping:
    # skipped while its spawn waits, T-006 runs after T-004 alone.
    approving(qtbot, controller, lambda: "T-005:spawn" in keys(controller))
    with pytest.raises(ControllerError, match="T-001 is completed already"):
        controller.skip("T-001", "no need")
    controller.skip("T-005", "the end-to-end tests are slow")
    skipped = ticket(controller, "T-005")
    assert (skipped.status, skipped.blocked_reason, skipped.attempts) == (
        TicketStatus.SKIPPED, "the end-to-end tests are slow", [])
    assert "T-005:spawn" not in keys(controller)  # its spawn was rejected

    assert to_the_end(qtbot, controller) is RunStatus.DONE
    assert ticket(controller, "T-005").status is TicketStatus.SKIPPED  # not cancelled
    assert ticket(controller, "T-006").status is TicketStatus.COMPLETED
    workspace = Path(controller.session.workspace)
    assert not (workspace / "tests/test_cli.py").exists()
    suite = subprocess.run([sys.executable, "-B", "-m", "unittest", "discover", "-s", "tests",
                            "-t", "."], cwd=workspace, capture_output=True, text=True,
                           timeout=120, check=False)
    assert suite.returncode == 0 and "Ran 12 tests" in suite.stderr, suite.stderr


def test_retry_of_a_failed_ticket_with_another_model_completes_and_keeps_both_attempts(
        qtbot: Any, controller_for: Any, tmp_path: Path) -> None:
    # The demo's T-003 fails its first attempt (flaky-worker); no automatic retry here.
    controller, factory = demo_run(controller_for, tmp_path, scenario("flaky-worker"),
                                   RunOptions(tool_policy=ToolPolicy.AUTO, max_retries=0))
    attempts = events_of(controller, "attempt")
    flaky = stream_id(Tier.WORKER, "T-003")
    wait_keys(qtbot, controller, "T-001:spawn")
    controller.resolve_approval("T-001:spawn", True)
    wait_keys(qtbot, controller, "T-002:spawn", "T-003:spawn")
    controller.resolve_approval("T-003:spawn", True)
    qtbot.waitUntil(lambda: ticket(controller, "T-005").status is TicketStatus.BLOCKED,
                    timeout=RUN_TIMEOUT_MS)
    assert ticket(controller, "T-003").status is TicketStatus.FAILED
    assert ticket(controller, "T-005").blocked_by == "T-003"
    with pytest.raises(ControllerError, match="T-002 is waiting: only a failed, cancelled, "
                                              "completed or skipped ticket can be retried"):
        controller.retry("T-002")
    with pytest.raises(ControllerError, match="T-005 waits for T-003, which is failed"):
        controller.unblock("T-005")

    controller.retry("T-003", model="demo-worker-max")
    assert ticket(controller, "T-003").status in (TicketStatus.TODO, TicketStatus.WAITING)
    assert ticket(controller, "T-005").status is TicketStatus.TODO  # blocked by it: released
    qtbot.waitUntil(lambda: "T-003:spawn:2" in keys(controller), timeout=RUN_TIMEOUT_MS)
    item = next(a for a in controller.pending_approvals() if a["key"] == "T-003:spawn:2")
    assert (item["attempt"], item["model"], item["track_id"]) == (2, "demo-worker-max", "TR-1")
    assert to_the_end(qtbot, controller) is RunStatus.DONE

    retried = ticket(controller, "T-003")
    first, second = retried.attempts
    assert (first.number, first.model, first.status, first.reason) == (
        1, "demo-worker", TicketStatus.FAILED, "first")
    assert "TimeoutError: test runner did not answer" in first.error
    assert (second.number, second.model, second.status, second.reason) == (
        2, "demo-worker-max", TicketStatus.COMPLETED, "user retry")
    assert first.usage.input > 0 and second.usage.input > 0 and first.usage != second.usage
    assert sum_usage(a.usage for a in retried.attempts) == retried.usage
    assert [a["attempt"] for a in retried.to_dict()["attempts"]] == [1, 2]
    # The provider got each attempt's model.
    assert [(r.model, r.attempt) for r in factory.of(Tier.WORKER, "T-003")][:1] == [
        ("demo-worker", 0)]
    assert {(r.model, r.attempt) for r in factory.of(Tier.WORKER, "T-003")[1:]} == {
        ("demo-worker-max", 1)}
    # Both attempts are in the ticket's stream, in order.
    text = controller.session.hub.text(flaky)
    failure = text.index("TimeoutError: test runner did not answer")
    marker = text.index("--- attempt 2 on demo-worker-max (user retry) ---")
    assert text.index("## T-003") < failure < marker < text.index("Finished T-003")
    events = [e for e in attempts if e["ticket_id"] == "T-003"]
    assert [(e["attempt"], e["status"], e["model"], e["reason"]) for e in events] == [
        (1, "in_progress", "demo-worker", "first"), (1, "failed", "demo-worker", "first"),
        (2, "in_progress", "demo-worker-max", "user retry"),
        (2, "completed", "demo-worker-max", "user retry")]
    assert (events[1]["usage"], events[3]["usage"]) == (first.usage.to_dict(),
                                                        second.usage.to_dict())


# -- spawns: what the worker will be told, and the user's edits ----------------------------

def scripted_run(controller_for: Any, tmp_path: Path, *tickets: PlannedTicket,
                 ) -> tuple[Controller, ScriptedFactory]:
    factory = ScriptedFactory({t.id: rounds(f"Done with {t.id}.") for t in tickets}, tickets)
    controller = controller_for(factory, STEP, auto=False)
    controller.start_epic(EPIC, str(plain_workspace(tmp_path / "ws")))
    return controller, factory


def test_a_spawn_approved_with_an_edited_prompt_and_model_reaches_the_provider_verbatim(
        qtbot: Any, controller_for: Any, tmp_path: Path) -> None:
    controller, factory = scripted_run(controller_for, tmp_path, PlannedTicket("T-001"))
    wait_keys(qtbot, controller, "T-001:spawn")
    [item] = controller.pending_approvals()
    assert ticket(controller, "T-001").status is TicketStatus.WAITING
    assert (item["kind"], item["ticket_id"], item["track_id"], item["attempt"],
            item["model"]) == ("spawn", "T-001", "TR-1", 1, "demo-worker")
    assert "T-001" in item["prompt"] and item["system"]
    with pytest.raises(ApprovalError, match="an edit is approved, not rejected"):
        controller.resolve_approval("T-001:spawn", False, prompt="x")
    edited = "  Only this, verbatim:\n\tsay you are done.\n"
    controller.resolve_approval("T-001:spawn", True, prompt=edited, model="other-model")
    assert to_the_end(qtbot, controller) is RunStatus.DONE

    [received] = factory.of(Tier.WORKER, "T-001")
    assert (received.prompt, received.model) == (edited, "other-model")
    assert received.system == item["system"]
    assert item["context"] == [part.to_dict() for part in received.context]
    [attempt] = ticket(controller, "T-001").attempts
    assert (attempt.model, attempt.prompt, attempt.edited) == ("other-model", edited, True)
    assert ticket(controller, "T-001").model == "other-model"


def test_a_completed_ticket_retried_with_a_prompt_runs_it_verbatim_and_a_ticket_model_is_used(
        qtbot: Any, controller_for: Any, tmp_path: Path) -> None:
    controller, factory = scripted_run(
        controller_for, tmp_path, PlannedTicket("T-001"),
        PlannedTicket("T-002", depends_on=["T-001"]))
    wait_keys(qtbot, controller, "T-001:spawn")
    changes = events_of(controller, "ticket")
    controller.set_ticket_model("T-002", "chosen-model")
    assert changes[-1]["model_override"] == "chosen-model"
    with pytest.raises(InvalidEdit, match="model: is empty"):
        controller.set_ticket_model("T-002", "  ")
    controller.resolve_approval("T-001:spawn", True)
    wait_keys(qtbot, controller, "T-002:spawn")  # keeps the run alive
    assert controller.pending_approvals()[0]["model"] == "chosen-model"

    controller.retry("T-001", prompt="Once more, exactly this.")
    wait_keys(qtbot, controller, "T-001:spawn:2", "T-002:spawn")
    again = next(a for a in controller.pending_approvals() if a["key"] == "T-001:spawn:2")
    assert (again["attempt"], again["prompt"]) == (2, "Once more, exactly this.")
    assert to_the_end(qtbot, controller) is RunStatus.DONE

    first, second = ticket(controller, "T-001").attempts
    assert (second.reason, second.prompt, second.edited) == (
        "user retry", "Once more, exactly this.", True)
    assert not first.edited and first.prompt != second.prompt
    assert [r.prompt for r in factory.of(Tier.WORKER, "T-001")][-1] == "Once more, exactly this."
    assert [r.model for r in factory.of(Tier.WORKER, "T-002")] == ["chosen-model"]
    text = controller.session.hub.text(stream_id(Tier.WORKER, "T-001"))
    assert text.index("Done with T-001.") < text.index("--- attempt 2 on demo-worker-pro "
                                                       "(user retry) ---")
    assert text.count("Done with T-001.") == 2


def test_a_qa_retry_is_an_attempt_with_its_hint_and_the_usages_add_up(
        qtbot: Any, start: Any, caplog: pytest.LogCaptureFixture) -> None:
    from mma_qt.core.providers.demo import DemoProviderFactory

    runner, task = start(DemoProviderFactory(delay=0, scenario=scenario("flaky-worker")))
    qtbot.waitUntil(task.done, timeout=RUN_TIMEOUT_MS)
    flaky = runner.session.tickets["T-003"]
    first, second = flaky.attempts
    assert (first.status, first.reason, first.qa_hint) == (TicketStatus.FAILED, "first", "")
    assert (second.status, second.reason, second.model) == (
        TicketStatus.COMPLETED, "qa retry", "demo-worker-pro")
    assert second.qa_hint == flaky.qa_hint and second.qa_hint.startswith("Hint for the retry")
    assert sum_usage(a.usage for a in flaky.attempts) == flaky.usage
    others = [t for t in runner.session.tickets.values() if t is not flaky]
    assert all(len(t.attempts) == 1 and t.attempts[0].usage == t.usage for t in others)
    # The run ends done: the failed first attempt is a warning, not an error.
    assert task.result() is RunStatus.DONE
    assert [r.levelname for r in caplog.records if "T-003" in r.getMessage()] == ["WARNING"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_each_attempt_asks_for_its_own_spawn_and_a_rejected_one_cancels_the_ticket(
        qtbot: Any, controller_for: Any, tmp_path: Path) -> None:
    controller, _factory = demo_run(controller_for, tmp_path, scenario("flaky-worker"))
    wait_keys(qtbot, controller, "T-001:spawn")
    controller.resolve_approval("T-001:spawn", True)
    wait_keys(qtbot, controller, "T-002:spawn", "T-003:spawn")
    controller.resolve_approval("T-003:spawn", True)  # T-002's keeps the run alive
    wait_keys(qtbot, controller, "T-002:spawn", "T-003:spawn:2")
    flaky = ticket(controller, "T-003")
    item = next(a for a in controller.pending_approvals() if a["key"] == "T-003:spawn:2")
    assert (flaky.status, item["attempt"], item["model"]) == (
        TicketStatus.WAITING, 2, "demo-worker-pro")
    assert item["detail"].endswith("(attempt 2, qa retry)")
    assert "QA hint: Hint for the retry" in item["prompt"]  # QA's hint is in what it gets
    controller.resolve_approval("T-003:spawn:2", False, reason="enough for today")
    qtbot.waitUntil(lambda: flaky.status is TicketStatus.CANCELLED, timeout=RUN_TIMEOUT_MS)
    assert flaky.blocked_reason == "spawn rejected: enough for today"
    assert [a.status for a in flaky.attempts] == [TicketStatus.FAILED]
    text = controller.session.hub.text(stream_id(Tier.WORKER, "T-003"))
    assert text.endswith("[attempt 2: spawn rejected: enough for today]\n")

    # A rejected spawn is no attempt: the retry is attempt 2, asked for under the same key.
    controller.retry("T-003")
    qtbot.waitUntil(lambda: "T-003:spawn:2" in keys(controller), timeout=RUN_TIMEOUT_MS)
    assert to_the_end(qtbot, controller) is RunStatus.DONE
    assert [(a.number, a.reason, a.status) for a in flaky.attempts] == [
        (1, "first", TicketStatus.FAILED), (2, "user retry", TicketStatus.COMPLETED)]


def test_blocking_a_waiting_ticket_rejects_its_spawn_and_keeps_it_blocked(
        qtbot: Any, controller_for: Any, tmp_path: Path) -> None:
    controller, _factory = demo_run(controller_for, tmp_path)
    decisions = events_of(controller, "approval")
    wait_keys(qtbot, controller, "T-001:spawn")
    controller.block("T-001", "not before the review")
    qtbot.waitUntil(lambda: not controller.busy, timeout=RUN_TIMEOUT_MS)
    first = ticket(controller, "T-001")
    assert (first.status, first.blocked_reason, first.attempts) == (
        TicketStatus.BLOCKED, "not before the review", [])
    assert {t.status for t in controller.session.tickets.values()} == {TicketStatus.BLOCKED}
    assert [(e["key"], e["state"], e.get("by"), e.get("reason")) for e in decisions] == [
        ("T-001:spawn", "requested", None, None),
        ("T-001:spawn", "rejected", "run", "not before the review")]
    assert controller.session.status is RunStatus.FAILED
    assert controller.session.error == "6 blocked of 6 tickets"
