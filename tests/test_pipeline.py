"""The whole pipeline through the controller: a track proposal (plan, edit, drop, accept,
re-plan), tracks in parallel (each with its streams, approvals, cancel; workers bounded
across tracks), the run mode, pause across tracks, and continuing an ended run."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import shiboken6

from mma_qt.core.live.session import MmaSession
from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.domain import Ticket, Tier, Track, stream_id
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.plans import PlanError, check_tracks, parse_track_plan
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.status import RunMode, RunStatus, TicketStatus, TrackStatus
from mma_qt.core.model.usage import Usage
from mma_qt.core.providers.base import (
    CompletionRequest,
    ProviderClient,
    StreamItem,
    TextDelta,
    UsageReport,
)
from mma_qt.core.providers.demo import DemoProviderFactory, Scenario
from mma_qt.core.providers.demo_plan import prompt_field
from mma_qt.core.run.approvals import ApprovalBroker
from mma_qt.core.run.conductor import Conductor, RunContext
from mma_qt.core.run.controller import Controller, ControllerError, InvalidEdit
from mma_qt.core.settings.config import Config, run_options
from mma_qt.progress import format_event

from .test_conductor import CountingGate, wait_event_loop_ms

RUN_TIMEOUT_MS = 60_000
EPIC = "Add CSV export to the reports module"


# -- providers that say what they saw ---------------------------------------------------

class Recorder(DemoProviderFactory):
    """The demo provider, keeping every request and the text it streamed back for it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self.requests: list[CompletionRequest] = []
        #: Per request (same index): the text deltas sent.
        self.sent: list[list[str]] = []

    def create(self, tier: Tier) -> ProviderClient:
        return _Recording(self, super().create(tier))

    def record(self, request: CompletionRequest) -> list[str]:
        with self._lock:
            self.requests.append(request)
            self.sent.append([])
            return self.sent[-1]

    def of(self, tier: Tier) -> list[CompletionRequest]:
        with self._lock:
            return [r for r in self.requests if r.tier is tier]


class _Recording:
    def __init__(self, factory: Recorder, client: ProviderClient) -> None:
        self._factory, self._client = factory, client

    def close(self) -> None:
        self._client.close()

    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        sent = self._factory.record(request)
        for item in self._client.stream(request, cancel):
            if isinstance(item, TextDelta):
                sent.append(item.text)
            yield item


#: A Tier 3 worker of :class:`Lanes`: the text chunks of its reply.
Worker = Callable[[CompletionRequest, CancelToken], Iterator[str]]
ROUND = Usage(input=100, output=10)


class Lanes(DemoProviderFactory):
    """Tier 1 plans the tracks of ``plans`` (``TR-A``: "Lane TR-A"), Tier 2 each track's
    tickets (independent, one file each), Tier 3 streams what ``worker`` yields. With
    ``reuse_ids`` every track's first plan names T-001 and a repair request gets T-1xx."""

    def __init__(self, plans: dict[str, list[str]], worker: Worker, *,
                 reuse_ids: bool = False) -> None:
        super().__init__(delay=0)
        self.plans, self.worker, self.reuse_ids = plans, worker, reuse_ids
        self._lock = threading.Lock()
        self.requests: list[CompletionRequest] = []

    def create(self, tier: Tier) -> ProviderClient:
        return _Lane(self)

    def of(self, tier: Tier) -> list[CompletionRequest]:
        with self._lock:
            return [r for r in self.requests if r.tier is tier]

    def reply(self, request: CompletionRequest) -> str:
        with self._lock:
            self.requests.append(request)
        if request.tier is Tier.ORCHESTRATOR:
            tracks = [{"id": t, "title": f"Lane {t}", "description": f"All of {t}."}
                      for t in self.plans]
            return "```json\n" + json.dumps({"tracks": tracks}) + "\n```\n"
        track = prompt_field(request.prompt, "Track").split()[-1]
        ids = self.plans[track]
        if self.reuse_ids:
            repair = "duplicate ticket ids" in request.prompt
            ids = [f"T-{101 + i:03d}" if repair else "T-001" for i in range(len(ids))]
        tickets = [{"id": t, "title": f"Work {t}", "depends_on": [],
                    "target_files": [f"{t}.txt"]} for t in ids]
        return "```json\n" + json.dumps({"tickets": tickets}) + "\n```\n"


class _Lane:
    def __init__(self, factory: Lanes) -> None:
        self._factory = factory

    def close(self) -> None:
        """Nothing held."""

    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        if request.tier is Tier.WORKER:
            with self._factory._lock:
                self._factory.requests.append(request)
            for chunk in self._factory.worker(request, cancel):
                yield TextDelta(chunk)
        else:
            yield TextDelta(self._factory.reply(request))
        yield UsageReport(ROUND, request.model)


def done_at_once(request: CompletionRequest, cancel: CancelToken) -> Iterator[str]:
    yield f"{request.ticket_id} done."


class Turnstile:
    """Tier 3 chunks in one order across worker threads: a chunk is sent only after every
    chunk before it in ``order`` was published on the session's bus (a ``text`` event).
    Tracks that did not run side by side never get past it (the wait times out)."""

    def __init__(self, order: Sequence[str]) -> None:
        self.order = list(order)
        self.cond = threading.Condition()
        #: (event seq, marker) in the order the ``text`` events carried them.
        self.published: list[tuple[int, str]] = []

    def on_event(self, event: dict[str, Any]) -> None:
        if event["type"] != "text":
            return
        with self.cond:
            seen = {m for _, m in self.published}
            for item in event["streams"]:
                for marker in self.order:
                    if f"<{marker}>" in item["delta"] and marker not in seen:
                        self.published.append((event["seq"], marker))
            self.cond.notify_all()

    def _turn(self, marker: str) -> bool:
        """Every chunk before ``marker`` was published (with the lock held)."""
        before = set(self.order[: self.order.index(marker)])
        return before <= {m for _, m in self.published}

    def worker(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[str]:
        for marker in [m for m in self.order if m.startswith(f"{request.ticket_id}:")]:
            with self.cond:
                ok = self.cond.wait_for(lambda m=marker: self._turn(m) or cancel.cancelled, 20)
            if not ok:
                raise TimeoutError(f"{marker}: the chunks before it never came")
            yield f"<{marker}> "


# -- the controller ----------------------------------------------------------------------

@pytest.fixture
def make(qloop: asyncio.AbstractEventLoop, qtbot: Any) -> Iterator[Callable[..., Controller]]:
    """``make(factory, options=None, auto=False)``: a controller on a fresh session; each
    is closed as the app closes it (``aclose``) and deleted afterwards."""
    made: list[Controller] = []

    def make_controller(factory: Any, options: RunOptions | None = None, *,
                        auto: bool = False) -> Controller:
        session = MmaSession(PricingTable.load(), factory.label)
        controller = Controller(session, factory, options or RunOptions(), auto=auto)
        made.append(controller)
        return controller

    yield make_controller
    for controller in made:
        closing = asyncio.ensure_future(controller.aclose())
        qtbot.waitUntil(closing.done, timeout=10_000)
        closing.result()
        session = controller.session
        shiboken6.delete(controller)
        shiboken6.delete(session)


def events_of(controller: Controller) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    controller.session.bus.published.connect(events.append)
    return events


def wait_status(qtbot: Any, controller: Controller, *statuses: RunStatus) -> None:
    qtbot.waitUntil(lambda: controller.session.status in statuses, timeout=RUN_TIMEOUT_MS)


def finish(qtbot: Any, controller: Controller) -> str:
    """Wait for the run's ``finished`` signal; its status."""
    with qtbot.waitSignal(controller.finished, timeout=RUN_TIMEOUT_MS) as signal:
        pass
    return str(signal.args[0])


def pending(controller: Controller) -> set[str]:
    return {a["key"] for a in controller.pending_approvals()}


# -- the proposal -------------------------------------------------------------------------

def test_plan_epic_stops_after_tier1_with_the_proposed_tracks(qtbot: Any, make: Any,
                                                               tmp_path: Any) -> None:
    factory = Recorder(delay=0)
    controller = make(factory)
    events = events_of(controller)
    controller.plan_epic(EPIC, str(tmp_path))
    wait_status(qtbot, controller, RunStatus.PROPOSED)

    proposed = controller.proposed_tracks()
    assert [t["id"] for t in proposed] == ["TR-1", "TR-2", "TR-3"]
    assert all(t["priority"] for t in proposed)  # a field beyond id, title, description
    snapshot = controller.session.snapshot(streams=False)
    assert snapshot["status"] == "proposed" and snapshot["proposed_tracks"] == proposed
    assert snapshot["tracks"] == [] and snapshot["mode"] == "step"
    assert [e["state"] for e in events if e["type"] == "proposal"] == ["proposed"]
    assert controller.busy and not factory.of(Tier.TECH_LEAD)  # waits for the user
    with pytest.raises(ControllerError, match="nothing to pause: the track proposal waits"):
        controller.pause()  # a pause would hide "proposed" behind "paused"
    assert controller.session.status is RunStatus.PROPOSED


def test_accept_tracks_runs_exactly_the_accepted_tracks_in_order_with_the_edits(
        qtbot: Any, make: Any, tmp_path: Any) -> None:
    factory = Recorder(delay=0)
    controller = make(factory, auto=True)
    events = events_of(controller)
    controller.plan_epic(EPIC, str(tmp_path))
    wait_status(qtbot, controller, RunStatus.PROPOSED)
    export, guide, french = controller.proposed_tracks()
    described = "A user guide in guide/user-guide.md and a CHANGELOG entry for the export."
    controller.accept_tracks([{**guide, "description": described}, export, french],
                             drop=["TR-3"])
    assert finish(qtbot, controller) == "done"

    session = controller.session
    assert [t.id for t in session.tracks] == ["TR-2", "TR-1"]  # the accepted order
    assert not any(t.id == "T-009" for t in session.tickets.values())  # TR-3 never ran
    prompts = [r.prompt for r in factory.of(Tier.TECH_LEAD)]
    assert len(prompts) == 2
    assert sum(f"Track description: {described}" in p for p in prompts) == 1
    # The first accepted track plans on the plain Tier 2 stream, the other on its own.
    assert session.records[stream_id(Tier.TECH_LEAD)].track_id == "TR-2"
    assert session.records["Tier 2 (Tech Lead): TR-1"].track_id == "TR-1"
    states = [e["state"] for e in events if e["type"] == "proposal"]
    assert states == ["proposed", "accepted"]
    accepted = next(e for e in events if e["type"] == "proposal" and e["state"] == "accepted")
    assert [t["id"] for t in accepted["tracks"]] == ["TR-2", "TR-1"]
    assert controller.proposed_tracks() == []
    snapshot = session.snapshot(streams=False)
    assert {t["id"]: t["status"] for t in snapshot["tracks"]} == {"TR-2": "done", "TR-1": "done"}
    assert snapshot["tracks"][0]["description"] == described


def test_replan_sends_the_remark_to_tier1_on_the_same_stream(qtbot: Any, make: Any,
                                                               tmp_path: Any) -> None:
    factory = Recorder(delay=0)
    controller = make(factory)
    events = events_of(controller)
    controller.plan_epic(EPIC, str(tmp_path))
    wait_status(qtbot, controller, RunStatus.PROPOSED)
    remark = "Leave out TR-3: nobody asked for a translation."
    controller.replan(remark)
    assert controller.session.status is RunStatus.PLANNING
    qtbot.waitUntil(lambda: len([e for e in events if e.get("state") == "proposed"]) == 2,
                    timeout=RUN_TIMEOUT_MS)

    first, second = factory.of(Tier.ORCHESTRATOR)
    assert remark not in first.prompt and f"Remark: {remark}" in second.prompt
    assert '"id": "TR-3"' in second.prompt  # the previous proposal goes with it
    text = controller.session.hub.text(stream_id(Tier.ORCHESTRATOR))
    assert f"--- re-plan: {remark} ---" in text
    assert text.index("--- re-plan") < text.index("Planned again with your remark")
    assert [t["id"] for t in controller.proposed_tracks()] == ["TR-1", "TR-2"]
    assert controller.session.status is RunStatus.PROPOSED
    assert [e["state"] for e in events if e["type"] == "proposal"] == [
        "proposed", "replanning", "proposed"]


def test_a_bad_edit_is_refused_naming_the_field_and_changes_nothing(
        qtbot: Any, make: Any, tmp_path: Any) -> None:
    controller = make(Recorder(delay=0))
    controller.plan_epic(EPIC, str(tmp_path))
    wait_status(qtbot, controller, RunStatus.PROPOSED)
    before = controller.proposed_tracks()
    first, second = before[0], before[1]

    with pytest.raises(InvalidEdit) as blank:
        controller.accept_tracks([first, {**second, "title": ""}])
    assert blank.value.field == "tracks[1].title"
    with pytest.raises(InvalidEdit) as reused:
        controller.accept_tracks([first, {**second, "id": first["id"]}])
    assert reused.value.field == "tracks[1].id" and "duplicate" in str(reused.value)
    with pytest.raises(InvalidEdit) as unknown:
        controller.accept_tracks(drop=["TR-9"])
    assert unknown.value.field == "drop" and "TR-9" in str(unknown.value)
    with pytest.raises(InvalidEdit, match="every track"):
        controller.accept_tracks(drop=[t["id"] for t in before])

    assert controller.proposed_tracks() == before
    assert controller.session.status is RunStatus.PROPOSED and controller.runner is not None
    assert controller.runner.proposing
    controller.cancel()
    assert finish(qtbot, controller) == "cancelled"


def test_closing_the_app_during_a_proposal_ends_the_run_cancelled(
        qtbot: Any, make: Any, tmp_path: Any) -> None:
    controller = make(Recorder(delay=0))
    controller.plan_epic(EPIC, str(tmp_path))
    wait_status(qtbot, controller, RunStatus.PROPOSED)
    with qtbot.waitSignal(controller.finished, timeout=10_000) as signal:
        closing = asyncio.ensure_future(controller.aclose())
    qtbot.waitUntil(closing.done, timeout=10_000)
    assert signal.args == ["cancelled"]
    assert controller.session.error == "application closing"


def test_track_plans_keep_every_field_and_name_the_bad_one() -> None:
    plan = parse_track_plan('{"tracks": [{"id": "TR-1", "title": "A", "estimate": "2d"}]}')
    assert plan == [{"id": "TR-1", "title": "A", "description": "", "estimate": "2d"}]
    with pytest.raises(PlanError) as bad_id:
        check_tracks([{"id": "../up", "title": "A"}])
    assert bad_id.value.field == "tracks[0].id"
    with pytest.raises(PlanError) as not_a_list:
        check_tracks("TR-1")
    assert not_a_list.value.field == "tracks"


# -- refusals ----------------------------------------------------------------------------

def test_commands_are_refused_in_the_wrong_state(qtbot: Any, make: Any, tmp_path: Any) -> None:
    controller = make(Lanes({"TR-A": ["T-001"]}, done_at_once))
    with pytest.raises(ControllerError, match="no track proposal"):
        controller.accept_tracks()
    with pytest.raises(ControllerError, match="no run to continue"):
        controller._continue_run()
    with pytest.raises(ControllerError, match="unknown mode 'fast'"):
        controller.set_mode("fast")

    controller.start_epic(EPIC, str(tmp_path))  # straight through: no proposal
    qtbot.waitUntil(lambda: pending(controller) == {"T-001:spawn"}, timeout=RUN_TIMEOUT_MS)
    with pytest.raises(ControllerError, match="cannot re-plan: no track proposal"):
        controller.replan("more tracks")
    with pytest.raises(ControllerError, match="no track 'TR-9'"):
        controller.cancel_track("TR-9")
    with pytest.raises(ControllerError, match="no ticket 'T-404'"):
        controller.set_ticket_step("T-404", True)
    controller.resolve_approval("T-001:spawn", True)
    assert finish(qtbot, controller) == "done"
    with pytest.raises(ControllerError, match="nothing to run"):
        controller._continue_run()
    with pytest.raises(ControllerError, match="no run in progress"):
        controller.cancel_track("TR-A")


# -- tracks in parallel ----------------------------------------------------------------------

def test_two_tracks_run_concurrently_with_their_own_streams_usage_and_approvals(
        qtbot: Any, make: Any, tmp_path: Any) -> None:
    turnstile = Turnstile(["T-A1:1", "T-B1:1", "T-A1:2", "T-B1:2"])
    factory = Lanes({"TR-A": ["T-A1"], "TR-B": ["T-B1"]}, turnstile.worker)
    controller = make(factory)
    controller.session.bus.published.connect(turnstile.on_event)
    controller.start_epic(EPIC, str(tmp_path))
    # Both tracks' spawns wait at once, each its own approval.
    qtbot.waitUntil(lambda: pending(controller) == {"T-A1:spawn", "T-B1:spawn"},
                    timeout=RUN_TIMEOUT_MS)
    controller.resolve_approval("T-A1:spawn", True)
    controller.resolve_approval("T-B1:spawn", True)
    assert finish(qtbot, controller) == "done"

    # The two Tier 3 streams interleave: A, B, A, B, each in a later text event.
    assert [m for _, m in turnstile.published] == turnstile.order
    seqs = [seq for seq, _ in turnstile.published]
    assert seqs == sorted(set(seqs))
    session = controller.session
    assert session.hub.text(stream_id(Tier.WORKER, "T-A1")) == "<T-A1:1> <T-A1:2> "
    assert session.hub.text(stream_id(Tier.WORKER, "T-B1")) == "<T-B1:1> <T-B1:2> "
    tracks = {t["id"]: t for t in session.snapshot(streams=False)["tracks"]}
    assert {k: (t["status"], t["tickets"]) for k, t in tracks.items()} == {
        "TR-A": ("done", ["T-A1"]), "TR-B": ("done", ["T-B1"])}
    for track_id, track in tracks.items():
        own = [r for r in session.records.values() if r.track_id == track_id]
        assert {r.tier for r in own} == {Tier.TECH_LEAD, Tier.WORKER}
        assert track["usage"]["input"] == sum(r.usage.input for r in own) == 2 * ROUND.input
    assert session.records["Tier 2 (Tech Lead): TR-B"].track_id == "TR-B"


def test_cancel_track_stops_one_track_and_the_other_finishes(
        qtbot: Any, make: Any, tmp_path: Any) -> None:
    def worker(request: CompletionRequest, cancel: CancelToken) -> Iterator[str]:
        yield f"<{request.ticket_id}> "
        if request.ticket_id == "T-A1":
            cancel.wait(30)  # streams until cancelled

    factory = Lanes({"TR-A": ["T-A1", "T-A2"], "TR-B": ["T-B1"]}, worker)
    controller = make(factory)
    events = events_of(controller)
    controller.start_epic(EPIC, str(tmp_path))
    qtbot.waitUntil(lambda: pending(controller) == {"T-A1:spawn", "T-A2:spawn", "T-B1:spawn"},
                    timeout=RUN_TIMEOUT_MS)
    controller.resolve_approval("T-A1:spawn", True)
    session = controller.session
    qtbot.waitUntil(lambda: "<T-A1>" in session.hub.text(stream_id(Tier.WORKER, "T-A1")),
                    timeout=RUN_TIMEOUT_MS)

    controller.cancel_track("TR-A")
    qtbot.waitUntil(lambda: session.tracks[0].status is TrackStatus.CANCELLED,
                    timeout=10_000)
    assert pending(controller) == {"T-B1:spawn"}  # TR-A's approval went with it
    assert {session.tickets[t].status for t in ("T-A1", "T-A2")} == {TicketStatus.CANCELLED}
    assert session.tracks[1].status is not TrackStatus.CANCELLED
    controller.resolve_approval("T-B1:spawn", True)
    assert finish(qtbot, controller) == "cancelled"

    assert session.tickets["T-B1"].status is TicketStatus.COMPLETED
    assert session.error == ("1 track done, 1 cancelled "
                             "(TR-A cancelled: track cancelled by the user)")
    def track_statuses(track_id: str) -> list[str]:
        return [e["status"] for e in events if e["type"] == "track" and e["track_id"] == track_id]

    assert track_statuses("TR-A") == ["planning", "running", "cancelled"]
    assert track_statuses("TR-B") == ["planning", "running", "done"]


def test_max_workers_bounds_tier3_calls_across_tracks(qtbot: Any, make: Any,
                                                       tmp_path: Any) -> None:
    lock, total = threading.Condition(), 6
    state = {"now": 0, "peak": 0, "entered": 0}

    def worker(request: CompletionRequest, cancel: CancelToken) -> Iterator[str]:
        with lock:
            state["now"] += 1
            state["entered"] += 1
            state["peak"] = max(state["peak"], state["now"])
            lock.notify_all()
            # Overlap with another call whenever one may run beside this one.
            lock.wait_for(lambda: state["now"] >= 2 or state["entered"] == total
                          or cancel.cancelled, 20)
        try:
            yield f"{request.ticket_id} done."
        finally:
            with lock:
                state["now"] -= 1

    plans = {"TR-A": ["T-A1", "T-A2", "T-A3"], "TR-B": ["T-B1", "T-B2", "T-B3"]}
    controller = make(Lanes(plans, worker), RunOptions(max_workers=2), auto=True)
    controller.start_epic(EPIC, str(tmp_path))
    assert finish(qtbot, controller) == "done"
    assert state == {"now": 0, "peak": 2, "entered": total}
    assert controller.runner is not None and controller.runner.ctx.slots.peak == 2


def test_concurrent_tier2_plans_that_reuse_an_id_are_repaired(qtbot: Any, make: Any,
                                                               tmp_path: Any) -> None:
    factory = Lanes({"TR-A": ["x"], "TR-B": ["y"]}, done_at_once, reuse_ids=True)
    controller = make(factory, auto=True)
    controller.start_epic(EPIC, str(tmp_path))
    assert finish(qtbot, controller) == "done"
    session = controller.session
    assert sorted(session.tickets) == ["T-001", "T-101"]
    assert sorted(len(t.tickets) for t in session.tracks) == [1, 1]
    rejected = [sid for sid in session.records if "duplicate ticket ids: T-001"
                in session.hub.text(sid)]
    assert len(rejected) == 1 and len(factory.of(Tier.TECH_LEAD)) == 3


def test_max_tracks_is_in_the_config_with_the_run_options_default() -> None:
    assert Config().max_tracks == RunOptions().max_tracks == 2
    assert run_options(Config(max_tracks=3)).max_tracks == 3


# -- mode, pause, continue ----------------------------------------------------------------

def test_set_mode_auto_approves_pending_spawns_but_not_stepped_tickets(
        qtbot: Any, make: Any, tmp_path: Any) -> None:
    controller = make(Lanes({"TR-A": ["T-001", "T-002"]}, done_at_once))
    events = events_of(controller)
    controller.start_epic(EPIC, str(tmp_path))
    qtbot.waitUntil(lambda: pending(controller) == {"T-001:spawn", "T-002:spawn"},
                    timeout=RUN_TIMEOUT_MS)
    controller.set_ticket_step("T-002", True)
    assert controller.set_mode("auto") is RunMode.AUTO
    assert pending(controller) == {"T-002:spawn"}  # its step flag keeps it waiting
    decided = [e for e in events if e["type"] == "approval" and e["state"] == "approved"]
    assert [(e["key"], e["by"]) for e in decided] == [("T-001:spawn", "mode")]
    assert [e["mode"] for e in events if e["type"] == "mode"] == ["auto"]
    snapshot = controller.session.snapshot(streams=False)
    assert snapshot["mode"] == "auto"
    assert {t["id"]: t["step"] for t in snapshot["tickets"]} == {"T-001": False, "T-002": True}

    controller.set_ticket_step("T-002", False)  # auto mode now starts it too
    assert finish(qtbot, controller) == "done"
    assert controller.mode is RunMode.AUTO  # and the next runs'


def test_start_epic_auto_is_mode_auto_and_tool_policy_auto(make: Any, tmp_path: Any) -> None:
    controller = make(Lanes({"TR-A": ["T-001"]}, done_at_once))
    controller.start_epic(EPIC, str(tmp_path), auto=True)
    assert controller.runner is not None
    assert controller.mode is RunMode.AUTO and controller.auto
    assert str(controller.current_tool_policy) == "auto"
    controller.set_mode("step")
    assert not controller.auto and controller.runner.ctx.approvals.mode is RunMode.STEP


def test_pause_during_streaming_holds_every_stream_and_resume_loses_nothing(
        qtbot: Any, make: Any, tmp_path: Any) -> None:
    factory = Recorder(delay=0.01, scenario=Scenario(tracks=2))
    controller = make(factory, auto=True)
    controller.start_epic(EPIC, str(tmp_path))
    assert controller.runner is not None
    runner, session = controller.runner, controller.session
    gate = runner.ctx.gate = CountingGate()

    def streaming() -> bool:
        return any(t.status is TicketStatus.IN_PROGRESS
                   and session.hub.text(stream_id(Tier.WORKER, t.id))
                   for t in session.tickets.values())

    qtbot.waitUntil(streaming, timeout=RUN_TIMEOUT_MS)
    controller.pause()
    assert session.status is RunStatus.PAUSED
    # Every call of every track is held between two chunks (or two rounds).
    qtbot.waitUntil(lambda: gate.holding >= 1 and gate.holding == len(runner.ctx.pool.running()),
                    timeout=10_000)
    session.hub.drain()
    lengths = {sid: session.hub.length(sid) for sid in session.records}
    statuses = {t.id: t.status for t in session.tickets.values()}
    calls = len(factory.requests)

    wait_event_loop_ms(qtbot, 150)  # ~15 chunks per stream at full speed
    session.hub.drain()
    assert {sid: session.hub.length(sid) for sid in session.records} == lengths
    assert {t.id: t.status for t in session.tickets.values()} == statuses
    assert len(factory.requests) == calls  # no new call, no new spawn

    controller.resume()
    assert finish(qtbot, controller) == "done"
    assert {t.status for t in session.tickets.values()} == {TicketStatus.COMPLETED}
    # Nothing lost: every chunk each call streamed is in its stream, in order.
    for request, sent in zip(factory.requests, factory.sent, strict=True):
        assert "".join(sent) in session.hub.text(request.stream_id), request.stream_id


def test_continue_run_after_the_run_ended_runs_a_ticket_made_ready(
        qtbot: Any, make: Any, tmp_path: Any) -> None:
    calls = {"T-B1": 0}

    def worker(request: CompletionRequest, cancel: CancelToken) -> Iterator[str]:
        if request.ticket_id == "T-B1":
            calls["T-B1"] += 1
            if calls["T-B1"] == 1:
                raise OSError("disk full")
        yield f"{request.ticket_id} done."

    factory = Lanes({"TR-A": ["T-A1"], "TR-B": ["T-B1"]}, worker)
    controller = make(factory, RunOptions(max_retries=0), auto=True)
    controller.start_epic(EPIC, str(tmp_path))
    assert finish(qtbot, controller) == "failed"
    session = controller.session
    assert session.error.startswith("1 track done, 1 failed (TR-B failed: 1 failed of 1")

    # What retry will do (the tickets' part): the failed ticket is ready again.
    session.set_ticket(session.tickets["T-B1"], TicketStatus.TODO)
    events = events_of(controller)
    controller._continue_run()
    assert session.status is RunStatus.RUNNING and session.error == ""
    assert finish(qtbot, controller) == "done"

    assert session.tickets["T-B1"].status is TicketStatus.COMPLETED
    assert [r.ticket_id for r in factory.of(Tier.WORKER)].count("T-A1") == 1  # TR-A stayed
    assert [(e["track_id"], e["status"]) for e in events if e["type"] == "track"] == [
        ("TR-B", "queued"), ("TR-B", "running"), ("TR-B", "done")]
    assert {t.id: t.status for t in session.tracks} == {
        "TR-A": TrackStatus.DONE, "TR-B": TrackStatus.DONE}


def test_a_stopped_tracks_waiting_tickets_are_cancelled_not_blocked(qapp: Any) -> None:
    """A track stopped after one of its tickets ended cancelled: the tickets waiting on it
    are cancelled with the stop's reason (the run's tickets all end completed or
    cancelled), not blocked by the cancelled one."""
    session = MmaSession(PricingTable.load(), "test")
    try:
        session.reset(EPIC, "/tmp")
        first, second = Ticket("T-001", "First"), Ticket("T-002", "Second", depends_on=("T-001",))
        track = Track("TR-1", "Track")
        session.set_tracks([track])
        session.set_plan(track, [first, second])
        session.set_ticket(first, TicketStatus.CANCELLED, reason="application closing")
        token = CancelToken()
        token.cancel("application closing")
        ctx = RunContext(session=session, factory=DemoProviderFactory(delay=0),
                         approvals=ApprovalBroker(session.bus), options=RunOptions())
        Conductor(ctx, track, token=token)._settle(track.tickets)
        assert (second.status, second.blocked_reason) == (TicketStatus.CANCELLED,
                                                          "application closing")
    finally:
        shiboken6.delete(session)


def test_progress_lines_mark_each_track_proposal_and_mode_change() -> None:
    assert format_event({"type": "track", "track_id": "TR-2", "status": "cancelled",
                         "error": "track cancelled by the user"}) == (
        "track TR-2 cancelled: track cancelled by the user")
    assert format_event({"type": "track", "track_id": "TR-1", "status": "running",
                         "error": ""}) == "track TR-1 running"
    proposal = {"type": "proposal", "state": "proposed",
                "tracks": [{"id": "TR-1"}, {"id": "TR-2"}]}
    assert format_event(proposal) == "tracks proposed: TR-1, TR-2"
    assert format_event({**proposal, "state": "accepted"}) is None
    assert format_event({"type": "mode", "mode": "auto"}) == "mode auto"
