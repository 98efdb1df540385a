"""run_command: scrubbed environment, bounded output, timeouts and cancel that leave no
process behind, and, under bubblewrap, no write outside the working directory and no
network."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import uuid
import venv
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.tools import CommandRunner, Sandbox, ToolRegistry, ToolResult, ToolSettings

from .conftest import tree_state

PY = sys.executable


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes (a condition wait)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _stat(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def living(marker: str) -> list[int]:
    """Processes (not zombies) whose command line contains ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        stat = _stat(pid)
        if marker.encode() in cmdline and stat is not None and stat[0] != "Z":
            found.append(int(pid))
    return found


def group_members(pgid: int) -> list[int]:
    """Living (not zombie) processes of process group ``pgid``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        stat = _stat(pid)
        if stat is not None and stat[0] != "Z" and int(stat[2]) == pgid:
            found.append(int(pid))
    return found


def sleeper() -> str:
    """A sleep duration nothing else on the machine uses, to find the processes by."""
    return f"987.{uuid.uuid4().int % 10**9:09d}"


def _probe_runner(tmp_path_factory: pytest.TempPathFactory) -> CommandRunner:
    return CommandRunner(tmp_path_factory.mktemp("probe"))


@pytest.fixture(scope="module")
def bwrap_works(tmp_path_factory: pytest.TempPathFactory) -> str:
    runner = _probe_runner(tmp_path_factory)
    return runner.unconfined_reason


@pytest.fixture
def confined(workspace: Path, bwrap_works: str) -> ToolRegistry:
    if bwrap_works:
        pytest.skip(f"bubblewrap is not usable here: {bwrap_works}")
    registry = ToolRegistry(Sandbox(workspace))
    assert registry.commands.confinement == "bubblewrap"
    return registry


@pytest.fixture(params=["none", "bubblewrap"])
def either(request: pytest.FixtureRequest, workspace: Path, bwrap_works: str) -> ToolRegistry:
    """A registry of each confinement (bubblewrap skipped where it is not usable)."""
    if request.param == "bubblewrap" and bwrap_works:
        pytest.skip(f"bubblewrap is not usable here: {bwrap_works}")
    runner = CommandRunner(workspace, confine=request.param == "bubblewrap")
    assert runner.confinement == request.param
    return ToolRegistry(Sandbox(workspace), commands=runner)


@pytest.fixture
def fake_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("FAKE_API_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN", "MY_SECRET_THING",
                 "DB_PASSWORD", "ANTHROPIC_API_KEY"):
        monkeypatch.setenv(name, f"sk-fake-{name.lower()}")
    monkeypatch.setenv("MMA_HARMLESS", "visible")
    yield


def run(registry: ToolRegistry, command: str, **kw: object) -> ToolResult:
    return registry.run("run_command", {"command": command, **kw})


# -- both confinements ---------------------------------------------------------------------


def test_the_command_environment_has_no_provider_key_nor_secret(
    fake_keys: None, either: ToolRegistry
) -> None:
    result = run(either, "env")
    assert result.ok, result.text
    assert "sk-fake" not in result.text
    for name in ("FAKE_API_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN", "MY_SECRET_THING",
                 "DB_PASSWORD", "ANTHROPIC_API_KEY"):
        assert f"{name}=" not in result.text
    assert "MMA_HARMLESS=visible" in result.text


def test_the_command_runs_in_the_working_directory_with_its_exit_code(
    either: ToolRegistry, workspace: Path
) -> None:
    result = run(either, "pwd; ls; echo to-stderr >&2; exit 3")
    assert not result.ok
    lines = result.text.splitlines()
    assert lines[0] == "error: exit code 3"
    assert lines[1] == str(workspace.resolve())
    assert "README.md" in lines and "to-stderr" in lines
    ok = run(either, "echo made > made.txt && cat made.txt")
    assert ok.ok and ok.text == "exit code 0\nmade\n"
    assert (workspace / "made.txt").read_text(encoding="utf-8") == "made\n"


def test_a_command_past_its_timeout_is_killed_with_its_whole_process_group(
    either: ToolRegistry,
) -> None:
    marker = sleeper()
    outcome = either.commands.run(f"sleep {marker} & sleep {marker} & wait", timeout_s=0.5)
    assert outcome.timed_out and outcome.pgid is not None
    assert wait_until(lambda: not living(marker)), living(marker)
    assert wait_until(lambda: not group_members(outcome.pgid or 0))
    result = run(either, f"sleep {sleeper()}", timeout_s=0.3)
    assert result.text.startswith("error: timed out after 0.3 s; the command and every "
                                  "process it started were killed")


def test_background_processes_do_not_outlive_their_command(either: ToolRegistry) -> None:
    marker = sleeper()
    result = run(either, f"(sleep {marker} &) ; echo started")
    assert result.ok and "started" in result.text
    assert wait_until(lambda: not living(marker)), living(marker)


def test_cancel_kills_a_running_command_promptly(either: ToolRegistry,
                                                 workspace: Path) -> None:
    marker = sleeper()
    token = CancelToken()
    results: list[ToolResult] = []
    args = {"command": f"touch started; sleep {marker}"}
    thread = threading.Thread(
        target=lambda: results.append(either.run("run_command", args, cancel=token)))
    thread.start()
    assert wait_until(lambda: (workspace / "started").exists())
    cancelled_at = time.monotonic()
    token.cancel("user pressed Cancel")
    thread.join(timeout=10)
    assert not thread.is_alive()
    elapsed = time.monotonic() - cancelled_at
    assert results[0].text.startswith("error: cancelled; the command and every process")
    assert wait_until(lambda: not living(marker))
    print(f"cancel to result: {elapsed * 1000:.0f} ms")


def test_a_command_cancelled_before_it_starts_never_runs(registry: ToolRegistry,
                                                         workspace: Path) -> None:
    token = CancelToken()
    token.cancel()
    result = registry.run("run_command", {"command": "touch ran"}, cancel=token)
    assert result.text.startswith("error: cancelled")
    assert not (workspace / "ran").exists()


def test_huge_output_is_bounded_keeping_its_start_and_end(either: ToolRegistry) -> None:
    command = f"{PY} -c \"print('BEGIN'); print('x' * 300000); print('END')\""
    result = run(either, command)
    assert result.ok and result.truncated
    assert len(result.text) < 21_000
    assert "BEGIN" in result.text and result.text.rstrip().endswith("END")
    assert "bytes of output left out" in result.text and "redirected to a file" in result.text


def test_timeout_is_capped_at_the_configured_maximum(workspace: Path) -> None:
    registry = ToolRegistry(Sandbox(workspace), settings=ToolSettings(max_timeout_s=1),
                            commands=CommandRunner(workspace, confine=False))
    result = run(registry, "echo quick", timeout_s=5000)
    assert result.ok and "capped at the configured maximum, 1 s" in result.text


# -- without bubblewrap --------------------------------------------------------------------


def test_without_bubblewrap_commands_run_unconfined_and_say_so(workspace: Path) -> None:
    runner = CommandRunner(workspace, bwrap="/nonexistent/bwrap")
    assert runner.confinement == "none"
    assert runner.unconfined_reason == "bubblewrap (bwrap) is not installed"
    assert runner.describe().startswith(f"Runs UNCONFINED in {workspace.resolve()} "
                                        "(bubblewrap (bwrap) is not installed)")
    assert runner.argv("true")[1:] == ["-c", "true"]


# -- under bubblewrap ----------------------------------------------------------------------


def test_under_bubblewrap_writing_outside_the_working_directory_fails_and_changes_nothing(
    confined: ToolRegistry, outside: Path, workspace: Path
) -> None:
    before = tree_state(outside)
    target = Path("/var/tmp") / f"mma-escape-{uuid.uuid4().hex}"
    result = run(confined, f"echo pwned > {target}")
    assert result.text.startswith("error: blocked by the sandbox: writing outside the "
                                  "working directory")
    assert "Read-only file system" in result.text
    assert not target.exists()
    # The outside folder is under /tmp, which is private inside: these land nowhere.
    for command in (f"echo pwned > {outside}/secret.txt", f"rm -rf {outside}/sub",
                    f"echo pwned > {outside}/new.txt", "echo pwned > /tmp/mma-private"):
        run(confined, command)
    assert tree_state(outside) == before
    assert not Path("/tmp/mma-private").exists()
    assert run(confined, "echo inside > inside.txt").ok
    assert (workspace / "inside.txt").read_text(encoding="utf-8") == "inside\n"


def test_under_bubblewrap_a_worktree_git_file_is_read_only(
    confined: ToolRegistry, workspace: Path
) -> None:
    (workspace / ".git").write_text("gitdir: /repo/.git/worktrees/ws\n", encoding="utf-8")
    runner = CommandRunner(workspace)
    registry = ToolRegistry(Sandbox(workspace), commands=runner)
    result = run(registry, "echo pwned > .git")
    assert result.text.startswith("error: blocked by the sandbox")
    assert (workspace / ".git").read_text(encoding="utf-8").startswith("gitdir: /repo/")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.setblocking(False)
    yield server
    server.close()


def _connect(port: int) -> str:
    return (f"{PY} -c \"import socket; socket.create_connection(('127.0.0.1', {port}), "
            "timeout=5).close(); print('connected')\"")


def test_under_bubblewrap_a_network_connection_fails(
    confined: ToolRegistry, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    result = run(confined, _connect(port))
    assert result.text.startswith("error: blocked by the sandbox: network access")
    assert "ConnectionRefusedError" in result.text
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_allow_network_lets_a_confined_command_connect(
    workspace: Path, bwrap_works: str, listener: socket.socket
) -> None:
    if bwrap_works:
        pytest.skip(f"bubblewrap is not usable here: {bwrap_works}")
    runner = CommandRunner(workspace, allow_network=True)
    registry = ToolRegistry(Sandbox(workspace), commands=runner)
    assert runner.confinement == "bubblewrap" and "with network access" in runner.describe()
    result = run(registry, _connect(listener.getsockname()[1]))
    assert result.ok and "connected" in result.text
    listener.setblocking(True)
    listener.settimeout(10)
    listener.accept()[0].close()


def test_under_bubblewrap_the_apps_interpreter_runs(confined: ToolRegistry) -> None:
    assert confined.commands.interpreter_problem == ""
    result = run(confined, f"{PY} -c \"import sys; print(sys.prefix)\"")
    assert result.ok and sys.prefix in result.text


def test_an_interpreter_installed_under_tmp_stays_visible_in_the_private_tmp(
    workspace: Path, tmp_path: Path, bwrap_works: str
) -> None:
    if bwrap_works:
        pytest.skip(f"bubblewrap is not usable here: {bwrap_works}")
    env = tmp_path / "venv"
    venv.create(env, symlinks=True, with_pip=False)
    python = env / "bin" / "python"
    runner = CommandRunner(workspace, interpreter=python)
    assert runner.interpreter_problem == ""
    argv = runner.argv("x")
    binding = argv.index(str(env)) - 1
    assert argv[binding:binding + 3] == ["--ro-bind", str(env), str(env)]
    assert binding > argv.index("/tmp")  # after the private /tmp is mounted
    outcome = runner.run(f"{python} -c \"import sys; print(sys.prefix)\"", timeout_s=60)
    assert outcome.exit_code == 0 and str(env) in outcome.output


def test_a_missing_interpreter_is_named_in_the_description(workspace: Path,
                                                           bwrap_works: str) -> None:
    if bwrap_works:
        pytest.skip(f"bubblewrap is not usable here: {bwrap_works}")
    runner = CommandRunner(workspace, interpreter=workspace / "no-python")
    assert runner.confinement == "bubblewrap" and runner.interpreter_problem
    assert "no-python cannot run inside it" in runner.describe()
