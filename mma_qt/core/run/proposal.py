"""A track proposal: Tier 1's tracks wait for the user, who accepts them (edited,
reordered, some dropped) or asks Tier 1 again with a remark. Lives on the asyncio loop
(GUI thread); the answer is a future, so stopping the run ends the wait at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from ..model.domain import Tier
from ..model.status import ProposalState, RunStatus
from .planning import TIER1_STREAM, Planner, RunFailed

log = logging.getLogger(__name__)

Plan = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Replan:
    """The user's answer: ask Tier 1 again, with this remark."""

    remark: str


class Proposal:
    def __init__(self, planner: Planner) -> None:
        self.planner = planner
        #: Set while the proposal waits: the accepted tracks, a re-plan, or None (stopped).
        self._answer: asyncio.Future[Plan | _Replan | None] | None = None

    @property
    def waiting(self) -> bool:
        """Whether Tier 1's tracks wait for the user's answer."""
        return self._answer is not None and not self._answer.done()

    def accept(self, tracks: Plan) -> None:
        """Go on with exactly these tracks (validated by the caller), in this order; the
        status says so at once."""
        if self.waiting:
            session = self.planner.session
            session.propose(ProposalState.ACCEPTED, tracks)
            session.set_phase(self.planner.status(), Tier.TECH_LEAD)
            self._answer_with([dict(t) for t in tracks])

    def replan(self, remark: str) -> None:
        """Ask Tier 1 again, with the user's remark; the status says so at once."""
        if self.waiting:
            session = self.planner.session
            session.propose(ProposalState.REPLANNING, session.proposed_tracks)
            session.write(TIER1_STREAM, f"\n\n--- re-plan: {remark} ---\n")
            session.set_phase(self.planner.status(), Tier.ORCHESTRATOR)
            self._answer_with(_Replan(remark))

    def stop(self) -> None:
        """The run stops: the wait ends with no tracks."""
        self._answer_with(None)

    def _answer_with(self, answer: Plan | _Replan | None) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(answer)

    async def wait(self, plan: Plan) -> Plan | None:
        """Wait for the user: the accepted tracks, or None when the run was stopped; a
        re-plan asks Tier 1 again (on the same stream) and waits again."""
        session, token = self.planner.session, self.planner.ctx.token
        while True:
            session.propose(ProposalState.PROPOSED, plan)
            session.set_phase(RunStatus.PROPOSED, None)
            self._answer = asyncio.get_running_loop().create_future()
            try:
                answer = await self._answer
            finally:
                self._answer = None
            if answer is None or token.cancelled:
                return None
            if not isinstance(answer, _Replan):
                return answer
            try:
                plan = await self.planner.tracks(answer.remark, plan)
            except RunFailed as exc:
                if token.cancelled:
                    return None
                # The proposal the user had stays: the stream says why.
                log.warning("re-plan failed, keeping the proposal: %s", exc)
