"""Validating model output (Tier 1 tracks, Tier 2 tickets) with pydantic. Pure logic."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .domain import TICKET_ID, Ticket, Track


class PlanError(ValueError):
    """Model output that is not a usable plan; the message says what is wrong, briefly."""


class _TrackPlan(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1)
    description: str = ""


class _TracksReply(BaseModel):
    tracks: list[_TrackPlan] = Field(min_length=1, max_length=20)


class _TicketPlan(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    title: str = Field(min_length=1)
    description: str = ""
    depends_on: list[str] = Field(default_factory=list)
    target_files: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not TICKET_ID.match(value):
            raise ValueError(f"ticket id {value!r} is not like T-001")
        return value


class _TicketsReply(BaseModel):
    tickets: list[_TicketPlan] = Field(min_length=1, max_length=500)


_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)\n?```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The JSON object in a reply: the first fenced block, else the outermost braces."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    if not candidates:
        raise PlanError("the reply contains no JSON object")
    error: json.JSONDecodeError | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            error = error or exc
    assert error is not None
    raise PlanError(f"the reply's JSON is malformed: {error.msg} at line {error.lineno} "
                    f"column {error.colno}")


def _validation_message(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(p) for p in err['loc']) or 'reply'}: {err['msg']}"
        for err in exc.errors()[:5]
    ]
    return "the reply's JSON does not match the schema: " + "; ".join(problems)


def parse_tracks(text: str) -> list[Track]:
    try:
        reply = _TracksReply.model_validate(extract_json(text))
    except ValidationError as exc:
        raise PlanError(_validation_message(exc)) from exc
    return [Track(id=t.id, title=t.title, description=t.description) for t in reply.tracks]


def parse_tickets(text: str) -> list[Ticket]:
    try:
        reply = _TicketsReply.model_validate(extract_json(text))
    except ValidationError as exc:
        raise PlanError(_validation_message(exc)) from exc
    return [
        Ticket(
            id=t.id,
            title=t.title,
            description=t.description,
            depends_on=tuple(t.depends_on),
            target_files=tuple(t.target_files),
        )
        for t in reply.tickets
    ]
