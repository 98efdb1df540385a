"""The command line as a new user meets it: mistakes refused at once in one line, quiet
consoles, orderly exits on a signal, and a report that is written whole or not at all.

Subprocess tests run ``python -m mma_qt`` offscreen with a private runtime, config, log
folder and hook each, and wait on stderr lines, never on time.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import qCritical, qWarning

from mma_qt.app import ExitState
from mma_qt.arguments import (
    StartupError,
    check_args,
    check_report_path,
    parse_args,
    write_report,
)
from mma_qt.console import OneLineFormatter, QtMessageLogger, console_handler
from mma_qt.core.live.session import MmaSession
from mma_qt.core.model.domain import Tier
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.providers.demo import DemoProviderFactory, Scenario, TicketScript
from mma_qt.core.run.controller import Controller
from mma_qt.hooks.client import ApiHookClient
from mma_qt.hooks.protocol import default_hook_address
from mma_qt.progress import format_event
from mma_qt.wiring import assemble

from .conftest import close_app
from .helpers import (
    AppProcess,
    app_env,
    assert_quiet,
    short_socket_path,
    slow_first_ticket,
)
from .test_conductor import StuckWorkerFactory

SCENARIOS = Path(__file__).resolve().parents[1] / "resources" / "scenarios"


def run_app(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mma_qt", *args], env=app_env(tmp_path), cwd=tmp_path,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
    )


def start_app(tmp_path: Path, *args: str) -> AppProcess:
    return AppProcess(list(args), app_env(tmp_path), tmp_path)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


# -- mistakes refused at once ----------------------------------------------------------


@pytest.mark.parametrize("epic", ["", "   "])
def test_an_empty_epic_is_refused_at_once(tmp_path: Path, epic: str) -> None:
    result = run_app(tmp_path, "--provider", "demo", "--epic", epic, "--auto",
                     "--exit-when-done")
    assert (result.returncode, result.stderr) == (2, "mma-qt: the epic is empty\n")


def test_exit_when_done_without_an_epic_is_refused(tmp_path: Path) -> None:
    """Nothing would start a run, so nothing would end the app: say so and exit."""
    result = run_app(tmp_path, "--provider", "demo", "--exit-when-done")
    assert result.returncode == 2
    assert result.stderr == (
        "mma-qt: --exit-when-done needs --epic TEXT (or --demo): no run would start\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workspace", "{tmp}/missing"], "workspace '{tmp}/missing' is not a folder"),
        (["--scenario", "{tmp}/nope.toml"], "--scenario {tmp}/nope.toml: no such file"),
        (["--max-workers", "0"],
         "argument --max-workers: must be at least 1, not 0 (see mma-qt --help)"),
    ],
    ids=["missing-workspace", "missing-scenario", "zero-workers"],
)
def test_a_bad_argument_gets_one_line_and_exit_code_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    args = [a.format(tmp=tmp_path) for a in args]
    result = run_app(tmp_path, "--provider", "demo", "--epic", "x", "--auto",
                     "--exit-when-done", *args)
    assert (result.returncode, result.stderr) == (2, f"mma-qt: {message.format(tmp=tmp_path)}\n")


def refusal(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The exit code and stderr of what ``main`` does with ``args`` before Qt starts."""
    try:
        check_args(parse_args(["--provider", "demo", "--epic", "x", "--exit-when-done",
                               *args]))
    except SystemExit as exc:
        assert isinstance(exc.code, int)
        return exc.code, capsys.readouterr().err
    except StartupError as exc:  # main prints it so and returns 2
        return 2, f"mma-qt: {exc}\n"
    raise AssertionError(f"{args} accepted")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-workers", "two"],
         "argument --max-workers: 'two' is not a whole number (see mma-qt --help)"),
        (["--demo-delay", "-1"],
         "argument --demo-delay: must be 0 or more seconds, not -1 (see mma-qt --help)"),
        (["--demo-delay", "nan"],
         "argument --demo-delay: must be 0 or more seconds, not nan (see mma-qt --help)"),
        (["--hook", ""], "--hook: the hook address must not be empty"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate (see mma-qt --help)"),
        (["--provider", "openai", "--scenario", "x.toml"],
         "--scenario scripts the demo provider, not --provider openai"),
        (["--report", "{tmp}/file/r.json"],
         "--report {tmp}/file/r.json: {tmp}/file is not a folder"),
        (["--report", "/dev/null"], "--report /dev/null is not a regular file"),
    ],
    ids=["words-for-workers", "negative-delay", "nan-delay", "empty-hook", "unknown-option",
         "scenario-for-a-real-provider", "file-as-report-folder", "device-as-report"],
)
def test_every_bad_argument_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    code, stderr = refusal(capsys, *[a.format(tmp=tmp_path) for a in args])
    assert (code, stderr) == (2, f"mma-qt: {message.format(tmp=tmp_path)}\n")


# -- --report ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{tmp}", "--report {tmp} is a folder; name a file"),
        ("{tmp}/missing/r.json", "--report {tmp}/missing/r.json: {tmp}/missing does not exist"),
    ],
    ids=["folder", "missing-folder"],
)
def test_a_report_path_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path, target: str, message: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    result = run_app(tmp_path, "--provider", "demo", "--epic", "x", "--auto",
                     "--exit-when-done", "--report", target.format(tmp=work))
    assert (result.returncode, result.stderr) == (2, f"mma-qt: {message.format(tmp=work)}\n")
    assert list(work.iterdir()) == []  # nothing left behind


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")
def test_a_report_in_a_folder_nobody_can_write_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """/proc refuses new files even to root, so this holds whoever runs the tests."""
    code, stderr = refusal(capsys, "--report", "/proc/r.json")
    assert code == 2
    assert stderr.startswith("mma-qt: --report /proc/r.json: cannot write in /proc: ")
    assert stderr.count("\n") == 1
    code, stderr = refusal(capsys, "--report", "/proc/nope/r.json")
    assert (code, stderr) == (2, "mma-qt: --report /proc/nope/r.json: /proc/nope does not exist\n")


def test_checking_the_report_folder_leaves_nothing_behind(tmp_path: Path) -> None:
    check_report_path(tmp_path / "r.json")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StartupError, match="is a folder"):
        check_report_path(tmp_path)


def test_a_report_that_cannot_replace_its_target_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "r.json").mkdir()
    with pytest.raises(IsADirectoryError):
        write_report(tmp_path / "r.json", {"status": "done"})
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    write_report(tmp_path / "ok.json", {"status": "done"})
    assert (tmp_path / "ok.json").read_text(encoding="utf-8") == '{\n  "status": "done"\n}'
    assert leftovers(tmp_path) == []


def test_a_report_that_fails_at_the_end_says_so_and_exits_3(tmp_path: Path) -> None:
    """The check passed at the start; then the report's name became a folder mid-run."""
    report = tmp_path / "r.json"
    app = start_app(tmp_path, "--provider", "demo", "--demo-delay", "0", "--epic", "x",
                    "--exit-when-done", "--report", str(report))
    try:
        app.expect("mma-qt: approval needed: spawn T-001")  # no --auto: the run waits here
        report.mkdir()
        with ApiHookClient(app.hook) as client:
            client.cancel()
        code, stderr = app.finish()
    finally:
        app.kill()
    assert code == 3, stderr
    assert (
        f"mma-qt: ERROR mma_qt: cannot write the report to {report}: Is a directory\n"
        in stderr
    )
    assert "report written" not in stderr
    assert_quiet(stderr)
    assert leftovers(tmp_path) == []


# -- signals and closing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delay", "wait_for", "sig", "code"),
    [
        ("0.05", "mma-qt: status planning (Tier 1)", signal.SIGTERM, 143),
        ("0", "mma-qt: ticket T-001 in_progress", signal.SIGTERM, 143),
        ("0", "mma-qt: ticket T-001 in_progress", signal.SIGINT, 130),
    ],
    ids=["sigterm-planning", "sigterm-running", "sigint-running"],
)
def test_a_signal_mid_run_ends_the_run_in_order_and_exits_quietly(
    tmp_path: Path, delay: str, wait_for: str, sig: signal.Signals, code: int
) -> None:
    report = tmp_path / "r.json"
    app = start_app(tmp_path, "--provider", "demo", "--demo-delay", delay, "--scenario",
                    str(slow_first_ticket(tmp_path)), "--epic", sample_epic(),
                    "--workspace", str(tmp_path), "--auto", "--exit-when-done",
                    "--report", str(report))
    try:
        app.expect(wait_for)
        app.proc.send_signal(sig)
        returncode, stderr = app.finish()
    finally:
        app.kill()
    assert returncode == code, stderr
    assert_quiet(stderr)
    assert "ERROR" not in stderr
    assert "mma-qt: status cancelled: application closing\n" in stderr
    assert "mma-qt: finished cancelled: " in stderr
    # The run ended before the app did: the report is whole and every ticket settled.
    status = json.loads(report.read_text(encoding="utf-8"))
    assert status["status"] == "cancelled"
    assert all(t["status"] in ("completed", "cancelled") for t in status["tickets"])
    assert leftovers(tmp_path) == []


# -- the console --------------------------------------------------------------------------


def test_a_scripted_failure_is_one_line_on_stderr_and_a_traceback_in_the_log(
    tmp_path: Path,
) -> None:
    result = run_app(tmp_path, "--provider", "demo", "--demo-delay", "0", "--scenario",
                     str(SCENARIOS / "failing-worker.toml"), "--epic", "x", "--auto",
                     "--exit-when-done")
    assert result.returncode == 1, result.stderr
    assert_quiet(result.stderr)
    failed = [line for line in result.stderr.splitlines() if "T-002" in line and (
        "ERROR" in line or "WARNING" in line)]
    why = "DemoWorkerError: ConnectionResetError: the build server closed the connection"
    # Each attempt QA diagnoses for a retry is a warning; the ticket failing, the error.
    assert failed == [
        "mma-qt: WARNING mma_qt.core.run.conductor: ticket T-002 attempt 1 failed, QA "
        f"diagnoses it for a retry: {why}",
        "mma-qt: WARNING mma_qt.core.run.conductor: ticket T-002 attempt 2 failed, QA "
        f"diagnoses it for a retry: {why}",
        f"mma-qt: ERROR mma_qt.core.run.conductor: ticket T-002 failed: {why}",
    ]
    assert "mma-qt: QA diagnosing T-002 (demo-qa)\n" in result.stderr
    logged = (tmp_path / "state" / "mma-qt" / "log" / "mma-qt.log").read_text(encoding="utf-8")
    assert logged.count("Traceback (most recent call last)") == 3
    assert "raise DemoWorkerError" in logged


def test_verbose_shows_the_traceback_on_stderr(tmp_path: Path) -> None:
    result = run_app(tmp_path, "--provider", "demo", "--demo-delay", "0", "--scenario",
                     str(SCENARIOS / "flaky-worker.toml"), "--epic", "x", "--auto",
                     "--exit-when-done", "-v")
    assert result.returncode == 0, result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "DemoWorkerError: TimeoutError: test runner did not answer" in result.stderr
    assert "mma-qt: WARNING qt: " in result.stderr  # Qt's messages, only with -v


def test_qt_messages_stay_off_a_quiet_console(tmp_path: Path) -> None:
    """Offscreen Qt says "This plugin does not support propagateSizeHints()" on show."""
    result = run_app(tmp_path, "--provider", "demo", "--demo-delay", "0", "--epic", "x",
                     "--auto", "--exit-when-done")
    assert result.returncode == 0, result.stderr
    assert "propagateSizeHints" not in result.stderr
    logged = (tmp_path / "state" / "mma-qt" / "log" / "mma-qt.log").read_text(encoding="utf-8")
    assert "WARNING qt: This plugin does not support propagateSizeHints()" in logged


@contextmanager
def captured(
    name: str, verbose: bool = False
) -> Iterator[tuple[logging.Logger, io.StringIO, list[logging.LogRecord]]]:
    """Logger ``name`` with the console handler on a buffer and a record list (the log)."""
    console = io.StringIO()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(name)
    handlers = [console_handler(verbose, console), Keep()]
    level = logger.level
    logger.setLevel(logging.INFO)
    for handler in handlers:
        logger.addHandler(handler)
    try:
        yield logger, console, records
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
        logger.setLevel(level)


def _boom() -> RuntimeError:
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError as exc:
        return exc


def test_the_console_shows_one_line_per_error_and_the_log_keeps_the_traceback() -> None:
    with captured("test.console") as (logger, console, records):
        logger.error("saving failed", exc_info=_boom())
        logger.error("call failed: %s", "disk on fire", exc_info=_boom())
        logger.warning("first line\nsecond line")
    assert console.getvalue() == (
        "mma-qt: ERROR test.console: saving failed (RuntimeError: disk on fire)\n"
        "mma-qt: ERROR test.console: call failed: disk on fire\n"
        "mma-qt: WARNING test.console: first line second line\n"
    )
    full = logging.Formatter("%(message)s").format(records[0])
    assert "Traceback (most recent call last)" in full and 'raise RuntimeError("disk' in full


def test_verbose_console_shows_info_and_tracebacks() -> None:
    with captured("test.console", verbose=True) as (logger, console, _):
        logger.info("hello")
        logger.error("saving failed", exc_info=_boom())
    assert "mma-qt: INFO test.console: hello\n" in console.getvalue()
    assert "Traceback (most recent call last)" in console.getvalue()


def test_one_line_formatter_leaves_the_record_for_the_other_handlers() -> None:
    record = logging.makeLogRecord(
        {"name": "x", "levelno": logging.ERROR, "levelname": "ERROR", "msg": "a\nb",
         "exc_info": (RuntimeError, _boom(), None)}
    )
    assert OneLineFormatter().format(record) == "mma-qt: ERROR x: a b (RuntimeError: disk on fire)"
    assert record.exc_info is not None and record.msg == "a\nb"


def test_python_warnings_go_to_the_log_not_the_console() -> None:
    with captured("py.warnings") as (_, console, records), warnings.catch_warnings():
        warnings.simplefilter("always")
        logging.captureWarnings(True)
        try:
            warnings.warn("a dependency grumbles", UserWarning, stacklevel=1)
        finally:
            logging.captureWarnings(False)
    assert console.getvalue() == ""
    assert any("a dependency grumbles" in r.getMessage() for r in records)


def test_qt_messages_become_log_records_and_only_critical_ones_reach_the_console() -> None:
    messages = QtMessageLogger()
    with captured("qt") as (_, console, records):
        messages.install()
        try:
            qWarning("a Qt warning")
            qCritical("a Qt critical")
        finally:
            messages.uninstall()
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", "a Qt warning"), ("ERROR", "a Qt critical"),
    ]
    assert console.getvalue() == "mma-qt: ERROR qt: a Qt critical\n"


@pytest.mark.skipif(sys.platform == "win32", reason="Unix runtime folder")
def test_the_default_hook_address_does_not_warn_without_xdg_runtime_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        address = default_hook_address()
    assert address.endswith("/mma-qt/hook.sock")


# -- progress lines and exit codes -------------------------------------------------------


def test_qa_diagnosing_a_ticket_gets_a_progress_line() -> None:
    event: dict[str, Any] = {"type": "stream", "stream_id": "Tier 4 (QA): T-003",
                             "tier": Tier.QA.label, "ticket_id": "T-003", "status": "running",
                             "model": "demo-qa"}
    assert format_event(event) == "QA diagnosing T-003 (demo-qa)"
    assert format_event({**event, "status": "done"}) is None
    assert format_event({**event, "tier": Tier.WORKER.label}) is None


def test_exit_code_signal_beats_report_failure_beats_the_run_outcome() -> None:
    assert ExitState(True, status="done").code() == 0
    assert ExitState(True, status="failed").code() == 1
    assert ExitState(True, status="cancelled").code() == 130
    assert ExitState(False, status="failed").code() == 0  # the user closed the window
    assert ExitState(True, status="done", report_failed=True).code() == 3
    assert ExitState(True, status="cancelled", report_failed=True,
                     signal=signal.SIGTERM).code() == 143


@pytest.mark.ui
def test_aclose_ends_the_run_and_says_so_before_it_returns(
    qtbot: Any, qloop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    slow = Scenario(tickets={"T-001": TicketScript(delay=0.5)})
    parts = assemble(DemoProviderFactory(delay=0, scenario=slow), PricingTable.load(),
                     RunOptions(), auto=True, hook_address=short_socket_path())
    try:
        finished: list[str] = []
        parts.controller.finished.connect(finished.append)
        parts.window.start(sample_epic(), str(tmp_path))
        qtbot.waitUntil(
            lambda: parts.session.tickets.get("T-001") is not None
            and parts.session.tickets["T-001"].status == "in_progress",
            timeout=30_000,
        )
        closing = qloop.create_task(parts.controller.aclose())
        qtbot.waitUntil(closing.done, timeout=10_000)
        closing.result()
        assert finished == ["cancelled"]
        assert not parts.controller.busy
        assert all(t.status.is_final for t in parts.session.tickets.values())
    finally:
        close_app(parts, qtbot)


def test_closing_with_a_call_that_ignores_cancellation_ends_the_run_at_once(
    qtbot: Any, qloop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    """A hung call is left to its daemon thread: the run task is cancelled as soon as the
    bounded join gives up, not after aclose's own time limit, and threads are joined once."""
    release = threading.Event()
    session = MmaSession(PricingTable.load(), "stuck")
    controller = Controller(session, StuckWorkerFactory(release), RunOptions(), auto=True)
    finished: list[str] = []
    controller.finished.connect(finished.append)
    try:
        controller.start_epic("x")
        qtbot.waitUntil(
            lambda: any(t.status == "in_progress" for t in session.tickets.values()),
            timeout=30_000,
        )
        closing = qloop.create_task(controller.aclose())
        qtbot.waitUntil(closing.done, timeout=10_000)
        closing.result()
    finally:
        release.set()
    assert finished == ["cancelled"]
    assert all(t.status.is_final for t in session.tickets.values())
    messages = [r.getMessage() for r in caplog.records]
    assert sum("still running after shutdown" in m for m in messages) == 1
    assert not any("did not stop within" in m for m in messages)
