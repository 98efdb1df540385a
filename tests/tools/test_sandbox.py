"""Every way out of the working directory is refused, and nothing outside changes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.tools import Sandbox, ToolError, ToolRegistry

from .conftest import tree_state

#: Escape attempts and the words their refusal must contain.
ESCAPES = [
    ("../outside/secret.txt", "outside the working directory"),
    ("../x", "outside the working directory"),
    ("src/../../x", "outside the working directory"),
    ("/etc/passwd", "absolute path"),
    ("~/.bashrc", "absolute path"),
    ("link_out/secret.txt", "symbolic link that leads outside"),
    ("link_out/new.txt", "symbolic link that leads outside"),
    ("link_file", "symbolic link that leads outside"),
    (".git/config", "inside .git"),
    (".git", "inside .git"),
    (".GIT/config", "inside .GIT"),
    ("sub/.git/HEAD", "inside .git"),
    (".mma/patches/T-1.diff", "inside .mma"),
    ("src/link_git/config", "inside .git"),
]

#: Every builtin tool that takes a path, with arguments that would otherwise succeed.
PATH_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("read_file", {}),
    ("list_dir", {}),
    ("search_text", {"pattern": "."}),
    ("get_skeleton", {}),
    ("write_file", {"content": "pwned\n"}),
    ("apply_edit", {"old_text": "do not read", "new_text": "pwned"}),
    ("delete_file", {}),
]


@pytest.fixture
def escapes(workspace: Path, outside: Path) -> Path:
    """The workspace with the traps: links out, a .git folder, a worktree .git file."""
    (workspace / "link_out").symlink_to(outside, target_is_directory=True)
    (workspace / "link_file").symlink_to(outside / "secret.txt")
    (workspace / ".git").mkdir()
    (workspace / ".git" / "config").write_text("[core]\n", encoding="utf-8")
    (workspace / "src" / "link_git").symlink_to(workspace / ".git", target_is_directory=True)
    (workspace / "sub").mkdir()
    (workspace / "sub" / ".git").write_text("gitdir: /elsewhere/.git/worktrees/sub\n",
                                            encoding="utf-8")
    (workspace / ".mma" / "patches").mkdir(parents=True)
    (workspace / ".mma" / "patches" / "T-1.diff").write_text("", encoding="utf-8")
    return workspace


@pytest.mark.parametrize(("path", "reason"), ESCAPES)
def test_the_sandbox_refuses_every_escape_with_its_reason(
    escapes: Path, path: str, reason: str
) -> None:
    with pytest.raises(ToolError, match=reason):
        Sandbox(escapes).resolve(path)


@pytest.mark.parametrize(("tool", "extra"), PATH_CALLS, ids=[t for t, _ in PATH_CALLS])
def test_every_path_tool_refuses_every_escape_and_nothing_outside_changes(
    escapes: Path, outside: Path, tool: str, extra: dict[str, Any]
) -> None:
    registry = ToolRegistry(Sandbox(escapes))
    before_outside, before_inside = tree_state(outside), tree_state(escapes)
    for path, reason in ESCAPES:
        result = registry.run(tool, {"path": path, **extra}, ticket_id="T-1")
        assert not result.ok, path
        assert result.text.startswith("error: ") and reason in result.text, (path, result.text)
        assert "do not read" not in result.text, path
    assert tree_state(outside) == before_outside
    assert tree_state(escapes) == before_inside
    assert registry.claims.touched("T-1") == []


@pytest.mark.parametrize(("tool", "extra"), [c for c in PATH_CALLS if c[0] in (
    "write_file", "apply_edit", "delete_file")])
def test_previewing_an_escape_is_refused_before_any_approval(
    escapes: Path, tool: str, extra: dict[str, Any]
) -> None:
    registry = ToolRegistry(Sandbox(escapes))
    for path, reason in ESCAPES:
        with pytest.raises(ToolError, match=reason):
            registry.preview(tool, {"path": path, **extra})


def test_paths_that_stay_inside_are_resolved(workspace: Path) -> None:
    (workspace / "link_in").symlink_to(workspace / "src", target_is_directory=True)
    sandbox = Sandbox(workspace)
    root = workspace.resolve()
    assert sandbox.resolve("src/../README.md") == root / "README.md"
    assert sandbox.resolve("./src/calc.py") == root / "src" / "calc.py"
    assert sandbox.resolve("link_in/calc.py") == root / "src" / "calc.py"
    assert sandbox.resolve(".") == root
    assert sandbox.resolve("new/folder/file.txt") == root / "new" / "folder" / "file.txt"


def test_a_name_that_merely_starts_with_git_is_allowed(workspace: Path) -> None:
    sandbox = Sandbox(workspace)
    assert sandbox.resolve(".gitignore").name == ".gitignore"
    assert sandbox.resolve(".github/workflows/ci.yml").name == "ci.yml"
    assert sandbox.resolve(".mmarc").name == ".mmarc"


def test_a_symlink_loop_is_an_error_not_a_crash(workspace: Path) -> None:
    (workspace / "loop").symlink_to(workspace / "loop")
    registry = ToolRegistry(Sandbox(workspace))
    result = registry.run("read_file", {"path": "loop"})
    assert result.text.startswith("error: ")


def test_the_worktree_git_file_is_refused_like_the_git_folder(tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    worktree.mkdir()
    (worktree / ".git").write_text("gitdir: /repo/.git/worktrees/wt\n", encoding="utf-8")
    registry = ToolRegistry(Sandbox(worktree))
    for tool, extra in PATH_CALLS:
        result = registry.run(tool, {"path": ".git", **extra})
        assert result.text.startswith("error: '.git' is inside .git"), (tool, result.text)
    assert (worktree / ".git").read_text(encoding="utf-8").startswith("gitdir: /repo/")


def test_a_missing_working_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a folder"):
        Sandbox(tmp_path / "missing")


def test_a_relative_path_never_depends_on_the_process_cwd(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "README.md").write_text("wrong file\n", encoding="utf-8")
    monkeypatch.chdir(elsewhere)
    result = ToolRegistry(Sandbox(workspace)).run("read_file", {"path": "README.md"})
    assert result.text == "# Demo\n"
    assert os.getcwd() == str(elsewhere)
