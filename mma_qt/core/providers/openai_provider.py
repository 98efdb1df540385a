"""OpenAI Chat Completions, streamed; with a ``base_url`` also DeepSeek, OpenRouter and local
OpenAI-compatible servers (Ollama, llama.cpp, vLLM, LM Studio: see
:data:`.catalog.OPENAI_COMPATIBLE_PRESETS`). Pure logic, no Qt.

Usage is requested with ``stream_options={"include_usage": True}`` and arrives in a final
chunk whose ``choices`` is empty. ``prompt_tokens`` *includes*
``prompt_tokens_details.cached_tokens``, so input = prompt_tokens - cached and
cache_read = cached (DeepSeek reports ``prompt_cache_hit_tokens`` instead, read the same
way). ``completion_tokens`` includes ``completion_tokens_details.reasoning_tokens``.
A server that ignores ``include_usage`` gets estimated usage (see :mod:`.common`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from ..model.usage import Usage
from .base import CompletionRequest
from .catalog import PROVIDERS
from .common import PieceStream, SdkClient, StreamAborter, UsageSnapshot
from .retry import Failure, SdkErrors, retry_after_from_headers, status_failure

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
        messages: list[ChatCompletionMessageParam] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        limit: dict[str, Any] = (
            {"max_completion_tokens": request.max_tokens}
            if self.max_completion_tokens
            else {"max_tokens": request.max_tokens}
        )
        stream = self._client().chat.completions.create(
            model=request.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            **limit,
        )
        aborter.track(stream.response)
        return self._pieces(stream)

    @staticmethod
    def _pieces(stream: openai.Stream[ChatCompletionChunk]) -> PieceStream:
        with stream:
            for chunk in stream:
                for choice in chunk.choices:
                    if choice.index == 0 and choice.delta.content:
                        yield choice.delta.content
                if chunk.usage is not None:
                    # The usage chunk has empty choices; some servers also repeat running
                    # usage on content chunks, so only the empty-choices one is final.
                    yield UsageSnapshot(normalise_usage(chunk.usage), final=not chunk.choices)

    def _classify_status(self, exc: Exception) -> Failure | None:
        if not isinstance(exc, openai.APIStatusError):
            return None
        detail = _body_message(exc.body) or exc.message
        return status_failure(
            exc.status_code, detail, retry_after=retry_after_from_headers(exc.response.headers)
        )


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
