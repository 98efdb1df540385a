"""HookServer with real sockets, the stdlib client and the CLI.

The server answers only while the Qt event loop runs, so every blocking client call runs
in a worker thread and the test waits for it with ``qtbot.waitUntil``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from mma_qt import PROTOCOL_VERSION
from mma_qt.hooks import cli
from mma_qt.hooks.client import (
    ApiHookClient,
    HookCallError,
    HookProtocolError,
    HookUnavailableError,
)
from mma_qt.hooks.protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    MAX_LINE_BYTES,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    LargeResult,
    RpcError,
    request_line,
    resolve_hook_address,
)
from mma_qt.hooks.server import HookServer, HookServerError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="AF_UNIX sockets")

T = TypeVar("T")
BIG_TEXT = ("héllo wörld ✓ " * 220_000)[:3_000_000]


PONG = {"pong": True, "protocol": PROTOCOL_VERSION}


class FakeDispatcher:
    """Stands in for the application: a few methods with each kind of outcome."""

    def __init__(self, protocol: object = PROTOCOL_VERSION) -> None:
        self.calls: list[str] = []
        self.params: dict[str, dict[str, Any]] = {}
        self.status = "idle"
        self.values: dict[str, Any] = {}
        self.protocol = protocol
        self.during_call: Callable[[], None] | None = None

    def call(self, method: str, params: dict[str, Any]) -> Any:
        self.calls.append(method)
        self.params[method] = params
        if self.during_call is not None and method == "large_text":
            self.during_call()
        if method == "ping":
            return {"pong": True, "protocol": self.protocol}
        if method in ("echo", "start_epic", "approve", "reject"):
            return params
        if method == "slow_text":
            return BIG_TEXT
        if method == "large_text":
            return LargeResult(BIG_TEXT)
        if method == "boom":
            raise RuntimeError("kaboom")
        if method == "needs_int":
            if not isinstance(params.get("n"), int):
                raise RpcError(INVALID_PARAMS, "n must be an integer")
            return params["n"] * 2
        if method == "get_mma_status":
            return {"status": self.status}
        if method == "get_stream":
            return {"text": f"stream {params['stream_id']}\nfrom {params['offset']}"}
        if method == "set_value":
            self.values[params["name"]] = params["value"]
            return True
        if method == "get_value":
            return self.values.get(params["name"])
        raise RpcError(METHOD_NOT_FOUND, f"method not found: {method}")


class RawClient:
    """A bare socket, for bytes the real client would never send."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(15)
        self.sock.connect(path)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_line(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "server closed the connection"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    def read_to_eof(self) -> bytes:
        data = self.buffer
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def sock_dir() -> Iterator[str]:
    # tmp_path can exceed the ~107-byte AF_UNIX path limit; mkdtemp stays short.
    folder = tempfile.mkdtemp(prefix="mq")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="hook-test")
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def dispatcher() -> FakeDispatcher:
    return FakeDispatcher()


@pytest.fixture
def server(
    qapp: Any, pool: ThreadPoolExecutor, sock_dir: str, dispatcher: FakeDispatcher
) -> Iterator[HookServer]:
    srv = HookServer(os.path.join(sock_dir, "run", "h.sock"), dispatcher)
    srv.listen()
    yield srv
    srv.close()


@pytest.fixture
def run(qtbot: QtBot, pool: ThreadPoolExecutor) -> Callable[..., Any]:
    """Run a blocking callable in a worker while the Qt loop serves it; return its result."""

    def runner(fn: Callable[..., T], *args: Any, timeout_ms: int = 30_000) -> T:
        future: Future[T] = pool.submit(fn, *args)
        qtbot.waitUntil(future.done, timeout=timeout_ms)
        return future.result()

    return runner


def _error_of(client: ApiHookClient, method: str, params: dict[str, Any] | None = None) -> Any:
    with pytest.raises(HookCallError) as info:
        client.call(method, params)
    return info.value


# -- listening ---------------------------------------------------------------------------


def test_socket_and_folder_are_private(server: HookServer, sock_dir: str) -> None:
    path = server.path
    assert path == os.path.join(sock_dir, "run", "h.sock")
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def test_bare_name_lands_where_resolve_hook_address_says(
    qapp: Any, sock_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", sock_dir)
    srv = HookServer("mq-bare", FakeDispatcher())
    try:
        path = srv.listen()
        assert path == resolve_hook_address("mq-bare") == os.path.join(sock_dir, "mq-bare")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    finally:
        srv.close()


def test_live_server_is_not_stolen_but_stale_socket_is_replaced(
    server: HookServer, sock_dir: str, dispatcher: FakeDispatcher
) -> None:
    second = HookServer(server.path, dispatcher)
    with pytest.raises(HookServerError, match="already listening"):
        second.listen()
    assert server.is_listening() and os.path.exists(server.path)

    stale = os.path.join(sock_dir, "stale.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as leftover:
        leftover.bind(stale)  # a socket file with nobody listening, as after a crash
    third = HookServer(stale, dispatcher)
    try:
        assert third.listen() == stale
    finally:
        third.close()


def test_close_removes_the_socket_and_clients_see_it(
    server: HookServer, run: Callable[..., Any]
) -> None:
    path = server.path
    client = ApiHookClient(path, timeout=10)
    try:
        assert run(client.ping) == PONG
        server.close()
        assert not os.path.exists(path)
        with pytest.raises(HookUnavailableError, match="no mma-qt hook listening"):
            run(ApiHookClient(path).ping)
    finally:
        client.close()


# -- requests and errors -------------------------------------------------------------------


def test_malformed_json_answered_and_connection_stays_usable(
    server: HookServer, run: Callable[..., Any]
) -> None:
    def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        with RawClient(server.path) as raw:
            raw.send(b"{this is not json\n")
            first = raw.read_line()
            raw.send(request_line(1, "echo", {}))
            return first, raw.read_line()

    first, second = run(scenario)
    assert first["id"] is None
    assert first["error"]["code"] == PARSE_ERROR
    assert second == {"jsonrpc": "2.0", "result": {}, "id": 1}


def test_invalid_requests_and_notifications(
    server: HookServer, run: Callable[..., Any], dispatcher: FakeDispatcher
) -> None:
    def scenario() -> list[dict[str, Any]]:
        with RawClient(server.path) as raw:
            raw.send(b'"just a string"\n[]\n')
            raw.send(b'{"jsonrpc":"2.0","method":"echo","params":{"n":0}}\n')  # notification
            raw.send(request_line("last", "echo", {"n": 1}))
            return [raw.read_line() for _ in range(3)]

    not_object, empty_batch, answer = run(scenario)
    assert not_object["error"]["code"] == INVALID_REQUEST
    assert empty_batch["error"]["code"] == INVALID_REQUEST and empty_batch["id"] is None
    assert answer == {"jsonrpc": "2.0", "result": {"n": 1}, "id": "last"}
    assert dispatcher.calls == ["echo", "echo"]  # the notification ran, unanswered


def test_batch_is_answered_on_one_line_and_a_notification_batch_not_at_all(
    server: HookServer, run: Callable[..., Any], dispatcher: FakeDispatcher
) -> None:
    def scenario() -> list[Any]:
        with RawClient(server.path) as raw:
            raw.send(
                b'[{"jsonrpc":"2.0","method":"echo","params":{"n":1},"id":1},'
                b'{"jsonrpc":"2.0","method":"echo","params":{"n":2}},'
                b'{"jsonrpc":"2.0","method":"large_text","id":3},'
                b'{"jsonrpc":"2.0","method":"nope","id":4}]\n'
            )
            raw.send(b'[{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","method":"echo"}]\n')
            raw.send(request_line("after", "echo", {}))
            return [raw.read_line(), raw.read_line()]

    batch, after = run(scenario)
    assert [(a["id"], "result" in a) for a in batch] == [(1, True), (3, True), (4, False)]
    assert batch[1]["result"] == BIG_TEXT
    assert batch[2]["error"]["code"] == METHOD_NOT_FOUND
    assert after == {"jsonrpc": "2.0", "result": {}, "id": "after"}  # nothing in between
    assert dispatcher.calls.count("echo") == 5


def test_oversized_line_closes_only_that_connection(
    server: HookServer, run: Callable[..., Any]
) -> None:
    other = ApiHookClient(server.path, timeout=10)
    try:
        assert run(other.call, "echo", {"n": 1}) == {"n": 1}

        def flood() -> bytes:
            with RawClient(server.path) as raw:
                payload = b'{"jsonrpc":"2.0","method":"echo","params":{"x":"'
                payload += b"a" * (2 * 1024 * 1024) + b'"},"id":1}\n'
                try:
                    raw.send(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # expected: the server hangs up before reading it all
                return raw.read_to_eof()

        received = run(flood)
        assert [json.loads(line) for line in received.splitlines()] == [
            {
                "jsonrpc": "2.0",
                "error": {"code": INVALID_REQUEST, "message": "line exceeds 1 MiB"},
                "id": None,
            }
        ]
        assert run(other.call, "echo", {"n": 2}) == {"n": 2}
        assert server.connection_count() == 1
    finally:
        other.close()


def test_unknown_method_and_bad_params(server: HookServer, run: Callable[..., Any]) -> None:
    with ApiHookClient(server.path, timeout=10) as client:
        missing = run(_error_of, client, "no_such_method")
        assert missing.code == METHOD_NOT_FOUND
        assert "no_such_method" in missing.message
        bad = run(_error_of, client, "needs_int", {"n": "three"})
        assert (bad.code, bad.message) == (INVALID_PARAMS, "n must be an integer")
        bad_subscribe = run(_error_of, client, "subscribe", {"types": "status"})
        assert bad_subscribe.code == INVALID_PARAMS
        assert run(client.call, "needs_int", {"n": 3}) == 6


def test_internal_error_is_reported_logged_and_survived(
    server: HookServer, run: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    with ApiHookClient(server.path, timeout=10) as client:
        with caplog.at_level(logging.ERROR):
            error = run(_error_of, client, "boom")
        assert (error.code, error.message) == (INTERNAL_ERROR, "RuntimeError: kaboom")
        logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(logged) == 1 and logged[0].exc_info is not None
        assert run(client.ping) == PONG


@pytest.mark.parametrize("method", ["slow_text", "large_text"])
def test_large_response_is_read_completely(
    server: HookServer, run: Callable[..., Any], method: str
) -> None:
    with ApiHookClient(server.path, timeout=20) as client:
        text = run(client.call, method)
        assert len(text) == len(BIG_TEXT)
        assert text == BIG_TEXT
        assert run(client.ping) == PONG  # nothing left over from the big answer


def test_fifty_concurrent_clients(
    server: HookServer, pool: ThreadPoolExecutor, qtbot: QtBot
) -> None:
    def session(i: int) -> list[Any]:
        with ApiHookClient(server.path, timeout=30) as client:
            return [client.call("echo", {"client": i, "call": k}) for k in range(5)]

    futures = [pool.submit(session, i) for i in range(50)]
    qtbot.waitUntil(lambda: all(f.done() for f in futures), timeout=60_000)
    for i, future in enumerate(futures):
        assert future.result() == [{"client": i, "call": k} for k in range(5)]


def test_client_leaving_before_its_answer_does_not_disturb_others(
    server: HookServer,
    run: Callable[..., Any],
    qtbot: QtBot,
    dispatcher: FakeDispatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def hit_and_run() -> None:
        with RawClient(server.path) as raw:
            raw.send(request_line(1, "slow_text"))

    with caplog.at_level(logging.DEBUG, logger="mma_qt.hooks"):
        run(hit_and_run)
        qtbot.waitUntil(lambda: "slow_text" in dispatcher.calls)
        qtbot.waitUntil(lambda: server.connection_count() == 0)
        with ApiHookClient(server.path, timeout=10) as client:
            assert run(client.call, "echo", {"still": "here"}) == {"still": "here"}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_idle_partial_line_is_timed_out(
    qapp: Any,
    sock_dir: str,
    run: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    srv = HookServer(os.path.join(sock_dir, "t.sock"), FakeDispatcher(), read_timeout_s=0.2)
    path = srv.listen()
    try:

        def stall() -> bytes:
            with RawClient(path) as raw:
                raw.send(b'{"jsonrpc":"2.0","meth')
                return raw.read_to_eof()

        with caplog.at_level(logging.WARNING, logger="mma_qt.hooks.server"):
            assert run(stall) == b""
        assert any("idle" in r.getMessage() for r in caplog.records)
        with ApiHookClient(path, timeout=10) as client:
            assert run(client.ping) == PONG
    finally:
        srv.close()


def test_large_answer_goes_out_between_events_and_ahead_of_later_events(
    qapp: Any, sock_dir: str, run: Callable[..., Any], qtbot: QtBot
) -> None:
    # A zero slice: every step of sending waits for the event loop's next pass.
    dispatcher = FakeDispatcher()
    srv = HookServer(os.path.join(sock_dir, "s.sock"), dispatcher, slice_s=0.0)
    path = srv.listen()
    in_flight: list[int] = []

    def publish_mid_answer() -> None:
        in_flight.append(srv.sending_count())
        srv.publish({"type": "status", "status": "running"})

    # Published by a timer, so from the event loop, while the answer is being sent.
    dispatcher.during_call = lambda: QTimer.singleShot(0, publish_mid_answer)
    try:

        def scenario() -> list[dict[str, Any]]:
            with RawClient(path) as raw:
                raw.send(request_line(1, "subscribe", {}))
                subscribed = raw.read_line()
                raw.send(request_line(2, "large_text", {}))
                return [subscribed, raw.read_line(), raw.read_line()]

        subscribed, answer, event = run(scenario)
        assert subscribed["result"] == {"subscribed": True}
        assert in_flight == [1]  # the timer ran while the answer was still going out
        assert answer == {"jsonrpc": "2.0", "result": BIG_TEXT, "id": 2}
        assert event["params"] == {"type": "status", "status": "running"}
        qtbot.waitUntil(lambda: srv.sending_count() == 0)
    finally:
        srv.close()


# -- protocol versions ---------------------------------------------------------------------


@pytest.fixture
def foreign_server(qapp: Any, sock_dir: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fake mma-qt whose ``ping`` reports the protocol version given as the param."""
    srv = HookServer(os.path.join(sock_dir, "f.sock"), FakeDispatcher(request.param))
    path = srv.listen()
    yield path
    srv.close()


@pytest.mark.parametrize("foreign_server", [PROTOCOL_VERSION + 1, "2.0", "0.9"], indirect=True)
def test_client_refuses_a_server_of_another_major_protocol_version(
    foreign_server: str, run: Callable[..., Any]
) -> None:
    def connect() -> HookProtocolError:
        with ApiHookClient(foreign_server, timeout=10) as client:
            with pytest.raises(HookProtocolError) as info:
                client.call("echo", {})
            return info.value

    error = run(connect)
    assert f"speaks protocol {error.server_version}" in str(error)
    assert f"this client speaks protocol {PROTOCOL_VERSION}" in str(error)


@pytest.mark.parametrize("foreign_server", [None, "one", True], indirect=True)
def test_client_refuses_a_server_that_names_no_protocol_version(
    foreign_server: str, run: Callable[..., Any]
) -> None:
    def connect() -> str:
        with ApiHookClient(foreign_server, timeout=10) as client:
            with pytest.raises(HookProtocolError) as info:
                client.ping()
            return str(info.value)

    message = run(connect)
    assert f"this client speaks protocol {PROTOCOL_VERSION}" in message


@pytest.mark.parametrize("foreign_server", [f"{PROTOCOL_VERSION}.7"], indirect=True)
def test_client_accepts_a_newer_minor_version_of_its_protocol(
    foreign_server: str, run: Callable[..., Any]
) -> None:
    with ApiHookClient(foreign_server, timeout=10) as client:
        assert run(client.call, "echo", {"n": 1}) == {"n": 1}
        assert client.server_info["protocol"] == f"{PROTOCOL_VERSION}.7"


@pytest.mark.parametrize("foreign_server", [PROTOCOL_VERSION + 1], indirect=True)
def test_cli_names_both_versions_and_exits_2_on_a_foreign_server(
    foreign_server: str, run: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(cli.main, ["--hook", foreign_server, "status"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"speaks protocol {PROTOCOL_VERSION + 1}; this client speaks protocol " \
        f"{PROTOCOL_VERSION}" in captured.err


# -- events --------------------------------------------------------------------------------


def test_publish_reaches_subscribers_with_type_filter(
    server: HookServer, run: Callable[..., Any]
) -> None:
    with (
        ApiHookClient(server.path, timeout=10) as everything,
        ApiHookClient(server.path, timeout=10) as only_a,
        ApiHookClient(server.path, timeout=10) as bystander,
    ):
        assert run(everything.subscribe) == {"subscribed": True}
        assert run(only_a.subscribe, ["a"]) == {"subscribed": True}
        assert run(bystander.ping) == PONG
        assert server.subscriber_count() == 2

        assert server.publish({"type": "b", "n": 1}) == 1
        assert server.publish({"type": "a", "n": 2}) == 2
        # Events are delivered in order, so "b" would come first had it been sent.
        assert run(only_a.next_event, 10) == {"type": "a", "n": 2}
        assert run(lambda: [everything.next_event(10), everything.next_event(10)]) == [
            {"type": "b", "n": 1},
            {"type": "a", "n": 2},
        ]
        # An event that arrives while a call waits for its answer is queued, not lost.
        server.publish({"type": "a", "n": 3})
        assert run(only_a.ping) == PONG
        assert only_a.drain_events() == [{"type": "a", "n": 3}]
        assert run(bystander.drain_events) == []

        assert run(only_a.unsubscribe) == {"subscribed": False}
        assert server.publish({"type": "a", "n": 4}) == 1


def test_wait_for_returns_when_an_event_makes_the_predicate_true(
    server: HookServer,
    pool: ThreadPoolExecutor,
    qtbot: QtBot,
    dispatcher: FakeDispatcher,
) -> None:
    with ApiHookClient(server.path, timeout=10) as client:
        future = pool.submit(client.wait_for, lambda s: s["status"] == "done", 30)
        qtbot.waitUntil(
            lambda: server.subscriber_count() == 1 and "get_mma_status" in dispatcher.calls
        )
        assert not future.done()  # it saw "idle" and now waits for an event
        dispatcher.status = "done"
        assert server.publish({"type": "status", "status": "done"}) == 1
        qtbot.waitUntil(future.done, timeout=30_000)
        assert future.result() == {"status": "done"}
        qtbot.waitUntil(lambda: server.subscriber_count() == 0)


def test_wait_for_times_out_with_the_last_status(
    server: HookServer, run: Callable[..., Any]
) -> None:
    def wait() -> str:
        with ApiHookClient(server.path, timeout=10) as client:
            with pytest.raises(TimeoutError) as info:
                client.wait_for(lambda s: s["status"] == "done", 0.3)
            return str(info.value)

    assert "'idle'" in run(wait)


# -- CLI -----------------------------------------------------------------------------------


@pytest.fixture
def hook_cli(
    server: HookServer, run: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """Run ``mma-qt-hook --hook <server> ARGS...``: (exit code, stdout, stderr)."""

    def invoke(*args: str) -> tuple[int, str, str]:
        code = run(cli.main, ["--hook", server.path, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def test_cli_ping_prints_the_answer_as_json(hook_cli: Callable[..., Any]) -> None:
    code, out, _ = hook_cli("ping")
    assert (code, json.loads(out)) == (0, PONG)


def test_cli_call_sends_a_json_object_as_params(hook_cli: Callable[..., Any]) -> None:
    code, out, _ = hook_cli("call", "echo", '{"a": [1, "é"]}')
    assert (code, json.loads(out)) == (0, {"a": [1, "é"]})
    code, out, err = hook_cli("call", "echo", "[1]")
    assert (code, out) == (1, "")
    assert "must be a JSON object" in err


def test_cli_set_parses_json_values_and_get_reads_them_back(
    hook_cli: Callable[..., Any], dispatcher: FakeDispatcher
) -> None:
    assert hook_cli("set", "retries", "3")[0] == 0
    assert hook_cli("set", "name", "plain text")[0] == 0
    assert dispatcher.values == {"retries": 3, "name": "plain text"}
    code, out, _ = hook_cli("get", "retries")
    assert (code, json.loads(out)) == (0, 3)


def test_cli_stream_prints_the_text_as_is(hook_cli: Callable[..., Any]) -> None:
    assert hook_cli("stream", "s1", "--offset", "5")[:2] == (0, "stream s1\nfrom 5")


def test_cli_wait_returns_the_status_once_it_matches(
    hook_cli: Callable[..., Any], dispatcher: FakeDispatcher
) -> None:
    dispatcher.status = "failed"
    code, out, _ = hook_cli("wait", "done", "failed", "--timeout", "10")
    assert (code, json.loads(out)) == (0, {"status": "failed"})


def test_cli_failed_call_exits_1_with_the_error_on_stderr(hook_cli: Callable[..., Any]) -> None:
    code, out, err = hook_cli("call", "boom")
    assert (code, out) == (1, "")
    assert "RuntimeError: kaboom" in err


@pytest.mark.parametrize(
    ("flags", "params"),
    [
        ([], {"epic": "Add CSV export"}),
        (["--auto"], {"epic": "Add CSV export", "auto": True}),
        (["--no-auto", "--workspace", "/src"], {"epic": "Add CSV export", "auto": False,
                                                "workspace": "/src"}),
    ],
)
def test_cli_start_asks_for_auto_approval_only_when_told(
    hook_cli: Callable[..., Any], dispatcher: FakeDispatcher, flags: list[str],
    params: dict[str, Any],
) -> None:
    assert hook_cli("start", "Add CSV export", *flags)[0] == 0
    assert dispatcher.params["start_epic"] == params


@pytest.mark.parametrize(
    ("args", "method", "params"),
    [
        (["approve", "T-001:spawn"], "approve", {"key": "T-001:spawn"}),
        (["approve", "--all"], "approve", {"all": True}),
        (["reject", "T-002:spawn"], "reject", {"key": "T-002:spawn"}),
        (["reject", "--all"], "reject", {"all": True}),
    ],
)
def test_cli_approve_and_reject_one_key_or_all(
    hook_cli: Callable[..., Any], dispatcher: FakeDispatcher, args: list[str], method: str,
    params: dict[str, Any],
) -> None:
    code, out, _ = hook_cli(*args)
    assert (code, json.loads(out)) == (0, params)
    assert dispatcher.params[method] == params


def test_cli_approve_needs_a_key_or_all_not_both(
    server: HookServer, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (["approve"], ["approve", "T-001:spawn", "--all"]):
        with pytest.raises(SystemExit) as info:
            cli.main(["--hook", server.path, *args])
        assert info.value.code == 2
    assert "KEY" in capsys.readouterr().err


def test_cli_without_server(sock_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    missing = os.path.join(sock_dir, "nobody.sock")
    assert cli.main(["--hook", missing, "ping"]) == 2
    err = capsys.readouterr().err
    assert f"no mma-qt hook listening at {missing}: start mma-qt or pass --hook" in err


def test_cli_events_prints_matching_events_until_the_server_goes(
    server: HookServer,
    pool: ThreadPoolExecutor,
    qtbot: QtBot,
    capsys: pytest.CaptureFixture[str],
) -> None:
    future = pool.submit(cli.main, ["--hook", server.path, "events", "--types", "status"])
    qtbot.waitUntil(lambda: server.subscriber_count() == 1)
    server.publish({"type": "token", "text": "skipped"})
    server.publish({"type": "status", "status": "running"})
    server.publish({"type": "status", "status": "done"})
    server.close()
    qtbot.waitUntil(future.done, timeout=30_000)
    assert future.result() == 1  # the connection was lost, not interrupted by the user
    captured = capsys.readouterr()
    assert [json.loads(line) for line in captured.out.splitlines()] == [
        {"type": "status", "status": "running"},
        {"type": "status", "status": "done"},
    ]
    assert "closed the connection" in captured.err


def test_line_of_exactly_one_mib_is_accepted(server: HookServer, run: Callable[..., Any]) -> None:
    head = b'{"jsonrpc":"2.0","method":"echo","id":1,"params":{"x":"'
    tail = b'"}}'
    filler = "y" * (MAX_LINE_BYTES - len(head) - len(tail))

    def send_max() -> dict[str, Any]:
        with RawClient(server.path) as raw:
            raw.send(head + filler.encode() + tail + b"\n")
            return raw.read_line()

    assert run(send_max) == {"jsonrpc": "2.0", "result": {"x": filler}, "id": 1}
