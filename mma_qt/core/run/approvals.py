"""Approvals: the one gate before a spawn and before every mutating tool call.

Each request is its own object with its own key, so any number can be pending at once
and answering one never touches another: ``T-003:spawn`` before a ticket's first attempt
starts (``T-003:spawn:N`` before its N-th), and ``T-003:tool:N`` before the ticket's N-th
tool call changes the workspace or runs a command. :meth:`ApprovalBroker.pending` lists
them all, oldest first.

A spawn shows what the worker will be told (:class:`SpawnRequest`: the system text, the
prompt, the model and the context parts); approving it may edit the prompt and the model,
which the worker then gets verbatim. Spawns follow the run's
:class:`~mma_qt.core.model.status.RunMode`: in ``step`` mode each waits for the user; in
``auto`` mode (``--auto``) they are approved at once, except those of a ticket whose
``step`` flag is set. The mode may change during the run (:meth:`ApprovalBroker.set_mode`):
pending spawns it allows are approved at once. Tool calls follow the run's
:class:`~mma_qt.core.model.status.ToolPolicy`, which may change during the run
(:meth:`ApprovalBroker.set_policy`): pending requests the new policy allows are approved
at once. A decision may carry the user's edit of the call (the new content, the new
``new_text`` or the command) and, on rejection, a reason the model receives.

Lives on the asyncio loop (GUI thread).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..live.events import EventBus
from ..model import dag
from ..model.cancel import CancelToken
from ..model.context import ContextPart
from ..model.status import RunMode, ToolPolicy
from ..tools import ProposedChange

SPAWN = "spawn"
TOOL = "tool"


class ApprovalError(KeyError):
    """No such pending approval, or a decision it cannot take; ``args[0]`` says why."""


@dataclass(frozen=True, slots=True)
class Decision:
    approved: bool
    #: The user's edit of the call's editable argument (approved calls only).
    edited: str | None = None
    #: Why it was rejected (sent to the model).
    reason: str = ""
    #: ``"user"``; ``"policy"`` when the tool policy decided; ``"mode"`` when the run mode
    #: (``auto``) did; ``"run"`` when a cancel did.
    by: str = "user"
    #: A spawn's prompt as the user edited it (approved spawns only), sent verbatim.
    prompt: str | None = None
    #: The model the user chose for the spawn (approved spawns only).
    model: str | None = None


@dataclass(frozen=True, slots=True)
class SpawnRequest:
    """What a Tier 3 attempt will be told, as the user is asked about its spawn."""

    track_id: str
    #: 1-based: the attempt this spawn starts.
    attempt: int
    model: str
    system: str
    prompt: str
    #: What ``system`` and ``prompt`` were assembled from, with their sizes.
    context: tuple[ContextPart, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolRequest:
    """What a mutating tool call would do, as the user is asked about it."""

    change: ProposedChange
    #: The short line of the stream: ``apply_edit src/a.py``.
    detail: str
    #: The argument the user may edit (``content``, ``new_text``, ``command``), if any.
    editable_field: str | None
    #: The ticket's ``target_files`` (``auto-edits`` approves edits of these).
    target_files: tuple[str, ...] = ()


@dataclass(eq=False, slots=True)
class Approval:
    kind: str
    ticket_id: str
    key: str
    detail: str
    future: asyncio.Future[Decision] = field(repr=False)
    tool: ToolRequest | None = None
    requested_at: float = field(default_factory=time.time)
    spawn: SpawnRequest | None = None
    #: The track of the ticket (None: not known, e.g. a broker used on its own).
    track_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The item ``get_approvals`` lists; tool fields are None for a spawn, spawn fields
        (``attempt``, ``model``, ``system``, ``prompt``, ``context``) None for a tool call."""
        request = self.tool
        change = None if request is None else request.change
        spawn = self.spawn
        return {
            "key": self.key,
            "kind": self.kind,
            "ticket_id": self.ticket_id,
            "track_id": self.track_id,
            "detail": self.detail,
            "requested_at": round(self.requested_at, 3),
            "attempt": None if spawn is None else spawn.attempt,
            "model": None if spawn is None else spawn.model,
            "system": None if spawn is None else spawn.system,
            "prompt": None if spawn is None else spawn.prompt,
            "context": None if spawn is None else [p.to_dict() for p in spawn.context],
            "tool": None if change is None else change.tool,
            "arguments": None if change is None else dict(change.arguments),
            "path": None if change is None else change.path,
            "command": None if change is None else change.command,
            "diff": None if change is None else change.diff,
            "note": None if change is None else change.note,
            "editable": None if change is None else change.editable_text,
            "editable_field": None if request is None else request.editable_field,
        }


def policy_allows(policy: ToolPolicy, request: ToolRequest) -> bool:
    """Whether ``policy`` approves the call without asking."""
    if policy is ToolPolicy.AUTO:
        return True
    if policy is ToolPolicy.AUTO_EDITS:
        change = request.change
        return (change.command is None and change.path is not None
                and dag.covers(request.target_files, change.path))
    return False


class ApprovalBroker:
    KINDS = (SPAWN, TOOL)

    def __init__(self, bus: EventBus, *, mode: RunMode = RunMode.STEP,
                 policy: ToolPolicy = ToolPolicy.ASK,
                 stepped: Callable[[str], bool] | None = None) -> None:
        self.bus = bus
        #: ``auto``: spawns are approved at once (but those of stepped tickets).
        self.mode = mode
        self.policy = policy
        #: Whether a ticket's ``step`` flag is set: its spawns wait even in ``auto`` mode.
        self._stepped = stepped or (lambda _ticket_id: False)
        self._pending: dict[str, Approval] = {}

    # -- asking (the run's coroutines) ----------------------------------------------------
    def asks_spawn(self, step: bool = False) -> bool:
        """Whether :meth:`request_spawn` would wait for the user (``step``: the ticket's own
        step flag)."""
        return step or self.mode is not RunMode.AUTO

    async def request_spawn(self, ticket_id: str, spawn: SpawnRequest, detail: str = "", *,
                            step: bool = False, token: CancelToken | None = None) -> Decision:
        """The decision on an attempt's spawn (``T-003:spawn``, ``T-003:spawn:N``), with
        the user's edits of its prompt and model, if any. Asked after ``token`` was
        cancelled (the run stopped while the request was being built): rejected at once,
        never left pending for a user nobody will ask."""
        if token is not None and token.cancelled:
            return Decision(False, reason=token.reason, by="run")
        if not self.asks_spawn(step or self._stepped(ticket_id)):
            return Decision(True, by="mode")
        return await self._ask(Approval(
            SPAWN, ticket_id, spawn_key(ticket_id, spawn.attempt), detail, self._future(),
            spawn=spawn, track_id=spawn.track_id))

    def _spawns_itself(self, ticket_id: str) -> bool:
        """Whether the mode starts the ticket's spawn without asking."""
        return self.mode is RunMode.AUTO and not self._stepped(ticket_id)

    def asks(self, request: ToolRequest) -> bool:
        """Whether :meth:`request_tool` would wait for the user (under the current policy)."""
        return not policy_allows(self.policy, request)

    async def request_tool(self, ticket_id: str, index: int, request: ToolRequest, *,
                           track_id: str | None = None,
                           token: CancelToken | None = None) -> Decision:
        """The decision on the ticket's ``index``-th tool call (``T-003:tool:N``); rejected
        at once when ``token`` is already cancelled."""
        if token is not None and token.cancelled:
            return Decision(False, reason=token.reason, by="run")
        if not self.asks(request):
            return Decision(True, by="policy")
        return await self._ask(Approval(
            TOOL, ticket_id, tool_key(ticket_id, index), request.detail, self._future(),
            request, track_id=track_id))

    @staticmethod
    def _future() -> asyncio.Future[Decision]:
        return asyncio.get_running_loop().create_future()

    async def _ask(self, approval: Approval) -> Decision:
        if approval.key in self._pending:
            raise ApprovalError(f"approval {approval.key} is already pending")
        self._pending[approval.key] = approval
        self.bus.publish("approval", state="requested", **approval.to_dict())
        try:
            return await approval.future
        finally:
            self._pending.pop(approval.key, None)

    # -- answering (the window, the hook) ---------------------------------------------------
    def pending(self) -> list[Approval]:
        """Every unanswered approval of every ticket and track, oldest first (not those
        answered whose waiter has yet to resume)."""
        return [a for a in self._pending.values() if not a.future.done()]

    def resolve(self, key: str, approved: bool, *, edited: str | None = None,
                reason: str = "", by: str = "user", prompt: str | None = None,
                model: str | None = None) -> None:
        """Decide ``key``. ``edited``: a tool call's editable argument; ``prompt`` and
        ``model``: a spawn's (approvals only). Raises :class:`ApprovalError`, deciding
        nothing, for an unknown key or an edit it cannot take."""
        approval = self._pending.get(key)
        if approval is None or approval.future.done():
            raise ApprovalError(f"no pending approval {key!r}")
        if (edited, prompt, model) != (None, None, None) and not approved:
            raise ApprovalError(f"{key}: an edit is approved, not rejected")
        if edited is not None and (approval.tool is None
                                   or approval.tool.editable_field is None):
            raise ApprovalError(f"{key}: there is nothing to edit in this approval")
        if (prompt, model) != (None, None):
            if approval.spawn is None:
                raise ApprovalError(f"{key}: only a spawn's prompt and model can be edited")
            if model is not None and not model.strip():
                raise ApprovalError(f"{key}: the model is empty")
            if prompt is not None and not prompt.strip():
                raise ApprovalError(f"{key}: the prompt is empty")
        model = None if model is None else model.strip()
        approval.future.set_result(Decision(approved, edited, reason, by, prompt, model))
        self.bus.publish(
            "approval", state="approved" if approved else "rejected", by=by,
            edited=(edited, prompt, model) != (None, None, None), reason=reason,
            **approval.to_dict())

    def reject_all(self, ticket_id: str | None = None, reason: str = "") -> None:
        for approval in self.pending():
            if ticket_id is None or approval.ticket_id == ticket_id:
                self.resolve(approval.key, False, reason=reason, by="run")

    def set_mode(self, mode: RunMode) -> None:
        """Use ``mode`` from now on; in ``auto`` pending spawns are approved at once (not
        those of stepped tickets)."""
        self.mode = mode
        self.release_spawns()

    def release_spawns(self) -> None:
        """Approve the pending spawns the mode and the tickets' step flags now allow."""
        for approval in self.pending():
            if approval.kind == SPAWN and self._spawns_itself(approval.ticket_id):
                self.resolve(approval.key, True, by="mode")

    def set_policy(self, policy: ToolPolicy) -> None:
        """Use ``policy`` from now on; pending tool calls it allows are approved at once."""
        self.policy = policy
        for approval in self.pending():
            if approval.tool is not None and policy_allows(policy, approval.tool):
                self.resolve(approval.key, True, by="policy")


def tool_key(ticket_id: str, index: int) -> str:
    return f"{ticket_id}:{TOOL}:{index}"


def spawn_key(ticket_id: str, attempt: int = 1) -> str:
    """``T-003:spawn`` for the first attempt, ``T-003:spawn:N`` for the N-th."""
    return f"{ticket_id}:{SPAWN}" if attempt <= 1 else f"{ticket_id}:{SPAWN}:{attempt}"
