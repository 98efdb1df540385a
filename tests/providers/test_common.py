"""The shared retry, retry-after, classification and estimation rules."""

from __future__ import annotations

import email.utils
import random
import time
from types import ModuleType

import anthropic
import httpx2
import openai
import pytest

from mma_qt.core.model.usage import Usage
from mma_qt.core.providers.common import estimated_usage
from mma_qt.core.providers.retry import (
    FailureKind,
    RetryPolicy,
    SdkErrors,
    kind_for_status,
    retry_after_from_headers,
    sdk_failure,
)


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(attempts=6, base_delay=1.0, max_delay=5.0)
    rng = random.Random(7)
    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (5, 5.0)]:
        for _ in range(50):
            assert ceiling / 2 <= policy.delay(retry, None, rng) <= ceiling


def test_retry_after_is_honoured_but_capped() -> None:
    policy = RetryPolicy(max_retry_after=10.0)
    rng = random.Random(1)
    assert policy.delay(1, 3.0, rng) == 3.0
    assert policy.delay(1, 600.0, rng) == 10.0


def test_retry_policy_refuses_no_attempts_and_negative_delays() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)


def test_retry_after_headers() -> None:
    assert retry_after_from_headers({"retry-after": "7"}) == 7.0
    assert retry_after_from_headers({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_from_headers({"retry-after": "soon"}) is None
    assert retry_after_from_headers({}) is None
    assert retry_after_from_headers(None) is None
    date = email.utils.formatdate(time.time() + 3600, usegmt=True)
    seconds = retry_after_from_headers({"retry-after": date})
    assert seconds is not None
    assert 3000 < seconds <= 3600


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, FailureKind.AUTH), (403, FailureKind.AUTH), (429, FailureKind.RATE_LIMIT),
        (500, FailureKind.SERVER), (529, FailureKind.SERVER), (409, FailureKind.SERVER),
        (408, FailureKind.TIMEOUT), (400, FailureKind.REQUEST), (404, FailureKind.REQUEST),
    ],
)
def test_status_classification(status: int, kind: FailureKind) -> None:
    assert kind_for_status(status) is kind


def test_estimate_without_any_report() -> None:
    assert estimated_usage("p" * 40, "o" * 9) == Usage(input=10, output=3, estimated=True)


def test_estimate_keeps_reported_input_and_cache() -> None:
    partial = Usage(input=120, output=1, cache_read=400, cache_write=30)
    assert estimated_usage("p" * 40, "o" * 9, partial) == Usage(
        input=120, output=3, cache_read=400, cache_write=30, estimated=True
    )


@pytest.mark.parametrize("sdk", [anthropic, openai], ids=["anthropic", "openai"])
def test_both_stainless_sdks_share_one_classification(sdk: ModuleType) -> None:
    errors = SdkErrors(sdk.APIError, sdk.APITimeoutError, sdk.APIConnectionError)
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1")
    refused = sdk.APIConnectionError(request=request)
    refused.__cause__ = ConnectionRefusedError("[Errno 111] Connection refused")

    timeout = sdk_failure(sdk.APITimeoutError(request=request), errors)
    connection = sdk_failure(refused, errors)
    in_stream = sdk_failure(sdk.APIError("bad payload", request, body=None), errors)
    raw = sdk_failure(httpx2.ReadTimeout("slow", request=request), errors)

    assert (timeout.kind, timeout.label) == (FailureKind.TIMEOUT, "a timeout")
    assert connection.kind is FailureKind.CONNECTION
    assert connection.detail.endswith(": [Errno 111] Connection refused")
    assert (in_stream.kind, in_stream.detail) == (FailureKind.SERVER, "bad payload")
    assert raw.kind is FailureKind.TIMEOUT
    assert all(f.retryable for f in (timeout, connection, in_stream, raw))
    with pytest.raises(TypeError):
        sdk_failure(ValueError("not an SDK error"), errors)
