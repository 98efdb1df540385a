"""Rooms stay small: no module in mma_qt over 400 lines, no function over 60 lines.

A function may be longer only when its ``def`` line carries a ``# long: <why>`` comment
saying why (the README's rule); a module has no such escape.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mma_qt

PACKAGE = Path(mma_qt.__file__).parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MODULES = sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def long_functions(source: str) -> list[str]:
    """``name (N lines)`` for each function over the limit without a ``# long:`` reason."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length > MAX_FUNCTION_LINES and "# long:" not in lines[node.lineno - 1]:
            found.append(f"{node.name} ({length} lines)")
    return found


def test_the_length_check_sees_long_functions_and_honours_a_reason() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def f():\n{body}") == [f"f ({MAX_FUNCTION_LINES + 1} lines)"]
    assert long_functions(f"def f():  # long: a table\n{body}") == []
    assert long_functions("def g():\n    return 1\n") == []


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_is_over_400_lines(path: Path) -> None:
    count = len(path.read_text(encoding="utf-8").splitlines())
    assert count <= MAX_MODULE_LINES, f"{_name(path)} has {count} lines"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_function_is_over_60_lines_without_a_reason(path: Path) -> None:
    assert long_functions(path.read_text(encoding="utf-8")) == []
