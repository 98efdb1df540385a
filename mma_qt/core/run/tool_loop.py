"""The tool loop: one attempt of a ticket as a conversation with its model.

Runs on the asyncio loop (GUI thread). Each model round is one :meth:`RunContext.call`
(a worker thread of the run's pool, its usage added to the stream's record), and each
tool call's preview and execution run in the pool as well, never on the GUI thread.

A round offers the tier's tools (Tier 3 all of them, Tier 4 the read-only ones). While
the model answers with tool calls, each call, in order:

- malformed (``ToolCall.error``): an ``error:`` result, nothing runs;
- read-only: runs;
- mutating: its preview (a refusal, such as a path outside the working directory, is an
  ``error:`` result without asking), then the approval gate (``T-003:tool:N``), then it
  runs, with the user's edit applied if they edited it. A rejection gives the model
  ``error: rejected by the user: <reason>``.

The results go back to the model as the next round. The attempt ends when the model
answers without a tool call, or fails after ``max_tool_rounds`` rounds that all called
tools. A Tier 3 attempt whose last command failed (and was not followed by another that
succeeded) fails too, so that QA diagnoses it and the retry gets the hint.

Pause holds between rounds and before each tool runs (awaited, the loop never blocks);
cancel stops a running tool through the ticket's token. Each call and its short result
are written to the stream (``→ write_file src/a.py (41 lines)``, then ``✓ 41 lines`` or
``✗ error: ...``), and recorded on the ticket (:class:`ToolCallRecord`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..model.cancel import CancelToken
from ..model.domain import Ticket, Tier, ToolCallRecord
from ..model.status import ToolDecision
from ..model.usage import Usage
from ..providers.base import (
    AssistantTurn,
    CompletionRequest,
    ToolCall,
    ToolOutcome,
    ToolResultsTurn,
    Turn,
)
from ..tools import ToolError, ToolRegistry, ToolResult
from ..tools.base import ERROR_PREFIX
from .approvals import ToolRequest, tool_key
from .workbench import BenchError, TrackBench
from .worker import CallFailed, CallOutcome

if TYPE_CHECKING:
    from .conductor import RunContext

log = logging.getLogger(__name__)

RUN_COMMAND = "run_command"


class ToolLoopError(Exception):
    """Why an attempt failed without a provider error (too many rounds, a failed command).

    ``retryable``: a QA diagnosis and another model may help.
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class ToolLoop:
    """One conversation of ``tier`` about ``ticket``; see the module docstring."""

    def __init__(self, ctx: RunContext, bench: TrackBench, ticket: Ticket, token: CancelToken,
                 *, tier: Tier = Tier.WORKER) -> None:
        self.ctx = ctx
        self.bench = bench
        self.ticket = ticket
        self.token = token
        self.tier = tier
        self._registry: ToolRegistry | None = None
        #: What the conversation said so far (model text, tool lines), for a failure's text.
        self._transcript: list[str] = []
        self._sid = ""

    async def converse(self, first: CompletionRequest) -> CallOutcome:
        """Ask until the model answers without a tool call; :class:`CallFailed` otherwise."""
        self._sid = first.stream_id
        try:
            return await self._converse(first)
        except ToolLoopError as exc:
            raise CallFailed(exc, self._text(), Usage(), first.model) from exc
        except CallFailed as failed:  # a round failed: its text after what came before
            raise CallFailed(failed.cause, self._text(failed.text), failed.usage,
                             failed.model) from failed.cause

    async def _converse(self, first: CompletionRequest) -> CallOutcome:
        offered = self.bench.definitions(self.tier)
        history: list[Turn] = []
        usage = Usage()
        limit = self.ctx.options.max_tool_rounds
        for round_no in range(1, limit + 1):
            request = replace(first, history=tuple(history), tools=offered)
            outcome = await self.ctx.call(request, self.token)
            self._transcript.append(outcome.text)
            usage = usage + outcome.usage
            if outcome.cancelled or not outcome.tool_calls:
                if not outcome.cancelled:
                    self._check_last_command(first.attempt)
                return replace(outcome, usage=usage)
            results = await self._run_calls(outcome.tool_calls, first.attempt, round_no)
            history += [AssistantTurn(outcome.text, outcome.tool_calls),
                        ToolResultsTurn(results)]
            if not await self.ctx.hold(self.token):  # pause holds here, between rounds
                return replace(outcome, usage=usage, cancelled=True, tool_calls=())
        raise ToolLoopError(f"no final answer after {limit} rounds of tool calls "
                            "(max_tool_rounds)", retryable=False)

    def _text(self, tail: str = "") -> str:
        return "".join([*self._transcript, tail])

    # -- one tool call -------------------------------------------------------------------

    async def _run_calls(self, calls: tuple[ToolCall, ...], attempt: int,
                         round_no: int) -> tuple[ToolOutcome, ...]:
        results = []
        for call in calls:
            # Checked before and after each wait: once cancelled (the app closing) the pool
            # may be shut down, and the conversation ends; nothing more is sent.
            registry = None if self.token.cancelled else await self._tools()
            if registry is None or self.token.cancelled:
                break
            results.append(await self._one(registry, call, attempt, round_no))
        return tuple(results)

    async def _one(self, registry: ToolRegistry, call: ToolCall, attempt: int,
                   round_no: int) -> ToolOutcome:
        session = self.ctx.session
        record = ToolCallRecord(
            len(self.ticket.tool_calls) + 1, self.tier, attempt, round_no, call.id,
            call.name, dict(call.arguments), registry.describe(call.name, call.arguments))
        session.tool_call(self.ticket, record)
        self._write(f"\n→ {record.description}\n")
        result = await self._decide_and_run(registry, call, record)
        record.ok, record.result, record.summary = result.ok, result.text, result.summary
        self._write(f"{'✓' if result.ok else '✗'} {result.summary}\n")
        session.tool_call(self.ticket, record)
        return ToolOutcome(call.id, call.name, result.text, not result.ok)

    async def _decide_and_run(self, registry: ToolRegistry, call: ToolCall,
                              record: ToolCallRecord) -> ToolResult:
        if call.error:
            record.decision = ToolDecision.REFUSED
            return ToolResult.failure(_reason(call.error))
        if not registry.is_mutating(call.name):
            record.decision = ToolDecision.READ_ONLY
            return await self._execute(registry, call.name, call.arguments)
        request = await self._preview(registry, call, record)
        if isinstance(request, ToolResult):
            return request
        arguments = await self._gate(registry, call, record, request)
        if isinstance(arguments, ToolResult):
            return arguments
        if not await self.ctx.hold(self.token):  # paused after approval: wait before running
            return ToolResult.failure(f"cancelled: {self.token.reason}")
        return await self._execute(registry, call.name, arguments)

    async def _preview(self, registry: ToolRegistry, call: ToolCall,
                       record: ToolCallRecord) -> ToolRequest | ToolResult:
        """What the call would do, for the approval; a refusal as an ``error:`` result."""
        try:
            change = await self.ctx.blocking(
                f"{self._sid}: preview", registry.preview, call.name, call.arguments)
        except ToolError as exc:
            record.decision = ToolDecision.REFUSED
            return ToolResult.failure(exc.reason)
        except Exception as exc:  # a bug or an OS failure: logged, and the model is told
            log.exception("preview of %s for %s failed", call.name, self.ticket.id)
            record.decision = ToolDecision.REFUSED
            return ToolResult.failure(f"{call.name} failed: {type(exc).__name__}: {exc}")
        spec = registry.spec(call.name)
        return ToolRequest(change, record.description, None if spec is None else spec.editable,
                           self.ticket.target_files)

    async def _gate(self, registry: ToolRegistry, call: ToolCall, record: ToolCallRecord,
                    request: ToolRequest) -> Mapping[str, Any] | ToolResult:
        """The approval: the arguments to run with (edited or not), or the refusal."""
        approvals = self.ctx.approvals
        if approvals.asks(request):
            record.approval_key = tool_key(self.ticket.id, record.index)
            self.ctx.session.tool_call(self.ticket, record)
            self._write(f"  (waiting for approval {record.approval_key})\n")
        decision = await approvals.request_tool(self.ticket.id, record.index, request,
                                                track_id=self.bench.track_id, token=self.token)
        if decision.by == "policy":
            record.decision = ToolDecision.AUTO
        else:
            record.decision = (ToolDecision.APPROVED if decision.approved
                               else ToolDecision.REJECTED)
        if not decision.approved:
            record.reason = decision.reason
            if self.token.cancelled:
                return ToolResult.failure(f"cancelled: {self.token.reason}")
            return ToolResult.failure(
                f"rejected by the user: {decision.reason or 'no reason given'}")
        if decision.edited is None:
            return call.arguments
        record.edited = decision.edited
        try:
            return registry.edited(call.name, call.arguments, decision.edited)
        except ToolError as exc:
            return ToolResult.failure(exc.reason)

    async def _execute(self, registry: ToolRegistry, name: str,
                       arguments: Mapping[str, Any]) -> ToolResult:
        return await self.ctx.blocking(
            f"{self._sid}: {name}", registry.run, name, arguments,
            ticket_id=self.ticket.id, cancel=self.token)

    async def _tools(self) -> ToolRegistry:
        """The tier's tools on the track's working directory, prepared on first use."""
        if self._registry is None:
            try:
                registry = await self.ctx.blocking(
                    f"{self._sid}: workdir", self.bench.open)
            except BenchError as exc:
                raise ToolLoopError(str(exc), retryable=False) from exc
            self._registry = registry.for_tier(self.tier)
        return self._registry

    def _write(self, text: str) -> None:
        self._transcript.append(text)
        self.ctx.session.write(self._sid, text)

    def _check_last_command(self, attempt: int) -> None:
        """Fail a Tier 3 attempt whose last command that ran failed."""
        if self.tier is not Tier.WORKER:
            return
        ran = [r for r in self.ticket.tool_calls
               if r.attempt == attempt and r.tier is self.tier and r.name == RUN_COMMAND
               and r.decision in (ToolDecision.AUTO, ToolDecision.APPROVED)]
        if ran and ran[-1].ok is False:
            last = ran[-1]
            command = last.edited or last.arguments.get("command", "")
            self._transcript.append(f"\n{last.result}\n")
            raise ToolLoopError(f"the last command failed: `{command}`: {last.summary}",
                                retryable=True)


def _reason(error: str) -> str:
    """A malformed call's error without a second ``error:`` in front."""
    return error.removeprefix(ERROR_PREFIX).strip() or "the tool call was malformed"
