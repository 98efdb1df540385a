"""Model prices and the cost of a Usage. Pure logic, no Qt.

Prices are USD per million tokens, keyed by a model glob pattern (``fnmatch``). The most
specific pattern (the longest one that matches) wins. A model that matches nothing has an
unknown cost (``None``), never 0.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bundled import bundled
from .usage import Usage

MILLION = 1_000_000


class PricingError(ValueError):
    """A pricing file that cannot be used, with the file and entry named."""


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cache_read: float = 0.0
    cache_write: float = 0.0

    def cost(self, usage: Usage) -> float:
        return (
            usage.input * self.input
            + usage.output * self.output
            + usage.cache_read * self.cache_read
            + usage.cache_write * self.cache_write
        ) / MILLION


class PricingTable:
    def __init__(self, prices: Mapping[str, Price]) -> None:
        # Longest pattern first: "gpt-4o-mini*" beats "gpt-4o*".
        self._prices = dict(sorted(prices.items(), key=lambda kv: -len(kv[0])))

    def price_for(self, model: str) -> Price | None:
        for pattern, price in self._prices.items():
            if fnmatch.fnmatchcase(model, pattern):
                return price
        return None

    def cost(self, model: str, usage: Usage) -> float | None:
        price = self.price_for(model)
        return None if price is None else price.cost(usage)

    def merged(self, other: PricingTable) -> PricingTable:
        return PricingTable({**self._prices, **other._prices})

    @property
    def patterns(self) -> list[str]:
        return list(self._prices)

    @classmethod
    def from_toml_text(cls, text: str, source: str = "<pricing>") -> PricingTable:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PricingError(f"{source}: not valid TOML: {exc}") from exc
        return cls(_parse_models(data, source))

    @classmethod
    def load(cls, user_file: Path | None = None) -> PricingTable:
        """The bundled ``pricing.toml``, overridden entry by entry by ``user_file``."""
        text = bundled("pricing.toml").read_text(encoding="utf-8")
        table = cls.from_toml_text(text, "pricing.toml")
        if user_file is not None and user_file.is_file():
            text = user_file.read_text(encoding="utf-8")
            table = table.merged(cls.from_toml_text(text, str(user_file)))
        return table


def _parse_models(data: dict[str, Any], source: str) -> dict[str, Price]:
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise PricingError(f"{source}: [models] must be a table")
    prices: dict[str, Price] = {}
    for pattern, entry in models.items():
        if not isinstance(entry, dict):
            raise PricingError(f"{source}: models.{pattern!r} must be a table")
        try:
            prices[pattern] = Price(
                input=float(entry["input"]),
                output=float(entry["output"]),
                cache_read=float(entry.get("cache_read", 0.0)),
                cache_write=float(entry.get("cache_write", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PricingError(
                f"{source}: models.{pattern!r} needs numeric input and output: {exc}"
            ) from exc
    return prices
