"""How numbers (and a ticket's notes) look in the tree, the graph, the status bar and
reports. Pure functions."""

from __future__ import annotations

from ..core.model.domain import Ticket


def tokens(n: int) -> str:
    if n < 10_000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.2f}M"


def cost(usd: float, known: bool = True) -> str:
    if not known:
        return f"≥${usd:.4f}" if usd else "unknown"
    return f"${usd:.4f}"


def elapsed(seconds: float | None, *, precise: bool = True) -> str:
    """``precise`` shows tenths under a minute (finished work); live rows tick in seconds."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s" if precise else f"{int(seconds)}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def ticket_notes(ticket: Ticket) -> list[str]:
    """A ticket's tooltip lines: its dependencies, why it is blocked, its error."""
    lines = []
    if ticket.depends_on:
        lines.append("depends on " + ", ".join(ticket.depends_on))
    if ticket.blocked_reason:
        lines.append(f"{ticket.status.label}: {ticket.blocked_reason}")
    if ticket.error:
        lines.append(f"error: {ticket.error}")
    return lines
