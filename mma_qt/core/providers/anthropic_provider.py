"""Anthropic Messages API, streamed. Pure logic, no Qt.

Usage: ``message_start.message.usage`` gives the input side (``input_tokens`` is uncached
input; ``cache_creation_input_tokens`` -> cache_write, ``cache_read_input_tokens`` ->
cache_read); ``message_delta.usage`` carries cumulative figures, whose ``output_tokens``
is final. Thinking tokens are part of ``output_tokens`` (reported in
``output_tokens_details.thinking_tokens`` -> reasoning).

An ``error`` event inside a 200 stream (e.g. ``overloaded_error``) is classified by its
error type, like the matching HTTP status.

Tools: offered as ``tools=[{name, description, input_schema}]``. A call streams as a
``tool_use`` content block (``content_block_start`` with its id and name,
``input_json_delta`` fragments of its input, ``content_block_stop``), and is yielded at its
block's stop. An assistant turn goes back as content blocks (its text, then a ``tool_use``
block per call with the parsed input); the results go back in the next user message as
``tool_result`` blocks (``tool_use_id``, ``content``, ``is_error``), in the calls' order.
Consecutive turns of one role (tool results, then a user note) share one message.

Prompt caching: the system text goes as one text block with ``cache_control: {"type":
"ephemeral"}`` (:func:`system_blocks`); the context assembly puts everything that is the
same for all calls of a tier in a track there, so calls 2..n read it from the cache. A
request that offers tools (a conversation that goes on for rounds) also marks its last
block (:func:`mark_conversation_end`), so each round reads the rounds before it.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal, cast

import anthropic
from anthropic.types import (
    ContentBlockParam,
    MessageDeltaUsage,
    MessageParam,
    RawMessageStreamEvent,
    TextBlockParam,
    ToolParam,
)
from anthropic.types import Usage as AnthropicUsage

from ..model.usage import Usage
from .base import AssistantTurn, CompletionRequest, ToolDefinition, Turn, UserTurn
from .common import PieceStream, SdkClient, StreamAborter, UsageSnapshot
from .retry import Failure, SdkErrors, retry_after_from_headers, status_failure
from .tool_calls import PendingCalls, as_json, merge_roles

#: Error types of in-stream ``error`` events, as the HTTP status they stand for.
_EVENT_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


class AnthropicClient(SdkClient):
    default_provider: ClassVar[str] = "anthropic"
    sdk_errors: ClassVar[SdkErrors] = SdkErrors(
        anthropic.APIError, anthropic.APITimeoutError, anthropic.APIConnectionError
    )

    _sdk: anthropic.Anthropic | None = None

    def _client(self) -> anthropic.Anthropic:
        if self._sdk is None:
            self._sdk = anthropic.Anthropic(
                api_key=self._api_key,
                base_url=self.base_url,
                max_retries=0,  # retries are ours (retry.RetryPolicy), visible in the stream
                timeout=self.http_timeout,
            )
        return self._sdk

    def _open(self, request: CompletionRequest, aborter: StreamAborter) -> PieceStream:
        kwargs: dict[str, Any] = {}
        if request.system:
            kwargs["system"] = system_blocks(request.system)
        if request.tools:
            kwargs["tools"] = [_tool(tool) for tool in request.tools]
        conversation = messages(request.turns())
        if request.tools:
            mark_conversation_end(conversation)
        stream = self._client().messages.create(
            model=request.model,
            max_tokens=request.max_tokens,
            messages=conversation,
            stream=True,
            **kwargs,
        )
        aborter.track(stream.response)
        return self._pieces(stream, PendingCalls(request))

    @staticmethod
    def _pieces(
        stream: anthropic.Stream[RawMessageStreamEvent], calls: PendingCalls
    ) -> PieceStream:
        with stream:
            usage = Usage()
            for event in stream:
                if event.type == "message_start":
                    usage = _from_start(event.message.usage)
                    yield UsageSnapshot(usage, final=False)
                elif event.type == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        pending = calls[event.index]
                        pending.id, pending.name = block.id, block.name
                        if block.input:  # sent whole rather than streamed
                            pending.fragments.append(json.dumps(block.input))
                elif event.type == "content_block_delta":
                    if event.delta.type == "text_delta":
                        yield event.delta.text
                    elif event.delta.type == "input_json_delta" and event.index in calls:
                        calls[event.index].fragments.append(event.delta.partial_json)
                elif event.type == "content_block_stop":
                    call = calls.complete(event.index)
                    if call is not None:
                        yield call
                elif event.type == "message_delta":
                    usage = _from_delta(usage, event.usage)
                    yield UsageSnapshot(usage, final=True)
            # A stream that ended without a block's stop still hands over what it had.
            yield from calls.complete_all()

    def _classify_status(self, exc: Exception) -> Failure | None:
        if not isinstance(exc, anthropic.APIStatusError):
            return None
        detail = exc.api_message or _body_message(exc.body) or exc.message
        if exc.type:
            detail = f"{exc.type}: {detail}"
        if exc.status_code == 200:  # an `error` event inside the stream
            event_status = _EVENT_ERROR_STATUS.get(exc.type or "", 500)
            failure = status_failure(event_status, detail)
            return Failure(failure.kind, f"an {exc.type or 'error'} event", detail)
        return status_failure(
            exc.status_code, detail, retry_after=retry_after_from_headers(exc.response.headers)
        )


def system_blocks(system: str) -> list[TextBlockParam]:
    """The system text as one block marked as a prompt-cache breakpoint: everything up to
    it (the tools, then the system text, the same for every call of a tier in a track) is
    cached for five minutes, and later calls read it at a tenth of the input price. A
    prefix shorter than the model's minimum is simply not cached."""
    return [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]


def mark_conversation_end(conversation: list[MessageParam]) -> None:
    """A second breakpoint on the last block of a tool conversation: each round writes the
    conversation so far to the cache, and the next round (which resends it) reads it."""
    content = conversation[-1]["content"] if conversation else None
    if isinstance(content, list) and content:
        cast(dict[str, Any], content[-1])["cache_control"] = {"type": "ephemeral"}


def messages(turns: tuple[Turn, ...]) -> list[MessageParam]:
    """The conversation as Messages API messages (consecutive same-role turns merged; an
    empty assistant turn left out, as the API refuses empty content)."""
    result: list[MessageParam] = []
    for role, blocks in merge_roles(_blocks(turn) for turn in turns):
        if role == "user":
            result.append({"role": "user", "content": blocks})
        else:
            result.append({"role": "assistant", "content": blocks})
    return result


def _blocks(turn: Turn) -> tuple[Literal["user", "assistant"], list[ContentBlockParam]]:
    if isinstance(turn, UserTurn):
        return "user", [{"type": "text", "text": turn.text}] if turn.text else []
    if isinstance(turn, AssistantTurn):
        blocks: list[ContentBlockParam] = []
        if turn.text:
            blocks.append({"type": "text", "text": turn.text})
        blocks.extend(
            {"type": "tool_use", "id": call.id, "name": call.name,
             "input": as_json(call.arguments)}
            for call in turn.tool_calls
        )
        return "assistant", blocks
    return "user", [
        {"type": "tool_result", "tool_use_id": result.call_id, "content": result.text,
         "is_error": result.is_error}
        for result in turn.results
    ]


def _tool(tool: ToolDefinition) -> ToolParam:
    return {"name": tool.name, "description": tool.description,
            "input_schema": as_json(tool.parameters)}


def _from_start(usage: AnthropicUsage) -> Usage:
    return Usage(
        input=usage.input_tokens,
        output=usage.output_tokens,
        cache_read=usage.cache_read_input_tokens or 0,
        cache_write=usage.cache_creation_input_tokens or 0,
    )


def _from_delta(start: Usage, delta: MessageDeltaUsage) -> Usage:
    """``message_delta.usage`` is cumulative: its fields replace those of message_start."""
    details = delta.output_tokens_details
    return Usage(
        input=start.input if delta.input_tokens is None else delta.input_tokens,
        output=delta.output_tokens,
        cache_read=(
            start.cache_read
            if delta.cache_read_input_tokens is None
            else delta.cache_read_input_tokens
        ),
        cache_write=(
            start.cache_write
            if delta.cache_creation_input_tokens is None
            else delta.cache_creation_input_tokens
        ),
        reasoning=0 if details is None else details.thinking_tokens,
    )


def _body_message(body: object) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return ""
