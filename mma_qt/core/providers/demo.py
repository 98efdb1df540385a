"""The offline demo provider: deterministic, realistic replies for every tier.

No network and no key. It is the default when no API key is configured, and it is always
labelled "demo (offline)" in the window title, the status bar and the hook answers.

Replies: Tier 1 returns three JSON tracks, Tier 2 a track's JSON tickets (the sample
epic's plan, :mod:`.demo_plan`: a diamond DAG for the CSV export; or a wide one from a
scenario), Tier 4 a short
diagnosis whose last paragraph is the retry's hint. Tier 3, when the request offers tools,
holds a scripted conversation that writes the sample epic's module and its tests into the
workspace and runs them (:mod:`.demo_worker`, :mod:`.demo_steps`); without tools it
answers with a write-up of a few hundred tokens. Text streams in word-sized chunks,
``delay`` seconds apart (0 = full speed); a round's tool calls follow its text. Usage is
reported like a real provider's final usage event, counted with the documented estimator
:func:`mma_qt.core.model.usage.estimate_tokens` (4 characters per token).

A :class:`Scenario` (a TOML file, ``--scenario``; :mod:`.demo_scenario`) scripts
failures for tests and demos.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import replace

from ..model.cancel import CancelToken
from ..model.domain import Tier
from ..model.usage import Usage, estimate_tokens
from .base import (
    AssistantTurn,
    CompletionRequest,
    ProviderClient,
    StreamItem,
    TextDelta,
    ToolCall,
    UsageReport,
)
from .demo_plan import Job, job_for, prompt_field, renumbered, track_for, tracks_for
from .demo_scenario import Scenario, ScenarioError, TicketScript
from .demo_steps import qa_hint, steps_for
from .demo_worker import Round, Seen, past_rounds, play, summary

__all__ = [
    "DEMO_MODELS",
    "DEMO_WORKER_LADDER",
    "DemoClient",
    "DemoProviderFactory",
    "DemoWorkerError",
    "Scenario",
    "ScenarioError",
    "TicketScript",
    "reply",
    "worker_round",
]

DEMO_MODELS = {
    Tier.ORCHESTRATOR: "demo-orchestrator",
    Tier.TECH_LEAD: "demo-tech-lead",
    Tier.WORKER: "demo-worker",
    Tier.QA: "demo-qa",
}
#: Tier 3 retries climb this ladder, as a real configuration escalates to a stronger model.
DEMO_WORKER_LADDER = ("demo-worker", "demo-worker-pro", "demo-worker-max")

_CHUNK = re.compile(r"\s*\S+(?:\s+\S+)?")


class DemoWorkerError(RuntimeError):
    """The failure a scenario scripts into a worker, or a worker's failed test run."""


class DemoProviderFactory:
    """Creates one :class:`DemoClient` per call; holds only immutable settings."""

    def __init__(self, *, delay: float = 0.02, scenario: Scenario | None = None) -> None:
        self.delay = delay
        self.scenario = scenario or Scenario()

    @property
    def label(self) -> str:
        return "demo (offline)"

    @property
    def is_demo(self) -> bool:
        return True

    def model_for(self, tier: Tier, attempt: int = 0) -> str:
        if tier is Tier.WORKER:
            return DEMO_WORKER_LADDER[min(attempt, len(DEMO_WORKER_LADDER) - 1)]
        return DEMO_MODELS[tier]

    def create(self, tier: Tier) -> ProviderClient:
        return DemoClient(self.delay, self.scenario)


class DemoClient:
    """One call's client: a round of text (and, for a Tier 3 worker with tools, its tool
    calls), then the usage."""

    def __init__(self, delay: float, scenario: Scenario) -> None:
        self._delay = delay
        self._scenario = scenario

    def close(self) -> None:
        """Nothing to release: the demo holds no connection."""

    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        script = self._scenario.script(request.ticket_id)
        if request.tier is not Tier.WORKER:
            script = TicketScript(delay=script.delay)
        delay = self._delay if script.delay is None else script.delay
        if request.tier is Tier.WORKER and request.tools:
            round_ = worker_round(request, self._scenario)
        else:
            round_ = Round(reply(request, self._scenario))
        # A scripted raise strikes the first round of a conversation.
        fails = script.fails(request.attempt) and not request.history
        sent: list[str] = []
        for index, match in enumerate(_CHUNK.finditer(round_.text)):
            if fails and index == script.after_chunks:
                raise DemoWorkerError(script.raise_message)
            if (cancel.wait(delay) if delay > 0 else cancel.cancelled):
                break
            sent.append(match.group())
            yield TextDelta(match.group())
        calls: list[ToolCall] = []
        if not cancel.cancelled:
            failure = script.raise_message if fails else round_.failure
            if failure:  # a scripted raise fires even past a round's last chunk
                raise DemoWorkerError(failure)
            calls = _tool_calls(request, round_)
            yield from calls
        out = "".join(sent) + "".join(json.dumps(dict(c.arguments)) for c in calls)
        usage = Usage(
            input=_input_tokens(request),
            output=estimate_tokens(out),
            estimated=cancel.cancelled,
        )
        yield UsageReport(usage, request.model)


def _input_tokens(request: CompletionRequest) -> int:
    """The system text, the prompt, and the conversation since (the earlier rounds)."""
    history = replace(request, system="", prompt="").input_text
    return sum(estimate_tokens(part) for part in (request.system, request.prompt, history))


def _tool_calls(request: CompletionRequest, round_: Round) -> list[ToolCall]:
    """The round's calls, with ids unique in the conversation and the same every run."""
    rounds = sum(isinstance(turn, AssistantTurn) for turn in request.history)
    ticket = re.sub(r"[^A-Za-z0-9]+", "_", request.ticket_id or "call")
    return [ToolCall(f"demo_{ticket}_{request.attempt}_{rounds}_{index}", name, dict(arguments))
            for index, (name, arguments) in enumerate(round_.calls)]


def worker_round(request: CompletionRequest, scenario: Scenario) -> Round:
    """The Tier 3 worker's next round when it has tools (see :mod:`.demo_worker`)."""
    hint = prompt_field(request.prompt, "QA hint")
    targets = prompt_field(request.prompt, "Target files")
    seen = Seen(
        ticket_id=request.ticket_id or prompt_field(request.prompt, "Ticket id"),
        title=prompt_field(request.prompt, "Ticket") or "the ticket",
        attempt=request.attempt,
        hint="" if hint == "(none)" else hint,
        rounds=tuple(past_rounds(request.history)),
    )
    named = [t.strip() for t in targets.split(",") if t.strip() and t.strip() != "(none named)"]
    steps = steps_for(job_for(targets), named, scenario.script(request.ticket_id), seen)
    return play(steps, seen, lambda done: summary(done, scenario.worker_repeat))


# -- replies ---------------------------------------------------------------------------

def reply(request: CompletionRequest, scenario: Scenario) -> str:
    if request.tier is Tier.ORCHESTRATOR:
        return _tier1(request.prompt, 1 if scenario.wide_tickets else scenario.tracks)
    if request.tier is Tier.TECH_LEAD:
        if scenario.tier2_malformed < 0 or request.attempt < scenario.tier2_malformed:
            return _MALFORMED
        return _tier2(request.prompt, scenario)
    if request.tier is Tier.WORKER:
        return _tier3(request, scenario.worker_repeat)
    return _tier4(request)


def _subject(epic: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", epic.lower())
    return " ".join(words[:8]) or "the epic"


def _tier1(prompt: str, count: int) -> str:
    """The demo's tracks (the first ``count``; 0: all three)."""
    remark = prompt_field(prompt, "Remark")
    plan = {"tracks": [track.as_track() for track in tracks_for(remark, count)]}
    why = (f"Planned again with your remark in mind: {remark}\n\n" if remark else "")
    return (
        why + "I read the epic and the workspace layout. The CSV export is the heart of it; "
        "a user guide can be written beside it, since it touches other files. A French "
        "translation is optional.\n\n```json\n" + json.dumps(plan, indent=2) + "\n```\n"
    )


_MALFORMED = (
    "Here is the plan:\n```json\n{\"tickets\": [{\"id\": \"T-001\", \"title\": "
    "\"Define the report model\", \"depends_on\": [}\n```\n"
)


def _tier2(prompt: str, scenario: Scenario) -> str:
    subject = _subject(prompt_field(prompt, "Epic") or "the feature")
    track = track_for(prompt_field(prompt, "Track"), prompt_field(prompt, "Track description"))
    jobs = track.jobs
    if scenario.wide_tickets > 0:
        jobs = tuple(
            Job(f"T-{i:03d}", f"Part {i} of {subject}", f"Independent slice {i} of the work.",
                (), (f"src/part_{i:03d}.py",))
            for i in range(1, scenario.wide_tickets + 1)
        )
    tickets = [job.as_ticket() for job in jobs]
    if scenario.tier2_cycle and not scenario.wide_tickets:
        tickets[0]["depends_on"] = [tickets[-1]["id"]]
    taken = re.search(r"duplicate ticket ids: ([^;\n]+)", prompt)
    if taken:  # another track's plan holds these ids: move past them
        tickets = renumbered(tickets, taken.group(1).split(", "))
    return (
        "Breaking the track into tickets with explicit dependencies so independent work "
        "runs in parallel; each ticket names the files it writes.\n\n```json\n"
        + json.dumps({"tickets": tickets}, indent=2) + "\n```\n"
    )


def _tier3(request: CompletionRequest, repeat: int) -> str:
    title = prompt_field(request.prompt, "Ticket") or "the ticket"
    target = prompt_field(request.prompt, "Target files") or "the target module"
    hint = prompt_field(request.prompt, "QA hint")
    hint = "" if hint == "(none)" else hint
    digest = hashlib.sha256(f"{request.ticket_id}{title}".encode()).hexdigest()[:8]
    name = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:40] or "change"
    body = (
        f"## {request.ticket_id}: {title}\n\n"
        + (f"Taking the QA hint into account: {hint}\n\n" if hint else "")
        + f"Plan: read {target}, make the smallest change that satisfies the ticket, then "
        "cover it with a focused test. I keep the public interface stable so that the "
        "tickets that depend on this one are not disturbed.\n\n"
        "Steps:\n"
        f"1. Inspect {target} and the call sites that use it.\n"
        f"2. Add `{name}()` with type hints and a docstring that says why it exists.\n"
        "3. Handle the edge cases: empty input, unicode, very large inputs, bad values "
        "raising a clear ValueError instead of failing later.\n"
        "4. Add a test per behaviour, including one for each error path.\n\n"
        "```python\n"
        f"def {name}(rows: list[dict[str, str]]) -> str:\n"
        f'    """{title} (change {digest})."""\n'
        "    if not rows:\n"
        '        return ""\n'
        "    header = list(rows[0])\n"
        '    lines = [",".join(header)]\n'
        "    for row in rows:\n"
        '        lines.append(",".join(_quote(row.get(k, "")) for k in header))\n'
        '    return "\\n".join(lines) + "\\n"\n'
        "```\n\n"
        "Result: the change is in place, the new tests pass locally, and nothing outside "
        f"{target} needed to change. Ready for review.\n"
    )
    return "\n".join([body] * repeat)


def _tier4(request: CompletionRequest) -> str:
    error = prompt_field(request.prompt, "Error") or "an unexpected error"
    hint = qa_hint(error)
    if hint:
        return (
            f"Diagnosis for {request.ticket_id}: the worker stopped with `{error}`. This is "
            "a real regression, not the environment: a test that passed when it was written "
            "now fails, so the code it checks changed under it.\n\n" + hint + "\n"
        )
    return (
        f"Diagnosis for {request.ticket_id}: the worker stopped with `{error}`. "
        "This looks environmental rather than a flaw in the plan: the step that failed "
        "does not depend on the code written so far.\n\n"
        "Hint for the retry: re-run the step, check the input before using it, and report "
        "a clear error if it is still missing.\n"
    )
