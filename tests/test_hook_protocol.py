"""The hook wire protocol, without Qt."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import platformdirs
import pytest

from mma_qt.hooks import protocol
from mma_qt.hooks.protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    Request,
    RequestError,
    RpcError,
    handle_line,
    parse_request,
    resolve_hook_address,
)


def _call(method: str, params: dict[str, Any]) -> Any:
    if method == "echo":
        return params
    if method == "boom":
        raise RuntimeError("kaboom")
    if method == "bad":
        raise RpcError(INVALID_PARAMS, "n must be an integer", {"field": "n"})
    if method == "nan":
        return float("nan")
    raise RpcError(METHOD_NOT_FOUND, f"method not found: {method}")


def _answer(line: str) -> dict[str, Any]:
    raw = handle_line(line.encode(), _call)
    assert raw is not None
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    decoded: dict[str, Any] = json.loads(raw)
    return decoded


def test_parse_valid_request() -> None:
    req = parse_request(b'{"jsonrpc":"2.0","method":"echo","params":{"a":1},"id":7}')
    assert req == Request("echo", {"a": 1}, 7, False)


def test_parse_without_params_or_id_is_a_notification() -> None:
    req = parse_request('{"jsonrpc":"2.0","method":"ping"}')
    assert req.params == {}
    assert req.notification is True
    null_id = parse_request('{"jsonrpc":"2.0","method":"ping","id":null}')
    assert null_id.notification is False and null_id.id is None


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"{not json", PARSE_ERROR),
        (b"\xff\xfe", PARSE_ERROR),
        (b"[1, 2]", INVALID_REQUEST),
        (b"42", INVALID_REQUEST),
        (b'{"method":"echo","id":1}', INVALID_REQUEST),
        (b'{"jsonrpc":"1.0","method":"echo","id":1}', INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","method":5,"id":1}', INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","method":"echo","id":true}', INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","method":"echo","id":1.5}', INVALID_REQUEST),
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


def test_result_line_is_compact_utf8() -> None:
    raw = protocol.result_line(3, {"text": "héllo ✓"})
    assert raw == '{"jsonrpc":"2.0","result":{"text":"héllo ✓"},"id":3}\n'.encode()


def test_newlines_inside_strings_do_not_break_framing() -> None:
    raw = protocol.result_line(1, "a\nb")
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

    batch = _answer('[{"jsonrpc":"2.0","method":"echo","id":1}]')
    assert batch["error"] == {"code": INVALID_REQUEST, "message": "batches are not supported"}

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


def test_unserializable_result_is_an_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="mma_qt.hooks.protocol"):
        answer = _answer('{"jsonrpc":"2.0","method":"nan","id":4}')
    assert answer["error"]["code"] == INTERNAL_ERROR
    assert "not JSON-serializable" in answer["error"]["message"]


def test_notifications_get_no_answer() -> None:
    assert handle_line(b'{"jsonrpc":"2.0","method":"echo"}', _call) is None
    assert handle_line(b'{"jsonrpc":"2.0","method":"boom"}', _call) is None
    assert handle_line(b'{"jsonrpc":"2.0","method":"echo","params":[1]}', _call) is None
    assert handle_line(b"   ", _call) is None


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
