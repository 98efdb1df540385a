"""A scripted provider for tool-loop tests: Tier 3 replies round by round.

Tier 1 plans one track, ``TR-1`` (or the tracks the test names); Tier 4 is the demo
provider's (a diagnosis ending in "Hint for the retry: ..."). Tier 2 plans the tickets the
test names. Tier 3 follows a script per
ticket: a function of the request (its attempt, the rounds so far) giving either a final
text or a list of tool calls. Every request is recorded, in order, for the test to read.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.domain import Tier
from mma_qt.core.model.usage import Usage
from mma_qt.core.providers.base import (
    AssistantTurn,
    CompletionRequest,
    ProviderClient,
    StreamItem,
    TextDelta,
    ToolCall,
    ToolResultsTurn,
    UsageReport,
)
from mma_qt.core.providers.demo import DemoProviderFactory, Scenario

from .tools.test_git import git

EPIC = "Make add commutative in its own way"
#: The workspace file the scripts edit, before and after the model's edit.
CALC = "def add(a, b):\n    return a + b\n"
EDITED = "def add(a, b):\n    return b + a\n"

#: A final answer, or the tool calls of a round.
Reply = str | list[ToolCall]
Script = Callable[[CompletionRequest], Reply]
#: Usage each scripted round reports.
ROUND_USAGE = Usage(input=100, output=10)

_ids = itertools.count(1)


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(f"call-{next(_ids)}", name, arguments)


def edit_calc() -> ToolCall:
    """The model's edit of calc.py (CALC → EDITED)."""
    return call("apply_edit", path="calc.py", old_text="a + b", new_text="b + a")


def plain_workspace(folder: Path) -> Path:
    """A workspace without git: calc.py and notes.txt."""
    folder.mkdir()
    (folder / "calc.py").write_text(CALC, encoding="utf-8")
    (folder / "notes.txt").write_text("notes\n", encoding="utf-8")
    return folder


def git_workspace(folder: Path) -> Path:
    """The user's repository: calc.py committed on main, a clean tree."""
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    (folder / "calc.py").write_text(CALC, encoding="utf-8")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "initial")
    return folder


def round_of(request: CompletionRequest) -> int:
    """1 for the first round of an attempt, 2 after one round of tool calls, ..."""
    return 1 + sum(isinstance(turn, AssistantTurn) for turn in request.history)


def rounds(*replies: Reply) -> Script:
    """Reply ``replies[n - 1]`` in round n (the last one again after the end)."""
    return lambda request: replies[min(round_of(request), len(replies)) - 1]


def by_attempt(*scripts: Script) -> Script:
    """Attempt n follows ``scripts[n]`` (the last one for later attempts)."""
    return lambda request: scripts[min(request.attempt, len(scripts) - 1)](request)


def results_of(request: CompletionRequest) -> list[str]:
    """The texts of the tool results the request sends back (the last round's)."""
    turns = [t for t in request.history if isinstance(t, ToolResultsTurn)]
    return [r.text for r in turns[-1].results] if turns else []


@dataclass
class PlannedTicket:
    id: str
    target_files: Sequence[str] = ()
    depends_on: Sequence[str] = ()
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title or f"Work on {self.id}",
                "description": f"Scripted ticket {self.id}.",
                "depends_on": list(self.depends_on), "target_files": list(self.target_files)}


#: Tier 1's plan unless the test names one: a single track.
ONE_TRACK = ({"id": "TR-1", "title": "Scripted track", "description": "All of the epic."},)


class ScriptedFactory(DemoProviderFactory):
    """Scripted Tier 3 for the tickets of ``scripts``; the demo (with ``scenario``) for
    every other request; ``tickets``: Tier 2's plan (none: the demo's, unless scripts)."""

    def __init__(self, scripts: dict[str, Script],
                 tickets: Sequence[PlannedTicket] = (),
                 tracks: Sequence[dict[str, Any]] = ONE_TRACK, *,
                 scenario: Scenario | None = None) -> None:
        super().__init__(delay=0, scenario=scenario)
        self.scripts = scripts
        self.tickets = list(tickets) or [PlannedTicket(t) for t in scripts]
        self.tracks = list(tracks)
        self.requests: list[CompletionRequest] = []
        self._lock = threading.Lock()

    def create(self, tier: Tier) -> ProviderClient:
        return _Client(self, super().create(tier))

    def record(self, request: CompletionRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def of(self, tier: Tier, ticket_id: str | None = None) -> list[CompletionRequest]:
        """The requests of ``tier`` (and ticket), in order."""
        with self._lock:
            return [r for r in self.requests
                    if r.tier is tier and ticket_id in (None, r.ticket_id)]


class _Client:
    def __init__(self, factory: ScriptedFactory, demo: ProviderClient) -> None:
        self._factory = factory
        self._demo = demo

    def close(self) -> None:
        self._demo.close()

    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        self._factory.record(request)
        if request.tier is Tier.ORCHESTRATOR:
            yield TextDelta("```json\n" + json.dumps({"tracks": self._factory.tracks}) + "\n```\n")
        elif request.tier is Tier.TECH_LEAD and self._factory.tickets:
            plan = {"tickets": [t.to_dict() for t in self._factory.tickets]}
            yield TextDelta("```json\n" + json.dumps(plan) + "\n```\n")
        elif request.tier is Tier.WORKER and request.ticket_id in self._factory.scripts:
            reply = self._factory.scripts[request.ticket_id](request)
            if isinstance(reply, str):
                yield TextDelta(reply)
            else:
                yield TextDelta(f"Round {round_of(request)}: calling tools.")
                yield from reply
        else:
            yield from self._demo.stream(request, cancel)
            return
        yield UsageReport(ROUND_USAGE, request.model)
