"""The streaming interface every provider implements. Pure logic, no Qt.

A provider *client* is created for exactly one call by its :class:`ProviderFactory` and
used by exactly one worker thread, so no provider state is ever shared between running
calls (the old tool reset a shared session under a running call). ``stream`` yields
:class:`TextDelta` items as text arrives, :class:`Notice` items for things the user should
see in the stream (a retry, a fallback), and ends with exactly one :class:`UsageReport`.
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

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..model.cancel import CancelToken
from ..model.domain import Tier
from ..model.usage import Usage


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    tier: Tier
    model: str
    system: str
    prompt: str
    stream_id: str
    ticket_id: str | None = None
    max_tokens: int = 4096
    #: 0 for the first attempt of a ticket, 1 for its first retry, ...
    attempt: int = 0

    @property
    def input_text(self) -> str:
        """Everything sent as input, for estimates."""
        return f"{self.system}\n\n{self.prompt}" if self.system else self.prompt


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


StreamItem = TextDelta | Notice | UsageReport


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
