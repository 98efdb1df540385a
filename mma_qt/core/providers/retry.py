"""Failures and what to do about them: classification, ``retry-after``, backoff. No Qt.

Each adapter turns its SDK's exceptions into a :class:`Failure`; the stream loop in
:mod:`.common` retries the retryable ones under a :class:`RetryPolicy`:

* authentication/permission failures (401/403) and other client errors: no retry;
* rate limits (429), server errors (5xx, 408, 409), timeouts and connection errors: up to
  :attr:`RetryPolicy.attempts` attempts with exponential backoff and jitter, honouring
  ``retry-after`` but capping it.

:func:`sdk_failure` classifies the errors the two Stainless-generated SDKs (``anthropic``,
``openai``) share, and raw ``httpx2`` errors, so each adapter classifies only its status
errors itself.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import httpx2

log = logging.getLogger(__name__)


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


def _transport_failure(exc: httpx2.HTTPError) -> Failure:
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


# -- what the SDKs share ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SdkErrors:
    """The exception classes of one SDK. ``base`` covers all of them; the two
    Stainless-generated SDKs (``anthropic``, ``openai``) share one hierarchy and also name
    their ``timeout`` and ``connection`` errors (a timeout is a connection error there, so
    it is tested first)."""

    base: type[Exception]
    timeout: type[Exception] | None = None
    connection: type[Exception] | None = None

    @property
    def caught(self) -> tuple[type[Exception], ...]:
        """What a stream loop catches: the SDK's errors and raw ``httpx2`` ones."""
        return (self.base, httpx2.HTTPError)


def sdk_failure(exc: Exception, errors: SdkErrors) -> Failure:
    """Classify an error without a status: a timeout, a connection error, a raw
    ``httpx2`` error, or another error of the SDK (e.g. an error payload in a 200 stream).
    TypeError for anything that is not one of ``errors.caught``."""
    if errors.timeout is not None and isinstance(exc, errors.timeout):
        return Failure(FailureKind.TIMEOUT, "a timeout", str(exc))
    if errors.connection is not None and isinstance(exc, errors.connection):
        cause = exc.__cause__
        detail = f"{exc}: {cause}" if cause is not None else str(exc)
        return Failure(FailureKind.CONNECTION, "a connection error", detail)
    if isinstance(exc, httpx2.HTTPError):
        return _transport_failure(exc)
    if isinstance(exc, errors.base):
        return Failure(FailureKind.SERVER, "an error in the stream", str(exc))
    raise TypeError(f"not a {errors.base.__module__} error: {exc!r}") from exc


def seconds(delay: float) -> str:
    """``delay`` for a retry notice: "1.5 s", "5 ms"."""
    return f"{delay:.1f} s" if delay >= 0.1 or delay == 0 else f"{delay * 1000:.0f} ms"
