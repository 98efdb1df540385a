"""Acceptance 2's Resume through real ``mma-qt`` processes: an app killed mid-run, a new
app on the same workspace resumes the interrupted run over the hook."""

from __future__ import annotations

from pathlib import Path

from mma_qt.hooks.client import ApiHookClient

from .helpers import AppProcess, app_env, kill_while_streaming

FINAL = ("done", "failed", "cancelled")


def test_resume_after_a_kill_completes_the_remaining_tickets_and_keeps_the_done_ones(
    tmp_path: Path,
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    kill_while_streaming(workspace, tmp_path, "T-002")
    app = AppProcess(["--provider", "demo", "--demo-delay", "0", "--workspace",
                      str(workspace), "--auto"], app_env(tmp_path), tmp_path)
    try:
        app.expect("hook listening on")
        with ApiHookClient(app.hook) as client:
            [past] = client.list_runs()
            before = client.get_run(past["run_id"])
            started = client.resume_run(past["run_id"])
            status = client.wait_for(lambda s: s["status"] in FINAL, 120, types=["status"])
            after = client.get_run(started["run_id"])
            runs = client.list_runs()
            client.click("close")
        code, stderr = app.finish()
    finally:
        app.kill()
    assert code == 0, stderr
    assert past["status"] == "interrupted" and status["status"] == "done"
    assert started["parent_run_id"] == past["run_id"] and started["run_id"] != past["run_id"]
    assert after["parent_run_id"] == past["run_id"]
    assert [r["run_id"] for r in runs] == [started["run_id"], past["run_id"]]
    was = {t["id"]: t for t in before["tickets"]}
    now = {t["id"]: t for t in after["tickets"]}
    assert was["T-001"]["status"] == "completed" and was["T-002"]["status"] == "interrupted"
    assert all(t["status"] == "completed" for t in now.values())
    for tid, ticket in was.items():
        sid = f"Tier 3 (Worker): {tid}"
        if ticket["status"] == "completed":  # kept: not run again, its stream and usage
            assert now[tid]["attempts"] == ticket["attempts"]
            assert after["mma_streams"][sid] == before["mma_streams"][sid]
    assert len(now["T-002"]["attempts"]) == 2
