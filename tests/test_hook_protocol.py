"""The hook wire protocol, without Qt: requests, batches, errors and encoding in pieces."""

from __future__ import annotations

import json
import logging
import os
import sys
from enum import IntEnum, StrEnum
from typing import Any

import platformdirs
import pytest

from mma_qt.hooks import protocol
from mma_qt.hooks.encoding import PIECE_CHARS, STRING_SLICE_CHARS, json_pieces
from mma_qt.hooks.outbox import Outbox
from mma_qt.hooks.protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    LargeResult,
    Reply,
    Request,
    RequestError,
    RpcError,
    encode_response,
    handle_line,
    parse_request,
    resolve_hook_address,
    response_pieces,
)


def _call(method: str, params: dict[str, Any]) -> Any:
    if method == "echo":
        return params
    if method == "sum":
        return sum(params["values"])
    if method == "boom":
        raise RuntimeError("kaboom")
    if method == "bad":
        raise RpcError(INVALID_PARAMS, "n must be an integer", {"field": "n"})
    if method == "nan":
        return float("nan")
    if method == "large":
        return LargeResult({"text": "x" * (3 * STRING_SLICE_CHARS), "n": params.get("n")})
    if method == "large_nan":
        return LargeResult({"text": "x" * (3 * STRING_SLICE_CHARS), "bad": float("nan")})
    raise RpcError(METHOD_NOT_FOUND, f"method not found: {method}")


def _answer(line: str) -> Any:
    raw = handle_line(line.encode(), _call)
    assert raw is not None
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    return json.loads(raw)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


# -- single requests -----------------------------------------------------------------------


def test_parse_valid_request() -> None:
    req = parse_request(b'{"jsonrpc":"2.0","method":"echo","params":{"a":1},"id":7}')
    assert req == Request("echo", {"a": 1}, 7, False)


def test_parse_without_params_or_id_is_a_notification() -> None:
    req = parse_request('{"jsonrpc":"2.0","method":"ping"}')
    assert req.params == {}
    assert req.notification is True
    null_id = parse_request('{"jsonrpc":"2.0","method":"ping","id":null}')
    assert null_id.notification is False and null_id.id is None


def test_an_empty_params_array_means_no_params() -> None:
    assert parse_request('{"jsonrpc":"2.0","method":"ping","params":[],"id":1}').params == {}


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"{not json", PARSE_ERROR),
        (b"\xff\xfe", PARSE_ERROR),
        (b'{"jsonrpc":"2.0","method":"echo","id":NaN}', PARSE_ERROR),
        (b"42", INVALID_REQUEST),
        (b'{"method":"echo","id":1}', INVALID_REQUEST),
        (b'{"jsonrpc":"1.0","method":"echo","id":1}', INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","method":5,"id":1}', INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","method":"echo","id":true}', INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","method":"echo","id":{"a":1}}', INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","method":"echo","params":"x","id":1}', INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","method":"echo","params":null,"id":1}', INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","method":"echo","params":[1],"id":1}', INVALID_PARAMS),
    ],
)
def test_parse_rejects(line: bytes, code: int) -> None:
    with pytest.raises(RequestError) as info:
        parse_request(line)
    assert info.value.code == code


def test_bad_request_keeps_a_readable_id() -> None:
    with pytest.raises(RequestError) as info:
        parse_request(b'{"jsonrpc":"1.0","method":"echo","id":"abc"}')
    assert info.value.request_id == "abc"


@pytest.mark.parametrize("request_id", ["abc", 7, 1.5, None])
def test_any_string_number_or_null_id_is_echoed(request_id: Any) -> None:
    line = json.dumps({"jsonrpc": "2.0", "method": "echo", "params": {}, "id": request_id})
    assert _answer(line) == {"jsonrpc": "2.0", "result": {}, "id": request_id}


def test_an_unknown_method_even_an_empty_name_is_method_not_found() -> None:
    assert _answer('{"jsonrpc":"2.0","method":"","id":1}')["error"]["code"] == METHOD_NOT_FOUND


def test_result_is_compact_utf8() -> None:
    raw = encode_response(Reply(3, {"text": "héllo ✓"}))
    assert raw == '{"jsonrpc":"2.0","result":{"text":"héllo ✓"},"id":3}\n'.encode()


def test_newlines_inside_strings_do_not_break_framing() -> None:
    raw = encode_response(Reply(1, "a\nb"))
    assert raw.count(b"\n") == 1
    assert json.loads(raw)["result"] == "a\nb"


def test_notification_and_request_lines() -> None:
    assert json.loads(protocol.notification_line("event", {"type": "x"})) == {
        "jsonrpc": "2.0",
        "method": "event",
        "params": {"type": "x"},
    }
    assert json.loads(protocol.request_line(1, "ping")) == {
        "jsonrpc": "2.0",
        "method": "ping",
        "id": 1,
    }


def test_handle_line_success_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    ok = _answer('{"jsonrpc":"2.0","method":"echo","params":{"x":[1]},"id":1}')
    assert ok == {"jsonrpc": "2.0", "result": {"x": [1]}, "id": 1}

    parse = _answer("{oops")
    assert parse["id"] is None and parse["error"]["code"] == PARSE_ERROR

    missing = _answer('{"jsonrpc":"2.0","method":"nope","id":"q"}')
    assert missing["id"] == "q" and missing["error"]["code"] == METHOD_NOT_FOUND

    bad = _answer('{"jsonrpc":"2.0","method":"bad","id":2}')
    assert bad["error"] == {
        "code": INVALID_PARAMS,
        "message": "n must be an integer",
        "data": {"field": "n"},
    }

    with caplog.at_level(logging.ERROR, logger="mma_qt.hooks.protocol"):
        boom = _answer('{"jsonrpc":"2.0","method":"boom","id":3}')
    assert boom["error"] == {"code": INTERNAL_ERROR, "message": "RuntimeError: kaboom"}
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged and logged[0].exc_info is not None


@pytest.mark.parametrize("method", ["nan", "large_nan"])
def test_unserializable_result_is_an_internal_error(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="mma_qt.hooks.protocol"):
        answer = _answer(json.dumps({"jsonrpc": "2.0", "method": method, "id": 4}))
    assert answer["id"] == 4
    assert answer["error"]["code"] == INTERNAL_ERROR
    assert "not JSON-serializable" in answer["error"]["message"]
    assert any(method in r.getMessage() for r in caplog.records)


def test_notifications_get_no_answer() -> None:
    assert handle_line(b'{"jsonrpc":"2.0","method":"echo"}', _call) is None
    assert handle_line(b'{"jsonrpc":"2.0","method":"boom"}', _call) is None
    assert handle_line(b'{"jsonrpc":"2.0","method":"echo","params":[1]}', _call) is None
    assert handle_line(b"   ", _call) is None


# -- batches (JSON-RPC 2.0, section 6) -------------------------------------------------------


def test_batch_gets_an_array_of_answers_in_order() -> None:
    answers = _answer(
        '[{"jsonrpc":"2.0","method":"sum","params":{"values":[1,2,4]},"id":"1"},'
        '{"jsonrpc":"2.0","method":"echo","params":{"k":"v"},"id":2}]'
    )
    assert answers == [
        {"jsonrpc": "2.0", "result": 7, "id": "1"},
        {"jsonrpc": "2.0", "result": {"k": "v"}, "id": 2},
    ]


def test_batch_answer_leaves_notifications_out() -> None:
    answers = _answer(
        '[{"jsonrpc":"2.0","method":"echo","params":{"n":1}},'
        '{"jsonrpc":"2.0","method":"echo","params":{"n":2},"id":2},'
        '{"jsonrpc":"2.0","method":"boom"}]'
    )
    assert answers == [{"jsonrpc": "2.0", "result": {"n": 2}, "id": 2}]


def test_batch_of_notifications_only_gets_no_answer_at_all() -> None:
    calls: list[str] = []

    def record(method: str, params: dict[str, Any]) -> Any:
        calls.append(method)
        return _call(method, params)

    line = (
        b'[{"jsonrpc":"2.0","method":"echo"},'
        b'{"jsonrpc":"2.0","method":"sum","params":{"values":[1]}}]'
    )
    assert handle_line(line, record) is None
    assert calls == ["echo", "sum"]  # they ran, unanswered


def test_empty_batch_gets_one_invalid_request_error_not_an_array() -> None:
    assert _answer("[]") == {
        "jsonrpc": "2.0",
        "error": {"code": INVALID_REQUEST, "message": "an empty batch is not a request"},
        "id": None,
    }


def test_batch_that_is_not_json_gets_one_parse_error() -> None:
    answer = _answer('[{"jsonrpc":"2.0","method":"echo","id":1},{"jsonrpc":"2.0","method"]')
    assert answer["id"] is None and answer["error"]["code"] == PARSE_ERROR


@pytest.mark.parametrize(
    ("batch", "codes"),
    [
        ("[1]", [INVALID_REQUEST]),
        ("[1,2,3]", [INVALID_REQUEST] * 3),
        ('[[{"jsonrpc":"2.0","method":"echo","id":1}]]', [INVALID_REQUEST]),
    ],
)
def test_each_invalid_batch_member_gets_its_own_error(batch: str, codes: list[int]) -> None:
    answers = _answer(batch)
    assert [a["error"]["code"] for a in answers] == codes
    assert all(a["id"] is None for a in answers)


def test_spec_example_batch_with_valid_invalid_and_notification_members() -> None:
    # The JSON-RPC 2.0 specification's example, with parameters by name.
    answers = _answer(
        "["
        '{"jsonrpc":"2.0","method":"sum","params":{"values":[1,2,4]},"id":"1"},'
        '{"jsonrpc":"2.0","method":"notify_hello","params":{"n":7}},'
        '{"jsonrpc":"2.0","method":"sum","params":{"values":[42,-23]},"id":"2"},'
        '{"foo":"boo"},'
        '{"jsonrpc":"2.0","method":"foo.get","params":{"name":"myself"},"id":"5"},'
        '{"jsonrpc":"1.0","method":"echo","id":"6"},'
        '{"jsonrpc":"2.0","method":"large","params":{"n":9},"id":"9"}'
        "]"
    )
    assert [(a["id"], a.get("result", a.get("error", {}).get("code"))) for a in answers] == [
        ("1", 7),
        ("2", 19),
        (None, INVALID_REQUEST),
        ("5", METHOD_NOT_FOUND),
        ("6", INVALID_REQUEST),
        ("9", {"text": "x" * (3 * STRING_SLICE_CHARS), "n": 9}),
    ]


def test_unserializable_member_fails_alone_in_its_batch(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="mma_qt.hooks.protocol"):
        answers = _answer(
            '[{"jsonrpc":"2.0","method":"nan","id":1},{"jsonrpc":"2.0","method":"sum",'
            '"params":{"values":[2]},"id":2}]'
        )
    assert answers[0]["error"]["code"] == INTERNAL_ERROR
    assert answers[1] == {"jsonrpc": "2.0", "result": 2, "id": 2}


# -- encoding in pieces ----------------------------------------------------------------------


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


SAMPLES: list[Any] = [
    None,
    True,
    0,
    -12,
    2.5,
    1e300,
    "",
    'quotes " and \\ and \n\t\x01 and ✓ é',
    "a" * (STRING_SLICE_CHARS * 3 + 17),
    ("é\n" * STRING_SLICE_CHARS) + "\"tail\"",
    [],
    {},
    (1, "two", [3.0, {"four": None}]),
    {"s": Colour.RED, "n": Level.HIGH, Colour.RED: 1, 2: "int key", 1.5: "float key",
     True: "bool key", None: "null key"},
    {"tickets": [{"id": f"T-{i}", "usage": {"input": i}} for i in range(600)],
     "mma_streams": {f"s{i}": f"text {i}\n" * 5000 for i in range(5)}},
]


@pytest.mark.parametrize("value", SAMPLES, ids=range(len(SAMPLES)))
def test_json_pieces_equal_the_stdlib_encoding(value: Any) -> None:
    assert b"".join(json_pieces(value)) == _dumps(value)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (float("nan"), ValueError),
        ({"x": [float("inf")]}, ValueError),
        ({1, 2}, TypeError),
        ({(1, 2): "tuple key"}, TypeError),
        (object(), TypeError),
    ],
)
def test_json_pieces_refuse_what_the_stdlib_refuses(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        _dumps(value)
    with pytest.raises(error):
        b"".join(json_pieces(value))


def test_json_pieces_refuse_a_circular_structure() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        b"".join(json_pieces({"a": loop}))


def test_shared_but_not_circular_values_are_encoded_twice() -> None:
    shared = {"k": [1]}
    value = {"a": shared, "b": [shared, shared]}
    assert b"".join(json_pieces(value)) == _dumps(value)


def test_a_long_string_is_encoded_in_bounded_pieces() -> None:
    text = "line\n" * (20 * STRING_SLICE_CHARS)
    pieces = list(json_pieces({"text": text}))
    assert len(pieces) > 10
    # Each piece holds at most one escaped slice more than the piece size.
    assert max(len(p) for p in pieces) <= PIECE_CHARS + 2 * STRING_SLICE_CHARS


def test_large_result_is_the_same_json_as_a_plain_one() -> None:
    value = SAMPLES[-1]
    assert encode_response(Reply("x", LargeResult(value))) == encode_response(Reply("x", value))


def test_small_results_are_encoded_when_queued_not_when_sent() -> None:
    result = {"status": "running"}
    pieces = response_pieces([Reply(1, result), Reply(2, result)])
    result["status"] = "done"  # the session moved on before the answer went out
    answers = json.loads(b"".join(pieces))
    assert [a["result"]["status"] for a in answers] == ["running", "running"]


# -- the outbox ------------------------------------------------------------------------------


def test_outbox_sends_each_message_whole_and_in_order_across_slices() -> None:
    written: list[bytes] = []
    outbox = Outbox(written.append)
    large = response_pieces(Reply(1, LargeResult({"text": "y" * (4 * STRING_SLICE_CHARS)})))
    outbox.put(large)
    outbox.put([b"event-1\n"])
    outbox.put([b"event-2\n"])
    slices = 0
    while not outbox.pump(deadline=0.0):  # a deadline already passed: one step per pump
        slices += 1
    assert slices > 3
    data = b"".join(written)
    answer, first, second, rest = data.split(b"\n")
    assert json.loads(answer)["result"]["text"] == "y" * (4 * STRING_SLICE_CHARS)
    assert (first, second, rest) == (b"event-1", b"event-2", b"")
    assert not outbox.pending


def test_outbox_drops_a_message_whose_encoding_raised_and_goes_on() -> None:
    written: list[bytes] = []
    outbox = Outbox(written.append)

    def broken() -> Any:
        yield b""
        raise RuntimeError("bug")

    outbox.put(broken())
    outbox.put([b"next\n"])
    with pytest.raises(RuntimeError, match="bug"):
        outbox.pump(None)
    assert outbox.pump(None) is True
    assert written == [b"next\n"]


# -- addresses -------------------------------------------------------------------------------

unix_only = pytest.mark.skipif(sys.platform == "win32", reason="Unix socket paths")


@unix_only
def test_resolve_default_uses_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMA_QT_HOOK", raising=False)
    expected = os.path.join(platformdirs.user_runtime_dir("mma-qt"), "hook.sock")
    assert resolve_hook_address(None) == expected
    assert expected.startswith(os.environ["XDG_RUNTIME_DIR"])


def test_resolve_env_then_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMA_QT_HOOK", "/run/x/env.sock")
    assert resolve_hook_address(None) == "/run/x/env.sock"
    assert resolve_hook_address("/other/arg.sock") == "/other/arg.sock"
    monkeypatch.setenv("MMA_QT_HOOK", "")
    assert resolve_hook_address(None).endswith(os.path.join("mma-qt", "hook.sock"))


def test_resolve_relative_path_is_kept_as_is() -> None:
    assert resolve_hook_address("run/hook.sock") == "run/hook.sock"


@unix_only
def test_resolve_bare_name_follows_qt_temp_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", "/var/tmp/qt-x/")
    assert resolve_hook_address("mine") == "/var/tmp/qt-x/mine"
    monkeypatch.delenv("TMPDIR")
    assert resolve_hook_address("mine") == "/tmp/mine"


def test_resolve_rejects_empty() -> None:
    with pytest.raises(ValueError, match="empty"):
        resolve_hook_address("")
