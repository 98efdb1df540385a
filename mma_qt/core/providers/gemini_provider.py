"""Google Gemini through ``google-genai``'s ``generate_content_stream``. Pure logic, no Qt.

Usage comes from the ``usage_metadata`` of the last chunk:

* ``prompt_token_count`` includes ``cached_content_token_count``: input = prompt - cached
  (+ ``tool_use_prompt_token_count``), cache_read = cached;
* output = ``candidates_token_count`` + ``thoughts_token_count``. Google bills thinking
  tokens as output, and ``candidates_token_count`` excludes them (the documented total is
  prompt + candidates + tool-use prompt + thoughts), so they are added to output *and*
  recorded as ``reasoning`` (informational, already inside output).

Usage is final once a chunk carries a ``finish_reason``; a stream that ends without one
was cut short and gets an estimate that keeps the reported prompt counts.

The SDK sends the request lazily, on the first ``next()``; :meth:`GeminiClient._open`
pulls the first chunk so an error status is raised before the stream counts as started.
Thought parts (``part.thought``) are not reply text and are not streamed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from ..model.usage import Usage
from .base import CompletionRequest
from .common import Piece, PieceStream, SdkClient, StreamAborter, UsageSnapshot
from .retry import Failure, FailureKind, SdkErrors, retry_after_from_headers, status_failure

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_INVALID_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"})


class GeminiClient(SdkClient):
    default_provider: ClassVar[str] = "gemini"
    sdk_errors: ClassVar[SdkErrors] = SdkErrors(genai_errors.APIError)

    _sdk: genai.Client | None = None

    def _client(self, aborter: StreamAborter) -> genai.Client:
        if self._sdk is None:
            options = types.HttpOptions(
                base_url=self.base_url,
                timeout=int(self._timeout * 1000),  # milliseconds
                # No retry_options: the SDK does not retry; retries are ours.
                # The response hook hands each HTTP response to the aborter, the only way
                # to reach the socket of the SDK's generator from a cancelling thread.
                client_args={"event_hooks": {"response": [aborter.track]}},
            )
            self._sdk = genai.Client(api_key=self._api_key, vertexai=False, http_options=options)
        return self._sdk

    def _open(self, request: CompletionRequest, aborter: StreamAborter) -> PieceStream:
        config = types.GenerateContentConfig(
            system_instruction=request.system or None,
            max_output_tokens=request.max_tokens,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        chunks = self._client(aborter).models.generate_content_stream(
            model=request.model, contents=request.prompt, config=config
        )
        first = next(chunks, None)  # sends the request; raises on an error status
        return self._pieces(first, chunks)

    @staticmethod
    def _pieces(
        first: types.GenerateContentResponse | None,
        chunks: Iterator[types.GenerateContentResponse],
    ) -> PieceStream:
        try:
            if first is not None:
                yield from _chunk_pieces(first)
                for chunk in chunks:
                    yield from _chunk_pieces(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _classify_status(self, exc: Exception) -> Failure | None:
        if not isinstance(exc, genai_errors.APIError):
            return None
        detail = exc.message or str(exc)
        if exc.status:
            detail = f"{exc.status}: {detail}"
        headers = getattr(exc.response, "headers", None)
        retry_after = retry_after_from_headers(headers) or _retry_delay(exc.details)
        kind = FailureKind.AUTH if _invalid_key(exc.details) else None
        return status_failure(exc.code, detail, retry_after=retry_after, kind=kind)


def _chunk_pieces(chunk: types.GenerateContentResponse) -> list[Piece]:
    pieces: list[Piece] = []
    candidates = chunk.candidates or []
    finished = False
    if candidates:
        candidate = candidates[0]
        finished = candidate.finish_reason is not None
        parts = candidate.content.parts if candidate.content is not None else None
        for part in parts or []:
            if part.text and not part.thought:
                pieces.append(part.text)
    if chunk.usage_metadata is not None:
        pieces.append(UsageSnapshot(normalise_usage(chunk.usage_metadata), final=finished))
    return pieces


def normalise_usage(meta: types.GenerateContentResponseUsageMetadata) -> Usage:
    prompt = meta.prompt_token_count or 0
    cached = meta.cached_content_token_count or 0
    thoughts = meta.thoughts_token_count or 0
    return Usage(
        input=max(prompt - cached, 0) + (meta.tool_use_prompt_token_count or 0),
        output=(meta.candidates_token_count or 0) + thoughts,
        cache_read=cached,
        reasoning=thoughts,
    )


def _error_details(details: object) -> list[dict[str, object]]:
    error = details.get("error", details) if isinstance(details, dict) else None
    items = error.get("details") if isinstance(error, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _retry_delay(details: object) -> float | None:
    """``google.rpc.RetryInfo.retryDelay`` ("13s") from an error body, in seconds."""
    for item in _error_details(details):
        if str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _invalid_key(details: object) -> bool:
    """Gemini answers a bad key with HTTP 400 INVALID_ARGUMENT, reason API_KEY_INVALID."""
    return any(item.get("reason") in _INVALID_KEY_REASONS for item in _error_details(details))
