"""Where each ticket of a graph goes in a picture: a layered (Sugiyama-style) layout.
Pure logic, no Qt.

1. **Ranks**: a ticket's rank is its dependency depth, the longest chain of dependencies
   below it (a ticket without dependencies has rank 0), so every arrow points to a higher
   rank.
2. **Dummies**: an arrow that spans several ranks passes through a dummy point on each
   rank between, so it is routed around the tickets there and takes part in step 3.
3. **Order within a rank**: barycentre sweeps (each rank sorted by the mean position of its
   neighbours on the rank before, then after), keeping the order with the fewest crossings.
4. **Positions across the ranks**: each item as near the mean of its neighbours on the
   rank before as the items above it allow, then the rank shifted to its neighbours' mean.

Deterministic: the same graph in the same order gives the same layout. Dependencies on
ids outside the graph are left out; a cycle (never valid; ``dag.validate`` refuses it)
still gets a layout, its back arrows drawn between whatever ranks their ends have.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

#: Sweeps down and up the ranks; more rarely removes another crossing.
SWEEPS = 4

Edge = tuple[str, str]


@dataclass(frozen=True, slots=True)
class DagLayout:
    #: The tickets of each rank, in their order across it.
    ranks: tuple[tuple[str, ...], ...]
    #: Ticket id -> rank.
    rank: dict[str, int]
    #: Ticket id -> the centre of its item across the ranks (in the caller's units).
    across: dict[str, float]
    #: (dependency, dependent) -> the points the arrow passes between its ends, each
    #: (rank, across), in order from the dependency.
    edges: dict[Edge, tuple[tuple[int, float], ...]]
    #: Arrows crossing each other between neighbouring ranks (dummy segments included).
    crossings: int

    @property
    def extent(self) -> float:
        """How far the items reach across the ranks (0 for an empty graph)."""
        return max(self.across.values(), default=0.0)


def ranks_of(graph: Sequence[tuple[str, Sequence[str]]]) -> dict[str, int]:
    """Each node's dependency depth. ``graph``: (id, depends_on) in a stable order."""
    ids = {node for node, _ in graph}
    deps = {node: [d for d in dict.fromkeys(depends) if d in ids and d != node]
            for node, depends in graph}
    rank: dict[str, int] = {}
    remaining = [node for node, _ in graph]
    while remaining:
        left: list[str] = []
        for node in remaining:
            if all(d in rank for d in deps[node]):
                rank[node] = 1 + max((rank[d] for d in deps[node]), default=-1)
            else:
                left.append(node)
        if len(left) == len(remaining):  # a cycle: rank the first by what is known
            node = left.pop(0)
            rank[node] = 1 + max((rank[d] for d in deps[node] if d in rank), default=-1)
        remaining = left
    return rank


def layout(
    graph: Sequence[tuple[str, Sequence[str]]],
    *,
    node_span: float = 1.0,
    dummy_span: float = 0.25,
    gap: float = 0.5,
    sweeps: int = SWEEPS,
) -> DagLayout:
    """Lay ``graph`` out: (id, depends_on) per node. ``node_span`` and ``dummy_span`` are
    the sizes of a ticket and of an arrow's bend across the ranks, ``gap`` the space
    between neighbours; positions come back in the same units."""
    rank = ranks_of(graph)
    layers, edges, routes = _layered(graph, rank)
    orders = _order(layers, edges, sweeps)
    size = {item: node_span if item in rank else dummy_span for layer in layers for item in layer}
    across = _place(orders, edges, size, gap)
    return DagLayout(
        ranks=tuple(tuple(item for item in order if item in rank) for order in orders),
        rank=rank,
        across={node: across[node] for node in rank},
        edges={edge: tuple((rank[edge[0]] + 1 + i, across[d]) for i, d in enumerate(path))
               for edge, path in routes.items()},
        crossings=sum(_crossings(orders, edges, r) for r in range(len(orders) - 1)),
    )


def _layered(
    graph: Sequence[tuple[str, Sequence[str]]], rank: dict[str, int]
) -> tuple[list[list[str]], dict[str, list[str]], dict[Edge, list[str]]]:
    """Items per rank (tickets and dummies), the links between neighbouring ranks (item ->
    items on the next rank) and each arrow's dummies."""
    height = 1 + max(rank.values(), default=-1)
    layers: list[list[str]] = [[] for _ in range(height)]
    for node, _ in graph:
        if node in rank and node not in layers[rank[node]]:
            layers[rank[node]].append(node)
    down: dict[str, list[str]] = {item: [] for layer in layers for item in layer}
    routes: dict[Edge, list[str]] = {}
    for node, depends in graph:
        for dep in dict.fromkeys(depends):
            if dep not in rank or dep == node or (dep, node) in routes:
                continue
            path: list[str] = []
            previous = dep
            for r in range(rank[dep] + 1, rank[node]):
                dummy = f"\0{dep}\0{node}\0{r}"  # never a ticket id
                layers[r].append(dummy)
                down[dummy] = []
                down[previous].append(dummy)
                path.append(dummy)
                previous = dummy
            if rank[node] > rank[dep]:
                down[previous].append(node)
            routes[(dep, node)] = path
    return layers, down, routes


def _order(layers: list[list[str]], down: dict[str, list[str]], sweeps: int) -> list[list[str]]:
    up: dict[str, list[str]] = {item: [] for item in down}
    for item, targets in down.items():
        for target in targets:
            up[target].append(item)
    orders = [list(layer) for layer in layers]
    best = [list(o) for o in orders]
    fewest = sum(_crossings(orders, down, r) for r in range(len(orders) - 1))
    for _ in range(sweeps):
        if fewest == 0:
            break
        for r in range(1, len(orders)):
            _sort_by_barycentre(orders[r], orders[r - 1], up)
        for r in range(len(orders) - 2, -1, -1):
            _sort_by_barycentre(orders[r], orders[r + 1], down)
        count = sum(_crossings(orders, down, r) for r in range(len(orders) - 1))
        if count < fewest:
            fewest, best = count, [list(o) for o in orders]
    return best


def _sort_by_barycentre(
    layer: list[str], fixed: list[str], links: dict[str, list[str]]
) -> None:
    """Sort ``layer`` in place by the mean position of each item's links on ``fixed``; an
    item without links keeps its position."""
    where = {item: i for i, item in enumerate(fixed)}
    keys: dict[str, float] = {}
    for i, item in enumerate(layer):
        linked = [where[x] for x in links[item] if x in where]
        keys[item] = sum(linked) / len(linked) if linked else float(i)
    layer.sort(key=keys.__getitem__)  # stable: ties keep their order


def _crossings(orders: list[list[str]], down: dict[str, list[str]], r: int) -> int:
    """Crossings between rank ``r`` and ``r + 1``: inversions of the lower ends when the
    segments are sorted by their upper ends (counted with a sorted list, n log n)."""
    where = {item: i for i, item in enumerate(orders[r + 1])}
    lower = [t for item in orders[r] for t in sorted(where[x] for x in down[item] if x in where)]
    seen: list[int] = []
    count = 0
    for position in lower:
        count += len(seen) - bisect.bisect_right(seen, position)
        bisect.insort(seen, position)
    return count


def _place(
    orders: list[list[str]], down: dict[str, list[str]], size: dict[str, float], gap: float
) -> dict[str, float]:
    """The centre of every item across the ranks: near its upper neighbours' mean, items
    of a rank never closer than ``gap``, each rank then shifted to its neighbours' mean."""
    up: dict[str, list[str]] = {item: [] for item in down}
    for item, targets in down.items():
        for target in targets:
            up[target].append(item)
    centre: dict[str, float] = {}
    for r, order in enumerate(orders):
        edge = 0.0
        wanted: dict[str, float] = {}
        for item in order:
            links = [centre[x] for x in up[item] if x in centre] if r else []
            desire = sum(links) / len(links) if links else edge + size[item] / 2
            centre[item] = max(desire, edge + size[item] / 2)
            edge = centre[item] + size[item] / 2 + gap
            if links:
                wanted[item] = desire
        if wanted:  # pull the rank back towards where its arrows come from
            shift = sum(wanted[i] - centre[i] for i in wanted) / len(wanted)
            lowest = min(centre[i] - size[i] / 2 for i in order)
            shift = max(shift, -lowest)
            for item in order:
                centre[item] += shift
    return centre
