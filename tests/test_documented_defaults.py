"""The README, config.toml's defaults and the run's defaults state the same numbers."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from mma_qt.core.model.context import ContextBudgets
from mma_qt.core.model.options import RunOptions
from mma_qt.core.settings import config as config_module
from mma_qt.core.settings.config import Config

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_config_defaults_are_the_run_option_defaults() -> None:
    config, options = Config(), RunOptions()
    assert (config.max_retries, config.max_workers) == (options.max_retries, options.max_workers)


def test_readme_states_the_default_max_retries() -> None:
    default = RunOptions().max_retries
    stated = re.findall(r"`max_retries` times \(default (\d+)\)", README)
    example = re.findall(r"^max_retries = (\d+)", README, flags=re.MULTILINE)
    assert stated and example
    assert {int(n) for n in stated + example} == {default}
    assert "retried once" not in README


def test_readme_states_the_default_max_workers() -> None:
    stated = re.findall(r"Tier 3 workers at once \(default (\d+)\)", README)
    example = re.findall(r"^max_workers = (\d+)", README, flags=re.MULTILINE)
    assert stated and example
    assert {int(n) for n in stated + example} == {RunOptions().max_workers}


def test_config_context_budgets_are_the_run_option_defaults() -> None:
    assert Config().context.budgets() == RunOptions().context == ContextBudgets()


def test_config_example_states_every_context_budget_default() -> None:
    example = (config_module.__doc__ or "").split("[context]", 1)[1].split("\n\n", 1)[0]
    stated = {name: int(value) for name, value in
              re.findall(r"^\s+(\w+) = (\d+)", example, flags=re.MULTILINE)}
    assert stated == asdict(ContextBudgets())


def test_readme_states_the_default_max_tracks() -> None:
    stated = re.findall(r"up to `max_tracks`\s+\(default\s+(\d+)\)", README)
    example = re.findall(r"^max_tracks = (\d+)", README, flags=re.MULTILINE)
    assert stated and example
    assert {int(n) for n in stated + example} == {RunOptions().max_tracks}


def test_readme_context_example_states_every_budget_default() -> None:
    example = README.split("[context]", 1)[1].split("```", 1)[0]
    stated = {name: int(value) for name, value in
              re.findall(r"^(\w+) = (\d+)", example, flags=re.MULTILINE)}
    assert stated == asdict(ContextBudgets())
