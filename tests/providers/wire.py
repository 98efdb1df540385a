"""Loopback HTTP servers that speak each provider's real streaming wire format.

A :class:`WireServer` (127.0.0.1, an ephemeral port, a thread per connection) answers
each POST with the next scripted :class:`Reply`: a JSON error with a status and headers,
or a server-sent-event stream that ends properly, hangs (until the test releases it) or is
cut (the connection closes mid-body, without the terminating chunk).

The event builders produce the frames each provider documents:

* Anthropic Messages: ``event: <type>`` + ``data: <json>`` for message_start (with the
  input/cache usage), content_block_start, ping, content_block_delta (text_delta),
  content_block_stop, message_delta (cumulative usage), message_stop;
* OpenAI Chat Completions: ``data: <chat.completion.chunk>`` lines, a final chunk with
  empty ``choices`` and the usage, then ``data: [DONE]``;
* Gemini ``streamGenerateContent?alt=sse``: ``data: <GenerateContentResponse>`` separated
  by CRLF CRLF as Google sends them, with ``usageMetadata``; the last one has finishReason.

Each builder can also stream tool calls (:class:`WireCall`), as each API does:

* Anthropic: a ``tool_use`` content block per call (content_block_start with its id, name
  and an empty input; an empty ``input_json_delta`` then one per fragment of the input
  JSON; content_block_stop), and ``stop_reason: "tool_use"``;
* OpenAI: ``delta.tool_calls`` items, the first of a call with its index, id, type and
  name (and empty arguments), then one per arguments fragment; ``finish_reason:
  "tool_calls"``;
* Gemini: whole ``functionCall`` parts (``name``, ``args`` as an object, an ``id`` only
  when given) in the last chunk, the first with its ``thoughtSignature`` when given.
"""

from __future__ import annotations

import http.server
import json
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

Ending = Literal["end", "hang", "cut"]


@dataclass(frozen=True)
class JsonReply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SSEReply:
    frames: list[bytes]
    ending: Ending = "end"


Reply = JsonReply | SSEReply


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class WireServer:
    """A scripted loopback server; use as a context manager.

    Replies come from the scripted queue first, then from ``responder`` if one is given
    (a server that answers any request, e.g. a whole run's worth of calls).
    """

    def __init__(self, responder: Callable[[Recorded], Reply] | None = None) -> None:
        self.responder = responder
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        #: Set by the test (and on exit) to let hanging streams finish.
        self.release = threading.Event()
        #: Set when a stream starts hanging.
        self.hanging = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.wire = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="wire-server"
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            if self.replies:
                return self.replies.popleft()
        if self.responder is not None:
            return self.responder(recorded)
        return JsonReply(500, {"error": {"message": "wire server: no reply scripted"}})

    def __enter__(self) -> WireServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()  # joins the handler threads
        self._thread.join()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    wire: WireServer


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    #: A client that never closes its kept-alive connection cannot hang the teardown.
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("wire: " + format, *args)

    def handle(self) -> None:
        try:
            super().handle()
        except ConnectionError:
            # A client that closes a kept-alive connection may reset it: expected.
            log.debug("wire: client reset the connection", exc_info=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        recorded = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        reply = self.server.wire._next(recorded)
        if isinstance(reply, JsonReply):
            self._json(reply)
        else:
            self._sse(reply)

    def _json(self, reply: JsonReply) -> None:
        data = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, reply: SSEReply) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            for frame in reply.frames:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
                self.wfile.flush()
            if reply.ending == "end":
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return
            self.close_connection = True
            if reply.ending == "hang":
                self.server.wire.hanging.set()
                self.server.wire.release.wait(timeout=30)
            else:  # cut: FIN in the middle of the chunked body
                self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            # The client went away first (it cancelled): expected, logged for debugging.
            log.debug("wire: client closed the stream", exc_info=True)
            self.close_connection = True


# -- tool calls --------------------------------------------------------------------------


@dataclass(frozen=True)
class WireCall:
    """A tool call as a server streams it: the arguments JSON in the fragments it sends."""

    id: str
    name: str
    fragments: tuple[str, ...]
    #: Gemini's ``thoughtSignature`` (base64) on the call's part; empty: none.
    signature: str = ""

    @property
    def arguments_text(self) -> str:
        return "".join(self.fragments)

    @property
    def arguments(self) -> Any:
        return json.loads(self.arguments_text)


# -- Anthropic ---------------------------------------------------------------------------


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


@dataclass(frozen=True)
class Script:
    """A stream in three parts, so tests can serve it whole or stop after some deltas."""

    head: list[bytes]
    deltas: list[bytes]
    tail: list[bytes]

    def full(self) -> list[bytes]:
        return [*self.head, *self.deltas, *self.tail]

    def partial(self, deltas: int) -> list[bytes]:
        return [*self.head, *self.deltas[:deltas]]


ANTHROPIC_START_USAGE = {
    "input_tokens": 120,
    "cache_creation_input_tokens": 30,
    "cache_read_input_tokens": 400,
    "output_tokens": 1,
}
ANTHROPIC_FINAL_USAGE = {
    "input_tokens": 120,
    "cache_creation_input_tokens": 30,
    "cache_read_input_tokens": 400,
    "output_tokens": 57,
}


def anthropic_script(
    texts: list[str],
    model: str = "claude-sonnet-4-6",
    calls: list[WireCall] | None = None,
    start_usage: dict[str, int] | None = None,
    final_usage: dict[str, int] | None = None,
) -> Script:
    calls = calls or []
    head = [
        _event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_01",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": model,
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage or ANTHROPIC_START_USAGE,
                },
            },
        ),
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0,
             "content_block": {"type": "text", "text": ""}},
        ),
        _event("ping", {"type": "ping"}),
    ]
    deltas = [
        _event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0,
             "delta": {"type": "text_delta", "text": text}},
        )
        for text in texts
    ]
    tail = [
        _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        *(frame for i, call in enumerate(calls, 1) for frame in _anthropic_tool_use(i, call)),
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if calls else "end_turn",
                          "stop_sequence": None},
                "usage": final_usage or ANTHROPIC_FINAL_USAGE,
            },
        ),
        _event("message_stop", {"type": "message_stop"}),
    ]
    return Script(head, deltas, tail)


def _anthropic_tool_use(index: int, call: WireCall) -> list[bytes]:
    def delta(partial: str) -> bytes:
        return _event("content_block_delta", {
            "type": "content_block_delta", "index": index,
            "delta": {"type": "input_json_delta", "partial_json": partial},
        })

    return [
        _event("content_block_start", {
            "type": "content_block_start", "index": index,
            "content_block": {"type": "tool_use", "id": call.id, "name": call.name,
                              "input": {}},
        }),
        delta(""),
        *(delta(fragment) for fragment in call.fragments),
        _event("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


def anthropic_error(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message},
            "request_id": "req_01"}


# -- OpenAI ------------------------------------------------------------------------------

OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 80,
    "total_tokens": 1280,
    "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 20,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}


def _chunk(model: str, choices: list[dict[str, Any]], usage: Any = None) -> bytes:
    data = {
        "id": "chatcmpl-01",
        "object": "chat.completion.chunk",
        "created": 1_760_000_000,
        "model": model,
        "system_fingerprint": "fp_01",
        "choices": choices,
        "usage": usage,
    }
    return f"data: {json.dumps(data)}\n\n".encode()


def openai_script(
    texts: list[str],
    model: str = "gpt-5-mini",
    usage: dict[str, Any] | None = None,
    calls: list[WireCall] | None = None,
) -> Script:
    calls = calls or []
    head = [
        _chunk(model, [{"index": 0, "delta": {"role": "assistant", "content": ""},
                        "logprobs": None, "finish_reason": None}])
    ]
    deltas = [
        _chunk(model, [{"index": 0, "delta": {"content": text}, "logprobs": None,
                        "finish_reason": None}])
        for text in texts
    ]
    tail = [
        *(frame for i, call in enumerate(calls) for frame in _openai_tool_call(model, i, call)),
        _chunk(model, [{"index": 0, "delta": {}, "logprobs": None,
                        "finish_reason": "tool_calls" if calls else "stop"}]),
        _chunk(model, [], usage or OPENAI_USAGE),
        b"data: [DONE]\n\n",
    ]
    return Script(head, deltas, tail)


def _openai_tool_call(model: str, index: int, call: WireCall) -> list[bytes]:
    def chunk(item: dict[str, Any]) -> bytes:
        return _chunk(model, [{"index": 0, "delta": {"tool_calls": [item]}, "logprobs": None,
                               "finish_reason": None}])

    first = {"index": index, "id": call.id, "type": "function",
             "function": {"name": call.name, "arguments": ""}}
    return [
        chunk(first),
        *(chunk({"index": index, "function": {"arguments": fragment}})
          for fragment in call.fragments),
    ]


def openai_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None,
                      "code": code}}


# -- Gemini ------------------------------------------------------------------------------

GEMINI_USAGE = {
    "promptTokenCount": 900,
    "cachedContentTokenCount": 600,
    "candidatesTokenCount": 50,
    "thoughtsTokenCount": 30,
    "totalTokenCount": 980,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 900}],
}


def _gemini(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data)}\r\n\r\n".encode()


def gemini_script(
    texts: list[str],
    model: str = "gemini-2.5-flash",
    usage: dict[str, Any] | None = None,
    calls: list[WireCall] | None = None,
) -> Script:
    calls = calls or []
    running = {"promptTokenCount": 900, "cachedContentTokenCount": 600,
               "totalTokenCount": 900}

    def chunk(parts: list[dict[str, Any]], last: bool) -> bytes:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if last:
            candidate["finishReason"] = "STOP"
        return _gemini({
            "candidates": [candidate],
            "usageMetadata": (usage or GEMINI_USAGE) if last else running,
            "modelVersion": model,
            "responseId": "resp-01",
        })

    deltas = [
        chunk([{"text": text}], not calls and i == len(texts) - 1)
        for i, text in enumerate(texts)
    ]
    if calls:
        deltas.append(chunk([_gemini_call_part(call) for call in calls], True))
    return Script([], deltas, [])


def _gemini_call_part(call: WireCall) -> dict[str, Any]:
    function_call: dict[str, Any] = {"name": call.name, "args": call.arguments}
    if call.id:
        function_call["id"] = call.id
    part: dict[str, Any] = {"functionCall": function_call}
    if call.signature:
        part["thoughtSignature"] = call.signature
    return part


def gemini_error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}
