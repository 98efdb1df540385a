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

Tools: offered as one ``types.Tool(function_declarations=[...])`` whose declarations carry
the JSON schema in ``parameters_json_schema`` (the field that takes a raw JSON schema;
``parameters`` wants the SDK's OpenAPI-subset ``Schema``). Automatic function calling is
off: the tool loop runs the calls. A ``function_call`` part arrives whole and is yielded
at once; its ``id`` may be absent (then the call gets a :func:`.common.local_call_id`, and
no id is sent back), and its ``thought_signature`` (Gemini 3 refuses a history without it)
travels in ``ToolCall.extra`` as base64 text. An assistant turn goes back as a ``model``
content (text, then the ``function_call`` parts with their signatures); results as
``function_response`` parts of a ``user`` content (``name``, ``response={"result": text}``
or ``{"error": text}``). A ``MALFORMED_FUNCTION_CALL`` finish becomes a call with
``error`` set; in the history it and its result are plain text, as there is no call to
answer.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from ..model.usage import Usage
from .base import (
    AssistantTurn,
    CompletionRequest,
    ToolCall,
    ToolDefinition,
    ToolOutcome,
    Turn,
    UserTurn,
)
from .common import Piece, PieceStream, SdkClient, StreamAborter, UsageSnapshot
from .retry import Failure, FailureKind, SdkErrors, retry_after_from_headers, status_failure
from .tool_calls import as_json, local_call_id, merge_roles

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_INVALID_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"})
#: ``ToolCall.extra`` keys: the id Gemini gave the call, its thought signature (base64).
GEMINI_ID = "gemini_id"
THOUGHT_SIGNATURE = "thought_signature"


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
            tools=[_tools(request.tools)] if request.tools else None,
        )
        chunks = self._client(aborter).models.generate_content_stream(
            model=request.model, contents=contents(request.turns()), config=config
        )
        first = next(chunks, None)  # sends the request; raises on an error status
        return self._pieces(first, chunks, _Calls(request))

    @staticmethod
    def _pieces(
        first: types.GenerateContentResponse | None,
        chunks: Iterator[types.GenerateContentResponse],
        calls: _Calls,
    ) -> PieceStream:
        try:
            if first is not None:
                yield from _chunk_pieces(first, calls)
                for chunk in chunks:
                    yield from _chunk_pieces(chunk, calls)
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


class _Calls:
    """Turns one round's ``function_call`` parts into :class:`ToolCall` items."""

    def __init__(self, request: CompletionRequest) -> None:
        self._request = request
        self._count = 0

    def _next_id(self, given: str | None) -> str:
        call_id = given or local_call_id(self._request, self._count)
        self._count += 1
        return call_id

    def call(self, part: types.Part, function_call: types.FunctionCall) -> ToolCall:
        extra: dict[str, Any] = {}
        if function_call.id:
            extra[GEMINI_ID] = function_call.id
        if part.thought_signature:
            extra[THOUGHT_SIGNATURE] = base64.b64encode(part.thought_signature).decode("ascii")
        return ToolCall(
            self._next_id(function_call.id),
            function_call.name or "",
            dict(function_call.args or {}),
            extra=extra,
        )

    def malformed(self, message: str | None) -> ToolCall:
        detail = f" ({message})" if message else ""
        return ToolCall(
            self._next_id(None), "", {},
            error=(
                f"Gemini could not parse the function call it wrote (MALFORMED_FUNCTION_CALL)"
                f"{detail}; call the tool again with valid arguments"
            ),
        )


def _chunk_pieces(chunk: types.GenerateContentResponse, calls: _Calls) -> list[Piece]:
    pieces: list[Piece] = []
    candidates = chunk.candidates or []
    finished = False
    if candidates:
        candidate = candidates[0]
        finished = candidate.finish_reason is not None
        parts = candidate.content.parts if candidate.content is not None else None
        for part in parts or []:
            if part.function_call is not None:
                pieces.append(calls.call(part, part.function_call))
            elif part.text and not part.thought:
                pieces.append(part.text)
        if candidate.finish_reason == types.FinishReason.MALFORMED_FUNCTION_CALL:
            pieces.append(calls.malformed(candidate.finish_message))
    if chunk.usage_metadata is not None:
        pieces.append(UsageSnapshot(normalise_usage(chunk.usage_metadata), final=finished))
    return pieces


def contents(turns: tuple[Turn, ...]) -> list[types.Content]:
    """The conversation as ``generate_content`` contents (consecutive same-role turns
    merged into one content)."""
    calls = {
        call.id: call
        for turn in turns if isinstance(turn, AssistantTurn)
        for call in turn.tool_calls
    }
    merged = merge_roles(_parts(turn, calls) for turn in turns)
    return [types.Content(role=role, parts=parts) for role, parts in merged]


def _parts(turn: Turn, calls: dict[str, ToolCall]) -> tuple[str, list[types.Part]]:
    if isinstance(turn, UserTurn):
        return "user", [types.Part(text=turn.text)] if turn.text else []
    if isinstance(turn, AssistantTurn):
        parts = [types.Part(text=turn.text)] if turn.text else []
        parts.extend(_call_part(call) for call in turn.tool_calls)
        return "model", parts
    return "user", [_result_part(result, calls.get(result.call_id)) for result in turn.results]


def _call_part(call: ToolCall) -> types.Part:
    if call.error:  # nothing Gemini could call: say in words what happened
        return types.Part(text=f"(a malformed call of {call.name or 'a function'})")
    signature = call.extra.get(THOUGHT_SIGNATURE)
    return types.Part(
        function_call=types.FunctionCall(
            id=call.extra.get(GEMINI_ID), name=call.name, args=as_json(call.arguments)
        ),
        thought_signature=base64.b64decode(signature) if signature else None,
    )


def _result_part(result: ToolOutcome, call: ToolCall | None) -> types.Part:
    if call is not None and call.error:
        return types.Part(text=result.text)
    key = "error" if result.is_error else "result"
    return types.Part(
        function_response=types.FunctionResponse(
            id=call.extra.get(GEMINI_ID) if call is not None else None,
            name=result.name,
            response={key: result.text},
        )
    )


def _tools(tools: tuple[ToolDefinition, ...]) -> types.Tool:
    return types.Tool(function_declarations=[
        types.FunctionDeclaration(
            name=tool.name,
            description=tool.description,
            parameters_json_schema=as_json(tool.parameters),
        )
        for tool in tools
    ])


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
