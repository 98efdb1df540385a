"""Validating model output (Tier 1 tracks, Tier 2 tickets) with pydantic. Pure logic."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .domain import TICKET_ID, Ticket, Track


class PlanError(ValueError):
    """Model output that is not a usable plan; the message says what is wrong, briefly.

    ``field`` names the first offending field (``tracks[1].title``), or is empty."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class _TrackPlan(BaseModel):
    #: Fields the plan has beyond these (a priority, an estimate, ...) are kept: the user
    #: sees them in the proposal and they go on with the accepted track.
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1)
    description: str = ""

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        # The id names the track's branch and folder (``mma/<id>``, ``.mma/worktrees/<id>``).
        if not TICKET_ID.match(value) or ".." in value or value.endswith((".lock", ".")):
            raise ValueError(f"track id {value!r} must be letters, digits, '.', '_' or '-', "
                             "starting with a letter")
        return value

    @field_validator("title")
    @classmethod
    def _title_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the title is blank")
        return value


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


def field_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as people write it: ``tracks[1].title``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def _track_dicts(data: Any) -> list[dict[str, Any]]:
    """Validated tracks; ValidationError, or PlanError naming a reused id."""
    tracks = [t.model_dump() for t in _TracksReply.model_validate(data).tracks]
    seen: set[str] = set()
    for index, track in enumerate(tracks):
        if track["id"] in seen:
            where = f"tracks[{index}].id"
            raise PlanError(f"{where}: duplicate track id {track['id']!r}", where)
        seen.add(track["id"])
    return tracks


def parse_track_plan(text: str) -> list[dict[str, Any]]:
    """Tier 1's tracks as dicts: id, title, description and every other field given."""
    try:
        return _track_dicts(extract_json(text))
    except ValidationError as exc:
        raise PlanError(_validation_message(exc)) from exc


def check_tracks(tracks: Any) -> list[dict[str, Any]]:
    """The user's edit of a proposal (a list of track objects), validated exactly like
    Tier 1's output; :class:`PlanError` with ``field`` (``tracks[1].title``) if not."""
    try:
        return _track_dicts({"tracks": tracks})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = field_path(tuple(error["loc"]))
        message = str(error["msg"]).removeprefix("Value error, ")
        raise PlanError(f"{where}: {message}", where) from exc


def tracks_of(plan: list[dict[str, Any]]) -> list[Track]:
    """The run's tracks from validated track dicts."""
    return [Track(id=t["id"], title=t["title"], description=t["description"]) for t in plan]


def parse_tracks(text: str) -> list[Track]:
    return tracks_of(parse_track_plan(text))


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
