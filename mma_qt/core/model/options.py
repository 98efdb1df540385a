"""Options of one run. Pure logic, no Qt."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RunOptions:
    #: Tier 3 workers running at once.
    max_workers: int = 4
    #: Automatic retries of a failed ticket, each after a Tier 4 diagnosis, each one rung
    #: up the model ladder. config.toml's defaults are these.
    max_retries: int = 2
    #: Repair requests after a plan (Tier 1/2 JSON) is rejected.
    plan_retries: int = 1
