"""The ticket DAG on stdlib graphlib. Pure logic, no Qt."""

from __future__ import annotations

import graphlib
import posixpath
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace

from .domain import Ticket
from .status import TicketStatus


class DagError(ValueError):
    """Every problem with a ticket graph, in one message that names the offenders."""

    def __init__(
        self,
        *,
        duplicates: Sequence[str] = (),
        unknown: dict[str, list[str]] | None = None,
        cycles: Sequence[Sequence[str]] = (),
    ) -> None:
        self.duplicates = list(duplicates)
        self.unknown = dict(unknown or {})
        self.cycles = [list(c) for c in cycles]
        #: The first cycle (``[a, b, ..., a]``), or empty.
        self.cycle = self.cycles[0] if self.cycles else []
        parts: list[str] = []
        if self.duplicates:
            parts.append("duplicate ticket ids: " + ", ".join(self.duplicates))
        if self.unknown:
            parts.append(
                "unknown dependencies: "
                + "; ".join(f"{t} -> {', '.join(deps)}" for t, deps in self.unknown.items())
            )
        if self.cycles:
            label = "dependency cycle" if len(self.cycles) == 1 else "dependency cycles"
            parts.append(label + ": " + "; ".join(" -> ".join(c) for c in self.cycles))
        super().__init__("invalid ticket graph: " + "; ".join(parts))


def validate(tickets: Sequence[Ticket]) -> list[str]:
    """Check ids and dependencies; return the ids in a topological order.

    Raises one :class:`DagError` naming every duplicate, every unknown dependency and a
    cycle (a self-dependency is a cycle of one), all found in the same pass.
    """
    counts = Counter(t.id for t in tickets)
    duplicates = sorted(tid for tid, n in counts.items() if n > 1)
    ids = set(counts)
    unknown = {
        t.id: [d for d in t.depends_on if d not in ids]
        for t in tickets
        if any(d not in ids for d in t.depends_on)
    }
    graph: dict[str, set[str]] = {}
    for t in tickets:
        graph.setdefault(t.id, set()).update(d for d in t.depends_on if d in ids)
    cycles: list[list[str]] = []
    while True:
        try:
            order = list(graphlib.TopologicalSorter(graph).static_order())
            break
        except graphlib.CycleError as exc:
            # graphlib names one cycle as [a, b, ..., a] in reverse dependency order;
            # drop its nodes and look again, so every disjoint cycle is reported.
            cycle = list(reversed(exc.args[1]))
            cycles.append(cycle)
            for node in cycle:
                graph.pop(node, None)
            for deps in graph.values():
                deps.difference_update(cycle)
    if duplicates or unknown or cycles:
        raise DagError(duplicates=duplicates, unknown=unknown, cycles=cycles)
    return order


def ready(tickets: Sequence[Ticket]) -> list[Ticket]:
    """Todo tickets whose dependencies are all done (completed or skipped), in the given
    order."""
    status = {t.id: t.status for t in tickets}
    return [
        t
        for t in tickets
        if t.status is TicketStatus.TODO
        and all((s := status.get(d)) is not None and s.satisfies for d in t.depends_on)
    ]


#: A dependency in one of these keeps its dependents from ever running (until the user
#: retries, skips or unblocks it). A skipped one counts as done.
STOPPED = (TicketStatus.FAILED, TicketStatus.BLOCKED, TicketStatus.CANCELLED)


def cascade_blocked(tickets: Sequence[Ticket]) -> list[Ticket]:
    """Block every todo ticket with a failed, blocked or cancelled dependency, transitively.

    Returns the tickets this call blocked, each with ``blocked_by`` (the dependency) and
    ``blocked_reason`` naming it, and the user's reason when the user blocked it.
    """
    by_id = {t.id: t for t in tickets}
    newly: list[Ticket] = []
    changed = True
    while changed:
        changed = False
        for ticket in tickets:
            if ticket.status is not TicketStatus.TODO:
                continue
            for dep in ticket.depends_on:
                dep_ticket = by_id.get(dep)
                if dep_ticket is not None and dep_ticket.status in STOPPED:
                    ticket.status = TicketStatus.BLOCKED
                    ticket.blocked_by = dep
                    ticket.blocked_reason = f"dependency {dep} {dep_ticket.status}"
                    if dep_ticket.status is TicketStatus.BLOCKED and dep_ticket.blocked_by is None:
                        ticket.blocked_reason += f": {dep_ticket.blocked_reason}"
                    newly.append(ticket)
                    changed = True
                    break
    return newly


def blocked_by(tickets: Sequence[Ticket], ticket_id: str) -> list[Ticket]:
    """The tickets blocked because of ``ticket_id``: those naming it as ``blocked_by``,
    then those blocked by them, and so on (what a retry, skip or unblock of it releases)."""
    found: list[Ticket] = []
    causes = {ticket_id}
    changed = True
    while changed:
        changed = False
        for ticket in tickets:
            if (ticket.status is TicketStatus.BLOCKED and ticket.blocked_by in causes
                    and ticket.id not in causes):
                found.append(ticket)
                causes.add(ticket.id)
                changed = True
    return found


def validate_edit(tickets: Sequence[Ticket], ticket_id: str,
                  depends_on: Sequence[str]) -> list[str]:
    """:func:`validate` the graph as it would be with ``ticket_id`` depending on
    ``depends_on`` instead, on a copy: nothing is changed, whatever the outcome."""
    edited = [replace(t, depends_on=tuple(depends_on)) if t.id == ticket_id else t
              for t in tickets]
    return validate(edited)


# -- target files: which tickets may run side by side -----------------------------------------

def _normal(path: str) -> str:
    return posixpath.normpath(path.strip().replace("\\", "/")).rstrip("/")


def covers(targets: Iterable[str], path: str) -> bool:
    """Whether ``path`` is one of ``targets``, or inside a target that is a folder."""
    path = _normal(path)
    return any(path == t or path.startswith(t + "/") for t in map(_normal, targets))


def overlap(a: Iterable[str], b: Iterable[str]) -> bool:
    """Whether two tickets' ``target_files`` share a file (a folder covers what is in it)."""
    a, b = list(a), list(b)
    return any(covers(b, path) for path in a) or any(covers(a, path) for path in b)
