"""Pure core logic: usage, pricing, the ticket DAG, plan parsing, prompts, cancellation."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable

import pytest

from mma_qt.core.model import dag
from mma_qt.core.model.cancel import Cancelled, CancelToken, PauseGate
from mma_qt.core.model.domain import Ticket, Tier
from mma_qt.core.model.plans import PlanError, extract_json, parse_tickets, parse_tracks
from mma_qt.core.model.pricing import Price, PricingError, PricingTable
from mma_qt.core.model.prompts import render, template
from mma_qt.core.model.status import TicketStatus
from mma_qt.core.model.usage import Usage, estimate_tokens, sum_usage

JOIN_S = 5.0  # upper bound for a thread join; never a measured duration


def tickets(*specs: str) -> list[Ticket]:
    """``"B:A,C"`` is ticket B depending on A and C; ``"A"`` has no dependencies."""
    out = []
    for spec in specs:
        tid, _, deps = spec.partition(":")
        out.append(Ticket(tid, f"title {tid}", depends_on=tuple(d for d in deps.split(",") if d)))
    return out


# -- usage ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"), [("", 0), ("a", 1), ("abcd", 1), ("abcde", 2), ("x" * 400, 100)]
)
def test_estimate_tokens_is_ceil_of_chars_over_four(text: str, expected: int) -> None:
    assert estimate_tokens(text) == expected


def test_usage_add_total_and_to_dict() -> None:
    a = Usage(input=10, output=5, cache_read=3, cache_write=2, reasoning=1)
    b = Usage(input=1, output=2, cache_read=4, cache_write=8, reasoning=16, estimated=True)
    total = a + b
    assert total == Usage(11, 7, 7, 10, 17, estimated=True)
    assert (a + Usage()).estimated is False
    assert total.cache == 17
    assert sum_usage([a, b, a]) == a + b + a
    assert total.to_dict() == {
        "input": 11, "output": 7, "cache_read": 7, "cache_write": 10, "reasoning": 17,
        "estimated": True,
    }


def test_usage_estimate_marks_estimated() -> None:
    usage = Usage.estimate("p" * 9, "o" * 4)
    assert (usage.input, usage.output, usage.estimated) == (3, 1, True)


# -- pricing -------------------------------------------------------------------------

def test_longest_matching_pattern_wins_regardless_of_order() -> None:
    short, long_ = Price(2.5, 10.0), Price(0.15, 0.6)
    for prices in ({"gpt-4o*": short, "gpt-4o-mini*": long_},
                   {"gpt-4o-mini*": long_, "gpt-4o*": short}):
        table = PricingTable(prices)
        assert table.price_for("gpt-4o-mini-2024-07-18") is long_
        assert table.price_for("gpt-4o-2024-08-06") is short


def test_unknown_model_has_unknown_cost_not_zero() -> None:
    table = PricingTable({"gpt-4o*": Price(2.5, 10.0)})
    assert table.price_for("mystery-model") is None
    assert table.cost("mystery-model", Usage(input=1000)) is None


def test_cost_arithmetic_per_million_tokens() -> None:
    table = PricingTable({"m*": Price(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75)})
    usage = Usage(input=2_000_000, output=100_000, cache_read=1_000_000, cache_write=400_000,
                  reasoning=50_000)
    expected = 2 * 3.0 + 0.1 * 15.0 + 1 * 0.3 + 0.4 * 3.75
    assert table.cost("m-1", usage) == pytest.approx(expected)
    assert table.cost("m-1", Usage()) == 0.0


def test_bundled_pricing_prices_demo_models_at_zero() -> None:
    table = PricingTable.load()
    assert table.cost("demo-worker", Usage(input=10**6, output=10**6)) == 0.0
    assert table.price_for("gpt-4o-mini-2024") == Price(0.15, 0.60, 0.075)


def test_user_pricing_file_overrides_entry_by_entry(tmp_path) -> None:
    bundled = PricingTable.load()
    user = tmp_path / "pricing.toml"
    user.write_text(
        '[models."claude-sonnet-4*"]\ninput = 1.0\noutput = 2.0\n\n'
        '[models."my-local-model*"]\ninput = 0.5\noutput = 0.25\ncache_read = 0.1\n',
        encoding="utf-8",
    )
    table = PricingTable.load(user)
    assert table.price_for("claude-sonnet-4-5") == Price(1.0, 2.0)
    assert table.price_for("my-local-model-7b") == Price(0.5, 0.25, 0.1)
    # Entries the user file does not name keep their bundled prices.
    assert table.price_for("gpt-4o-mini-x") == bundled.price_for("gpt-4o-mini-x")
    assert set(bundled.patterns) < set(table.patterns)
    # A missing user file is no error: the bundled table is used.
    assert PricingTable.load(tmp_path / "absent.toml").patterns == bundled.patterns


@pytest.mark.parametrize(
    ("text", "needle"),
    [("[models", "not valid TOML"), ('[models."x*"]\ninput = 1.0\n', "'x*'"),
     ('models = 3\n', "[models] must be a table")],
)
def test_bad_pricing_file_raises_pricing_error_naming_the_problem(text: str, needle: str) -> None:
    with pytest.raises(PricingError, match=r"user\.toml") as info:
        PricingTable.from_toml_text(text, "user.toml")
    assert needle in str(info.value)


# -- dag -----------------------------------------------------------------------------

def dag_error(ts: list[Ticket]) -> dag.DagError:
    with pytest.raises(dag.DagError) as info:
        dag.validate(ts)
    return info.value


def test_duplicate_ids_are_named() -> None:
    error = dag_error(tickets("T-001", "T-002", "T-001"))
    assert error.duplicates == ["T-001"]
    assert "duplicate ticket ids: T-001" in str(error)


def test_unknown_dependencies_are_named_with_their_ticket() -> None:
    error = dag_error(tickets("T-001", "T-002:T-001,T-404"))
    assert error.unknown == {"T-002": ["T-404"]}
    assert "T-002 -> T-404" in str(error)


def test_self_dependency_is_a_cycle_naming_the_ticket() -> None:
    error = dag_error(tickets("T-001", "T-002:T-002"))
    assert "cycle" in str(error) and "T-002" in str(error)
    assert "T-001" not in str(error)


def test_three_cycle_is_named_in_dependency_order() -> None:
    error = dag_error(tickets("T-000", "A:C", "B:A", "C:B"))
    message = str(error)
    assert "dependency cycle" in message
    assert "T-000" not in message
    # Each arrow reads "depends on": A -> C -> B -> A (a rotation of it is fine too).
    cycle = error.cycle
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["A", "B", "C"]
    deps = {"A": "C", "B": "A", "C": "B"}
    assert all(deps[a] == b for a, b in itertools.pairwise(cycle))


def test_every_problem_of_a_graph_is_reported_in_one_error() -> None:
    """DagError's contract: "Every problem with a ticket graph, in one message".

    A plan with a duplicate, an unknown dependency, a self-dependency and a 3-cycle must be
    rejected once with all of them named, so one repair request can fix them all.
    """
    error = dag_error(
        tickets("T-001", "T-001", "T-002:T-404", "T-003:T-003", "A:C", "B:A", "C:B")
    )
    message = str(error)
    assert "T-001" in message and "T-404" in message
    assert "T-003" in message, f"self-dependency not reported: {message}"
    assert all(x in message for x in ("A", "B", "C")) and "cycle" in message, message
    assert sorted(len(set(c)) for c in error.cycles) == [1, 3]  # both cycles, each named


def test_validate_returns_a_topological_order() -> None:
    ts = tickets("T-006:T-004,T-005", "T-004:T-002", "T-005:T-002,T-003", "T-002:T-001",
                 "T-003:T-001", "T-001")
    order = dag.validate(ts)
    assert sorted(order) == sorted(t.id for t in ts)
    position = {tid: i for i, tid in enumerate(order)}
    for t in ts:
        assert all(position[d] < position[t.id] for d in t.depends_on), (t.id, order)


def test_ready_lists_todo_tickets_with_all_dependencies_completed() -> None:
    ts = tickets("A", "B", "C:A", "D:A,B", "E")
    by_id = {t.id: t for t in ts}
    assert [t.id for t in dag.ready(ts)] == ["A", "B", "E"]
    by_id["A"].status = TicketStatus.COMPLETED
    by_id["B"].status = TicketStatus.IN_PROGRESS
    by_id["E"].status = TicketStatus.FAILED
    assert [t.id for t in dag.ready(ts)] == ["C"]
    by_id["B"].status = TicketStatus.COMPLETED
    assert [t.id for t in dag.ready(ts)] == ["C", "D"]


def test_cascade_blocked_is_transitive_and_names_the_dependency() -> None:
    ts = tickets("A", "B:A", "C:B", "D:C,X", "X", "Y:X")
    by_id = {t.id: t for t in ts}
    by_id["A"].status = TicketStatus.FAILED
    by_id["X"].status = TicketStatus.COMPLETED
    newly = dag.cascade_blocked(ts)
    assert sorted(t.id for t in newly) == ["B", "C", "D"]
    assert by_id["B"].blocked_reason == "dependency A failed"
    assert by_id["C"].blocked_reason == "dependency B blocked"
    assert by_id["D"].blocked_reason == "dependency C blocked"
    assert all(by_id[t].status is TicketStatus.BLOCKED for t in "BCD")
    assert by_id["Y"].status is TicketStatus.TODO
    assert dag.cascade_blocked(ts) == []  # idempotent: nothing newly blocked


def test_cancelled_dependency_blocks_too() -> None:
    ts = tickets("A", "B:A")
    ts[0].status = TicketStatus.CANCELLED
    assert [t.id for t in dag.cascade_blocked(ts)] == ["B"]
    assert ts[1].blocked_reason == "dependency A cancelled"


# -- plans ---------------------------------------------------------------------------

def test_extract_json_from_a_fenced_block() -> None:
    text = 'Rationale {not json}.\n\n```json\n{"tracks": [{"id": "TR-1"}]}\n```\nDone.'
    assert extract_json(text) == {"tracks": [{"id": "TR-1"}]}


def test_extract_json_from_an_unlabelled_fence_and_from_bare_braces() -> None:
    assert extract_json('```\n{"a": 1}\n```') == {"a": 1}
    assert extract_json('Here you go: {"a": {"b": [1, 2]}} hope it helps') == {"a": {"b": [1, 2]}}


def test_extract_json_malformed_names_the_position() -> None:
    with pytest.raises(PlanError, match=r"JSON is malformed: Expecting value at line 2 column 11"):
        extract_json('```json\n{"tickets": [\n  {"id": [}\n```')


def test_extract_json_without_json_says_so() -> None:
    with pytest.raises(PlanError, match="contains no JSON object"):
        extract_json("I could not come up with a plan.")


def test_parse_tickets_builds_tickets() -> None:
    text = ('```json\n{"tickets": [{"id": "T-001", "title": "Model", "depends_on": [],'
            ' "target_files": ["a.py"], "extra": 1}, {"id": "T-002", "title": "Core",'
            ' "depends_on": ["T-001"]}]}\n```')
    ts = parse_tickets(text)
    assert [(t.id, t.title, t.depends_on, t.target_files) for t in ts] == [
        ("T-001", "Model", (), ("a.py",)), ("T-002", "Core", ("T-001",), ()),
    ]
    assert all(t.status is TicketStatus.TODO for t in ts)


def test_parse_tickets_rejects_a_bad_id() -> None:
    with pytest.raises(PlanError, match=r"tickets\.0\.id: .*'has space' is not like T-001"):
        parse_tickets('{"tickets": [{"id": "has space", "title": "x"}]}')


def test_parse_tickets_rejects_a_missing_title() -> None:
    with pytest.raises(PlanError, match=r"does not match the schema: tickets\.1\.title: Field"):
        parse_tickets('{"tickets": [{"id": "T-001", "title": "x"}, {"id": "T-002"}]}')


def test_parse_tickets_and_tracks_reject_empty_plans() -> None:
    with pytest.raises(PlanError, match="tickets"):
        parse_tickets('{"tickets": []}')
    with pytest.raises(PlanError, match="tracks"):
        parse_tracks('{"plan": "none"}')
    tracks = parse_tracks('{"tracks": [{"id": "TR-1", "title": "All", "description": "d"}]}')
    assert [(t.id, t.title, t.description) for t in tracks] == [("TR-1", "All", "d")]


# -- prompts -------------------------------------------------------------------------

#: The values each tier's caller (core/context/assembly.py) passes: the template contract,
#: shared (the system text) then the call's own (the user prompt).
PROMPT_VALUES = {
    Tier.ORCHESTRATOR: (("workspace", "repository_map"), ("epic",)),
    Tier.TECH_LEAD: (("workspace", "repository_map"),
                     ("epic", "track_title", "track_description", "track_skeletons")),
    Tier.WORKER: (("epic", "track_title", "track_description", "workspace", "repository_map",
                   "track_skeletons"),
                  ("ticket_title", "ticket_id", "ticket_description", "target_files",
                   "dependencies", "qa_hint", "target_contents", "import_skeletons",
                   "dependency_answers")),
    Tier.QA: (("epic", "track_title", "workspace"),
              ("ticket_title", "ticket_id", "ticket_description", "target_files", "error",
               "output_tail", "target_contents")),
}


def all_values(tier: Tier) -> tuple[str, ...]:
    shared, own = PROMPT_VALUES[tier]
    return (*shared, *own)


@pytest.mark.parametrize("tier", list(Tier))
def test_render_fills_every_placeholder(tier: Tier) -> None:
    shared, own = PROMPT_VALUES[tier]
    prompt = render(tier, **{name: f"<<{name}-value>>" for name in (*shared, *own)})
    assert "---" not in prompt.system and "$" not in prompt.system
    assert "$" not in prompt.user
    assert prompt.system.startswith(template(tier).instructions.strip())
    for name in shared:
        assert f"<<{name}-value>>" in prompt.system and f"<<{name}-value>>" not in prompt.user
    for name in own:
        assert f"<<{name}-value>>" in prompt.user and f"<<{name}-value>>" not in prompt.system


@pytest.mark.parametrize("tier", list(Tier))
def test_render_raises_key_error_naming_a_missing_value(tier: Tier) -> None:
    names = all_values(tier)
    for missing in names:
        with pytest.raises(KeyError, match=missing):
            render(tier, **{n: "v" for n in names if n != missing})


@pytest.mark.parametrize("tier", list(Tier))
def test_render_refuses_a_value_its_template_does_not_name(tier: Tier) -> None:
    with pytest.raises(KeyError, match="names no feedback"):
        render(tier, feedback="x", **dict.fromkeys(all_values(tier), "v"))


def test_render_leaves_out_the_line_of_an_empty_value_and_its_blank_line() -> None:
    values = dict.fromkeys(all_values(Tier.WORKER), "v")
    full = render(Tier.WORKER, **values).user
    values.update(target_contents="", import_skeletons="")
    short = render(Tier.WORKER, **values).user
    assert "\n\n\n" not in short
    assert short == full.replace("\nv\n\nv\n\nv\n", "\nv\n")


# -- cancellation and pause ------------------------------------------------------------

def test_cancel_reaches_children_with_the_reason_but_not_parents() -> None:
    root = CancelToken()
    child = CancelToken(root)
    grandchild = CancelToken(child)
    sibling = CancelToken(root)
    child.cancel("ticket cancelled")
    assert grandchild.cancelled and grandchild.reason == "ticket cancelled"
    assert not root.cancelled and not sibling.cancelled
    root.cancel("run cancelled")
    assert sibling.cancelled and sibling.reason == "run cancelled"
    assert child.reason == "ticket cancelled"  # the first reason sticks
    with pytest.raises(Cancelled, match="run cancelled"):
        sibling.raise_if_cancelled()
    assert sibling.wait(timeout=0)


def test_child_of_a_cancelled_parent_is_cancelled_at_once() -> None:
    root = CancelToken()
    root.cancel("gone")
    assert CancelToken(root).cancelled


def test_on_cancel_runs_later_or_at_once_and_survives_a_failing_callback(caplog) -> None:
    token = CancelToken()
    calls: list[str] = []

    def boom() -> None:
        raise RuntimeError("callback bug")

    token.on_cancel(boom)
    token.on_cancel(lambda: calls.append("registered before"))
    assert calls == []
    with caplog.at_level(logging.ERROR, logger="mma_qt.core.model.cancel"):
        token.cancel()
    assert calls == ["registered before"]
    assert any("callback" in r.getMessage() and r.exc_info for r in caplog.records)
    token.on_cancel(lambda: calls.append("registered after"))
    assert calls == ["registered before", "registered after"]
    token.cancel()  # a second cancel runs nothing again
    assert len(calls) == 2


class _WatchedToken(CancelToken):
    """A token that tells when a paused gate asks it for a wake-up: its worker then waits.

    ``PauseGate.wait_open`` registers ``on_cancel`` only when the gate is paused, just
    before it waits; from then on only ``resume`` or ``cancel`` can let the worker go.
    """

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        super().on_cancel(callback)
        self.waiting.set()


def _blocked_gate() -> tuple[PauseGate, CancelToken, threading.Thread, list[object]]:
    """A paused gate with a thread blocked in ``wait_open``; ``result`` gets its outcome."""
    gate = PauseGate()
    gate.pause()
    token = _WatchedToken()
    result: list[object] = []

    def worker() -> None:
        try:
            gate.wait_open(token)
            result.append("passed")
        except Cancelled as exc:
            result.append(exc)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    assert token.waiting.wait(JOIN_S), "the worker never blocked on the paused gate"
    return gate, token, thread, result


def test_open_gate_does_not_block() -> None:
    gate = PauseGate()
    gate.wait_open(CancelToken())  # returns at once
    gate.pause()
    token = CancelToken()
    token.cancel("stop")
    with pytest.raises(Cancelled):
        gate.wait_open(token)  # a cancelled token never waits, even on a paused gate


def test_paused_gate_blocks_until_resumed() -> None:
    gate, _token, thread, result = _blocked_gate()
    assert result == [] and thread.is_alive()
    gate.resume()
    thread.join(JOIN_S)
    assert not thread.is_alive()
    assert result == ["passed"]


def test_cancel_wakes_a_paused_worker() -> None:
    gate, token, thread, result = _blocked_gate()
    assert result == []
    token.cancel("run cancelled")
    thread.join(JOIN_S)
    assert not thread.is_alive()
    assert gate.paused
    assert len(result) == 1 and isinstance(result[0], Cancelled)
    assert str(result[0]) == "run cancelled"
