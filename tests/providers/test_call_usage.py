"""What a failed call costs, as the worker charges it: nothing for a call the provider
refused before its stream began, an estimate for a stream cut short after it began.

Each real SDK client runs through :func:`run_call` (the worker thread's function) against
a loopback wire server, or against a port where nothing listens.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from mma_qt.core.model.cancel import CancelToken, PauseGate
from mma_qt.core.model.domain import Tier
from mma_qt.core.model.usage import Usage
from mma_qt.core.providers.base import CompletionRequest, ProviderClient, ProviderError
from mma_qt.core.providers.demo import DemoClient, DemoWorkerError, Scenario, TicketScript
from mma_qt.core.run.worker import CallFailed, run_call

from .test_streaming import CASES, FAST, TEXTS, Case
from .wire import JsonReply, SSEReply, WireServer


def failed_call(client: ProviderClient, request: CompletionRequest) -> CallFailed:
    written: list[str] = []
    with pytest.raises(CallFailed) as info:
        run_call(client, request, written.append, CancelToken(), PauseGate())
    return info.value


@pytest.fixture
def closed_port_url() -> Iterator[str]:
    """A loopback port that is bound but not listening: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@pytest.mark.parametrize("status", [401, 403])
def test_call_refused_before_its_stream_adds_no_usage(
    case: Case, status: int, wire: WireServer
) -> None:
    wire.add(JsonReply(status, case.unauthorized.body))
    failed = failed_call(case.make(wire.base_url, FAST), case.request())

    assert isinstance(failed.cause, ProviderError)
    assert failed.cause.began is False
    assert failed.text == ""
    assert failed.usage == Usage()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_call_to_a_refused_connection_adds_no_usage(case: Case, closed_port_url: str) -> None:
    failed = failed_call(case.make(closed_port_url, FAST), case.request())

    assert isinstance(failed.cause, ProviderError)
    assert "connection error" in str(failed.cause)
    assert f"gave up after {FAST.attempts} attempts" in str(failed.cause)
    assert failed.usage == Usage()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_stream_cut_midway_is_still_charged_an_estimate(case: Case, wire: WireServer) -> None:
    wire.add(SSEReply(case.script(TEXTS).partial(2), ending="cut"))
    failed = failed_call(case.make(wire.base_url, FAST), case.request())

    assert isinstance(failed.cause, ProviderError)
    assert failed.cause.began is True
    assert failed.text == "".join(TEXTS[:2])
    assert failed.usage.estimated
    assert failed.usage.input > 0
    assert failed.usage.output == Usage.estimate("", failed.text).output


def test_client_failure_mid_stream_is_charged_an_estimate() -> None:
    """A failure that is not a provider's refusal (here the demo's scripted one, after
    three chunks) happened inside a stream that began: it gets an estimate."""
    script = TicketScript(raise_message="ConnectionResetError: gone", after_chunks=3)
    client = DemoClient(0, Scenario(tickets={"T-001": script}))
    request = CompletionRequest(
        Tier.WORKER, "demo-worker", "You are a worker.", "Ticket: T-001", "s", "T-001"
    )
    failed = failed_call(client, request)

    assert isinstance(failed.cause, DemoWorkerError)
    assert failed.text
    assert failed.usage == Usage.estimate(request.input_text, failed.text)
    assert failed.usage.estimated
