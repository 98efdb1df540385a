"""Tool calls on the wire, shared by the SDK adapters: calls assembled from streamed JSON
fragments, arguments that are not a JSON object turned into a call with ``error`` set
(never an exception), stable local ids, and plain-JSON conversion. Pure, no Qt."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .base import AssistantTurn, CompletionRequest, ToolCall

T = TypeVar("T")

# -- tool calls --------------------------------------------------------------------------

#: How much of a malformed arguments text an error quotes back to the model.
_QUOTED = 200


def as_json(value: object) -> Any:
    """``value`` with every Mapping made a dict and every tuple a list (a ToolDefinition's
    schema and a ToolCall's arguments are read-only Mappings; the SDKs want plain JSON)."""
    if isinstance(value, Mapping):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value


def arguments_json(call: ToolCall) -> str:
    """A call's arguments as the JSON object text the model sent (``{}`` for a malformed
    call: the error goes back in its result, and a server may refuse invalid JSON)."""
    return json.dumps(as_json(call.arguments), ensure_ascii=False)


def tool_call_from_json(call_id: str, name: str, raw: str) -> ToolCall:
    """The :class:`ToolCall` for arguments streamed as JSON text (none: no arguments).
    Arguments that are not a JSON object give a call with ``error`` set (and no
    arguments), never an exception: the tool loop answers it with an ``error:`` result,
    which quotes what the model sent, so it can try again."""
    text = raw.strip()
    if not text:
        return ToolCall(call_id, name, {})
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON ({exc.msg} at character {exc.pos})"
    else:
        if isinstance(value, dict):
            return ToolCall(call_id, name, value)
        reason = f"a JSON {type(value).__name__}, not an object"
    quoted = text if len(text) <= _QUOTED else f"{text[:_QUOTED]}…"
    return ToolCall(call_id, name, {}, error=f"the arguments of {name} were {reason}: {quoted}")


@dataclass(slots=True)
class PendingCall:
    """A tool call whose arguments are still arriving as JSON text fragments."""

    id: str = ""
    name: str = ""
    fragments: list[str] = field(default_factory=list)


class PendingCalls:
    """The tool calls of one round being assembled, keyed by the stream's index for each;
    each completes into a :class:`ToolCall` (with a :func:`local_call_id` if the provider
    sent no id)."""

    def __init__(self, request: CompletionRequest) -> None:
        self._request = request
        self._pending: dict[int, PendingCall] = {}
        self._completed = 0

    def __contains__(self, index: int) -> bool:
        return index in self._pending

    def __getitem__(self, index: int) -> PendingCall:
        """The call at ``index``, started on first use."""
        return self._pending.setdefault(index, PendingCall())

    @property
    def last_index(self) -> int | None:
        return max(self._pending) if self._pending else None

    def complete(self, index: int) -> ToolCall | None:
        """The finished call at ``index`` (None if none was started there)."""
        pending = self._pending.pop(index, None)
        if pending is None:
            return None
        fallback = local_call_id(self._request, self._completed)
        self._completed += 1
        return tool_call_from_json(pending.id or fallback, pending.name, "".join(pending.fragments))

    def complete_all(self) -> Iterator[ToolCall]:
        """Every call still pending, in index order."""
        for index in sorted(self._pending):
            call = self.complete(index)
            if call is not None:
                yield call


def merge_roles(
    messages: Iterable[tuple[str, list[T]]],
) -> list[tuple[str, list[T]]]:
    """``(role, items)`` messages with consecutive ones of a role joined into one, and
    empty ones left out (e.g. tool results followed by a user note make one user message)."""
    merged: list[tuple[str, list[T]]] = []
    for role, items in messages:
        if not items:
            continue
        if merged and merged[-1][0] == role:
            merged[-1][1].extend(items)
        else:
            merged.append((role, list(items)))
    return merged


def local_call_id(request: CompletionRequest, position: int) -> str:
    """A stable id for a call the provider sent without one: unique in the conversation
    (the round, counted from the assistant turns already in it, and the call's position)."""
    rounds = sum(isinstance(turn, AssistantTurn) for turn in request.history)
    return f"call_{rounds + 1}_{position + 1}"
