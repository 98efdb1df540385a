"""Options of one run. Pure logic, no Qt."""

from __future__ import annotations

from dataclasses import dataclass, field

from .context import ContextBudgets
from .status import ToolPolicy


@dataclass(frozen=True, slots=True)
class RunOptions:
    #: Tier 3 workers running at once, across all tracks.
    max_workers: int = 4
    #: Tracks running at once (each with its Tier 2 plan and its conductor).
    max_tracks: int = 2
    #: Automatic retries of a failed ticket, each after a Tier 4 diagnosis, each one rung
    #: up the model ladder. config.toml's defaults are these.
    max_retries: int = 2
    #: Repair requests after a plan (Tier 1/2 JSON) is rejected.
    plan_retries: int = 1
    #: Which mutating tool calls are approved without asking (``[tools] policy``).
    tool_policy: ToolPolicy = ToolPolicy.ASK
    #: Model rounds of one attempt that end in tool calls, at most; then the ticket fails.
    max_tool_rounds: int = 30
    #: The longest timeout ``run_command`` may ask for, in seconds.
    max_command_timeout_s: float = 600.0
    #: ``run_command`` may reach the network (only meaningful under bubblewrap).
    allow_network: bool = False
    #: Characters per part of each tier's context (``[context]``).
    context: ContextBudgets = field(default_factory=ContextBudgets)
