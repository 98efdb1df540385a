"""The demo's Tier 3 worker with tools: a scripted, deterministic conversation. Pure logic.

When a Tier 3 request offers tools, :func:`worker_round` answers one round of the
conversation. The round is the number of assistant turns in ``request.history``; the tool
results of the earlier rounds (``ToolResultsTurn``) are read back, so each round reacts to
what the tools answered: an ``error:`` result (a refused path, an edit the user rejected)
is acknowledged and the change is left undone; a failed test run ends the attempt, so that
the ticket fails and QA diagnoses it; the final answer (a round without tool calls) says
what changed.

A ticket's work is a list of *steps* (:mod:`mma_qt.core.providers.demo_steps`). A step
looks at what the earlier rounds saw and returns the round to send, or None to be
skipped; the whole list is replayed against the history on every request, so the same
history always gives the same round.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .base import AssistantTurn, ToolResultsTurn, Turn

#: The tools that change the workspace (or run a command): what the final answer reports.
MUTATING = frozenset({"write_file", "apply_edit", "delete_file", "run_command"})


@dataclass(frozen=True, slots=True)
class Round:
    """One round of the worker: text, then tool calls (none: the final answer)."""

    text: str
    calls: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    #: Set: the worker gives up after ``text``, and the attempt fails with this message.
    failure: str = ""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One tool call of an earlier round and what it answered."""

    name: str
    arguments: Mapping[str, Any]
    text: str
    ok: bool

    @property
    def label(self) -> str:
        target = self.arguments.get("path") or self.arguments.get("command") or ""
        return f"{self.name} {target}".strip()

    @property
    def reason(self) -> str:
        """The first line of an error result, without ``error:``."""
        return self.text.removeprefix("error:").strip().split("\n", 1)[0]


@dataclass(frozen=True, slots=True)
class Seen:
    """What a step knows: the ticket and the exchanges of the rounds before it."""

    ticket_id: str
    title: str
    attempt: int
    hint: str
    rounds: tuple[tuple[Exchange, ...], ...] = field(default=())

    @property
    def last(self) -> tuple[Exchange, ...]:
        return self.rounds[-1] if self.rounds else ()

    def exchanges(self) -> list[Exchange]:
        return [exchange for round_ in self.rounds for exchange in round_]

    def latest(self, name: str) -> Exchange | None:
        """The last exchange of the previous round with tool ``name``."""
        return next((e for e in reversed(self.last) if e.name == name), None)


Step = Callable[[Seen], Round | None]


def past_rounds(history: Sequence[Turn]) -> list[tuple[Exchange, ...]]:
    """Each assistant turn's tool calls paired with the results that answered them."""
    rounds: list[tuple[Exchange, ...]] = []
    pending: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for turn in history:
        if isinstance(turn, AssistantTurn):
            pending = {call.id: (call.name, call.arguments) for call in turn.tool_calls}
        elif isinstance(turn, ToolResultsTurn):
            rounds.append(tuple(
                Exchange(*pending.get(r.call_id, (r.name, {})), r.text,
                         not (r.is_error or r.text.startswith("error:")))
                for r in turn.results
            ))
            pending = {}
    return rounds


def play(steps: Sequence[Step], seen: Seen, final: Callable[[Seen], Round]) -> Round:
    """The round that follows ``seen.rounds``: the steps replayed, then the final answer.

    The first round opens with the ticket's heading (and the QA hint on a retry); every
    later one with the worker's reaction to the errors of the round before.
    """
    done = seen.rounds
    produced = 0
    for step in steps:
        view = Seen(seen.ticket_id, seen.title, seen.attempt, seen.hint, done[:produced])
        round_ = step(view)
        if round_ is None:
            continue
        if produced == len(done) or not round_.calls:
            return _opened(round_, view)
        produced += 1
    return _opened(final(seen), seen)


def _opened(round_: Round, seen: Seen) -> Round:
    if seen.rounds:
        opening = reaction(seen.last)
    else:
        opening = f"## {seen.ticket_id}: {seen.title}\n"
        if seen.hint:
            hint = seen.hint.removeprefix("Hint for the retry:").strip()
            opening += f"\nTaking the QA hint into account: {hint}\n"
    text = f"{opening}\n{round_.text}" if opening else round_.text
    return Round(text, round_.calls, round_.failure)


def reaction(last: Sequence[Exchange]) -> str:
    """A sentence per failed call of the previous round (a command's is its step's)."""
    notes = []
    for exchange in last:
        if exchange.ok or exchange.name == "run_command":
            continue
        reason = exchange.reason
        if reason.startswith("rejected by the user"):
            why = reason.removeprefix("rejected by the user").lstrip(": ")
            because = f" ({why})" if why else ""
            notes.append(f"You rejected `{exchange.label}`{because}, so I leave that undone "
                         "and carry on without it.")
        elif exchange.name in MUTATING:
            inside = (" Right: everything I change stays inside the workspace."
                      if "outside" in reason or "absolute" in reason else "")
            notes.append(f"`{exchange.label}` was refused: {reason}. I did not make that "
                         f"change.{inside}")
        else:
            notes.append(f"`{exchange.label}` failed: {reason}. I go on with what I know.")
    return " ".join(notes) + ("\n" if notes else "")


def summary(seen: Seen, repeat: int = 1) -> Round:
    """The final answer: what changed in the workspace, what was not done, and why."""
    changed = [e for e in seen.exchanges() if e.ok and e.name in MUTATING]
    undone = [e for e in seen.exchanges() if not e.ok and e.name in MUTATING]
    lines = [f"Finished {seen.ticket_id}."]
    if changed:
        lines.append("\nWhat changed in the workspace:")
        lines += [f"- {_changed(e)}" for e in changed]
    else:
        lines.append("\nNothing changed in the workspace.")
    if undone:
        lines.append("\nNot done:")
        lines += [f"- `{e.label}`: {e.reason}" for e in undone]
    ran = [e for e in changed if e.name == "run_command"]
    lines.append("\nVerified: " + suite_result(ran[-1].text) if ran
                 else "\nNot run here: the test suite runs once every ticket's files exist.")
    text = "\n".join(lines) + "\n"
    return Round("\n".join([text] * repeat))


def _changed(exchange: Exchange) -> str:
    if exchange.name == "run_command":
        return f"ran `{exchange.arguments.get('command', '')}`: {suite_result(exchange.text)}"
    return exchange.text.split("\n", 1)[0]


def suite_result(text: str) -> str:
    """A test run's outcome without its timing: ``Ran 16 tests: OK``."""
    ran = next((line.split(" in ")[0] for line in text.splitlines()
                if line.startswith("Ran ")), "")
    verdict = next((line.strip() for line in reversed(text.splitlines())
                    if line.startswith(("OK", "FAILED"))), "")
    if ran or verdict:
        return ": ".join(part for part in (ran, verdict) if part)
    return text.split("\n", 1)[0]
