"""OpenAI Chat Completions, streamed; with a ``base_url`` also DeepSeek, OpenRouter and local
OpenAI-compatible servers (Ollama, llama.cpp, vLLM, LM Studio: see
:data:`.catalog.OPENAI_COMPATIBLE_PRESETS`). Pure logic, no Qt.

Usage is requested with ``stream_options={"include_usage": True}`` and arrives in a final
chunk whose ``choices`` is empty. ``prompt_tokens`` *includes*
``prompt_tokens_details.cached_tokens``, so input = prompt_tokens - cached and
cache_read = cached (DeepSeek reports ``prompt_cache_hit_tokens`` instead, read the same
way). ``completion_tokens`` includes ``completion_tokens_details.reasoning_tokens``.
A server that ignores ``include_usage`` gets estimated usage (see :mod:`.common`).

Tools: offered as ``tools=[{"type": "function", "function": {name, description,
parameters}}]`` (no ``tools`` field without tools: some local servers refuse an empty
list). Calls stream as ``delta.tool_calls`` fragments assembled by ``index`` (the id and
name come in a call's first fragment, its ``arguments`` JSON in string pieces); they are
yielded, in index order, when the choice finishes (or the stream ends). An assistant turn
goes back as ``{"role": "assistant", "content": text or None, "tool_calls": [{"id",
"type": "function", "function": {"name", "arguments"}}]}``, and each result as its own
``{"role": "tool", "tool_call_id", "content"}`` message; the Chat Completions format has
no error flag, so an error result is told by its text (``error: ...``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import openai
from openai.types import CompletionUsage
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageParam,
)
from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall

from ..model.usage import Usage
from .base import AssistantTurn, CompletionRequest, ToolDefinition, UserTurn
from .catalog import PROVIDERS
from .common import PieceStream, SdkClient, StreamAborter, UsageSnapshot
from .retry import Failure, SdkErrors, retry_after_from_headers, status_failure
from .tool_calls import PendingCalls, arguments_json, as_json

#: Sent as the key to local servers that need none (the SDK insists on one).
NO_KEY = "not-needed"
OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAIClient(SdkClient):
    default_provider: ClassVar[str] = "openai"
    sdk_errors: ClassVar[SdkErrors] = SdkErrors(
        openai.APIError, openai.APITimeoutError, openai.APIConnectionError
    )

    _sdk: openai.OpenAI | None = None

    @property
    def max_completion_tokens(self) -> bool:
        """Send ``max_completion_tokens`` (OpenAI's own API) instead of ``max_tokens``
        (what DeepSeek and local servers understand), as the provider's catalog entry says."""
        known = PROVIDERS.get(self.provider)
        return known is not None and known.max_completion_tokens

    def _client(self) -> openai.OpenAI:
        if self._sdk is None:
            self._sdk = openai.OpenAI(
                api_key=self._api_key or NO_KEY,
                # Explicit, so OPENAI_BASE_URL in the environment cannot redirect the key.
                base_url=self.base_url or OPENAI_BASE_URL,
                max_retries=0,  # retries are ours (retry.RetryPolicy), visible in the stream
                timeout=self.http_timeout,
            )
        return self._sdk

    def _open(self, request: CompletionRequest, aborter: StreamAborter) -> PieceStream:
        kwargs: dict[str, Any] = (
            {"max_completion_tokens": request.max_tokens}
            if self.max_completion_tokens
            else {"max_tokens": request.max_tokens}
        )
        if request.tools:
            kwargs["tools"] = [_tool(tool) for tool in request.tools]
        stream = self._client().chat.completions.create(
            model=request.model,
            messages=messages(request),
            stream=True,
            stream_options={"include_usage": True},
            **kwargs,
        )
        aborter.track(stream.response)
        return self._pieces(stream, PendingCalls(request))

    @staticmethod
    def _pieces(stream: openai.Stream[ChatCompletionChunk], calls: PendingCalls) -> PieceStream:
        with stream:
            for chunk in stream:
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    if choice.delta.content:
                        yield choice.delta.content
                    for fragment in choice.delta.tool_calls or ():
                        _add_fragment(calls, fragment)
                    if choice.finish_reason is not None:
                        yield from calls.complete_all()
                if chunk.usage is not None:
                    # The usage chunk has empty choices; some servers also repeat running
                    # usage on content chunks, so only the empty-choices one is final.
                    yield UsageSnapshot(normalise_usage(chunk.usage), final=not chunk.choices)
            # A server that never sent a finish_reason still hands over its calls.
            yield from calls.complete_all()

    def _classify_status(self, exc: Exception) -> Failure | None:
        if not isinstance(exc, openai.APIStatusError):
            return None
        detail = _body_message(exc.body) or exc.message
        return status_failure(
            exc.status_code, detail, retry_after=retry_after_from_headers(exc.response.headers)
        )


def messages(request: CompletionRequest) -> list[ChatCompletionMessageParam]:
    """The system prompt and the conversation as Chat Completions messages."""
    result: list[ChatCompletionMessageParam] = []
    if request.system:
        result.append({"role": "system", "content": request.system})
    for turn in request.turns():
        if isinstance(turn, UserTurn):
            result.append({"role": "user", "content": turn.text})
        elif isinstance(turn, AssistantTurn):
            result.append(_assistant(turn))
        else:
            result.extend(
                {"role": "tool", "tool_call_id": r.call_id, "content": r.text}
                for r in turn.results
            )
    return result


def _assistant(turn: AssistantTurn) -> ChatCompletionAssistantMessageParam:
    if not turn.tool_calls:
        return {"role": "assistant", "content": turn.text}
    return {
        "role": "assistant",
        "content": turn.text or None,
        "tool_calls": [
            {"id": call.id, "type": "function",
             "function": {"name": call.name, "arguments": arguments_json(call)}}
            for call in turn.tool_calls
        ],
    }


def _tool(tool: ToolDefinition) -> ChatCompletionFunctionToolParam:
    return {"type": "function", "function": {
        "name": tool.name, "description": tool.description,
        "parameters": as_json(tool.parameters),
    }}


def _add_fragment(calls: PendingCalls, fragment: ChoiceDeltaToolCall) -> None:
    """One ``delta.tool_calls`` item into the call at its ``index``. A server that sends no
    index (some OpenAI-compatible ones) starts a new call with each new id."""
    index: int | None = fragment.index
    if index is None:
        last = calls.last_index
        if last is None:
            index = 0
        elif fragment.id in (None, calls[last].id):
            index = last
        else:
            index = last + 1
    pending = calls[index]
    if fragment.id and not pending.id:
        pending.id = fragment.id
    function = fragment.function
    if function is not None:
        if function.name and not pending.name:
            pending.name = function.name
        if function.arguments:
            pending.fragments.append(function.arguments)


def normalise_usage(usage: CompletionUsage) -> Usage:
    prompt_details = usage.prompt_tokens_details
    cached = prompt_details.cached_tokens if prompt_details is not None else None
    if cached is None:
        # DeepSeek: prompt_tokens = prompt_cache_hit_tokens + prompt_cache_miss_tokens.
        hit = (usage.model_extra or {}).get("prompt_cache_hit_tokens")
        cached = hit if isinstance(hit, int) else 0
    completion_details = usage.completion_tokens_details
    reasoning = completion_details.reasoning_tokens if completion_details is not None else None
    return Usage(
        input=max(usage.prompt_tokens - cached, 0),
        output=usage.completion_tokens,
        cache_read=cached,
        reasoning=reasoning or 0,
    )


def _body_message(body: object) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return ""
