"""The offline demo provider: deterministic, realistic replies for every tier.

No network and no key. It is the default when no API key is configured, and it is always
labelled "demo (offline)" in the window title, the status bar and the hook answers.

Replies: Tier 1 returns JSON tracks, Tier 2 JSON tickets forming a diamond DAG (or a wide
one from a scenario), Tier 3 a write-up of a few hundred tokens per ticket, Tier 4 a short
diagnosis. Text streams in word-sized chunks, ``delay`` seconds apart (0 = full speed).
Usage is reported like a real provider's final usage event, counted with the documented
estimator :func:`mma_qt.core.model.usage.estimate_tokens` (4 characters per token).

A :class:`Scenario` (a TOML file, ``--scenario``) scripts failures for tests and demos:
a worker that raises, malformed JSON or a cycle from Tier 2, a slow stream, a wide plan.
The file is validated as ``config.toml`` is: an unknown key or a value of the wrong type
is refused with a message naming the file, the table and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..model.cancel import CancelToken
from ..model.domain import Tier
from ..model.usage import Usage, estimate_tokens
from ..settings.config import describe_errors
from .base import CompletionRequest, ProviderClient, StreamItem, TextDelta, UsageReport

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
    """The failure a scenario scripts into a worker."""


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class TicketScript:
    raise_message: str = ""
    #: How many attempts fail (0 = every attempt).
    raise_times: int = 0
    after_chunks: int = 3
    delay: float | None = None

    def fails(self, attempt: int) -> bool:
        return bool(self.raise_message) and (self.raise_times == 0 or attempt < self.raise_times)


@dataclass(frozen=True, slots=True)
class Scenario:
    #: Tier 2 replies that are malformed JSON before a good one (-1 = always).
    tier2_malformed: int = 0
    #: Tier 2 plans a dependency cycle.
    tier2_cycle: bool = False
    #: 0 = the sample diamond plan; N > 0 = N independent tickets (a wide plan).
    wide_tickets: int = 0
    #: Tier 3 write-ups are repeated this many times (longer streams).
    worker_repeat: int = 1
    tickets: dict[str, TicketScript] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Scenario:
        """The scenario in the TOML file ``path``; ScenarioError naming the file (and the
        table and field at fault) if it cannot be used."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"{path}: cannot read the scenario file: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "scenario") -> Scenario:
        """Validate ``data`` (a scenario file's tables) as :class:`ScenarioFile` does."""
        try:
            parsed = ScenarioFile.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(describe_errors(source, exc)) from exc
        return cls(
            tier2_malformed=parsed.tier2.malformed,
            tier2_cycle=parsed.tier2.cycle,
            wide_tickets=parsed.plan.wide_tickets,
            worker_repeat=parsed.tier3.repeat,
            tickets={
                ticket_id: TicketScript(
                    raise_message=table.raise_message,
                    raise_times=table.raise_times,
                    after_chunks=table.after_chunks,
                    delay=table.delay,
                )
                for ticket_id, table in parsed.tickets.items()
            },
        )


# -- the scenario file: validated like config.toml (unknown keys refused, strict types) ---


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Tier2Table(_Table):
    #: Tier 2 replies that are malformed JSON before a good one (-1 = always).
    malformed: int = Field(default=0, ge=-1)
    cycle: bool = False


class PlanTable(_Table):
    wide_tickets: int = Field(default=0, ge=0)


class Tier3Table(_Table):
    repeat: int = Field(default=1, ge=1)


class TicketTable(_Table):
    raise_message: str = Field(default="", alias="raise")
    raise_times: int = Field(default=0, ge=0)
    after_chunks: int = Field(default=3, ge=0)
    delay: float | None = Field(default=None, ge=0)


class ScenarioFile(_Table):
    """The tables of a scenario file; see ``resources/scenarios/``."""

    tier2: Tier2Table = Field(default_factory=Tier2Table)
    plan: PlanTable = Field(default_factory=PlanTable)
    tier3: Tier3Table = Field(default_factory=Tier3Table)
    tickets: dict[str, TicketTable] = Field(default_factory=dict)


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
    def __init__(self, delay: float, scenario: Scenario) -> None:
        self._delay = delay
        self._scenario = scenario

    def close(self) -> None:
        """Nothing to release: the demo holds no connection."""

    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        script = self._scenario.tickets.get(request.ticket_id or "", TicketScript())
        if request.tier is not Tier.WORKER:
            script = TicketScript(delay=script.delay)
        delay = self._delay if script.delay is None else script.delay
        text = reply(request, self._scenario)
        sent: list[str] = []
        for index, match in enumerate(_CHUNK.finditer(text)):
            if script.fails(request.attempt) and index == script.after_chunks:
                raise DemoWorkerError(script.raise_message)
            if (cancel.wait(delay) if delay > 0 else cancel.cancelled):
                break
            sent.append(match.group())
            yield TextDelta(match.group())
        out = "".join(sent)
        usage = Usage(
            input=estimate_tokens(request.system) + estimate_tokens(request.prompt),
            output=estimate_tokens(out),
            estimated=cancel.cancelled,
        )
        yield UsageReport(usage, request.model)


# -- replies ---------------------------------------------------------------------------

def reply(request: CompletionRequest, scenario: Scenario) -> str:
    if request.tier is Tier.ORCHESTRATOR:
        return _tier1(request.prompt)
    if request.tier is Tier.TECH_LEAD:
        if scenario.tier2_malformed < 0 or request.attempt < scenario.tier2_malformed:
            return _MALFORMED
        return _tier2(request.prompt, scenario)
    if request.tier is Tier.WORKER:
        return _tier3(request, scenario.worker_repeat)
    return _tier4(request)


def _field(prompt: str, name: str) -> str:
    """Read a ``name: value`` line the prompt templates put in every prompt."""
    match = re.search(rf"^{re.escape(name)}:\s*(.+)$", prompt, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _subject(epic: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", epic.lower())
    return " ".join(words[:8]) or "the epic"


def _tier1(prompt: str) -> str:
    epic = _field(prompt, "Epic") or "the epic"
    plan = {
        "tracks": [
            {
                "id": "TR-1",
                "title": f"Deliver: {epic[:60]}",
                "description": (
                    f"Implement '{epic}' end to end: the data layer, the feature itself, "
                    "its user-facing surface, tests and documentation."
                ),
            }
        ]
    }
    return (
        "I read the epic and the workspace layout. One track covers it; splitting further "
        "would only add hand-offs.\n\n```json\n" + json.dumps(plan, indent=2) + "\n```\n"
    )


_MALFORMED = (
    "Here is the plan:\n```json\n{\"tickets\": [{\"id\": \"T-001\", \"title\": "
    "\"Define the data model\", \"depends_on\": [}\n```\n"
)


def _tier2(prompt: str, scenario: Scenario) -> str:
    subject = _subject(_field(prompt, "Epic") or "the feature")
    if scenario.wide_tickets > 0:
        tickets = [
            {
                "id": f"T-{i:03d}",
                "title": f"Part {i} of {subject}",
                "description": f"Independent slice {i} of the work.",
                "depends_on": [],
                "target_files": [f"src/part_{i:03d}.py"],
            }
            for i in range(1, scenario.wide_tickets + 1)
        ]
    else:
        tickets = [
            _ticket(1, f"Define the data model for {subject}", [], "src/model.py"),
            _ticket(2, "Implement the core logic", ["T-001"], "src/core.py"),
            _ticket(3, "Add the command-line and GUI entry points", ["T-001"], "src/ui.py"),
            _ticket(4, "Write unit tests", ["T-002"], "tests/test_core.py"),
            _ticket(5, "Integrate and add an end-to-end test", ["T-002", "T-003"],
                    "tests/test_e2e.py"),
            _ticket(6, "Document the feature", ["T-004", "T-005"], "docs/feature.md"),
        ]
        if scenario.tier2_cycle:
            tickets[0]["depends_on"] = ["T-006"]
    return (
        "Breaking the track into tickets with explicit dependencies so independent work "
        "runs in parallel.\n\n```json\n" + json.dumps({"tickets": tickets}, indent=2)
        + "\n```\n"
    )


def _ticket(n: int, title: str, deps: list[str], target: str) -> dict[str, Any]:
    return {
        "id": f"T-{n:03d}",
        "title": title,
        "description": f"{title}. Keep the change small and covered by tests.",
        "depends_on": deps,
        "target_files": [target],
    }


def _tier3(request: CompletionRequest, repeat: int) -> str:
    title = _field(request.prompt, "Ticket") or "the ticket"
    target = _field(request.prompt, "Target files") or "the target module"
    hint = _field(request.prompt, "QA hint")
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
    error = _field(request.prompt, "Error") or "an unexpected error"
    return (
        f"Diagnosis for {request.ticket_id}: the worker stopped with `{error}`. "
        "This looks environmental rather than a flaw in the plan: the step that failed "
        "does not depend on the code written so far.\n\n"
        "Hint for the retry: re-run the step, check the input before using it, and report "
        "a clear error if it is still missing.\n"
    )
