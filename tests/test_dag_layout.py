"""The DAG view's layered layout: pure, deterministic, every arrow pointing down the ranks."""

from __future__ import annotations

import itertools
import random

from mma_qt.core.model.dag_layout import layout, ranks_of

Graph = list[tuple[str, list[str]]]


def random_graph(n: int, seed: int) -> Graph:
    rnd = random.Random(seed)
    graph: Graph = []
    for i in range(n):
        earlier = range(max(0, i - 30), i)
        deps = rnd.sample(earlier, min(len(earlier), rnd.randint(0, 3)))
        graph.append((f"T-{i:03d}", [f"T-{j:03d}" for j in deps]))
    return graph


def test_ranks_are_dependency_depths() -> None:
    graph: Graph = [("A", []), ("B", ["A"]), ("C", ["A", "B"]), ("D", []), ("E", ["D", "C"])]
    assert ranks_of(graph) == {"A": 0, "B": 1, "C": 2, "D": 0, "E": 3}


def test_every_dependency_sits_on_a_lower_rank_than_its_dependent() -> None:
    graph = random_graph(200, seed=3)
    placed = layout(graph)
    for node, deps in graph:
        for dep in deps:
            assert placed.rank[dep] < placed.rank[node], (dep, node)
    assert sorted(n for rank in placed.ranks for n in rank) == sorted(n for n, _ in graph)


def test_one_route_per_dependency_through_every_rank_between_its_ends() -> None:
    graph = random_graph(60, seed=5)
    placed = layout(graph)
    assert set(placed.edges) == {(dep, node) for node, deps in graph for dep in deps}
    for (dep, node), points in placed.edges.items():
        assert [r for r, _ in points] == list(range(placed.rank[dep] + 1, placed.rank[node]))


def test_the_layout_is_deterministic() -> None:
    graph = random_graph(120, seed=11)
    assert layout(graph) == layout(list(graph))


def test_items_of_a_rank_never_overlap() -> None:
    placed = layout(random_graph(150, seed=2), node_span=40, dummy_span=8, gap=10)
    for rank in placed.ranks:
        centres = [placed.across[n] for n in rank]
        assert all(b - a >= 40 + 10 for a, b in itertools.pairwise(centres))
        assert min(centres) >= 20


def test_barycentre_sweeps_remove_crossings_of_a_crossed_plan() -> None:
    # Listed so that the plan's own order crosses every arrow: A-D, B-C.
    graph: Graph = [("A", []), ("B", []), ("C", ["B"]), ("D", ["A"])]
    assert layout(graph, sweeps=0).crossings == 1
    placed = layout(graph)
    assert placed.crossings == 0
    assert placed.ranks == (("A", "B"), ("D", "C"))


def test_sweeps_reduce_crossings_of_a_large_graph() -> None:
    graph = random_graph(200, seed=7)
    assert layout(graph).crossings < layout(graph, sweeps=0).crossings / 2


def test_unknown_dependencies_are_left_out_and_a_cycle_still_gets_a_layout() -> None:
    placed = layout([("A", ["Z"]), ("B", ["A"])])
    assert placed.rank == {"A": 0, "B": 1} and set(placed.edges) == {("A", "B")}
    cyclic = layout([("A", ["B"]), ("B", ["A"]), ("C", ["B"])])
    assert set(cyclic.rank) == {"A", "B", "C"}
    assert set(cyclic.edges) == {("B", "A"), ("A", "B"), ("B", "C")}


def test_an_empty_graph_has_an_empty_layout() -> None:
    placed = layout([])
    assert (placed.ranks, placed.edges, placed.crossings, placed.extent) == ((), {}, 0, 0.0)
