"""The demo's Tier 3 workers with tools: real files through the real tools, round by round.

Each test drives :class:`DemoClient` with a stand-in for the tool loop
(:mod:`tests.demo_driver`) whose calls run through the real :class:`ToolRegistry` on a
temporary folder, then checks the folder: the module exists and its own tests pass.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mma_qt.core.model.bundled import bundled
from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.domain import Ticket, Tier
from mma_qt.core.model.usage import estimate_tokens
from mma_qt.core.providers.base import (
    AssistantTurn,
    CompletionRequest,
    TextDelta,
    ToolCall,
    ToolOutcome,
    ToolResultsTurn,
    UsageReport,
)
from mma_qt.core.providers.demo import (
    DemoClient,
    DemoWorkerError,
    Scenario,
    ScenarioError,
    TicketScript,
)
from mma_qt.core.providers.demo_plan import JOBS, suite_command
from mma_qt.core.tools import Sandbox, ToolRegistry

from .demo_driver import TRACK, PlanRun, context, converse, plan, run_plan, worker_request

SCENARIOS = Path(str(bundled("scenarios")))
MODULE = ("reports/__init__.py", "reports/model.py", "reports/csv_export.py", "reports/cli.py",
          "reports/__main__.py", "tests/__init__.py", "tests/test_model.py",
          "tests/test_csv_export.py", "tests/test_cli.py", "docs/csv-export.md")


def run_suite(folder: Path) -> subprocess.CompletedProcess[str]:
    """The module's own tests, as a user runs them: stdlib unittest from the folder."""
    return subprocess.run(
        [sys.executable, "-B", "-m", "unittest", "discover", "-s", "tests", "-t", "."],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False,
    )


def assert_module_works(folder: Path, tests: int = 16) -> None:
    assert all((folder / path).is_file() for path in MODULE), sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*"))
    result = run_suite(folder)
    assert result.returncode == 0, result.stderr
    assert f"Ran {tests} tests" in result.stderr and result.stderr.rstrip().endswith("OK")


def calls(run: PlanRun, ticket_id: str, attempt: int = 0) -> list[tuple[str, str, bool]]:
    """(tool, path or command, succeeded) for each call of one attempt."""
    chosen = run.attempts[ticket_id][attempt]
    return [(c.name, str(c.arguments.get("path") or c.arguments.get("command")), not o.is_error)
            for c, o in zip(chosen.calls, chosen.outcomes, strict=True)]


def conversation(run: PlanRun) -> list[object]:
    return [(tid, a.texts, [(c.id, c.name, dict(c.arguments)) for c in a.calls], a.failure)
            for tid, attempts in run.attempts.items() for a in attempts]


def test_the_demo_plan_leaves_a_working_module_whose_tests_pass(tmp_path: Path) -> None:
    run = run_plan(tmp_path)
    assert [len(a) for a in run.attempts.values()] == [1] * 6
    assert all(not a[0].failure for a in run.attempts.values())
    assert_module_works(tmp_path)
    every = [call for tid in run.attempts for call in calls(run, tid)]
    assert ("apply_edit", "reports/__init__.py", True) in every
    assert ("run_command", suite_command(), True) in every
    # The last ticket ran the suite with this very interpreter, by its absolute path.
    assert suite_command().startswith(sys.executable) and Path(sys.executable).is_absolute()
    final = run.attempts["T-006"][0].final_text
    assert "Verified: Ran 16 tests: OK" in final and "created docs/csv-export.md" in final


def test_the_csv_export_quotes_commas_quotes_and_newlines_in_utf8(tmp_path: Path) -> None:
    run_plan(tmp_path)
    source = tmp_path / "data.json"
    source.write_text('{"title": "t", "columns": ["a", "b"], "rows": [["x, \\"y\\"", '
                      '"Zürich\\nline 2"]]}', encoding="utf-8")
    result = subprocess.run([sys.executable, "-B", "-m", "reports", str(source)],
                            cwd=tmp_path, capture_output=True, timeout=60, check=True)
    assert result.stdout.decode("utf-8") == 'a,b\r\n"x, ""y""","Zürich\nline 2"\r\n'


def test_each_worker_writes_exactly_its_tickets_target_files(tmp_path: Path) -> None:
    run = run_plan(tmp_path)
    targets = {t.id: set(t.target_files) for t in run.tickets}
    for ticket_id, target in targets.items():
        written = {path for name, path, ok in calls(run, ticket_id)
                   if ok and name in ("write_file", "apply_edit", "delete_file")}
        assert written == target, ticket_id
    assert [t.title for t in run.tickets] == [job.title for job in JOBS]


def test_the_conversation_is_deterministic(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = run_plan(tmp_path / "a"), run_plan(tmp_path / "b")
    assert conversation(first) == conversation(second)
    ids = [c.id for attempts in first.attempts.values() for a in attempts for c in a.calls]
    assert len(ids) == len(set(ids))


def test_failing_command_scenario_fails_once_and_the_qa_hint_fixes_the_retry(
    tmp_path: Path,
) -> None:
    run = run_plan(tmp_path, Scenario.load(SCENARIOS / "failing-command.toml"))
    first, retry = run.attempts["T-006"]
    assert ("run_command", suite_command(), False) in calls(run, "T-006", 0)
    failed_run = first.outcomes[[c.name for c in first.calls].index("run_command")]
    assert failed_run.text.startswith("error: exit code 1")
    assert "FAIL: test_a_line_break_is_quoted" in failed_run.text
    assert first.failure.startswith(
        "DemoWorkerError: the tests fail: test_a_line_break_is_quoted (test_csv_export)")
    hint = run.qa_replies["T-006"][0].split("\n\n")[-1].strip()
    assert hint.startswith("Hint for the retry:") and "reports/csv_export.py" in hint
    assert f"QA hint: {hint}" in retry.requests[0].prompt
    assert calls(run, "T-006", 1)[1:4] == [
        ("read_file", "reports/csv_export.py", True),
        ("apply_edit", "reports/csv_export.py", True),
        ("run_command", suite_command(), True)]
    assert not retry.failure and "Ran 16 tests: OK" in retry.final_text
    assert all(len(run.attempts[t]) == 1 for t in run.attempts if t != "T-006")
    assert_module_works(tmp_path)


def test_escape_scenario_is_refused_and_the_workers_recover(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    run = run_plan(workspace, Scenario.load(SCENARIOS / "escape-attempt.toml"))
    assert calls(run, "T-001")[0] == ("write_file", "../outside.txt", False)
    assert calls(run, "T-003")[0] == ("write_file", "/etc/mma-qt-demo.txt", False)
    assert [p.name for p in tmp_path.iterdir()] == ["ws"]
    assert not Path("/etc/mma-qt-demo.txt").exists()
    t001 = run.attempts["T-001"][0]
    assert t001.outcomes[0].text == "error: '../outside.txt' leads outside the working directory"
    assert t001.texts[1].startswith("`write_file ../outside.txt` was refused: '../outside.txt' "
                                    "leads outside the working directory. I did not make that")
    assert "Not done:\n- `write_file ../outside.txt`" in t001.final_text
    assert all(not a[0].failure for a in run.attempts.values())
    assert_module_works(workspace)


def _reject_deletions(call: ToolCall) -> str | None:
    return "keep the CLI tests" if call.name == "delete_file" else None


def test_rejected_edit_scenario_keeps_the_file_and_the_worker_carries_on(
    tmp_path: Path,
) -> None:
    run = run_plan(tmp_path, Scenario.load(SCENARIOS / "rejected-edit.toml"),
                   decide=_reject_deletions)
    t006 = run.attempts["T-006"][0]
    assert calls(run, "T-006")[0] == ("delete_file", "tests/test_cli.py", False)
    answered = t006.requests[1].history[-1]
    assert isinstance(answered, ToolResultsTurn)
    assert answered.results[0].text == "error: rejected by the user: keep the CLI tests"
    assert t006.texts[1].startswith(
        "You rejected `delete_file tests/test_cli.py` (keep the CLI tests), so I leave")
    assert "- `delete_file tests/test_cli.py`: rejected by the user: keep the CLI tests" \
        in t006.final_text
    assert not t006.failure
    assert_module_works(tmp_path)


def test_an_approved_deletion_still_leaves_a_passing_suite(tmp_path: Path) -> None:
    run = run_plan(tmp_path, Scenario.load(SCENARIOS / "rejected-edit.toml"))
    assert calls(run, "T-006")[0] == ("delete_file", "tests/test_cli.py", True)
    assert not (tmp_path / "tests/test_cli.py").exists()
    result = run_suite(tmp_path)
    assert result.returncode == 0 and "Ran 12 tests" in result.stderr


def test_a_rejected_test_run_is_acknowledged_not_a_failure(tmp_path: Path) -> None:
    run = run_plan(tmp_path, decide=lambda c: "not now" if c.name == "run_command" else None)
    t006 = run.attempts["T-006"]
    assert len(t006) == 1 and not t006[0].failure
    assert "I could not run the tests (rejected by the user: not now)" in t006[0].texts[-2]
    assert "- `run_command " in t006[0].final_text and "Not run here" in t006[0].final_text


def test_rejecting_every_change_never_crashes_a_worker(tmp_path: Path) -> None:
    run = run_plan(tmp_path, decide=lambda call: "no")
    assert list(tmp_path.iterdir()) == []
    for ticket_id, attempts in run.attempts.items():
        assert len(attempts) == 1 and not attempts[0].failure, ticket_id
        final = attempts[0].final_text
        assert "Nothing changed in the workspace." in final and "Not done:" in final
    # A read of a file that was never written is acknowledged too.
    assert run.attempts["T-002"][0].texts[1].startswith(
        "`get_skeleton reports/model.py` failed: ")


def test_a_ticket_outside_the_plan_writes_its_own_target_files(tmp_path: Path) -> None:
    client = DemoClient(0, Scenario(wide_tickets=3))
    registry = ToolRegistry(Sandbox(tmp_path))
    ticket = plan(client)[1]
    attempt = converse(client, worker_request(ticket, tmp_path, registry), registry)
    assert not attempt.failure
    path = tmp_path / "src/part_002.py"
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    assert "created src/part_002.py" in attempt.final_text


def test_tool_calls_follow_the_round_text_and_usage_counts_them(tmp_path: Path) -> None:
    registry = ToolRegistry(Sandbox(tmp_path))
    ticket = plan(DemoClient(0, Scenario()))[0]
    first = worker_request(ticket, tmp_path, registry)
    call = ToolCall("demo_T_001_0_0_0", "list_dir", {"path": ".", "depth": 2})
    later = replace(first, history=(
        AssistantTurn("I look first.", (call,)),
        ToolResultsTurn((ToolOutcome(call.id, "list_dir", "(. is empty)"),))))
    items = list(DemoClient(0, Scenario()).stream(later, CancelToken()))
    kinds = [type(i).__name__ for i in items]
    assert kinds[-2:] == ["ToolCall", "UsageReport"] and set(kinds[:-2]) == {"TextDelta"}
    made = items[-2]
    assert isinstance(made, ToolCall) and made.id == "demo_T_001_0_1_0"
    assert made.name == "write_file" and made.arguments["path"] == "reports/model.py"
    usage = items[-1]
    assert isinstance(usage, UsageReport)
    text = "".join(i.text for i in items if isinstance(i, TextDelta))
    assert usage.usage.output > estimate_tokens(text)
    assert usage.usage.input > estimate_tokens(first.system) + estimate_tokens(first.prompt)


def test_a_cancelled_round_makes_no_tool_call(tmp_path: Path) -> None:
    registry = ToolRegistry(Sandbox(tmp_path))
    request = worker_request(plan(DemoClient(0, Scenario()))[0], tmp_path, registry)
    token = CancelToken()
    token.cancel("stop")
    items = list(DemoClient(0, Scenario()).stream(request, token))
    assert not any(isinstance(i, ToolCall) for i in items)
    assert isinstance(items[-1], UsageReport) and items[-1].usage.estimated


def test_a_scripted_raise_strikes_the_first_round_of_a_tool_conversation(
    tmp_path: Path,
) -> None:
    script = TicketScript(raise_message="OSError: disk full", raise_times=1, after_chunks=99)
    client = DemoClient(0, Scenario(tickets={"T-001": script}))
    registry = ToolRegistry(Sandbox(tmp_path))
    ticket = plan(client)[0]
    with pytest.raises(DemoWorkerError, match="disk full"):
        list(client.stream(worker_request(ticket, tmp_path, registry), CancelToken()))
    retry = converse(client, worker_request(ticket, tmp_path, registry, attempt=1), registry)
    assert not retry.failure and (tmp_path / "reports/model.py").is_file()


def test_without_tools_the_worker_still_answers_in_prose(tmp_path: Path) -> None:
    registry = ToolRegistry(Sandbox(tmp_path))
    request = replace(worker_request(plan(DemoClient(0, Scenario()))[0], tmp_path, registry),
                      tools=())
    items = list(DemoClient(0, Scenario()).stream(request, CancelToken()))
    assert not any(isinstance(i, ToolCall) for i in items)
    assert "```python" in "".join(i.text for i in items if isinstance(i, TextDelta))
    assert list(tmp_path.iterdir()) == []


def test_qa_names_the_module_a_failing_test_checks() -> None:
    made = context("/ws").tier4(
        "e", TRACK, Ticket("T-006", "Run the tests"), root="/ws", output="",
        error="DemoWorkerError: the tests fail: test_x (test_cli): AssertionError: 1 != 2")
    qa = CompletionRequest(Tier.QA, "demo-qa", made.system, made.prompt, "qa", "T-006")
    text = "".join(i.text for i in DemoClient(0, Scenario()).stream(qa, CancelToken())
                   if isinstance(i, TextDelta))
    assert text.strip().split("\n\n")[-1] == (
        "Hint for the retry: test_x in tests/test_cli.py fails (AssertionError: 1 != 2); the "
        "code it checks is reports/cli.py, which no longer does what the test expects: read "
        "reports/cli.py, restore that behaviour, and run the tests again.")


def test_bundled_tool_scenarios_load() -> None:
    escape = Scenario.load(SCENARIOS / "escape-attempt.toml").tickets
    assert (escape["T-001"].escape, escape["T-003"].escape) == (
        "../outside.txt", "/etc/mma-qt-demo.txt")
    assert Scenario.load(SCENARIOS / "failing-command.toml").tickets["T-006"].failing_tests == 1
    rejected = Scenario.load(SCENARIOS / "rejected-edit.toml").tickets["T-006"]
    assert rejected.propose_delete == "tests/test_cli.py"


@pytest.mark.parametrize(
    ("table", "message"),
    [({"escape": 3}, "tickets.T-001.escape: Input should be a valid string"),
     ({"failing_tests": -1}, "tickets.T-001.failing_tests: Input should be greater than or "
                             "equal to 0"),
     ({"propose_delete": ["a"]}, "tickets.T-001.propose_delete: Input should be a valid "
                                 "string")],
)
def test_bad_tool_scenario_fields_are_refused(table: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict({"tickets": {"T-001": table}}, "s.toml")
    assert str(info.value) == f"s.toml: {message}"
