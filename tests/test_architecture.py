"""The layers of mma_qt (import-linter contracts), and no process-global provider objects.

The layer rules themselves live in ``[tool.importlinter]`` in pyproject.toml; these tests
prove the linter is run on the real tree, that it catches a forbidden import, and check the
one rule it cannot express (no QtWidgets/QtGui below core: a submodule of an external
package).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mma_qt.core

CORE = Path(mma_qt.core.__file__).parent
ROOT = CORE.parent.parent
PROVIDERS = CORE / "providers"

#: Never imported by mma_qt.core (QtCore is allowed).
WIDGET_IMPORTS = ("PySide6.QtWidgets", "PySide6.QtGui", "mma_qt.ui")
#: Never loaded by the pure rooms.
QT_IMPORTS = ("PySide6", "shiboken6", "qasync")
PURE_ROOMS = ("mma_qt.core.model", "mma_qt.core.settings", "mma_qt.core.providers",
              "mma_qt.core.tools", "mma_qt.core.context")
#: The history room without its recorder (the one module that meets the session).
PURE_HISTORY = ("mma_qt.core.history.schema", "mma_qt.core.history.writer",
                "mma_qt.core.history.store", "mma_qt.core.history.report",
                "mma_qt.core.history.rows")
#: Constructor names that must not be called at module level in providers/.
SINGLETON_SUFFIXES = ("Client", "Factory", "Session", "Anthropic", "OpenAI")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module a source imports, relative imports resolved, ``from a import b`` as a.b."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def offending(names: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))


def imports_of(path: Path) -> set[str]:
    return imported_names(path.read_text(encoding="utf-8"), module_name(path),
                          path.name == "__init__.py")


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def rel(path: Path) -> str:
    return str(path.relative_to(CORE))


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        ("import PySide6.QtWidgets", "mma_qt.core.x", "PySide6.QtWidgets"),
        ("from PySide6 import QtCore, QtGui", "mma_qt.core.x", "PySide6.QtGui"),
        ("from PySide6.QtWidgets import QWidget", "mma_qt.core.x", "PySide6.QtWidgets"),
        ("from ..ui import window", "mma_qt.core.x", "mma_qt.ui"),
        ("from .. import ui", "mma_qt.core.x", "mma_qt.ui"),
        ("from ...ui.window import W", "mma_qt.core.providers.x", "mma_qt.ui.window"),
        ("def f():\n    import mma_qt.ui.main", "mma_qt.core.x", "mma_qt.ui.main"),
    ],
)
def test_the_checker_sees_every_import_form(source: str, module: str, expected: str) -> None:
    assert expected in offending(imported_names(source, module), WIDGET_IMPORTS)


def test_the_checker_allows_qtcore_and_core_relative_imports() -> None:
    names = imported_names("from PySide6.QtCore import QObject\nfrom ..model.domain import Tier\n"
                           "from . import base", "mma_qt.core.providers.demo")
    assert {"mma_qt.core.model.domain.Tier", "mma_qt.core.providers.base"} <= names
    assert offending(names, WIDGET_IMPORTS) == []


@pytest.mark.parametrize("path", core_modules(), ids=rel)
def test_core_never_imports_widgets_gui_or_ui(path: Path) -> None:
    assert offending(imports_of(path), WIDGET_IMPORTS) == []


def _loaded_after(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return set(result.stdout.split())


def test_importing_the_runner_loads_no_widgets_or_gui() -> None:
    loaded = _loaded_after("import mma_qt.core.run.runner")
    assert "mma_qt.core.run.runner" in loaded and "PySide6.QtCore" in loaded
    assert offending(loaded, WIDGET_IMPORTS) == []


def test_importing_the_pure_rooms_loads_no_qt_at_all() -> None:
    modules = sorted(
        module_name(p) for room in PURE_ROOMS
        for p in (ROOT / room.replace(".", "/")).glob("*.py")
    )
    assert "mma_qt.core.providers.demo" in modules and "mma_qt.core.model.usage" in modules
    assert "mma_qt.core.tools.registry" in modules
    assert "mma_qt.core.context.assembly" in modules
    loaded = _loaded_after("import " + ", ".join(modules))
    assert offending(loaded, QT_IMPORTS) == []


def test_the_history_room_loads_no_qt_but_for_its_recorder() -> None:
    loaded = _loaded_after("import " + ", ".join(PURE_HISTORY) + ", mma_qt.report_command")
    assert set(PURE_HISTORY) <= loaded
    assert offending(loaded, QT_IMPORTS) == []


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True,
        timeout=120, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_the_layer_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("mma_qt/core/providers/demo.py", "import PySide6.QtCore", "pure: no Qt"),
        ("mma_qt/core/run/pool.py", "import mma_qt.ui.formatting", "knows nothing of the window"),
        ("mma_qt/hooks/client.py", "import mma_qt.core.run.controller", "hooks never reach"),
        # (a module core.context does not reach, which would break its contract too)
        ("mma_qt/core/tools/mcp/status.py", "import mma_qt.core.run.worker", "tools are pure"),
        ("mma_qt/core/context/repomap.py", "import mma_qt.core.run.pool", "context is pure"),
        ("mma_qt/core/context/text.py", "import PySide6.QtCore", "context is pure"),
        ("mma_qt/core/model/dag_layout.py", "import mma_qt.core.context", "ground floor"),
        ("mma_qt/core/history/store.py", "import PySide6.QtCore", "history is pure"),
        ("mma_qt/core/history/writer.py", "import mma_qt.core.live.streams", "history is pure"),
        ("mma_qt/core/history/recorder.py", "import mma_qt.core.run.controller",
         "history only records and reads"),
    ],
)
def test_a_forbidden_import_is_caught(
    tmp_path: Path, module: str, bad_import: str, contract: str
) -> None:
    shutil.copytree(ROOT / "mma_qt", tmp_path / "mma_qt",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{bad_import}\n",
                      encoding="utf-8")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "1 broken" in result.stdout
    importer = module.removesuffix(".py").replace("/", ".")
    assert contract in result.stdout and f"{importer} -> " in result.stdout


def module_level_singletons(source: str) -> list[str]:
    """Names bound at module level to a call of something named *Client/*Factory/..."""

    def statements(body: list[ast.stmt]):
        for node in body:
            yield node
            if isinstance(node, ast.If | ast.Try | ast.With):
                for block in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, block, []):
                        yield from statements(child.body if isinstance(
                            child, ast.ExceptHandler) else [child])

    found = []
    for node in statements(ast.parse(source).body):
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if not isinstance(value, ast.Call):
            continue
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name.endswith(SINGLETON_SUFFIXES):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [f"{ast.unparse(t)} = {name}(...)" for t in targets]
    return found


def test_the_singleton_checker_finds_module_level_clients() -> None:
    source = (
        "import httpx\nfrom .demo import DemoProviderFactory\n"
        "CLIENT = httpx.Client()\n"
        "try:\n    _f: object = DemoProviderFactory(delay=0)\nexcept ImportError:\n    pass\n"
        "def make():\n    return httpx.Client()\n"
        "class A:\n    session = None\n"
        "LADDER = ('a', 'b')\n"
    )
    assert module_level_singletons(source) == [
        "CLIENT = Client(...)", "_f = DemoProviderFactory(...)"]


@pytest.mark.parametrize("path", sorted(PROVIDERS.glob("*.py")), ids=rel)
def test_providers_hold_no_module_level_client_factory_or_session(path: Path) -> None:
    assert module_level_singletons(path.read_text(encoding="utf-8")) == []
