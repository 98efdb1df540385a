"""The stream loop the SDK-backed providers share: retries, aborting a blocked HTTP
stream, usage estimation. Pure logic, no Qt.

Each adapter (:mod:`.anthropic_provider`, :mod:`.openai_provider`,
:mod:`.gemini_provider`) subclasses :class:`SdkClient` and supplies only what differs:
how to map the conversation and tools to its SDK's format, open its stream and turn events
into text, tool calls and usage, and how to classify its SDK's status errors (everything
else is classified by :func:`.retry.sdk_failure`). The
stream loop, retries, cancellation and estimation live here, once; the failure kinds and
the backoff are in :mod:`.retry`.

* A failure that :mod:`.retry` calls final, or the last allowed attempt's, raises a
  :class:`ProviderError`; every other is retried after ``cancel.wait(delay)`` (so
  cancelling interrupts the wait), and each retry is announced with a :class:`Notice`.
* Once text or a tool call has reached the stream a failure is never retried here (that
  would repeat it): the stream reports estimated usage, then raises a retryable
  ProviderError so the caller may retry the whole call.
* A tool call is a piece too: each adapter assembles its SDK's fragments into a
  :class:`ToolCall` (:class:`PendingCalls` for the ones streamed as JSON text) and yields it
  once it is complete.
* A call *began* when :meth:`SdkClient._open` returned: the provider answered 2xx (for
  Gemini: and sent its first chunk). A call that never began reports no usage and raises
  with ``began=False``; one that began and got no final figures gets an estimate.

Cancellation: ``cancel.on_cancel`` shuts the call's socket down. Closing an HTTP response
from another thread does not wake a thread blocked reading its socket (``close(2)`` does
not interrupt ``recv(2)`` on Linux); ``shutdown(2)`` does, so a stalled stream stops at
once. A request still waiting for its response headers stops when they arrive or the
timeout fires. A cancelled stream ends normally after its (estimated) :class:`UsageReport`.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import httpx2

from ..model.cancel import CancelToken
from ..model.usage import Usage
from ..settings import keys
from .base import (
    CompletionRequest,
    Notice,
    ProviderError,
    StreamItem,
    TextDelta,
    ToolCall,
    UsageReport,
)
from .retry import Failure, FailureKind, RetryPolicy, SdkErrors, sdk_failure, seconds
from .tool_calls import arguments_json

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds to wait for a TCP connection; the read timeout is the client's ``timeout``.
CONNECT_TIMEOUT = 10.0
#: Seconds between two bytes of a stream before it counts as timed out.
DEFAULT_TIMEOUT = 120.0


# -- aborting a stream from another thread ------------------------------------------------


class StreamAborter:
    """Lets a cancelling thread stop one call's HTTP stream; one per :meth:`stream` call.

    The worker thread :meth:`track`\\ s each response it opens and :meth:`release`\\ s
    (closes) it when done; :meth:`abort` (any thread) shuts the socket down so a blocked
    read returns at once, and makes any response tracked later abort immediately.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: httpx2.Response | None = None
        self._aborted = False

    def track(self, response: httpx2.Response) -> None:
        with self._lock:
            self._response = response
            aborted = self._aborted
        if aborted:
            _shutdown(response)

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            response = self._response
        if response is not None:
            _shutdown(response)

    def release(self) -> None:
        """Close the tracked response (in the worker thread)."""
        with self._lock:
            response, self._response = self._response, None
        if response is not None:
            response.close()


def _shutdown(response: httpx2.Response) -> None:
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            # Already closed by the worker thread: nothing left to stop.
            log.debug("socket already closed", exc_info=True)
        return
    # No socket to shut down (an HTTP/2 or custom transport): close the response instead.
    response.close()


def scrub(exc: BaseException, secrets: Iterable[str | None]) -> None:
    """Redact keys from the messages of ``exc`` and its causes, in place, so that a
    traceback logged later (e.g. of a ProviderError's ``__cause__``) shows none."""
    secrets = list(secrets)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(
            keys.redact(arg, secrets) if isinstance(arg, str) else arg for arg in current.args
        )
        message = getattr(current, "message", None)
        if isinstance(message, str):
            try:
                current.message = keys.redact(message, secrets)  # type: ignore[attr-defined]
            except AttributeError:
                log.debug("cannot redact %s.message", type(current).__name__, exc_info=True)
        current = current.__cause__ or current.__context__


# -- usage ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageSnapshot:
    """Usage seen in a stream. ``final``: the provider's closing figures for the call."""

    usage: Usage
    final: bool = True


Piece = str | UsageSnapshot | ToolCall
PieceStream = Generator[Piece, None, None]


def estimated_usage(prompt: str, text: str, partial: Usage | None = None) -> Usage:
    """Usage for a stream that got no final report: ``Usage.estimate(prompt, text)``,
    keeping what the provider did report (e.g. Anthropic's input and cache counts from
    ``message_start``). Always ``estimated=True``."""
    guess = Usage.estimate(prompt, text)
    if partial is None:
        return guess
    reported_input = partial.input or partial.cache_read or partial.cache_write
    return Usage(
        input=partial.input if reported_input else guess.input,
        output=max(partial.output, guess.output),
        cache_read=partial.cache_read,
        cache_write=partial.cache_write,
        reasoning=partial.reasoning,
        estimated=True,
    )


@dataclass(slots=True)
class _Seen:
    """What one call has seen so far, across its attempts."""

    text: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    partial: Usage | None = None
    final: Usage | None = None
    #: The current attempt began (see the module docstring).
    began: bool = False

    @property
    def emitted(self) -> bool:
        """Output reached the stream: a retry here would repeat it."""
        return bool(self.text or self.calls)

    def estimate(self, request: CompletionRequest) -> Usage:
        output = [*self.text, *(f"{c.name} {arguments_json(c)}" for c in self.calls)]
        return estimated_usage(request.input_text, "".join(output), self.partial)


# -- the adapter base --------------------------------------------------------------------


class SdkClient(ABC):
    """One call's client for one SDK. Never shared between calls or threads.

    Subclasses implement :meth:`_open` and :meth:`_classify_status` and name their SDK's
    exception classes in :attr:`sdk_errors`; the rest is here.
    """

    #: This SDK's exceptions (raw ``httpx2`` errors are caught and classified too).
    sdk_errors: ClassVar[SdkErrors] = SdkErrors(httpx2.HTTPError)

    #: The provider name used when the constructor is given none.
    default_provider: ClassVar[str] = ""

    def __init__(
        self,
        *,
        provider: str | None = None,
        api_key: str | None,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider or self.default_provider
        self.base_url = base_url
        self._api_key = api_key
        self._retry = retry or RetryPolicy()
        self._timeout = timeout
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r}, base_url={self.base_url!r})"

    @property
    def http_timeout(self) -> httpx2.Timeout:
        return httpx2.Timeout(self._timeout, connect=min(CONNECT_TIMEOUT, self._timeout))

    # -- for subclasses --

    @abstractmethod
    def _open(self, request: CompletionRequest, aborter: StreamAborter) -> PieceStream:
        """Send ``request``; raise at once on an error status; return the stream's pieces.

        Must pass the HTTP response to ``aborter.track`` as soon as it exists, and close
        the SDK stream when the returned generator finishes or is closed.
        """

    @abstractmethod
    def _classify_status(self, exc: Exception) -> Failure | None:
        """The failure for an SDK error that carries a status (an HTTP status, an error
        event in the stream); None for any other, which :func:`.retry.sdk_failure` takes."""

    def _classify(self, exc: Exception) -> Failure:
        failure = self._classify_status(exc)
        return failure if failure is not None else sdk_failure(exc, self.sdk_errors)

    #: The SDK client, created on first use by the subclass's ``_client()``.
    _sdk: Any = None

    def close(self) -> None:
        """Release the SDK client and its connections (idempotent)."""
        sdk, self._sdk = self._sdk, None
        if sdk is not None:
            sdk.close()

    # -- the stream loop --

    def stream(self, request: CompletionRequest, cancel: CancelToken) -> Iterator[StreamItem]:
        aborter = StreamAborter()
        cancel.on_cancel(aborter.abort)
        try:
            yield from self._stream(request, cancel, aborter)
        finally:
            aborter.release()
            self.close()

    def _stream(
        self, request: CompletionRequest, cancel: CancelToken, aborter: StreamAborter
    ) -> Iterator[StreamItem]:
        policy = self._retry
        seen = _Seen()
        attempt = 1
        while not cancel.cancelled:
            try:
                yield from self._attempt(request, cancel, aborter, seen)
                break
            except self.sdk_errors.caught as exc:
                scrub(exc, [self._api_key])
                if cancel.cancelled:
                    # The abort (socket shutdown) surfaces as a read error: expected.
                    log.debug("%s stream stopped by cancel", self.provider, exc_info=True)
                    break
                failure = self._classify(exc)
                exhausted = attempt >= policy.attempts
                if seen.emitted or not failure.retryable or exhausted:
                    if seen.began and seen.final is None:
                        yield UsageReport(seen.estimate(request), request.model)
                    message = self._message(failure, request, attempt if exhausted else 0)
                    raise ProviderError(
                        message, retryable=failure.retryable, began=seen.began
                    ) from exc
                delay = policy.delay(attempt, failure.retry_after, self._rng)
                attempt += 1
                yield self._retry_notice(failure, attempt, delay)
                aborter.release()
                seen.began, seen.partial = False, None
                if cancel.wait(delay):
                    break
        yield from self._final_report(request, cancel, seen)

    def _attempt(
        self,
        request: CompletionRequest,
        cancel: CancelToken,
        aborter: StreamAborter,
        seen: _Seen,
    ) -> Iterator[StreamItem]:
        pieces = self._open(request, aborter)
        seen.began = True
        try:
            for piece in pieces:
                if isinstance(piece, str):
                    if piece:
                        seen.text.append(piece)
                        yield TextDelta(piece)
                elif isinstance(piece, ToolCall):
                    seen.calls.append(piece)
                    yield piece
                elif piece.final:
                    seen.final = piece.usage
                else:
                    seen.partial = piece.usage
                if cancel.cancelled:
                    break
        finally:
            pieces.close()

    def _retry_notice(self, failure: Failure, attempt: int, delay: float) -> Notice:
        attempts = self._retry.attempts
        log.info(
            "%s: %s, retry %d/%d in %.2f s",
            self.provider, failure.label, attempt, attempts, delay,
        )
        return Notice(
            f"{self.provider}: retrying after {failure.label} "
            f"(attempt {attempt}/{attempts}) in {seconds(delay)}"
        )

    def _final_report(
        self, request: CompletionRequest, cancel: CancelToken, seen: _Seen
    ) -> Iterator[StreamItem]:
        if seen.final is not None:
            usage = seen.final
        elif seen.began:
            usage = seen.estimate(request)
            if not cancel.cancelled:
                yield Notice(f"{self.provider} reported no token usage; usage is estimated")
        else:
            usage = Usage()  # cancelled before the call began: nothing to pay for
        yield UsageReport(usage, request.model)

    def _message(self, failure: Failure, request: CompletionRequest, gave_up: int) -> str:
        detail = f": {failure.detail}" if failure.detail else ""
        if failure.kind is FailureKind.AUTH:
            what = "denied access" if failure.status == 403 else "rejected the API key"
            text = (
                f"{self.provider} {what} ({failure.label}{detail}). "
                f"Check the key: {keys.key_hint(self.provider)}."
            )
        else:
            text = f"{self.provider} request for {request.model} failed ({failure.label}{detail})"
            if failure.retryable and gave_up > 1:
                text += f"; gave up after {gave_up} attempts"
        return keys.redact(text, [self._api_key])
