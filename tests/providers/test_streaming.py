"""Each real SDK client against a loopback server speaking its provider's wire format.

No network and no sleeping: waits are on events, and the only time bounds are the
"finished within 1 s" upper bounds the issue asks for on cancellation.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.domain import Tier
from mma_qt.core.model.usage import Usage
from mma_qt.core.providers.anthropic_provider import AnthropicClient
from mma_qt.core.providers.base import (
    CompletionRequest,
    Notice,
    ProviderClient,
    ProviderError,
    StreamItem,
    TextDelta,
    UsageReport,
)
from mma_qt.core.providers.common import SdkClient
from mma_qt.core.providers.gemini_provider import GeminiClient
from mma_qt.core.providers.openai_provider import OpenAIClient
from mma_qt.core.providers.retry import RetryPolicy

from . import wire as wf
from .wire import JsonReply, Script, SSEReply, WireServer

KEY = "sk-test-0123456789abcdef-SECRET"
TEXTS = ["Hello", ", wor", "ld! ", "Here is ", "the plan", "."]
#: Tiny delays so retries run at full speed; the test itself never sleeps.
FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.005, max_retry_after=0.005)


@dataclass(frozen=True)
class Case:
    name: str
    model: str
    make: Callable[[str, RetryPolicy], SdkClient]
    script: Callable[[list[str]], Script]
    usage: Usage
    path_suffix: str
    key_header: tuple[str, str]
    unauthorized: JsonReply
    rate_limited: JsonReply
    unavailable: JsonReply

    def request(self) -> CompletionRequest:
        return CompletionRequest(
            tier=Tier.WORKER,
            model=self.model,
            system="You are a careful worker.",
            prompt="Ticket: T-001\nWrite the function.",
            stream_id="Tier 3 (Worker): T-001",
            ticket_id="T-001",
            max_tokens=256,
        )


CASES = [
    Case(
        name="anthropic",
        model="claude-sonnet-4-6",
        make=lambda url, policy: AnthropicClient(api_key=KEY, base_url=url, retry=policy),
        script=wf.anthropic_script,
        usage=Usage(input=120, output=57, cache_read=400, cache_write=30),
        path_suffix="/v1/messages",
        key_header=("authorization", f"Bearer {KEY}"),
        unauthorized=JsonReply(
            401, wf.anthropic_error(401, "authentication_error", f"invalid x-api-key {KEY}")
        ),
        rate_limited=JsonReply(
            429,
            wf.anthropic_error(429, "rate_limit_error", "Number of requests exceeded"),
            {"retry-after": "30"},
        ),
        unavailable=JsonReply(529, wf.anthropic_error(529, "overloaded_error", "Overloaded")),
    ),
    Case(
        name="openai",
        model="gpt-5-mini",
        make=lambda url, policy: OpenAIClient(api_key=KEY, base_url=f"{url}/v1", retry=policy),
        script=wf.openai_script,
        usage=Usage(input=200, output=80, cache_read=1000, reasoning=20),
        path_suffix="/v1/chat/completions",
        key_header=("authorization", f"Bearer {KEY}"),
        unauthorized=JsonReply(
            401, wf.openai_error(401, "invalid_api_key", f"Incorrect API key provided: {KEY}.")
        ),
        rate_limited=JsonReply(
            429,
            wf.openai_error(429, "rate_limit_exceeded", "Rate limit reached for requests"),
            {"retry-after-ms": "20000"},
        ),
        unavailable=JsonReply(503, wf.openai_error(503, "server_error", "The server is busy")),
    ),
    Case(
        name="gemini",
        model="gemini-2.5-flash",
        make=lambda url, policy: GeminiClient(api_key=KEY, base_url=f"{url}/", retry=policy),
        script=wf.gemini_script,
        usage=Usage(input=300, output=80, cache_read=600, reasoning=30),
        path_suffix="/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        key_header=("x-goog-api-key", KEY),
        unauthorized=JsonReply(
            401,
            wf.gemini_error(401, "UNAUTHENTICATED", f"Request had invalid credentials {KEY}"),
        ),
        rate_limited=JsonReply(
            429,
            wf.gemini_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded",
                [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "13s"}],
            ),
        ),
        unavailable=JsonReply(503, wf.gemini_error(503, "UNAVAILABLE", "Model overloaded")),
    ),
]


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


def collect(
    client: ProviderClient, request: CompletionRequest, cancel: CancelToken | None = None
) -> tuple[list[StreamItem], ProviderError | None]:
    items: list[StreamItem] = []
    try:
        for item in client.stream(request, cancel or CancelToken()):
            items.append(item)
    except ProviderError as exc:
        return items, exc
    return items, None


def texts(items: list[StreamItem]) -> list[str]:
    return [item.text for item in items if isinstance(item, TextDelta)]


def notices(items: list[StreamItem]) -> list[str]:
    return [item.text for item in items if isinstance(item, Notice)]


def reports(items: list[StreamItem]) -> list[UsageReport]:
    return [item for item in items if isinstance(item, UsageReport)]


class Consumer:
    """Consumes a stream in its own thread, signalling progress through events."""

    def __init__(
        self, client: ProviderClient, request: CompletionRequest, cancel: CancelToken,
        deltas_wanted: int = 0,
    ) -> None:
        self.items: list[StreamItem] = []
        self.error: BaseException | None = None
        self.got_deltas = threading.Event()
        self.got_notice = threading.Event()
        self._want = deltas_wanted
        self._client, self._request, self._cancel = client, request, cancel
        self.thread = threading.Thread(target=self._run, name="consumer")

    def _run(self) -> None:
        try:
            for item in self._client.stream(self._request, self._cancel):
                self.items.append(item)
                if isinstance(item, Notice):
                    self.got_notice.set()
                if len(texts(self.items)) >= self._want:
                    self.got_deltas.set()
        except BaseException as exc:
            self.error = exc
            raise


# -- a: full replies ---------------------------------------------------------------------


def test_streams_the_reply_chunk_by_chunk_with_normalised_usage(
    case: Case, wire: WireServer
) -> None:
    wire.add(SSEReply(case.script(TEXTS).full()))
    items, error = collect(case.make(wire.base_url, FAST), case.request())

    assert error is None
    assert texts(items) == TEXTS
    assert notices(items) == []
    assert isinstance(items[-1], UsageReport)
    assert reports(items) == [UsageReport(case.usage, case.model)]
    assert not items[-1].usage.estimated

    (sent,) = wire.requests
    assert sent.path.endswith(case.path_suffix)
    name, value = case.key_header
    assert sent.headers[name] == value


def test_request_carries_system_prompt_and_limit(case: Case, wire: WireServer) -> None:
    wire.add(SSEReply(case.script(TEXTS).full()))
    collect(case.make(wire.base_url, FAST), case.request())
    body = repr(wire.requests[0].body)
    assert "You are a careful worker." in body
    assert "Write the function." in body
    assert "256" in body


# -- b: retries, auth, stall, cut --------------------------------------------------------


def test_rate_limit_then_success_shows_one_retry_notice(case: Case, wire: WireServer) -> None:
    wire.add(case.rate_limited, SSEReply(case.script(TEXTS).full()))
    items, error = collect(case.make(wire.base_url, FAST), case.request())

    assert error is None
    (notice,) = notices(items)
    assert f"{case.name}: retrying after HTTP 429 (attempt 2/4) in" in notice
    # The provider's retry-after (30 s / 20 s / 13 s) is honoured but capped.
    assert notice.endswith(" 5 ms")
    assert texts(items) == TEXTS
    assert reports(items) == [UsageReport(case.usage, case.model)]
    assert len(wire.requests) == 2


def test_auth_error_is_not_retried_and_hides_the_key(case: Case, wire: WireServer) -> None:
    wire.add(case.unauthorized, SSEReply(case.script(TEXTS).full()))
    items, error = collect(case.make(wire.base_url, FAST), case.request())

    assert isinstance(error, ProviderError)
    assert error.retryable is False
    assert error.began is False  # refused before any stream: nothing to pay for
    assert len(wire.requests) == 1
    assert items == []
    message = str(error)
    assert "HTTP 401" in message
    assert "API key" in message
    assert KEY not in message
    assert "SECRET" not in message


def test_server_errors_give_up_after_the_attempt_limit(case: Case, wire: WireServer) -> None:
    wire.add(*[case.unavailable] * 4)
    items, error = collect(case.make(wire.base_url, FAST), case.request())

    assert isinstance(error, ProviderError)
    assert error.retryable is True
    assert error.began is False
    assert reports(items) == []
    assert "gave up after 4 attempts" in str(error)
    assert [n.split(" (")[1].split(")")[0] for n in notices(items)] == [
        "attempt 2/4", "attempt 3/4", "attempt 4/4",
    ]
    assert len(wire.requests) == 4


def test_stalled_stream_is_cancelled_promptly(case: Case, wire: WireServer) -> None:
    wire.add(SSEReply(case.script(TEXTS).partial(3), ending="hang"))
    cancel = CancelToken()
    consumer = Consumer(case.make(wire.base_url, FAST), case.request(), cancel, deltas_wanted=3)
    consumer.thread.start()
    assert consumer.got_deltas.wait(10), "the first deltas never arrived"
    assert wire.hanging.wait(10)

    cancel.cancel("user cancelled")
    consumer.thread.join(timeout=1.0)

    assert not consumer.thread.is_alive(), "the stalled stream did not stop within 1 s"
    assert consumer.error is None
    assert texts(consumer.items) == TEXTS[:3]
    last = consumer.items[-1]
    assert isinstance(last, UsageReport)
    assert last.usage.estimated
    assert last.usage.output > 0


def test_stream_cut_midway_reports_estimated_usage(case: Case, wire: WireServer) -> None:
    wire.add(SSEReply(case.script(TEXTS).partial(2), ending="cut"))
    request = case.request()
    items, error = collect(case.make(wire.base_url, FAST), request)

    assert isinstance(error, ProviderError)
    assert error.retryable is True  # the caller may retry the whole call
    assert error.began is True
    assert texts(items) == TEXTS[:2]
    (report,) = reports(items)
    assert items[-1] is report
    assert report.usage.estimated
    assert report.usage.output == Usage.estimate("", "".join(TEXTS[:2])).output
    assert len(wire.requests) == 1  # text had reached the stream: not retried here


def test_cut_before_any_text_is_retried(case: Case, wire: WireServer) -> None:
    script = case.script(TEXTS)
    wire.add(SSEReply(script.partial(0), ending="cut"), SSEReply(script.full()))
    items, error = collect(case.make(wire.base_url, FAST), case.request())

    assert error is None
    (notice,) = notices(items)
    assert "retrying after a connection error (attempt 2/4)" in notice
    assert texts(items) == TEXTS
    assert reports(items) == [UsageReport(case.usage, case.model)]


def test_cancel_interrupts_the_backoff_wait(case: Case, wire: WireServer) -> None:
    wire.add(case.rate_limited)
    slow = RetryPolicy(attempts=4, base_delay=30, max_delay=30, max_retry_after=30)
    cancel = CancelToken()
    consumer = Consumer(case.make(wire.base_url, slow), case.request(), cancel)
    consumer.thread.start()
    assert consumer.got_notice.wait(10)

    cancel.cancel()
    consumer.thread.join(timeout=1.0)

    assert not consumer.thread.is_alive(), "the backoff wait ignored the cancel"
    assert consumer.error is None
    assert reports(consumer.items) == [UsageReport(Usage(), case.model)]
    assert len(wire.requests) == 1


def test_already_cancelled_sends_nothing(case: Case, wire: WireServer) -> None:
    cancel = CancelToken()
    cancel.cancel()
    items, error = collect(case.make(wire.base_url, FAST), case.request(), cancel)
    assert error is None
    assert items == [UsageReport(Usage(), case.model)]
    assert wire.requests == []


# -- provider specifics ------------------------------------------------------------------


def test_anthropic_overloaded_event_before_text_is_retried(wire: WireServer) -> None:
    case = CASES[0]
    overloaded = [
        *wf.anthropic_script([]).head[:1],
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", '
        b'"message": "Overloaded"}}\n\n',
    ]
    wire.add(SSEReply(overloaded), SSEReply(case.script(TEXTS).full()))
    items, error = collect(case.make(wire.base_url, FAST), case.request())

    assert error is None
    (notice,) = notices(items)
    assert "retrying after an overloaded_error event (attempt 2/4)" in notice
    assert texts(items) == TEXTS


def test_openai_server_without_usage_gets_an_estimate(wire: WireServer) -> None:
    case = CASES[1]
    script = case.script(TEXTS)
    no_usage = [*script.head, *script.deltas, script.tail[0], b"data: [DONE]\n\n"]
    wire.add(SSEReply(no_usage))
    request = case.request()
    items, error = collect(case.make(wire.base_url, FAST), request)

    assert error is None
    assert texts(items) == TEXTS
    assert notices(items) == ["openai reported no token usage; usage is estimated"]
    system_and_prompt = f"{request.system}\n\n{request.prompt}"
    assert reports(items) == [
        UsageReport(Usage.estimate(system_and_prompt, "".join(TEXTS)), case.model)
    ]


def test_openai_local_server_needs_no_key(wire: WireServer) -> None:
    case = CASES[1]
    wire.add(SSEReply(case.script(TEXTS).full()))
    client = OpenAIClient(provider="ollama", api_key=None, base_url=f"{wire.base_url}/v1")
    items, error = collect(client, case.request())
    assert error is None
    assert texts(items) == TEXTS
    assert "max_tokens" in wire.requests[0].body
    assert wire.requests[0].body["stream_options"] == {"include_usage": True}


def test_openai_proper_uses_max_completion_tokens(wire: WireServer) -> None:
    case = CASES[1]
    wire.add(SSEReply(case.script(TEXTS).full()))
    client = OpenAIClient(api_key=KEY, base_url=f"{wire.base_url}/v1")
    assert client.provider == "openai"
    collect(client, case.request())
    assert wire.requests[0].body["max_completion_tokens"] == 256
    assert "max_tokens" not in wire.requests[0].body


def test_deepseek_cache_hit_fields(wire: WireServer) -> None:
    case = CASES[1]
    usage = {"prompt_tokens": 500, "completion_tokens": 40, "total_tokens": 540,
             "prompt_cache_hit_tokens": 300, "prompt_cache_miss_tokens": 200}
    wire.add(SSEReply(wf.openai_script(TEXTS, "deepseek-chat", usage).full()))
    client = OpenAIClient(provider="deepseek", api_key=KEY, base_url=f"{wire.base_url}/v1")
    items, _ = collect(client, case.request())
    assert reports(items)[0].usage == Usage(input=200, output=40, cache_read=300)


def test_gemini_invalid_key_400_is_an_auth_error(wire: WireServer) -> None:
    case = CASES[2]
    wire.add(JsonReply(400, wf.gemini_error(
        400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
        [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
          "domain": "googleapis.com"}],
    )))
    _items, error = collect(case.make(wire.base_url, FAST), case.request())
    assert isinstance(error, ProviderError)
    assert not error.retryable
    assert "rejected the API key (HTTP 400" in str(error)
    assert "GEMINI_API_KEY" in str(error)
    assert len(wire.requests) == 1


def test_gemini_thought_parts_are_not_streamed(wire: WireServer) -> None:
    case = CASES[2]
    thought = wf._gemini({
        "candidates": [{"content": {"parts": [{"text": "pondering", "thought": True}],
                                    "role": "model"}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 900, "totalTokenCount": 900},
    })
    wire.add(SSEReply([thought, *case.script(TEXTS).full()]))
    items, _ = collect(case.make(wire.base_url, FAST), case.request())
    assert texts(items) == TEXTS


def test_key_is_scrubbed_from_the_error_chain(wire: WireServer) -> None:
    """A traceback of the ProviderError (with its SDK cause) must not show the key."""
    case = CASES[1]
    wire.add(case.unauthorized)
    _items, error = collect(case.make(wire.base_url, FAST), case.request())
    assert isinstance(error, ProviderError)
    assert error.__cause__ is not None
    rendered = "".join(traceback.format_exception(error))
    assert "Incorrect API key provided" in rendered
    assert KEY not in rendered
