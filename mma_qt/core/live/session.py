"""The session: all state of one epic run, owned by the GUI thread.

Everything the window and the hook show is read from here. It is changed only in the GUI
thread (by the pipeline and conductor, which run on the qasync loop), and every change is
announced twice: as a fine-grained Qt signal for the item model, and as a JSON-ready event
on the :class:`~mma_qt.core.live.events.EventBus` for the hook's subscribers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from ..model.domain import Attempt, Ticket, Tier, ToolCallRecord, Track, stream_id
from ..model.pricing import PricingTable
from ..model.records import Rollup, StreamRecord
from ..model.status import (
    ProposalState,
    RunMode,
    RunStatus,
    StreamStatus,
    TicketStatus,
    TrackStatus,
)
from ..model.usage import Usage, estimate_tokens_for_length
from .events import EventBus
from .snapshot import snapshot
from .streams import StreamHub

log = logging.getLogger(__name__)


class MmaSession(QObject):
    streamAdded = Signal(str)
    streamChanged = Signal(str)
    streamsReset = Signal()
    statusChanged = Signal(str)
    usageChanged = Signal()
    #: A track's status changed (its id). The proposal and the mode: bus events.
    trackChanged = Signal(str)

    def __init__(
        self, pricing: PricingTable, provider_label: str, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.pricing = pricing
        self.provider_label = provider_label
        self.hub = StreamHub(self)
        self.bus = EventBus(self)
        self.hub.appended.connect(self._on_appended)
        self.status = RunStatus.IDLE
        self.active_tier: Tier | None = None
        self.error = ""
        self.epic = ""
        self.workspace = ""
        self.tracks: list[Track] = []
        self.active_track: Track | None = None
        self.tickets: dict[str, Ticket] = {}
        self.records: dict[str, StreamRecord] = {}
        self.started_at: float | None = None
        self.finished_at: float | None = None
        #: Whether spawns wait for the user (``step``) or start at once (``auto``).
        self.mode = RunMode.STEP
        #: Tier 1's tracks (every field of the plan) while they wait for the user.
        self.proposed_tracks: list[dict[str, Any]] = []
        #: Roll-ups by tier, track id or "*" (all); dropped whenever a record changes.
        self._rollups: dict[object, Rollup] = {}

    # -- lifecycle -------------------------------------------------------------------
    def reset(self, epic: str, workspace: str) -> None:
        self.hub.clear()
        self.epic, self.workspace = epic, workspace
        self.tracks, self.active_track = [], None
        self.proposed_tracks = []
        self.tickets, self.records = {}, {}
        self._rollups.clear()
        self.error, self.active_tier = "", None
        self.started_at, self.finished_at = time.time(), None
        self.streamsReset.emit()
        self.usageChanged.emit()

    def set_status(self, status: RunStatus, error: str = "") -> None:
        self.set_phase(status, self.active_tier, error)

    def set_phase(self, status: RunStatus, tier: Tier | None, error: str = "") -> None:
        """Change the run status and active tier together: one event per change."""
        if status.is_final:
            tier = None
        if (status, tier) == (self.status, self.active_tier) and error in ("", self.error):
            return
        self.status, self.active_tier = status, tier
        if error:
            self.error = error
        if status.is_final:
            self.finished_at = time.time()
        self.statusChanged.emit(str(status))
        self.bus.publish(
            "status", status=str(status), active_tier=self.active_tier_label(), error=self.error
        )

    def continue_run(self) -> None:
        """The ended run goes on (tickets became ready again): running, its error cleared."""
        self.error, self.finished_at = "", None
        self.set_phase(RunStatus.RUNNING, Tier.WORKER)

    def set_mode(self, mode: RunMode) -> None:
        """The run mode (of the running run and the next ones); a ``mode`` event."""
        if mode is not self.mode:
            self.mode = mode
            self.bus.publish("mode", mode=str(mode))

    def active_tier_label(self) -> str | None:
        return None if self.active_tier is None else self.active_tier.label

    # -- streams ---------------------------------------------------------------------
    def open_stream(
        self,
        tier: Tier,
        ticket_id: str | None = None,
        title: str = "",
        track_id: str | None = None,
        sid: str | None = None,
    ) -> StreamRecord:
        sid = sid or stream_id(tier, ticket_id)
        record = self.records.get(sid)
        if record is None:
            record = StreamRecord(sid, tier, title or sid, ticket_id, track_id)
            self.records[sid] = record
            self._rollups.clear()
            self.streamAdded.emit(sid)
            self._publish_stream(record)
        return record

    def stream_running(self, sid: str, model: str) -> None:
        record = self.records[sid]
        record.use_model(model)
        record.live_from = self.hub.length(sid)
        if record.tier is not Tier.WORKER:
            record.status = StreamStatus.RUNNING
        if record.started_at is None:
            record.started_at = time.time()
        record.finished_at = None
        self._changed(record)

    def stream_finished(self, sid: str, status: StreamStatus) -> None:
        """Mark a non-ticket stream finished; drains pending text first."""
        self.hub.drain()
        record = self.records[sid]
        record.status = status
        record.finished_at = time.time()
        self._changed(record)

    def _changed(self, record: StreamRecord) -> None:
        self._rollups.clear()
        self.streamChanged.emit(record.stream_id)
        self._publish_stream(record)

    def _publish_stream(self, record: StreamRecord) -> None:
        self.bus.publish(
            "stream",
            stream_id=record.stream_id,
            tier=record.tier.label,
            ticket_id=record.ticket_id,
            title=record.title,
            status=str(record.status),
            model=record.model,
        )

    def stream_restored(self, sid: str) -> None:
        """A stream's record was filled from the history (usage, models, status)."""
        self._changed(self.records[sid])
        self.usageChanged.emit()

    def write(self, sid: str, text: str) -> None:
        """Append text to a stream from the GUI thread (errors, notices)."""
        self.hub.write(sid, text)

    @Slot(object)
    def _on_appended(self, new: dict[str, str]) -> None:
        # One event per drain for all streams: per-stream events (32 streams x 60 drains a
        # second, each a Qt emission to every subscriber) were the GUI's largest cost.
        self.bus.publish(
            "text",
            streams=[
                {"stream_id": sid, "length": self.hub.length(sid), "delta": text}
                for sid, text in new.items()
            ],
        )

    def add_usage(self, sid: str, model: str, usage: Usage) -> None:
        record = self.records[sid]
        self.hub.drain()
        record.live_from = self.hub.length(sid)
        record.usage = record.usage + usage
        record.use_model(model)
        record.calls += 1
        self._rollups.clear()
        cost = self.pricing.cost(model, usage)
        if cost is None:
            record.cost_known = False
        else:
            record.cost_usd += cost
        if record.ticket_id is not None and record.tier is Tier.WORKER:
            ticket = self.tickets[record.ticket_id]
            ticket.usage = record.usage
            ticket.cost_usd = record.cost_usd if record.cost_known else None
            if ticket.attempts:  # the current attempt's share; the ticket's is their sum
                attempt = ticket.attempts[-1]
                attempt.usage = attempt.usage + usage
                attempt.cost_usd = (None if cost is None or attempt.cost_usd is None
                                    else attempt.cost_usd + cost)
        self.streamChanged.emit(sid)
        self.usageChanged.emit()
        self.bus.publish(
            "usage",
            stream_id=sid,
            tier=record.tier.label,
            model=model,
            usage=usage.to_dict(),
            cost_usd=cost,
        )

    # -- plan and tickets -------------------------------------------------------------
    def propose(self, state: ProposalState, tracks: list[dict[str, Any]]) -> None:
        """The proposal's state and tracks (``proposed_tracks`` only while proposed)."""
        proposed = state is ProposalState.PROPOSED
        self.proposed_tracks = [dict(t) for t in tracks] if proposed else []
        self.bus.publish("proposal", state=str(state), tracks=[dict(t) for t in tracks])

    def set_tracks(self, tracks: list[Track]) -> None:
        self.tracks = tracks
        self.bus.publish("tracks", tracks=[t.to_dict() for t in tracks])

    def set_track(self, track: Track, status: TrackStatus, error: str = "") -> None:
        """A track's status (and why it failed or was cancelled); a ``track`` event."""
        if (status, error) != (track.status, track.error):
            track.status, track.error = status, error
            self.trackChanged.emit(track.id)
            self.bus.publish("track", track_id=track.id, status=str(status), error=error)

    def set_plan(self, track: Track, tickets: list[Ticket]) -> None:
        track.tickets = tickets
        self.active_track = track
        for ticket in tickets:
            self.tickets[ticket.id] = ticket
            record = self.open_stream(
                Tier.WORKER, ticket.id, f"{ticket.id}: {ticket.title}", track_id=track.id
            )
            record.status = ticket.status
        self.bus.publish("plan", track=track.to_dict(), tickets=[t.id for t in tickets])

    def set_ticket(
        self,
        ticket: Ticket,
        status: TicketStatus,
        *,
        reason: str = "",
        error: str = "",
        model: str | None = None,
    ) -> None:
        if status.is_final:
            self.hub.drain()  # every chunk the worker wrote is in the store first
        ticket.status = status
        if reason:
            ticket.blocked_reason = reason
        if error:
            ticket.error = error
        if model is not None:
            ticket.model = model
        record = self.records[stream_id(Tier.WORKER, ticket.id)]
        record.status = status
        record.use_model(ticket.model)
        self._rollups.clear()
        now = time.time()
        if status is TicketStatus.IN_PROGRESS:
            record.live_from = self.hub.length(record.stream_id)
            record.started_at = record.started_at or now
            record.finished_at = None
            ticket.started_at = ticket.started_at or now
        elif status.is_final:
            record.finished_at = ticket.finished_at = now
        elif status is TicketStatus.TODO:  # to run again (retry, unblock)
            record.finished_at = ticket.finished_at = None
        self.streamChanged.emit(record.stream_id)
        self._publish_stream(record)
        self._publish_ticket(ticket)

    def ticket_edited(self, ticket: Ticket) -> None:
        """The user changed a ticket's fields (title, dependencies, model, ...), not its
        status: its row and a ``ticket`` event say so."""
        record = self.records[stream_id(Tier.WORKER, ticket.id)]
        record.title = f"{ticket.id}: {ticket.title}"
        self.streamChanged.emit(record.stream_id)
        self._publish_ticket(ticket)

    def _publish_ticket(self, ticket: Ticket) -> None:
        self.bus.publish("ticket", ticket_id=ticket.id, **ticket.to_dict())

    def start_attempt(self, ticket: Ticket, attempt: Attempt) -> None:
        """A Tier 3 attempt of ``ticket`` starts: it is kept, and its usage is added from
        now on (:meth:`add_usage`); an ``attempt`` event says so."""
        attempt.status = TicketStatus.IN_PROGRESS
        attempt.started_at = attempt.started_at or time.time()
        ticket.attempts.append(attempt)
        self._publish_attempt(ticket, attempt)

    def end_attempt(self, ticket: Ticket, attempt: Attempt, status: TicketStatus,
                    error: str = "") -> None:
        """The attempt ended (completed, failed, cancelled); an ``attempt`` event says so."""
        attempt.status = status
        attempt.error = error
        attempt.finished_at = time.time()
        self._publish_attempt(ticket, attempt)

    def _publish_attempt(self, ticket: Ticket, attempt: Attempt) -> None:
        self.bus.publish("attempt", ticket_id=ticket.id, **attempt.to_dict())

    def set_step(self, ticket: Ticket, step: bool) -> None:
        """Whether the ticket's spawns wait for the user even in ``auto`` mode."""
        ticket.step = step
        self.streamChanged.emit(stream_id(Tier.WORKER, ticket.id))
        self._publish_ticket(ticket)

    def tool_call(self, ticket: Ticket, record: ToolCallRecord) -> None:
        """A tool call of ``ticket`` was made (a new record), waits for approval, or ran.

        Keeps the record on the ticket and publishes a ``tool`` event.
        """
        if not any(r is record for r in ticket.tool_calls):
            ticket.tool_calls.append(record)
        self.bus.publish(
            "tool",
            ticket_id=ticket.id,
            index=record.index,
            tier=record.tier.label,
            name=record.name,
            description=record.description,
            state=str(record.state),
            decision=str(record.decision),
            approval_key=record.approval_key,
            ok=record.ok,
            summary=record.summary,
        )

    # -- read side -------------------------------------------------------------------
    def _rollup(self, key: object, records: Iterable[StreamRecord]) -> Rollup:
        rollup = self._rollups.get(key)
        if rollup is None:
            rollup = self._rollups[key] = Rollup.of(records)
        return rollup

    def tier_rollup(self, tier: Tier) -> Rollup:
        return self._rollup(tier, (r for r in self.records.values() if r.tier is tier))

    def track_rollup(self, track_id: str) -> Rollup:
        return self._rollup(
            ("track", track_id), (r for r in self.records.values() if r.track_id == track_id)
        )

    def totals(self) -> Rollup:
        return self._rollup("*", self.records.values())

    def live_output(self, record: StreamRecord) -> int:
        """Estimated output tokens of the running call, not yet reported by its provider."""
        if record.started_at is None or record.finished_at is not None:
            return 0
        return estimate_tokens_for_length(self.hub.length(record.stream_id) - record.live_from)

    def snapshot(self, *, streams: bool = True) -> dict[str, Any]:
        """The session's part of the ``get_mma_status`` answer and of the ``--report`` file
        (:func:`~.snapshot.snapshot`)."""
        return snapshot(self, streams=streams)

    def elapsed(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at
