"""The rows of a run: a stream and the calls that wrote it, and usage roll-ups. Pure, no Qt.

The session (``core/live/session.py``) keeps one :class:`StreamRecord` per stream and
caches :class:`Rollup` s by tier, track and the whole run; the tree model and the hook read
them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .domain import Tier
from .status import RowStatus, StreamStatus
from .usage import Usage, sum_usage


@dataclass(slots=True)
class StreamRecord:
    """One row of the tree below a tier: a stream and the calls that wrote it."""

    stream_id: str
    tier: Tier
    title: str
    ticket_id: str | None = None
    track_id: str | None = None
    #: A Tier 3 row mirrors its ticket's status; other rows have a stream status.
    status: RowStatus = StreamStatus.WAITING
    #: The model of the latest call; set with :meth:`use_model`.
    model: str = ""
    #: Every model this stream's calls used, in order of first use → when (monotonic).
    models_used: dict[str, float] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    cost_known: bool = True
    calls: int = 0
    #: Stream length when the current call started; text after it has no usage report yet.
    live_from: int = 0
    started_at: float | None = None
    finished_at: float | None = None

    def use_model(self, model: str) -> None:
        """A call of this stream runs on ``model`` (an empty name changes nothing)."""
        if model:
            self.model = model
            self.models_used.setdefault(model, time.monotonic())

    def elapsed(self, now: float | None = None) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else (now or time.time())
        return max(0.0, end - self.started_at)


@dataclass(frozen=True, slots=True)
class Rollup:
    usage: Usage
    cost_usd: float
    cost_known: bool
    #: Every model the records used, in order of first use (ties: in record order).
    models: tuple[str, ...]

    @staticmethod
    def of(records: Iterable[StreamRecord]) -> Rollup:
        rows = list(records)
        first_use: dict[str, float] = {}
        for r in rows:
            for model, at in r.models_used.items():
                first_use[model] = min(at, first_use.get(model, at))
        models = sorted(first_use, key=first_use.__getitem__)
        return Rollup(
            usage=sum_usage(r.usage for r in rows),
            cost_usd=sum(r.cost_usd for r in rows),
            cost_known=all(r.cost_known for r in rows),
            models=tuple(models),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": ", ".join(self.models),
            **self.usage.to_dict(),
            "cost_usd": round(self.cost_usd, 6) if self.cost_known else None,
            "cost_usd_known_part": round(self.cost_usd, 6),
        }
