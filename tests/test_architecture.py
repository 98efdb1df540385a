"""The import boundary of mma_qt.core, and no process-global provider or session objects."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import mma_qt.core

CORE = Path(mma_qt.core.__file__).parent
PROVIDERS = CORE / "providers"

#: Never imported by mma_qt.core (QtCore is allowed).
WIDGET_IMPORTS = ("PySide6.QtWidgets", "PySide6.QtGui", "mma_qt.ui")
#: Never imported by pure modules.
QT_IMPORTS = ("PySide6", "shiboken6", "qasync")
PURE = ["usage", "pricing", "domain", "dag", "cancel", "plans", "prompts", "worker",
        "providers/base", "providers/demo"]
#: Provider adapters (and their shared helpers) are pure too; the registry may read settings.
PURE_PATHS = sorted(
    {CORE / f"{name}.py" for name in PURE}
    | {p for p in PROVIDERS.glob("*.py") if p.name != "__init__.py"
       and not p.stem.startswith("registry")}
)
#: Constructor names that must not be called at module level in providers/.
SINGLETON_SUFFIXES = ("Client", "Factory", "Session", "Anthropic", "OpenAI")


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
    names = imported_names("from PySide6.QtCore import QObject\nfrom ..domain import Tier\n"
                           "from . import base", "mma_qt.core.providers.demo")
    assert {"mma_qt.core.domain.Tier", "mma_qt.core.providers.base"} <= names
    assert offending(names, WIDGET_IMPORTS) == []


@pytest.mark.parametrize("path", core_modules(), ids=rel)
def test_core_never_imports_widgets_gui_or_ui(path: Path) -> None:
    assert offending(imports_of(path), WIDGET_IMPORTS) == []


@pytest.mark.parametrize("path", PURE_PATHS, ids=rel)
def test_pure_modules_import_no_qt(path: Path) -> None:
    assert path.is_file(), f"pure module {rel(path)} is missing"
    assert offending(imports_of(path), QT_IMPORTS) == []


def _loaded_after(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return set(result.stdout.split())


def test_importing_the_runner_loads_no_widgets_or_gui() -> None:
    loaded = _loaded_after("import mma_qt.core.runner")
    assert "mma_qt.core.runner" in loaded and "PySide6.QtCore" in loaded
    assert offending(loaded, WIDGET_IMPORTS) == []


def test_importing_pure_modules_loads_no_qt_at_all() -> None:
    modules = ", ".join("mma_qt.core." + name.replace("/", ".") for name in PURE)
    loaded = _loaded_after(f"import {modules}")
    assert "mma_qt.core.providers.demo" in loaded
    assert offending(loaded, QT_IMPORTS) == []


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
