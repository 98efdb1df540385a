"""What the SDK-backed providers share: retry with backoff, aborting a blocked HTTP stream,
usage estimation and error classification. Pure logic, no Qt.

Each adapter (:mod:`.anthropic_provider`, :mod:`.openai_provider`,
:mod:`.gemini_provider`) subclasses :class:`SdkClient` and supplies only what differs:
how to open its SDK's stream and turn events into text and usage, and how to classify its
SDK's exceptions. The stream loop, retries, cancellation and estimation live here, once.

Retry rules:

* authentication/permission failures (401/403) and other client errors: no retry, a
  :class:`ProviderError` with ``retryable=False``;
* rate limits (429), server errors (5xx, 408, 409), timeouts and connection errors: up to
  :attr:`RetryPolicy.attempts` attempts with exponential backoff and jitter, honouring
  ``retry-after`` but capping it; each retry is announced with a :class:`Notice`, and the
  wait is ``cancel.wait(delay)`` so cancelling interrupts it;
* once text has reached the stream a failure is never retried here (that would repeat
  text): the stream reports estimated usage, then raises a retryable ProviderError so the
  caller may retry the whole call.

Cancellation: ``cancel.on_cancel`` shuts the call's socket down. Closing an HTTP response
from another thread does not wake a thread blocked reading its socket (``close(2)`` does
not interrupt ``recv(2)`` on Linux); ``shutdown(2)`` does, so a stalled stream stops at
once. A request still waiting for its response headers stops when they arrive or the
timeout fires. A cancelled stream ends normally after its (estimated) :class:`UsageReport`.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

import httpx2

from ..model.cancel import CancelToken
from ..model.usage import Usage
from ..settings import keys
from .base import CompletionRequest, Notice, ProviderError, StreamItem, TextDelta, UsageReport

log = logging.getLogger(__name__)

#: Seconds to wait for a TCP connection; the read timeout is the client's ``timeout``.
CONNECT_TIMEOUT = 10.0
#: Seconds between two bytes of a stream before it counts as timed out.
DEFAULT_TIMEOUT = 120.0


# -- failures ----------------------------------------------------------------------------


class FailureKind(StrEnum):
    AUTH = "auth"
    RATE_LIMIT = "rate_limit"
    SERVER = "server"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    REQUEST = "request"


_RETRYABLE = frozenset(
    {FailureKind.RATE_LIMIT, FailureKind.SERVER, FailureKind.TIMEOUT, FailureKind.CONNECTION}
)


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt, classified. ``detail`` may carry a key: it is redacted on use."""

    kind: FailureKind
    #: Short, for the retry notice: "HTTP 429", "a timeout", "an overloaded_error event".
    label: str
    detail: str = ""
    status: int | None = None
    #: Seconds the provider asked us to wait, if it said.
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in _RETRYABLE


def kind_for_status(status: int) -> FailureKind:
    if status in (401, 403):
        return FailureKind.AUTH
    if status == 429:
        return FailureKind.RATE_LIMIT
    if status == 408:
        return FailureKind.TIMEOUT
    if status == 409 or status >= 500:
        # 409: a lock/conflict timeout on the provider's side; both SDKs retry it too.
        return FailureKind.SERVER
    return FailureKind.REQUEST


def status_failure(
    status: int,
    detail: str,
    *,
    retry_after: float | None = None,
    kind: FailureKind | None = None,
) -> Failure:
    return Failure(
        kind=kind_for_status(status) if kind is None else kind,
        label=f"HTTP {status}",
        detail=detail,
        status=status,
        retry_after=retry_after,
    )


def transport_failure(exc: httpx2.HTTPError) -> Failure:
    """A failure of the HTTP layer itself (raw ``httpx2`` errors some SDKs let through)."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx2.TimeoutException):
        return Failure(FailureKind.TIMEOUT, "a timeout", detail)
    if isinstance(exc, httpx2.HTTPStatusError):
        response = exc.response
        return status_failure(
            response.status_code, detail, retry_after=retry_after_from_headers(response.headers)
        )
    if isinstance(exc, httpx2.TransportError):
        return Failure(FailureKind.CONNECTION, "a connection error", detail)
    return Failure(FailureKind.REQUEST, "an HTTP error", detail)


def retry_after_from_headers(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        seconds = _float(millis)
        if seconds is not None:
            return seconds / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _float(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        log.debug("unparseable retry-after header %r", value, exc_info=True)
        return None
    return max(0.0, float(when.timestamp()) - time.time())


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


# -- retry policy ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff and jitter.

    The n-th retry waits ``min(max_delay, base_delay * 2**(n-1))``, jittered into its
    upper half ("equal jitter"), or the provider's ``retry-after`` capped at
    ``max_retry_after``. Tests inject a tiny ``base_delay``.
    """

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 20.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_retry_after) < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the first retry)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(retry - 1, 0))
        return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


def _seconds(delay: float) -> str:
    return f"{delay:.1f} s" if delay >= 0.1 or delay == 0 else f"{delay * 1000:.0f} ms"


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

    @property
    def aborted(self) -> bool:
        return self._aborted

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


# -- usage -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageSnapshot:
    """Usage seen in a stream. ``final``: the provider's closing figures for the call."""

    usage: Usage
    final: bool = True


Piece = str | UsageSnapshot
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


def prompt_text(request: CompletionRequest) -> str:
    """Everything sent as input, for estimates."""
    return f"{request.system}\n\n{request.prompt}" if request.system else request.prompt


# -- the adapter base --------------------------------------------------------------------


class SdkClient(ABC):
    """One call's client for one SDK. Never shared between calls or threads.

    Subclasses implement :meth:`_open` and :meth:`_classify` and list the exception types
    their SDK raises in :attr:`errors`; the rest is here.
    """

    #: Exceptions of this SDK (and its HTTP layer) that :meth:`_classify` understands.
    errors: ClassVar[tuple[type[Exception], ...]] = (httpx2.HTTPError,)

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
    def _classify(self, exc: Exception) -> Failure:
        """Classify one of :attr:`errors`."""

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
        text: list[str] = []
        partial: Usage | None = None
        final: Usage | None = None
        sent = False  # a request of the current attempt left this process
        started = False  # ... and its stream opened (HTTP 200)
        attempt = 1
        while not cancel.cancelled:
            try:
                sent = True
                pieces = self._open(request, aborter)
                started = True
                try:
                    for piece in pieces:
                        if isinstance(piece, str):
                            if piece:
                                text.append(piece)
                                yield TextDelta(piece)
                        elif piece.final:
                            final = piece.usage
                        else:
                            partial = piece.usage
                        if cancel.cancelled:
                            break
                finally:
                    pieces.close()
                break
            except self.errors as exc:
                scrub(exc, [self._api_key])
                if cancel.cancelled:
                    # The abort (socket shutdown) surfaces as a read error: expected.
                    log.debug("%s stream stopped by cancel", self.provider, exc_info=True)
                    break
                failure = self._classify(exc)
                exhausted = attempt >= policy.attempts
                if text or not failure.retryable or exhausted:
                    if started and final is None:
                        usage = estimated_usage(prompt_text(request), "".join(text), partial)
                        yield UsageReport(usage, request.model)
                    message = self._message(failure, request, attempt if exhausted else 0)
                    raise ProviderError(message, retryable=failure.retryable) from exc
                delay = policy.delay(attempt, failure.retry_after, self._rng)
                attempt += 1
                log.info(
                    "%s: %s, retry %d/%d in %.2f s",
                    self.provider, failure.label, attempt, policy.attempts, delay,
                )
                yield Notice(
                    f"{self.provider}: retrying after {failure.label} "
                    f"(attempt {attempt}/{policy.attempts}) in {_seconds(delay)}"
                )
                aborter.release()
                sent = started = False
                partial = None
                if cancel.wait(delay):
                    break
        if final is not None:
            usage = final
        elif sent:
            usage = estimated_usage(prompt_text(request), "".join(text), partial)
            if not cancel.cancelled:
                yield Notice(f"{self.provider} reported no token usage; usage is estimated")
        else:
            usage = Usage()  # cancelled before anything was sent: nothing to pay for
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
