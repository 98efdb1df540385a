"""Fixtures of the tools tests: a workspace beside an "outside" folder that must not change."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mma_qt.core.tools import CommandRunner, Sandbox, ToolRegistry


def tree_state(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` with a digest of its content (or its link target)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            state[rel] = "link:" + str(path.readlink())
        elif path.is_file():
            state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[rel] = "dir"
    return state


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the workspace, with a file and a subfolder, that no tool may touch."""
    folder = tmp_path / "outside"
    (folder / "sub").mkdir(parents=True)
    (folder / "secret.txt").write_text("do not read\n", encoding="utf-8")
    (folder / "sub" / "x").write_text("x\n", encoding="utf-8")
    return folder


@pytest.fixture
def workspace(tmp_path: Path, outside: Path) -> Path:
    folder = tmp_path / "ws"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "calc.py").write_text(
        '"""Calculator."""\n\n\ndef add(a: int, b: int) -> int:\n    """Add."""\n'
        "    return a + b\n", encoding="utf-8")
    (folder / "README.md").write_text("# Demo\n", encoding="utf-8")
    return folder


@pytest.fixture
def registry(workspace: Path) -> ToolRegistry:
    """Tools on the workspace; commands unconfined (the bubblewrap tests build their own)."""
    return ToolRegistry(Sandbox(workspace),
                        commands=CommandRunner(workspace, confine=False))
