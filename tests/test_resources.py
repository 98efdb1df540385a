"""Bundled data (prompts, sample epic, scenarios, pricing) is read through one function, and
is found from a wheel install, an editable install and a source checkout alike.

Each case runs the real demo in a subprocess. The wheel and source-checkout cases run
Python with ``-S`` and the dev venv's site-packages on ``PYTHONPATH``: the third-party
packages are there, but the dev venv's editable install of mma_qt (a ``.pth`` finder) is
off, as on a machine that only ran ``pip install .``.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from mma_qt.core.model.bundled import bundled, bundled_root

from .helpers import short_socket_path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "mma_qt", "resources")
DEMO = ("-m", "mma_qt", "--demo", "--demo-delay", "0")
#: Prints where mma_qt and its data came from, read through every reader of bundled data.
PROBE = """
import json, mma_qt
from mma_qt.core.model.bundled import bundled, bundled_root
from mma_qt.core.model.domain import Tier
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.prompts import sample_epic, template
print(json.dumps({
    "package": mma_qt.__file__,
    "data": str(bundled_root()),
    "epic": sample_epic(),
    "prompt": template(Tier.ORCHESTRATOR).instructions,
    "prices": len(PricingTable.load().patterns),
    "scenarios": sorted(p.name for p in bundled("scenarios").iterdir()),
}))
"""
SCENARIOS = ["cycle.toml", "escape-attempt.toml", "failing-command.toml", "failing-worker.toml",
             "flaky-worker.toml", "malformed-plan.toml", "rejected-edit.toml"]


def _copy_sources(to: Path) -> Path:
    """What a checkout holds of the package, without build output or caches."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    to.mkdir(exist_ok=True)
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, to / name, ignore=ignore)
        else:
            shutil.copy2(source, to / name)
    return to


def _deps_only() -> str:
    """The dev venv's site-packages, for ``python -S``: dependencies, no mma_qt finder."""
    return os.pathsep.join(site.getsitepackages())


def _run(
    args: tuple[str, ...], cwd: Path, pythonpath: str | None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHONPATH", None)
    command = [sys.executable]
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
        command.append("-S")
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )


def _probe(cwd: Path, pythonpath: str | None) -> dict[str, object]:
    result = _run(("-c", PROBE), cwd, pythonpath)
    assert result.returncode == 0, result.stderr
    probe: dict[str, object] = json.loads(result.stdout)
    assert probe["epic"] and probe["prompt"] and probe["prices"]
    assert probe["scenarios"] == SCENARIOS
    return probe


def _assert_demo_runs(cwd: Path, pythonpath: str | None) -> None:
    result = _run((*DEMO, "--hook", short_socket_path()), cwd, pythonpath)
    assert result.returncode == 0, result.stderr
    assert "finished done: 9 tickets" in result.stderr  # the demo's three tracks
    assert "Traceback" not in result.stderr


def _check(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The wheel of a copy of the sources, installed into a folder (``pip --target``)."""
    build = _copy_sources(tmp_path_factory.mktemp("source"))
    dist, target = tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _check([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(build)])
    _check([*pip, "install", "--no-deps", "--target", str(target), *map(str, dist.glob("*.whl"))])
    yield target


def test_resources_are_read_only_through_bundled() -> None:
    """One function reads bundled data: no other module asks importlib for it."""
    readers = [
        path.relative_to(REPO).as_posix()
        for folder in ("mma_qt", "tests", "benchmarks", "scripts")
        for path in (REPO / folder).rglob("*.py")
        if path.name not in ("bundled.py", "test_resources.py")
        and any(s in path.read_text(encoding="utf-8")
                for s in ("resources.files", "mma_qt.resources", "importlib import resources"))
    ]
    assert readers == []
    assert bundled("prompts", "tier1.md").is_file()
    assert str(bundled_root()) == str(REPO / "resources")


def test_wheel_install_runs_the_demo_from_the_repository_root(wheel_site: Path) -> None:
    """The README's ``pip install .``, then a run from the checkout: the checkout's mma_qt/
    shadows the installed one and reads the checkout's data."""
    pythonpath = os.pathsep.join([str(wheel_site), _deps_only()])
    probe = _probe(REPO, pythonpath)
    assert probe["package"] == str(REPO / "mma_qt" / "__init__.py")
    assert probe["data"] == str(REPO / "resources")
    _assert_demo_runs(REPO, pythonpath)


def test_wheel_install_reads_the_data_it_ships(wheel_site: Path, tmp_path: Path) -> None:
    pythonpath = os.pathsep.join([str(wheel_site), _deps_only()])
    probe = _probe(tmp_path, pythonpath)
    assert probe["package"] == str(wheel_site / "mma_qt" / "__init__.py")
    assert probe["data"] == str(wheel_site / "mma_qt" / "resources")
    _assert_demo_runs(tmp_path, pythonpath)


def test_editable_install_reads_the_checkout_data(tmp_path: Path) -> None:
    """The dev venv (``pip install -e``), run from outside the checkout."""
    # The install's own record, in site-packages (the checkout's mma_qt.egg-info, which an
    # editable install leaves at the repository top, has none).
    installed = metadata.distributions(name="mma-qt", path=site.getsitepackages())
    direct_urls = [json.loads(d.read_text("direct_url.json") or "{}") for d in installed]
    assert any(u.get("dir_info", {}).get("editable") for u in direct_urls), (
        "the test venv must hold an editable install: pip install -e '.[test]'"
    )
    probe = _probe(tmp_path, None)
    assert probe["package"] == str(REPO / "mma_qt" / "__init__.py")
    assert probe["data"] == str(REPO / "resources")
    _assert_demo_runs(tmp_path, None)


def test_source_checkout_runs_the_demo_without_an_install(tmp_path: Path) -> None:
    checkout = _copy_sources(tmp_path / "checkout")
    probe = _probe(checkout, _deps_only())
    assert probe["package"] == str(checkout / "mma_qt" / "__init__.py")
    assert probe["data"] == str(checkout / "resources")
    _assert_demo_runs(checkout, _deps_only())
