"""Drive the demo provider's workers with real tools, round by round, without the app.

A stand-in for the run machinery's tool loop and conductor, small enough to read: each
Tier 3 ticket of the demo plan (in dependency order) is a conversation with
:class:`DemoClient`; its tool calls run through the real :class:`ToolRegistry` on a
folder, a mutating call first passing ``decide`` (approve, or reject with a reason, as the
approval gate would); a failed attempt gets Tier 4's hint and is retried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mma_qt.core.context import ContextBuilder
from mma_qt.core.model import dag
from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.context import ContextBudgets
from mma_qt.core.model.domain import Ticket, Tier, Track
from mma_qt.core.model.plans import parse_tickets
from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.providers.base import (
    AssistantTurn,
    CompletionRequest,
    TextDelta,
    ToolCall,
    ToolDefinition,
    ToolOutcome,
    ToolResultsTurn,
    Turn,
)
from mma_qt.core.providers.demo import DemoClient, DemoWorkerError, Scenario
from mma_qt.core.tools import Sandbox, ToolError, ToolRegistry

#: The approval gate's stand-in: None approves the call, a string rejects it with that reason.
Decide = Callable[[ToolCall], str | None]


def approve_all(call: ToolCall) -> str | None:
    return None


@dataclass
class Attempt:
    """One attempt of a ticket: every request sent, and how it ended."""

    requests: list[CompletionRequest] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    outcomes: list[ToolOutcome] = field(default_factory=list)
    failure: str = ""

    @property
    def final_text(self) -> str:
        return self.texts[-1] if self.texts else ""


@dataclass
class PlanRun:
    tickets: list[Ticket]
    attempts: dict[str, list[Attempt]] = field(default_factory=dict)
    qa_replies: dict[str, list[str]] = field(default_factory=dict)


def tool_definitions(registry: ToolRegistry) -> tuple[ToolDefinition, ...]:
    return tuple(ToolDefinition(s.name, s.description, s.parameters) for s in registry.specs())


def execute(registry: ToolRegistry, call: ToolCall, ticket_id: str, decide: Decide) -> ToolOutcome:
    """One call as the tool loop runs it: refused before asking, asked, then run."""
    def error(text: str) -> ToolOutcome:
        return ToolOutcome(call.id, call.name, f"error: {text}", True)

    if registry.is_mutating(call.name):
        try:
            registry.preview(call.name, call.arguments)
        except ToolError as exc:
            return error(exc.reason)
        reason = decide(call)
        if reason is not None:
            return error(f"rejected by the user: {reason}")
    result = registry.run(call.name, call.arguments, ticket_id=ticket_id)
    return ToolOutcome(call.id, call.name, result.text, not result.ok)


def converse(client: DemoClient, first: CompletionRequest, registry: ToolRegistry,
             decide: Decide = approve_all, max_rounds: int = 30) -> Attempt:
    """Rounds until an answer without tool calls (or a DemoWorkerError, recorded)."""
    attempt = Attempt()
    history: list[Turn] = []
    for _ in range(max_rounds):
        request = replace(first, history=tuple(history))
        attempt.requests.append(request)
        text, calls = [], []
        try:
            for item in client.stream(request, CancelToken()):
                if isinstance(item, TextDelta):
                    text.append(item.text)
                elif isinstance(item, ToolCall):
                    calls.append(item)
        except DemoWorkerError as exc:
            attempt.texts.append("".join(text))
            attempt.failure = f"DemoWorkerError: {exc}"
            return attempt
        attempt.texts.append("".join(text))
        history.append(AssistantTurn("".join(text), tuple(calls)))
        if not calls:
            return attempt
        outcomes = tuple(execute(registry, c, first.ticket_id or "", decide) for c in calls)
        attempt.calls += calls
        attempt.outcomes += outcomes
        history.append(ToolResultsTurn(outcomes))
    raise AssertionError(f"no final answer in {max_rounds} rounds")


TRACK = Track("TR-1", "Deliver", "All of it")


def context(folder: Path | str) -> ContextBuilder:
    """The run's context assembly, as the runner and conductor use it."""
    return ContextBuilder(folder, ContextBudgets())


def plan(client: DemoClient) -> list[Ticket]:
    made = context("/ws").tier2(sample_epic(), TRACK)
    request = CompletionRequest(Tier.TECH_LEAD, "demo-tech-lead", made.system, made.prompt,
                                "tier2")
    text = "".join(i.text for i in client.stream(request, CancelToken())
                   if isinstance(i, TextDelta))
    return parse_tickets(text)


def worker_request(ticket: Ticket, folder: Path, registry: ToolRegistry, attempt: int = 0,
                   hint: str = "") -> CompletionRequest:
    done = [Ticket(d, d) for d in ticket.depends_on]
    made = context(folder).tier3(sample_epic(), TRACK, replace(ticket, qa_hint=hint),
                                 root=folder, done=done)
    return CompletionRequest(Tier.WORKER, "demo-worker", made.system, made.prompt,
                             f"tier3 {ticket.id}", ticket.id, attempt=attempt,
                             tools=tool_definitions(registry))


def diagnose(client: DemoClient, ticket: Ticket, failed: Attempt) -> str:
    """Tier 4's reply to a failed attempt, as the conductor asks for it."""
    made = context("/ws").tier4(sample_epic(), TRACK, ticket, root="/ws", error=failed.failure,
                                output=failed.final_text)
    request = CompletionRequest(Tier.QA, "demo-qa", made.system, made.prompt,
                                f"qa {ticket.id}", ticket.id)
    return "".join(i.text for i in client.stream(request, CancelToken())
                   if isinstance(i, TextDelta))


def run_plan(folder: Path, scenario: Scenario | None = None, decide: Decide = approve_all,
             max_retries: int = 2) -> PlanRun:
    """The demo plan's tickets, one after the other in dependency order, on ``folder``."""
    client = DemoClient(0, scenario or Scenario())
    registry = ToolRegistry(Sandbox(folder))
    tickets = plan(client)
    by_id = {t.id: t for t in tickets}
    run = PlanRun(tickets)
    for ticket_id in dag.validate(tickets):
        ticket, hint = by_id[ticket_id], ""
        for number in range(max_retries + 1):
            request = worker_request(ticket, folder, registry, number, hint)
            attempt = converse(client, request, registry, decide)
            run.attempts.setdefault(ticket_id, []).append(attempt)
            if not attempt.failure:
                break
            reply = diagnose(client, ticket, attempt)
            run.qa_replies.setdefault(ticket_id, []).append(reply)
            hint = [p.strip() for p in reply.split("\n\n") if p.strip()][-1]
        registry.claims.release(ticket_id)
    return run
