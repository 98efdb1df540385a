"""One model call in a worker thread: provider stream → stream buffer. Pure logic.

:func:`run_call` is what a worker thread executes. It owns its provider client (created for
this call only), writes every delta through ``write`` (the stream hub's thread-safe
writer), holds between chunks while the run is paused, stops when its token is cancelled,
and never swallows a failure: a provider exception leaves as :class:`CallFailed` carrying
the cause, the partial text and the usage so far.

Usage is the client's :class:`UsageReport`. A failed call that sent none is charged
nothing if the provider refused it before it began (``ProviderError.began`` is False:
a 401/403, a refused connection, nothing billed), and an estimate otherwise (a stream cut
short after it began, or a client's own failure mid-stream).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass

from ..model.cancel import Cancelled, CancelToken, PauseGate
from ..model.usage import Usage
from ..providers.base import (
    CompletionRequest,
    Notice,
    ProviderClient,
    ProviderError,
    TextDelta,
    ToolCall,
    UsageReport,
)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    text: str
    usage: Usage
    model: str
    cancelled: bool
    #: The tool calls the model made in this round, in order (none: a final answer).
    tool_calls: tuple[ToolCall, ...] = ()


class CallFailed(Exception):
    def __init__(self, cause: BaseException, text: str, usage: Usage, model: str) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause
        self.text = text
        self.usage = usage
        self.model = model

    def traceback_tail(self, lines: int = 6) -> str:
        formatted = traceback.format_exception(self.cause)
        return "".join("".join(formatted).splitlines(keepends=True)[-lines:])


def run_call(
    client: ProviderClient,
    request: CompletionRequest,
    write: Callable[[str], object],
    token: CancelToken,
    gate: PauseGate,
) -> CallOutcome:
    parts: list[str] = []
    calls: list[ToolCall] = []
    usage: Usage | None = None
    model = request.model
    stopped = False
    stream = client.stream(request, token)
    try:
        for item in stream:
            gate.wait_open(token)
            if isinstance(item, TextDelta):
                parts.append(item.text)
                write(item.text)
            elif isinstance(item, Notice):
                write(f"\n[{item.text}]\n")
            elif isinstance(item, ToolCall):
                calls.append(item)
            elif isinstance(item, UsageReport):
                usage, model = item.usage, item.model or model
    except Cancelled:
        stopped = True  # paused worker woken by its cancel; reported as cancelled below
    except Exception as exc:
        text = "".join(parts)
        if usage is None:
            usage = _usage_of_failed_call(exc, request, text)
        raise CallFailed(exc, text, usage, model) from exc
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        client.close()
    text = "".join(parts)
    if usage is None:
        usage = Usage.estimate(request.input_text, text)
    return CallOutcome(text, usage, model, stopped or token.cancelled, tuple(calls))


def _usage_of_failed_call(exc: Exception, request: CompletionRequest, text: str) -> Usage:
    """For a failure without a usage report: nothing for a refused call, else an estimate."""
    if isinstance(exc, ProviderError) and not exc.began:
        return Usage()
    return Usage.estimate(request.input_text, text)
