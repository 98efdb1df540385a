"""``mma-qt-hook`` steering a live app as a new user types it: each command a subprocess
against the real window, session and controller on the (recorded) demo provider.

The step-mode flow end to end from a shell, and every mistake (an unknown ticket, a
command in the wrong state, bad JSON for ``--tracks``, a missing argument) as one line on
stderr with exit code 1 (the app refused) or 2 (the command line is wrong), never a
traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.model.domain import Tier
from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.providers.demo import Scenario
from mma_qt.hooks.client import ApiHookClient

from .helpers import FINAL, run_off_gui_thread
from .test_hook_acceptance import FLAKY, STEP, TIMEOUT_S
from .test_pipeline import Recorder

pytestmark = pytest.mark.ui  # the real window behind the hook


class Shell:
    """``mma-qt-hook --hook <app> ARGS`` in a subprocess: (exit code, stdout, stderr)."""

    def __init__(self, address: str) -> None:
        self.address = address

    def __call__(self, *args: str) -> tuple[int, str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "mma_qt.hooks.cli", "--hook", self.address, *args],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT_S,
            check=False)
        return done.returncode, done.stdout, done.stderr

    def json(self, *args: str) -> Any:
        code, out, err = self(*args)
        assert (code, err) == (0, ""), (args, err)
        return json.loads(out)


def test_the_step_mode_flow_from_the_command_line(
        make_app: Any, qtbot: Any, tmp_path: Path) -> None:
    factory = Recorder(delay=0, scenario=Scenario(tickets=FLAKY))
    app = make_app(factory, STEP, auto=False)
    hook = Shell(app.hook.path)
    tracks = tmp_path / "tracks.json"
    guide = "A user guide in docs/guide.md and a CHANGELOG entry for the CSV export."

    def script() -> dict[str, Any]:
        out: dict[str, Any] = {"plan": hook.json("plan", sample_epic(), "--workspace",
                                                 str(tmp_path))}
        hook.json("wait", "proposed", "--timeout", str(TIMEOUT_S))
        proposed = hook.json("proposal")["proposed_tracks"]
        out["proposed"] = [t["id"] for t in proposed]
        proposed[1]["description"] = guide
        tracks.write_text(json.dumps(proposed), encoding="utf-8")
        out["accept"] = hook.json("accept", "--tracks", f"@{tracks}", "--drop", "TR-3")
        with ApiHookClient(app.hook.path) as client:  # waits on events: the CLI would poll
            both = {"T-001:spawn", "T-007:spawn"}
            waiting = client.wait_for(lambda s: {a["key"] for a in s["approvals"]} == both,
                                      TIMEOUT_S, types=["approval"])
        spawn = next(a for a in waiting["approvals"] if a["key"] == "T-001:spawn")
        out["edited"] = spawn["prompt"] + "\nKeep the model a frozen dataclass.\n"
        hook.json("approve", "T-001:spawn", "--prompt", out["edited"])
        hook.json("approve", "T-007:spawn", "--model", "demo-worker-max")
        out["mode"] = hook.json("mode", "auto")  # the rest without asking
        out["end"] = hook.json("wait", *FINAL, "--timeout", str(TIMEOUT_S))
        out["retry"] = hook.json("retry", "T-008", "--model", "demo-worker-pro")
        out["again"] = hook.json("wait", *FINAL, "--timeout", str(TIMEOUT_S))
        return out

    out = run_off_gui_thread(qtbot, script, timeout_ms=2 * TIMEOUT_S * 1000)
    assert out["plan"] == {"planning": True, "status": "planning"}
    assert out["proposed"] == ["TR-1", "TR-2", "TR-3"]
    assert out["accept"] == {"accepted": True, "status": "planning"}
    assert out["mode"] == {"mode": "auto"}
    assert out["end"]["status"] == "done"
    assert [(t["id"], t["description"] == guide) for t in out["end"]["tracks"]] == [
        ("TR-1", False), ("TR-2", True)]
    assert out["retry"] == {"ticket_id": "T-008", "ticket_status": "todo", "status": "running"}
    tickets = {t["id"]: t for t in out["again"]["tickets"]}
    assert out["again"]["status"] == "done"
    assert {t["status"] for t in tickets.values()} == {"completed"} and len(tickets) == 8
    assert [a["model"] for a in tickets["T-008"]["attempts"]] == ["demo-worker",
                                                                  "demo-worker-pro"]
    assert [a["status"] for a in tickets["T-003"]["attempts"]] == ["failed", "completed"]
    worker = factory.of(Tier.WORKER)
    assert next(r for r in worker if r.ticket_id == "T-001").prompt == out["edited"]
    assert {r.model for r in worker if r.ticket_id == "T-007"} == {"demo-worker-max"}


#: A mistake → (exit code, the one line on stderr). {tmp}: the test's folder.
MISTAKES: dict[tuple[str, ...], tuple[int, str]] = {
    ("retry", "T-404"): (1, "mma-qt-hook: retry failed: no ticket 'T-404' in this run "
                            "(code -32000)"),
    ("skip", "T-404", "later"): (1, "mma-qt-hook: skip failed: no ticket 'T-404' in this run "
                                    "(code -32000)"),
    ("accept",): (1, "mma-qt-hook: accept failed: cannot accept tracks: no track proposal "
                     "waits for an answer (the run is idle); start one with plan_epic "
                     "(code -32000)"),
    ("replan", "fewer tracks"): (1, "mma-qt-hook: replan failed: cannot re-plan: no track "
                                    "proposal waits for an answer (the run is idle); start "
                                    "one with plan_epic (code -32000)"),
    ("cancel-track", "TR-9"): (1, "mma-qt-hook: cancel-track failed: no run in progress "
                                  "(code -32000)"),
    ("approve", "T-001:spawn", "--model", "m"): (1, "mma-qt-hook: approve failed: no run in "
                                                    "progress (code -32000)"),
    ("plan", "x", "--workspace", "{tmp}/missing"): (
        1, "mma-qt-hook: plan failed: workspace '{tmp}/missing' is not a folder "
           "(code -32000)"),
    ("accept", "--tracks", "{bad"): (
        2, "mma-qt-hook accept: argument --tracks: not JSON: Expecting property name "
           "enclosed in double quotes: line 1 column 2 (char 1) "
           "(see mma-qt-hook accept --help)"),
    ("accept", "--tracks", '{"id": "TR-1"}'): (
        2, "mma-qt-hook accept: argument --tracks: a JSON list of track objects "
           "(see mma-qt-hook accept --help)"),
    ("accept", "--tracks", "@{tmp}/none.json"): (
        2, "mma-qt-hook accept: argument --tracks: cannot read {tmp}/none.json: No such file "
           "or directory (see mma-qt-hook accept --help)"),
    ("skip", "T-001"): (2, "mma-qt-hook skip: the following arguments are required: REASON "
                           "(see mma-qt-hook skip --help)"),
    ("retry",): (2, "mma-qt-hook retry: the following arguments are required: TICKET "
                    "(see mma-qt-hook retry --help)"),
    ("mode", "fast"): (2, "mma-qt-hook mode: argument mode: invalid choice: 'fast' (choose "
                          "from 'step', 'auto') (see mma-qt-hook mode --help)"),
    ("approve", "--all", "--prompt", "Do less"): (
        2, "mma-qt-hook approve: --prompt and --model edit one spawn: give its KEY, not --all "
           "(see mma-qt-hook approve --help)"),
    ("edit", "T-001"): (2, "mma-qt-hook edit: nothing to change: give --title, --description, "
                           "--depends-on or --target-files (see mma-qt-hook edit --help)"),
}


def test_every_mistake_is_one_line_on_stderr_with_exit_code_1_or_2(
        demo_app: Any, qtbot: Any, tmp_path: Path) -> None:
    hook = Shell(demo_app.hook.path)

    def script() -> dict[tuple[str, ...], tuple[int, str, str]]:
        return {args: hook(*(a.format(tmp=tmp_path) if "{tmp}" in a else a for a in args))
                for args in MISTAKES}

    answers = run_off_gui_thread(qtbot, script)
    expected = {args: (code, "", line.format(tmp=tmp_path) + "\n")
                for args, (code, line) in MISTAKES.items()}
    assert answers == expected
