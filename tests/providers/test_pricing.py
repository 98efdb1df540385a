"""Cost from pricing.toml; unknown models; a user file overriding one entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.usage import Usage
from mma_qt.core.settings.config import Config, load_pricing

USAGE = Usage(input=1_000_000, output=100_000, cache_read=2_000_000, cache_write=400_000)


def test_cost_from_bundled_pricing() -> None:
    table = PricingTable.load()
    # claude-sonnet-4*: input 3.0, output 15.0, cache_read 0.30, cache_write 3.75 per MTok.
    assert table.cost("claude-sonnet-4-6", USAGE) == pytest.approx(3.0 + 1.5 + 0.6 + 1.5)
    # gpt-5-mini* is more specific than gpt-5*.
    assert table.cost("gpt-5-mini", Usage(input=1_000_000)) == pytest.approx(0.25)


def test_unknown_model_has_unknown_cost() -> None:
    assert PricingTable.load().cost("qwen2.5-coder", USAGE) is None


def test_user_pricing_file_overrides_one_entry(tmp_path: Path) -> None:
    (tmp_path / "pricing.toml").write_text(
        '[models."claude-sonnet-4*"]\ninput = 1.0\noutput = 2.0\n\n'
        '[models."qwen2.5-coder*"]\ninput = 0.0\noutput = 0.0\n',
        encoding="utf-8",
    )
    table = load_pricing(Config(), tmp_path)
    assert table.cost("claude-sonnet-4-6", Usage(input=1_000_000, output=1_000_000)) == (
        pytest.approx(3.0)
    )
    assert table.cost("qwen2.5-coder", USAGE) == 0.0
    # Other entries keep their bundled prices.
    assert table.cost("gpt-5-mini", Usage(input=1_000_000)) == pytest.approx(0.25)


def test_pricing_file_setting_points_elsewhere(tmp_path: Path) -> None:
    custom = tmp_path / "elsewhere.toml"
    custom.write_text('[models."gpt-5-mini*"]\ninput = 9.0\noutput = 9.0\n', encoding="utf-8")
    table = load_pricing(Config(pricing_file=custom), tmp_path)
    assert table.cost("gpt-5-mini", Usage(input=1_000_000)) == pytest.approx(9.0)


def test_missing_user_file_means_bundled_prices(tmp_path: Path) -> None:
    table = load_pricing(Config(), tmp_path)
    assert table.cost("gemini-2.5-flash", Usage(output=1_000_000)) == pytest.approx(2.5)
