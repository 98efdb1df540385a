"""Acceptance of issue 12 through real ``mma-qt`` processes: a run read back by the next
process over the hook, a killed app's history, and ``mma-qt report`` without a display."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mma_qt.core.history.schema import history_path
from mma_qt.core.model.prompts import sample_epic
from mma_qt.hooks.client import ApiHookClient

from .helpers import AppProcess, app_env, assert_quiet, kill_while_streaming

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_RUN = "20260101-120000-abcdef"


def demo_run(folder: Path, report: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mma_qt", "--provider", "demo", "--demo-delay", "0",
         "--epic", sample_epic(), "--workspace", str(folder), "--auto", "--exit-when-done",
         "--report", str(report)],
        capture_output=True, text=True, timeout=120, env=app_env(folder), check=False)


def test_the_next_process_reads_a_run_back_as_the_first_one_ended_it(tmp_path: Path) -> None:
    """Acceptance 1: run the demo, exit, start again on the workspace: ``get_run`` is the
    final ``get_mma_status`` of the first process (streams, usage, statuses)."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    first = demo_run(workspace, tmp_path / "final.json")
    assert first.returncode == 0, first.stderr
    assert_quiet(first.stderr)
    final = json.loads((tmp_path / "final.json").read_text(encoding="utf-8"))
    app = AppProcess(["--provider", "demo", "--workspace", str(workspace)],
                     app_env(tmp_path), tmp_path)
    try:
        app.expect("hook listening on")
        with ApiHookClient(app.hook) as client:
            runs = client.call("list_runs")
            run = client.call("get_run", {"run_id": runs[0]["run_id"]})
            hits = client.call("search_streams", {"query": "RFC 4180"})
            client.click("close")
        code, stderr = app.finish()
    finally:
        app.kill()
    assert code == 0, stderr
    assert [(r["status"], r["tickets_done"], r["tickets_total"]) for r in runs] == [
        ("done", len(final["tickets"]), len(final["tickets"]))]
    for key in ("status", "tickets", "tracks", "mma_streams", "streams", "tier_usage",
                "totals", "epic", "workspace", "provider", "elapsed_s"):
        assert run[key] == final[key], key
    assert hits and all(h["run_id"] == runs[0]["run_id"] for h in hits)


def test_a_killed_app_leaves_an_interrupted_run_with_what_it_showed(tmp_path: Path) -> None:
    """Acceptance 2 (without Resume, which comes later): SIGKILL mid-run; every chunk the
    window had a second before the kill is stored, in order; the run and its running
    tickets read back ``interrupted``; the file's integrity check passes."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    shown = kill_while_streaming(workspace, tmp_path, "T-001")
    report = subprocess.run(
        [sys.executable, "-m", "mma_qt", "report", str(workspace), "--format", "json"],
        capture_output=True, text=True, timeout=60, env=app_env(tmp_path), check=False)
    assert report.returncode == 0, report.stderr
    stored = json.loads(report.stdout)
    assert stored["status"] == "interrupted"
    assert "interrupted" in {t["status"] for t in stored["tickets"]}
    assert not any(t["status"] == "in_progress" for t in stored["tickets"])
    for sid, text in shown["mma_streams"].items():
        assert stored["mma_streams"][sid].startswith(text), sid
    conn = sqlite3.connect(history_path(workspace))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        gaps = conn.execute(
            "SELECT stream_key, COUNT(*), MAX(seq) FROM chunks GROUP BY stream_key"
        ).fetchall()
    finally:
        conn.close()
    assert all(count == last + 1 for _sid, count, last in gaps)


def test_a_history_that_cannot_be_opened_leaves_the_run_complete_and_says_so_once(
    tmp_path: Path,
) -> None:
    """Acceptance 6 through the command line. The history file is a folder: no one can
    open it, root included (a read-only ``.mma/`` stops no root)."""
    workspace = tmp_path / "ws"
    history_path(workspace).mkdir(parents=True)
    history_path(workspace).parent.chmod(0o555)
    try:
        result = demo_run(workspace, tmp_path / "final.json")
    finally:
        history_path(workspace).parent.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert_quiet(result.stderr)
    off = [line for line in result.stderr.splitlines() if "history is off" in line]
    assert len(off) == 1 and off[0].startswith("mma-qt: "), result.stderr
    assert json.loads((tmp_path / "final.json").read_text(encoding="utf-8"))["status"] == "done"


def report_command(args: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    """``mma-qt report ARGS`` with no display, proving it loads no Qt."""
    env = {k: v for k, v in app_env(folder).items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    code = ("import sys\nfrom mma_qt.app import main\ncode = main(sys.argv[1:])\n"
            "assert not [m for m in sys.modules if m.startswith(('PySide6', 'qasync'))]\n"
            "sys.exit(code)")
    return subprocess.run([sys.executable, "-c", code, "report", *args], capture_output=True,
                          text=True, timeout=60, env=env, check=False, cwd=folder)


@pytest.fixture
def fixture_workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    history_path(workspace).parent.mkdir(parents=True)
    shutil.copy(FIXTURES / "history-v1.sqlite3", history_path(workspace))
    return workspace


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_the_report_subcommand_writes_each_format_without_a_display(
    fixture_workspace: Path, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"report.{fmt}"
    result = report_command([str(fixture_workspace), "-o", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"mma-qt report: written to {out}\n"
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        assert json.loads(text)["run_id"] == FIXTURE_RUN
    else:
        assert "RFC 4180" in text and "T-001" in text


def test_the_report_subcommand_prints_the_chosen_run_to_stdout(
    fixture_workspace: Path, tmp_path: Path
) -> None:
    result = report_command([str(fixture_workspace), "--run", FIXTURE_RUN, "--format", "md"],
                            tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Run report: Add CSV export")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "nope"], "mma-qt report: no run 'nope' in "),
        (["--format", "pdf"], "mma-qt report: argument --format: invalid choice: 'pdf'"),
        (["-o", "/no/such/folder/r.md"], "mma-qt report: -o /no/such/folder/r.md: /no/such/"
                                          "folder does not exist"),
    ],
)
def test_bad_report_arguments_are_one_line_and_exit_2(
    fixture_workspace: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = report_command([str(fixture_workspace), *args], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


def test_a_workspace_without_history_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = report_command([str(tmp_path)], tmp_path)
    assert result.returncode == 2
    assert result.stderr == (f"mma-qt report: no history in {tmp_path} "
                             f"({history_path(tmp_path)} does not exist)\n")
