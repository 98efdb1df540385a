"""``mma-qt --demo`` runs in a fresh folder (never the current one) and says where it is."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mma_qt.app import demo_workspace, say_where_the_demo_is
from mma_qt.arguments import parse_args
from mma_qt.parsing import EXIT_USAGE

from .helpers import app_env, assert_quiet
from .test_demo_workers import MODULE, run_suite


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tempfile's folder, for this test only."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def test_demo_without_workspace_gets_a_fresh_folder(temp_root: Path) -> None:
    args = parse_args(["--demo"])
    fresh = demo_workspace(args)
    assert fresh is not None and fresh.is_dir() and fresh.parent == temp_root
    assert fresh.name.startswith("mma-qt-demo-") and list(fresh.iterdir()) == []
    assert args.workspace == str(fresh)
    assert demo_workspace(parse_args(["--demo"])) != fresh  # a new one every run


def test_demo_with_workspace_or_without_demo_creates_nothing(
    temp_root: Path, tmp_path: Path
) -> None:
    args = parse_args(["--demo", "--workspace", str(tmp_path)])
    assert demo_workspace(args) is None and args.workspace == str(tmp_path)
    plain = parse_args(["--epic", "x"])
    assert demo_workspace(plain) is None and plain.workspace == ""
    assert list(temp_root.iterdir()) == []


def test_the_last_line_says_where_the_files_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse_args(["--demo", "--workspace", str(tmp_path)])
    say_where_the_demo_is(args, None, 0)
    assert capsys.readouterr().err == f"mma-qt: the demo's files are in {tmp_path.resolve()}\n"


def test_a_fresh_folder_left_empty_by_a_failed_start_is_removed(
    temp_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse_args(["--demo"])
    fresh = demo_workspace(args)
    assert fresh is not None
    say_where_the_demo_is(args, fresh, EXIT_USAGE)
    assert not fresh.exists() and capsys.readouterr().err == ""


def test_demo_runs_in_a_fresh_folder_names_it_last_and_leaves_passing_tests(
    tmp_path: Path,
) -> None:
    """`mma-qt --demo` runs in a fresh folder (never the current one), says where last, and
    leaves a working module and its passing tests there, exit 0."""
    cwd, temp, home = tmp_path / "cwd", tmp_path / "tmp", tmp_path / "home"
    for folder in (cwd, temp, home):
        folder.mkdir()
    env = {**app_env(tmp_path), "TMPDIR": str(temp), "HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "mma_qt", "--demo", "--demo-delay", "0"], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert_quiet(result.stderr)
    (fresh,) = temp.glob("mma-qt-demo-*")
    assert result.stderr.rstrip("\n").splitlines()[-1] == (
        f"mma-qt: the demo's files are in {fresh.resolve()}")
    for path in MODULE:
        assert (fresh / path).is_file(), path
    suite = run_suite(fresh)
    assert suite.returncode == 0 and "Ran 16 tests" in suite.stderr, suite.stderr
    assert list(cwd.iterdir()) == []
