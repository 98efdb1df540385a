"""The streaming interface every provider implements. Pure logic, no Qt.

A provider *client* is created for exactly one call by its :class:`ProviderFactory` and
used by exactly one worker thread, so no provider state is ever shared between running
calls (the old tool reset a shared session under a running call). ``stream`` yields
:class:`TextDelta` items as text arrives, :class:`Notice` items for things the user should
see in the stream (a retry, a fallback), a :class:`ToolCall` for each complete tool call
the model made (when the request offered tools), and ends with exactly one
:class:`UsageReport`.
It checks ``cancel`` between items and stops promptly (within 1 s) once it is set,
closing any network stream it holds.

A call *began* once the provider accepted it: its response came with a 2xx status, so a
model is at work and the call may be billed. A call refused before that (401/403, other
error statuses after the last retry, connection refused, a failed DNS lookup, no response
in time) raises :class:`ProviderError` with ``began=False`` and reports no usage: nothing
was billed. A call that fails after it began yields its :class:`UsageReport` first
(estimated when the provider sent no final figures), then raises with ``began=True``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..model.cancel import CancelToken
from ..model.context import ContextPart
from ..model.domain import Tier
from ..model.usage import Usage

# -- tool calling: what the model is offered, what it asks for, what it gets back ---------

@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A tool offered to the model: one JSON schema, the same for every provider."""

    name: str
    description: str
    #: A JSON schema of ``type: object`` (plain: no titles, no ``anyOf`` with null).
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call the model made (also a stream item: see :data:`StreamItem`).

    ``error`` is set when the model's arguments were not a JSON object (``arguments`` is
    then empty): the tool loop answers it with an ``error:`` result, never runs the tool.
    ``extra`` carries what a provider needs to see again with the call in the next round
    (e.g. Gemini's ``thought_signature``); only that provider's adapter reads it.
    """

    id: str
    name: str
    arguments: Mapping[str, Any]
    error: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """The result of one tool call, sent back to the model in the next round."""

    call_id: str
    name: str
    text: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class UserTurn:
    text: str


@dataclass(frozen=True, slots=True)
class AssistantTurn:
    """What the model said in a round: its text and the tool calls it made."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolResultsTurn:
    """The results of every tool call of the previous assistant turn, in its order."""

    results: tuple[ToolOutcome, ...]


Turn = UserTurn | AssistantTurn | ToolResultsTurn


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One round of a call. The conversation is ``prompt`` (the first user turn) followed
    by ``history``; each adapter maps it to its SDK's native message format."""

    tier: Tier
    model: str
    system: str
    prompt: str
    stream_id: str
    ticket_id: str | None = None
    max_tokens: int = 4096
    #: 0 for the first attempt of a ticket, 1 for its first retry, ...
    attempt: int = 0
    #: The turns after the first prompt: assistant turns and tool results, in order.
    history: tuple[Turn, ...] = ()
    #: The tools the model may call this round (none: a plain completion).
    tools: tuple[ToolDefinition, ...] = ()
    #: What ``system`` and ``prompt`` were assembled from (for display; not sent).
    context: tuple[ContextPart, ...] = ()

    def turns(self) -> tuple[Turn, ...]:
        """The whole conversation, the first user prompt included."""
        return (UserTurn(self.prompt), *self.history)

    @property
    def input_text(self) -> str:
        """Everything sent as input, for estimates."""
        parts = [self.system, self.prompt]
        for turn in self.history:
            if isinstance(turn, UserTurn | AssistantTurn):
                parts.append(turn.text)
            if isinstance(turn, AssistantTurn):
                parts.extend(f"{c.name} {dict(c.arguments)}" for c in turn.tool_calls)
            elif isinstance(turn, ToolResultsTurn):
                parts.extend(r.text for r in turn.results)
        return "\n\n".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Notice:
    """A line for the stream that is not model output (a retry, a fallback, a warning)."""

    text: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    usage: Usage
    model: str


StreamItem = TextDelta | Notice | ToolCall | UsageReport


class ProviderError(RuntimeError):
    """A provider failure with a message fit for the ticket (never containing a key).

    ``began``: the call had begun (see the module docstring) before it failed; False
    means the provider refused it, and it costs nothing.
    """

    def __init__(self, message: str, *, retryable: bool = False, began: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.began = began


@runtime_checkable
class ProviderClient(Protocol):
    """One call's client. Never shared between calls or threads."""

    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        ...

    def close(self) -> None:
        ...


class ProviderFactory(Protocol):
    """Creates a fresh :class:`ProviderClient` per call and says which model a tier uses."""

    @property
    def label(self) -> str:
        """What the user sees in the title and status bar, e.g. ``"demo (offline)"``."""
        ...

    @property
    def is_demo(self) -> bool:
        ...

    def model_for(self, tier: Tier, attempt: int = 0) -> str:
        """The model for ``tier``; for Tier 3 retries, ``attempt`` climbs the ladder."""
        ...

    def create(self, tier: Tier) -> ProviderClient:
        ...
