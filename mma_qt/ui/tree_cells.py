"""What the tree's cells say: its columns, the tier titles, the status colours, and the
text of usage and status roll-ups. No model logic here (see :mod:`.tree_model`)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from ..core.model.domain import Tier
from ..core.model.records import Rollup, StreamRecord
from ..core.model.status import RowStatus, StreamStatus, TicketStatus
from . import formatting

COLUMNS = ("Name", "Status", "Model", "Input", "Output", "Cache", "Cost", "Elapsed")
COL_NAME, COL_STATUS, COL_MODEL, COL_INPUT, COL_OUTPUT, COL_CACHE, COL_COST, COL_ELAPSED = (
    range(len(COLUMNS))
)
NUMERIC = frozenset({COL_INPUT, COL_OUTPUT, COL_CACHE, COL_COST, COL_ELAPSED})
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

TIER_TITLES = {
    Tier.ORCHESTRATOR: "Tier 1 · Orchestrator",
    Tier.TECH_LEAD: "Tier 2 · Tech Lead",
    Tier.WORKER: "Tier 3 · Workers",
    Tier.QA: "Tier 4 · QA",
}
_RUNNING, _DONE, _FAILED, _BLOCKED, _CANCELLED, _SKIPPED = (
    "#1565c0", "#2e7d32", "#c62828", "#ef6c00", "#757575", "#00838f"
)
#: Status colours. A stream status and a ticket status of the same value are equal keys.
STATUS_COLORS: dict[RowStatus, str] = {
    StreamStatus.RUNNING: _RUNNING,
    TicketStatus.IN_PROGRESS: _RUNNING,
    StreamStatus.DONE: _DONE,
    TicketStatus.COMPLETED: _DONE,
    StreamStatus.FAILED: _FAILED,
    TicketStatus.BLOCKED: _BLOCKED,
    StreamStatus.CANCELLED: _CANCELLED,
    TicketStatus.SKIPPED: _SKIPPED,
    #: A run reopened from the history, whose app died while the ticket ran.
    TicketStatus.INTERRUPTED: "#6a1b9a",
}
#: The order of a group row's status summary: what moves first, what waits last.
SUMMARY_ORDER: tuple[RowStatus, ...] = (
    TicketStatus.IN_PROGRESS, StreamStatus.RUNNING, TicketStatus.COMPLETED, StreamStatus.DONE,
    TicketStatus.SKIPPED, TicketStatus.FAILED, TicketStatus.BLOCKED, TicketStatus.CANCELLED,
    TicketStatus.INTERRUPTED, TicketStatus.TODO, StreamStatus.WAITING,
)


def usage_column(rollup: Rollup, column: int) -> str:
    usage = rollup.usage
    mark = "~" if usage.estimated else ""
    if column == COL_MODEL:
        return ", ".join(rollup.models)
    if column == COL_INPUT:
        return mark + formatting.tokens(usage.input)
    if column == COL_OUTPUT:
        return mark + formatting.tokens(usage.output)
    if column == COL_CACHE:
        return formatting.tokens(usage.cache)
    if column == COL_COST:
        return formatting.cost(rollup.cost_usd, rollup.cost_known)
    return ""


def summary(records: list[StreamRecord]) -> str:
    counts: dict[RowStatus, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return ", ".join(f"{counts[s]} {s.label}" for s in SUMMARY_ORDER if s in counts)


def rollup_line(label: str, rollup: Rollup) -> str:
    """``whole track: input 1.2k, output 800, cache 0, $0.0120`` (for tooltips)."""
    usage = rollup.usage
    return (f"{label}: input {formatting.tokens(usage.input)}, output "
            f"{formatting.tokens(usage.output)}, cache {formatting.tokens(usage.cache)}, "
            f"{formatting.cost(rollup.cost_usd, rollup.cost_known)}")
