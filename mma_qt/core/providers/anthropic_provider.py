"""Anthropic Messages API, streamed. Pure logic, no Qt.

Usage: ``message_start.message.usage`` gives the input side (``input_tokens`` is uncached
input; ``cache_creation_input_tokens`` -> cache_write, ``cache_read_input_tokens`` ->
cache_read); ``message_delta.usage`` carries cumulative figures, whose ``output_tokens``
is final. Thinking tokens are part of ``output_tokens`` (reported in
``output_tokens_details.thinking_tokens`` -> reasoning).

An ``error`` event inside a 200 stream (e.g. ``overloaded_error``) is classified by its
error type, like the matching HTTP status.
"""

from __future__ import annotations

from typing import Any, ClassVar

import anthropic
from anthropic.types import MessageDeltaUsage, RawMessageStreamEvent
from anthropic.types import Usage as AnthropicUsage

from ..model.usage import Usage
from .base import CompletionRequest
from .common import PieceStream, SdkClient, StreamAborter, UsageSnapshot
from .retry import Failure, SdkErrors, retry_after_from_headers, status_failure

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
            kwargs["system"] = request.system
        stream = self._client().messages.create(
            model=request.model,
            max_tokens=request.max_tokens,
            messages=[{"role": "user", "content": request.prompt}],
            stream=True,
            **kwargs,
        )
        aborter.track(stream.response)
        return self._pieces(stream)

    @staticmethod
    def _pieces(stream: anthropic.Stream[RawMessageStreamEvent]) -> PieceStream:
        with stream:
            usage = Usage()
            for event in stream:
                if event.type == "message_start":
                    usage = _from_start(event.message.usage)
                    yield UsageSnapshot(usage, final=False)
                elif event.type == "content_block_delta":
                    if event.delta.type == "text_delta":
                        yield event.delta.text
                elif event.type == "message_delta":
                    usage = _from_delta(usage, event.usage)
                    yield UsageSnapshot(usage, final=True)

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
