"""Planning: Tier 1 splits the epic into tracks, Tier 2 a track into tickets.

A rejected plan (malformed JSON, a schema error, a bad ticket graph, an id another track's
plan already holds) is sent back once with the reason (``plan_retries``); a plan that is
still wrong, a failed call or a cancelled one raises :class:`RunFailed`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ..context import Assembly
from ..live.session import MmaSession
from ..model import dag
from ..model.cancel import CancelToken
from ..model.domain import Ticket, Tier, Track, stream_id
from ..model.plans import PlanError, parse_tickets, parse_track_plan
from ..model.status import RunStatus, StreamStatus
from ..providers.base import CompletionRequest
from .conductor import RunContext
from .worker import CallFailed

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The Tier 1 stream: every plan and re-plan of the run's tracks.
TIER1_STREAM = stream_id(Tier.ORCHESTRATOR)


class RunFailed(Exception):
    """The run (or, from a track's Tier 2, the track) cannot go on; the message says why."""


class Planner:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    @property
    def session(self) -> MmaSession:
        return self.ctx.session

    def status(self) -> RunStatus:
        """The run's status while it plans."""
        return RunStatus.PAUSED if self.ctx.gate.paused else RunStatus.PLANNING

    async def tracks(self, remark: str = "",
                     previous: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        """Tier 1's tracks (dicts of every field the plan gives); on a re-plan the user's
        remark and the previous proposal go with the request."""
        session = self.session
        session.set_phase(self.status(), Tier.ORCHESTRATOR)
        note = ""
        if remark:
            proposal = json.dumps({"tracks": list(previous)}, indent=2, ensure_ascii=False)
            note = (f"\nThe user read your proposal and asks you to plan again.\n"
                    f"Remark: {remark}\nYour previous proposal:\n```json\n{proposal}\n```\n")

        made = await self.ctx.assemble("Tier 1: context", self.ctx.context().tier1, session.epic)

        def prompt(feedback: str) -> Assembly:
            return made.with_feedback(note + feedback)

        return await self._plan(Tier.ORCHESTRATOR, TIER1_STREAM, "Tier 1: orchestrator", None,
                                prompt, parse_track_plan, self.ctx.token)

    async def tickets(self, track: Track, token: CancelToken) -> list[Ticket]:
        """Tier 2's tickets for the track, claimed in the session as soon as they are
        valid, so a concurrent plan of another track that reuses an id is sent back."""
        session = self.session
        first = session.tracks[0] is track if session.tracks else True
        sid = stream_id(Tier.TECH_LEAD, None if first else track.id)

        made = await self.ctx.assemble(f"{sid}: context", self.ctx.context().tier2,
                                       session.epic, track)

        def parse(text: str) -> list[Ticket]:
            tickets = parse_tickets(text)
            taken = [t.id for t in tickets if t.id in session.tickets]
            if taken:
                raise dag.DagError(duplicates=taken)
            dag.validate(tickets)
            # In the same step as the check above: no other track's plan comes between.
            session.set_plan(track, tickets)
            return tickets

        return await self._plan(Tier.TECH_LEAD, sid, f"Tier 2: {track.title}", track.id,
                                made.with_feedback, parse, token)

    async def _plan(
        self,
        tier: Tier,
        sid: str,
        title: str,
        track_id: str | None,
        prompt: Callable[[str], Assembly],
        parse: Callable[[str], T],
        token: CancelToken,
    ) -> T:
        """Ask ``tier`` for a plan; on a rejected plan ask again with the reason."""
        session = self.session
        session.open_stream(tier, title=title, track_id=track_id, sid=sid)
        model = self.ctx.factory.model_for(tier)
        feedback = ""
        last_error: Exception | None = None
        for attempt in range(self.ctx.options.plan_retries + 1):
            session.stream_running(sid, model)
            made = prompt(feedback)
            request = CompletionRequest(tier, model, made.system, made.prompt, sid,
                                        attempt=attempt, context=made.parts)
            try:
                outcome = await self.ctx.call(request, token)
            except CallFailed as failed:
                log.error("%s call failed: %s", tier.label, failed, exc_info=failed.cause)
                session.write(sid, f"\n\n[error] {failed}\n{failed.traceback_tail()}")
                session.stream_finished(sid, StreamStatus.FAILED)
                raise RunFailed(f"{tier.label} failed: {failed}") from failed
            if outcome.cancelled:
                session.stream_finished(sid, StreamStatus.CANCELLED)
                raise RunFailed(f"{tier.label} cancelled")
            try:
                result = parse(outcome.text)
            except (PlanError, dag.DagError) as exc:
                log.warning("%s plan rejected (attempt %d): %s", tier.label, attempt + 1, exc)
                session.write(sid, f"\n\n[plan rejected: {exc}]\n")
                feedback = (
                    f"\nYour previous reply was rejected: {exc}\n"
                    "Reply again with one valid JSON object in a ```json block.\n"
                )
                last_error = exc
                continue
            session.stream_finished(sid, StreamStatus.DONE)
            return result
        session.stream_finished(sid, StreamStatus.FAILED)
        raise RunFailed(f"{tier.label} plan rejected: {last_error}")
