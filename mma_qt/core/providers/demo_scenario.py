"""Demo scenarios: TOML files (``--scenario``) that script the demo provider's failures.

A scenario can make a worker raise, Tier 2 reply with malformed JSON or a cycle, a stream
slow, a plan wide; and, when the workers have tools, make a worker try to write outside
the workspace, propose a deletion worth rejecting, or break the code before running the
tests so that the test command fails (see ``resources/scenarios/``).

The file is validated as ``config.toml`` is: an unknown key or a value of the wrong type
is refused with a message naming the file, the table and the field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..settings.config import describe_errors


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class TicketScript:
    """What a scenario scripts into one ticket's worker."""

    raise_message: str = ""
    #: How many attempts fail (0 = every attempt).
    raise_times: int = 0
    after_chunks: int = 3
    delay: float | None = None
    #: With tools: first try to write this path outside the workspace (refused).
    escape: str = ""
    #: With tools: first propose deleting this file (a change worth rejecting).
    propose_delete: str = ""
    #: With tools, for the ticket that runs the tests: its first N attempts break the
    #: export before running them, so the test command fails.
    failing_tests: int = 0

    def fails(self, attempt: int) -> bool:
        return bool(self.raise_message) and (self.raise_times == 0 or attempt < self.raise_times)


@dataclass(frozen=True, slots=True)
class Scenario:
    #: Tier 2 replies that are malformed JSON before a good one (-1 = always).
    tier2_malformed: int = 0
    #: Tier 2 plans a dependency cycle.
    tier2_cycle: bool = False
    #: 0 = the sample diamond plan; N > 0 = N independent tickets (a wide plan, one track).
    wide_tickets: int = 0
    #: How many of the demo's tracks Tier 1 proposes (the CSV export first; 0 = all).
    tracks: int = 0
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
            tracks=parsed.plan.tracks,
            worker_repeat=parsed.tier3.repeat,
            tickets={
                ticket_id: TicketScript(
                    raise_message=table.raise_message,
                    raise_times=table.raise_times,
                    after_chunks=table.after_chunks,
                    delay=table.delay,
                    escape=table.escape,
                    propose_delete=table.propose_delete,
                    failing_tests=table.failing_tests,
                )
                for ticket_id, table in parsed.tickets.items()
            },
        )

    def script(self, ticket_id: str | None) -> TicketScript:
        return self.tickets.get(ticket_id or "", TicketScript())


# -- the scenario file: validated like config.toml (unknown keys refused, strict types) ---


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Tier2Table(_Table):
    #: Tier 2 replies that are malformed JSON before a good one (-1 = always).
    malformed: int = Field(default=0, ge=-1)
    cycle: bool = False


class PlanTable(_Table):
    wide_tickets: int = Field(default=0, ge=0)
    tracks: int = Field(default=0, ge=0)


class Tier3Table(_Table):
    repeat: int = Field(default=1, ge=1)


class TicketTable(_Table):
    raise_message: str = Field(default="", alias="raise")
    raise_times: int = Field(default=0, ge=0)
    after_chunks: int = Field(default=3, ge=0)
    delay: float | None = Field(default=None, ge=0)
    escape: str = ""
    propose_delete: str = ""
    failing_tests: int = Field(default=0, ge=0)


class ScenarioFile(_Table):
    """The tables of a scenario file; see ``resources/scenarios/``."""

    tier2: Tier2Table = Field(default_factory=Tier2Table)
    plan: PlanTable = Field(default_factory=PlanTable)
    tier3: Tier3Table = Field(default_factory=Tier3Table)
    tickets: dict[str, TicketTable] = Field(default_factory=dict)
