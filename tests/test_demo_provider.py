"""The offline demo provider: replies per tier, usage, scenarios, scripted failures."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from mma_qt.core.context import ContextBuilder
from mma_qt.core.model import dag
from mma_qt.core.model.bundled import bundled
from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.context import ContextBudgets
from mma_qt.core.model.domain import Ticket, Tier, Track
from mma_qt.core.model.plans import parse_tickets, parse_tracks
from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.model.usage import estimate_tokens
from mma_qt.core.providers.base import CompletionRequest, ProviderClient, TextDelta, UsageReport
from mma_qt.core.providers.demo import (
    DemoClient,
    DemoProviderFactory,
    DemoWorkerError,
    Scenario,
    ScenarioError,
    TicketScript,
)

SCENARIOS = Path(str(bundled("scenarios")))


def request(tier: Tier, ticket_id: str = "T-001", attempt: int = 0) -> CompletionRequest:
    """A request assembled from the real templates, as the runner and conductor assemble
    them (on a workspace that does not exist: no files)."""
    epic, context = sample_epic(), ContextBuilder("/ws", ContextBudgets())
    track = Track("TR-1", "Deliver", "All of it")
    ticket = Ticket(ticket_id, "Export to CSV", "Add the export", target_files=("src/export.py",))
    if tier is Tier.ORCHESTRATOR:
        made = context.tier1(epic)
    elif tier is Tier.TECH_LEAD:
        made = context.tier2(epic, track)
    elif tier is Tier.WORKER:
        made = context.tier3(epic, track, ticket, root="/ws", done=[])
    else:
        made = context.tier4(epic, track, ticket, root="/ws", error="TimeoutError: slow",
                             output="")
    return CompletionRequest(tier, f"demo-{int(tier)}", made.system, made.prompt,
                             f"stream {int(tier)}", None if tier < Tier.WORKER else ticket_id,
                             attempt=attempt)


def collect(client: ProviderClient, req: CompletionRequest) -> tuple[str, list[object]]:
    items = list(client.stream(req, CancelToken()))
    return "".join(i.text for i in items if isinstance(i, TextDelta)), items


def test_factory_is_labelled_demo_and_climbs_the_worker_ladder() -> None:
    factory = DemoProviderFactory(delay=0)
    assert factory.is_demo and "demo" in factory.label
    assert [factory.model_for(Tier.WORKER, n) for n in range(4)] == [
        "demo-worker", "demo-worker-pro", "demo-worker-max", "demo-worker-max"]
    assert factory.model_for(Tier.QA) == "demo-qa"
    assert factory.create(Tier.WORKER) is not factory.create(Tier.WORKER)  # one per call


def test_tier1_reply_parses_as_tracks() -> None:
    text, _ = collect(DemoClient(0, Scenario()), request(Tier.ORCHESTRATOR))
    tracks = parse_tracks(text)
    assert len(tracks) >= 1 and all(t.id and t.title for t in tracks)


def test_tier2_reply_is_a_valid_diamond() -> None:
    text, _ = collect(DemoClient(0, Scenario()), request(Tier.TECH_LEAD))
    tickets = parse_tickets(text)
    assert len(tickets) >= 5
    assert any(len(t.depends_on) >= 2 for t in tickets), "no ticket joins two branches"
    shared = Counter(d for t in tickets for d in t.depends_on)
    assert max(shared.values()) >= 2, "no dependency is shared by two tickets"
    assert sorted(dag.validate(tickets)) == sorted(t.id for t in tickets)


def test_tier2_wide_scenario_plans_independent_tickets() -> None:
    text, _ = collect(DemoClient(0, Scenario(wide_tickets=7)), request(Tier.TECH_LEAD))
    tickets = parse_tickets(text)
    assert len(tickets) == 7 and all(not t.depends_on for t in tickets)


def test_tier3_reply_is_a_write_up_of_a_few_hundred_tokens() -> None:
    text, _ = collect(DemoClient(0, Scenario()), request(Tier.WORKER, "T-042"))
    assert 150 <= estimate_tokens(text) <= 1500
    assert "T-042" in text and "Export to CSV" in text


def test_tier4_reply_is_a_diagnosis_with_a_hint() -> None:
    text, _ = collect(DemoClient(0, Scenario()), request(Tier.QA, "T-007"))
    assert "T-007" in text and "TimeoutError: slow" in text
    assert text.strip().split("\n\n")[-1].startswith("Hint")


@pytest.mark.parametrize("tier", list(Tier))
def test_usage_report_comes_last_counted_with_the_estimator(tier: Tier) -> None:
    req = request(tier)
    text, items = collect(DemoClient(0, Scenario()), req)
    assert isinstance(items[-1], UsageReport)
    assert sum(isinstance(i, UsageReport) for i in items) == 1
    assert len(items) > 2 and all(isinstance(i, TextDelta) for i in items[:-1])
    usage = items[-1].usage
    assert usage.input > 0 and usage.output > 0 and not usage.estimated
    assert usage.input == estimate_tokens(req.system) + estimate_tokens(req.prompt)
    assert usage.output == estimate_tokens(text)
    assert items[-1].model == req.model


def test_scenario_from_dict() -> None:
    scenario = Scenario.from_dict({
        "tier2": {"malformed": 2, "cycle": True},
        "plan": {"wide_tickets": 12},
        "tier3": {"repeat": 3},
        "tickets": {"T-009": {"raise": "OSError: disk full", "raise_times": 2,
                              "after_chunks": 5, "delay": 0.5}},
    })
    assert (scenario.tier2_malformed, scenario.tier2_cycle) == (2, True)
    assert (scenario.wide_tickets, scenario.worker_repeat) == (12, 3)
    assert scenario.tickets == {"T-009": TicketScript("OSError: disk full", 2, 5, 0.5)}
    assert Scenario.from_dict({}) == Scenario()


def test_bundled_scenarios_all_load() -> None:
    loaded = {p.stem: Scenario.load(p) for p in sorted(SCENARIOS.glob("*.toml"))}
    assert {"failing-worker", "flaky-worker", "malformed-plan", "cycle"} <= set(loaded)
    failing = loaded["failing-worker"].tickets["T-002"]
    assert failing.raise_message.startswith("ConnectionResetError") and failing.raise_times == 0
    assert loaded["flaky-worker"].tickets["T-003"].raise_times == 1
    assert loaded["malformed-plan"].tier2_malformed == 1
    assert loaded["cycle"].tier2_cycle


@pytest.mark.parametrize(
    "data",
    [{"tier2": "oops"}, {"tickets": {"T-001": "boom"}}, {"tickets": []},
     {"tickets": {"T-001": {"raise_times": "many"}}}, {"plan": {"wide_tickets": [3]}}],
)
def test_malformed_scenario_raises_scenario_error(data: dict) -> None:
    with pytest.raises(ScenarioError, match="my-scenario"):
        Scenario.from_dict(data, "my-scenario")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[tickets.T-002]\nrase = "TimeoutError"\n', "tickets.T-002.rase: unknown key"),
        ("[tier4]\nmalformed = 1\n", "tier4: unknown key"),
        (
            '[tickets.T-002]\nraise = "boom"\nraise_times = "two"\n',
            "tickets.T-002.raise_times: Input should be a valid integer",
        ),
        ("[tier2]\ncycle = 1\n", "tier2.cycle: Input should be a valid boolean"),
        ("[tier3]\nrepeat = 0\n", "tier3.repeat: Input should be greater than or equal to 1"),
    ],
)
def test_bad_scenario_file_names_file_table_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "failing.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        Scenario.load(path)
    assert str(info.value) == f"{path}: {message}"


def test_unreadable_scenario_file_raises_scenario_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[tier2\nmalformed = 1\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad\.toml"):
        Scenario.load(bad)
    with pytest.raises(ScenarioError, match=r"absent\.toml"):
        Scenario.load(tmp_path / "absent.toml")


def test_scripted_ticket_fails_after_n_chunks_for_the_first_attempts_only() -> None:
    script = TicketScript(raise_message="ConnectionResetError: gone", raise_times=2,
                          after_chunks=3)
    client = DemoClient(0, Scenario(tickets={"T-002": script}))
    for attempt in (0, 1):
        received: list[object] = []
        with pytest.raises(DemoWorkerError, match="ConnectionResetError: gone"):
            for item in client.stream(request(Tier.WORKER, "T-002", attempt), CancelToken()):
                received.append(item)
        assert len(received) == 3 and all(isinstance(i, TextDelta) for i in received)
    _, items = collect(client, request(Tier.WORKER, "T-002", attempt=2))
    assert isinstance(items[-1], UsageReport)
    # Other tickets, and other tiers of the scripted ticket, are unaffected.
    assert isinstance(collect(client, request(Tier.WORKER, "T-001"))[1][-1], UsageReport)
    assert isinstance(collect(client, request(Tier.QA, "T-002"))[1][-1], UsageReport)


def test_scripted_failure_with_raise_times_zero_fails_every_attempt() -> None:
    client = DemoClient(0, Scenario(tickets={"T-002": TicketScript("boom", after_chunks=0)}))
    for attempt in (0, 1, 5):
        with pytest.raises(DemoWorkerError):
            next(iter(client.stream(request(Tier.WORKER, "T-002", attempt), CancelToken())))


def test_cancel_stops_a_slow_stream_promptly() -> None:
    token = CancelToken()
    first = threading.Event()
    items: list[object] = []

    def consume() -> None:
        for item in DemoClient(0.2, Scenario()).stream(request(Tier.WORKER), token):
            items.append(item)
            first.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    assert first.wait(5.0), "no first chunk"
    started = time.monotonic()
    token.cancel("stop")
    thread.join(1.0)
    assert not thread.is_alive(), "the stream did not stop within 1 s of the cancel"
    assert time.monotonic() - started < 1.0
    # Uncancelled, the ~100 remaining chunks would take ~20 s; it stopped after a few.
    deltas = [i for i in items if isinstance(i, TextDelta)]
    assert 1 <= len(deltas) < 10
    assert isinstance(items[-1], UsageReport) and items[-1].usage.estimated
    assert items[-1].usage.output == estimate_tokens("".join(d.text for d in deltas))
