"""Tool calling through each real SDK client, against loopback servers that stream tool
calls exactly as each API does (see :mod:`.wire`).

Each round trip: round 1 streams text and tool calls in fragments; the test builds round
2's request with the assistant turn and the tool results, and checks the JSON body the
server received carries the tools and the results in that SDK's native format; round 2
streams the final text. Usage is each round's provider-reported figures, and the rounds
add up to the server's totals. The expected bodies below are written out from each API's
documentation, independently of the adapters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import pytest

from mma_qt.core.model.domain import Tier
from mma_qt.core.model.usage import Usage
from mma_qt.core.providers.anthropic_provider import AnthropicClient
from mma_qt.core.providers.base import (
    AssistantTurn,
    CompletionRequest,
    ProviderError,
    StreamItem,
    TextDelta,
    ToolCall,
    ToolDefinition,
    ToolOutcome,
    ToolResultsTurn,
    Turn,
    UsageReport,
    UserTurn,
)
from mma_qt.core.providers.common import SdkClient
from mma_qt.core.providers.gemini_provider import GeminiClient
from mma_qt.core.providers.openai_provider import OpenAIClient
from mma_qt.core.providers.tool_calls import tool_call_from_json

from . import wire as wf
from .test_streaming import FAST, KEY, collect, reports, texts
from .wire import SSEReply, WireCall, WireServer

SYSTEM = "You are a careful worker."
PROMPT = "Ticket: T-001\nFix the report."
SAY = ["Let me ", "read the ", "file first."]
FINAL = ["Fixed: ", "the total ", "is summed."]

READ_SCHEMA = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Relative to the working directory."},
        "start_line": {"type": "integer"},
        "end_line": {"type": "integer"},
    },
    "required": ["path"],
}
WRITE_SCHEMA = {
    "type": "object",
    "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
    "required": ["path", "content"],
}
TOOLS = (
    # Read-only mappings, as a frozen ToolDefinition may hold: the SDKs get plain JSON.
    ToolDefinition("read_file", "Read a text file.", MappingProxyType(READ_SCHEMA)),
    ToolDefinition("write_file", "Write a whole file.", MappingProxyType(WRITE_SCHEMA)),
)
PLAIN_TOOLS = [("read_file", "Read a text file.", READ_SCHEMA),
               ("write_file", "Write a whole file.", WRITE_SCHEMA)]

READ = WireCall(
    "toolu_01ReadReport", "read_file",
    ('{"pa', 'th": "src/rep', 'ort.py", "start_', 'line": 1, "end_line": 40}'),
    signature="c2lnbmF0dXJlLW9uZQ==",
)
WRITE = WireCall(
    "toolu_02WriteTest", "write_file",
    ('{"path": "tests/test_', 'report.py", "content": "def test_total():\\n', '    pass\\n"}'),
)
BROKEN = WireCall("toolu_03Broken", "read_file", ('{"path": "src/re', 'port.py", "start_'))

Frames = Callable[[list[str], list[WireCall], int], list[bytes]]
Native = list[dict[str, Any]]


@dataclass(frozen=True)
class ToolCase:
    name: str
    model: str
    make: Callable[[str], SdkClient]
    #: A round's stream: its text pieces, its tool calls, and which round (0, 1: usage).
    frames: Frames
    #: Each round's usage as this provider reports it, normalised.
    usage: tuple[Usage, Usage]
    #: The tools as this API wants them offered.
    offered: Callable[[dict[str, Any]], Native]
    #: The conversation of the body the server received, in this API's format.
    history: Callable[[dict[str, Any]], Native]
    #: The expected native conversation for a prompt, an assistant turn and its results.
    native: Callable[[AssistantTurn, tuple[ToolOutcome, ...]], Native]
    #: The server sends no call ids (Gemini's usual): the calls get stable local ones.
    sends_ids: bool = True

    def request(
        self, *history: Turn, tools: tuple[ToolDefinition, ...] = TOOLS
    ) -> CompletionRequest:
        return CompletionRequest(
            tier=Tier.WORKER, model=self.model, system=SYSTEM, prompt=PROMPT,
            stream_id="Tier 3 (Worker): T-001", ticket_id="T-001", max_tokens=512,
            history=tuple(history), tools=tools,
        )

    def wire_calls(self, *calls: WireCall) -> list[WireCall]:
        return list(calls) if self.sends_ids else [replace(c, id="") for c in calls]

    def expected_id(self, call: WireCall, round_: int, position: int) -> str:
        return call.id if self.sends_ids else f"call_{round_}_{position}"


# -- Anthropic Messages ----------------------------------------------------------------------

ANTHROPIC_USAGE = (
    ({"input_tokens": 120, "cache_creation_input_tokens": 30, "cache_read_input_tokens": 400,
      "output_tokens": 1},
     {"input_tokens": 120, "cache_creation_input_tokens": 30, "cache_read_input_tokens": 400,
      "output_tokens": 57}),
    ({"input_tokens": 310, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 550,
      "output_tokens": 1},
     {"input_tokens": 310, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 550,
      "output_tokens": 24}),
)


def anthropic_frames(say: list[str], calls: list[WireCall], round_: int) -> list[bytes]:
    start, final = ANTHROPIC_USAGE[round_]
    return wf.anthropic_script(say, "claude-sonnet-4-6", calls, start, final).full()


def anthropic_native(turn: AssistantTurn, results: tuple[ToolOutcome, ...]) -> Native:
    """The conversation, its last block marked as a prompt-cache breakpoint (a request that
    offers tools: the next round reads the conversation so far from the cache)."""
    native: Native = [
        {"role": "user", "content": [{"type": "text", "text": PROMPT}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": turn.text},
            *({"type": "tool_use", "id": c.id, "name": c.name, "input": dict(c.arguments)}
              for c in turn.tool_calls),
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": r.call_id, "content": r.text,
             "is_error": r.is_error}
            for r in results
        ]},
    ]
    native[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    return native


ANTHROPIC = ToolCase(
    name="anthropic",
    model="claude-sonnet-4-6",
    make=lambda url: AnthropicClient(api_key=KEY, base_url=url, retry=FAST),
    frames=anthropic_frames,
    usage=(Usage(input=120, output=57, cache_read=400, cache_write=30),
           Usage(input=310, output=24, cache_read=550)),
    offered=lambda body: body["tools"],
    history=lambda body: body["messages"],
    native=anthropic_native,
)
ANTHROPIC_TOOLS = [{"name": n, "description": d, "input_schema": s} for n, d, s in PLAIN_TOOLS]


# -- OpenAI Chat Completions, and an OpenAI-compatible preset (DeepSeek) ---------------------

OPENAI_USAGE = (
    wf.OPENAI_USAGE,
    {"prompt_tokens": 1500, "completion_tokens": 30, "total_tokens": 1530,
     "prompt_tokens_details": {"cached_tokens": 1200},
     "completion_tokens_details": {"reasoning_tokens": 0}},
)
DEEPSEEK_USAGE = (
    {"prompt_tokens": 500, "completion_tokens": 40, "total_tokens": 540,
     "prompt_cache_hit_tokens": 300, "prompt_cache_miss_tokens": 200},
    {"prompt_tokens": 700, "completion_tokens": 20, "total_tokens": 720,
     "prompt_cache_hit_tokens": 500, "prompt_cache_miss_tokens": 200},
)


def openai_frames(model: str, usage: tuple[dict[str, Any], dict[str, Any]]) -> Frames:
    def frames(say: list[str], calls: list[WireCall], round_: int) -> list[bytes]:
        return wf.openai_script(say, model, usage[round_], calls).full()
    return frames


def openai_native(turn: AssistantTurn, results: tuple[ToolOutcome, ...]) -> Native:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": turn.text, "tool_calls": [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": json.dumps(dict(c.arguments))}}
            for c in turn.tool_calls
        ]},
        *({"role": "tool", "tool_call_id": r.call_id, "content": r.text} for r in results),
    ]


OPENAI = ToolCase(
    name="openai",
    model="gpt-5-mini",
    make=lambda url: OpenAIClient(api_key=KEY, base_url=f"{url}/v1", retry=FAST),
    frames=openai_frames("gpt-5-mini", OPENAI_USAGE),
    usage=(Usage(input=200, output=80, cache_read=1000, reasoning=20),
           Usage(input=300, output=30, cache_read=1200)),
    offered=lambda body: body["tools"],
    history=lambda body: body["messages"],
    native=openai_native,
)
DEEPSEEK = replace(
    OPENAI,
    name="deepseek",
    model="deepseek-chat",
    make=lambda url: OpenAIClient(
        provider="deepseek", api_key=KEY, base_url=f"{url}/v1", retry=FAST
    ),
    frames=openai_frames("deepseek-chat", DEEPSEEK_USAGE),
    usage=(Usage(input=200, output=40, cache_read=300), Usage(input=200, output=20,
                                                              cache_read=500)),
)
OPENAI_TOOLS = [
    {"type": "function", "function": {"name": n, "description": d, "parameters": s}}
    for n, d, s in PLAIN_TOOLS
]


# -- Gemini ----------------------------------------------------------------------------------

GEMINI_USAGE = (
    wf.GEMINI_USAGE,
    {"promptTokenCount": 1100, "cachedContentTokenCount": 800, "candidatesTokenCount": 20,
     "totalTokenCount": 1120},
)


def gemini_frames(say: list[str], calls: list[WireCall], round_: int) -> list[bytes]:
    return wf.gemini_script(say, "gemini-2.5-flash", GEMINI_USAGE[round_], calls).full()


def gemini_offered(body: dict[str, Any]) -> Native:
    """The function declarations, the schema under either spelling of its field name (the
    API's JSON takes ``parametersJsonSchema`` and ``parameters_json_schema`` alike)."""
    (tool,) = body["tools"]
    return [
        {"name": d["name"], "description": d["description"],
         "parametersJsonSchema": d.get("parametersJsonSchema", d.get("parameters_json_schema"))}
        for d in tool["functionDeclarations"]
    ]


def gemini_native(turn: AssistantTurn, results: tuple[ToolOutcome, ...]) -> Native:
    def call_part(call: ToolCall) -> dict[str, Any]:
        function_call: dict[str, Any] = {"name": call.name, "args": dict(call.arguments)}
        if call.extra.get("gemini_id"):
            function_call["id"] = call.extra["gemini_id"]
        part: dict[str, Any] = {"functionCall": function_call}
        if call.extra.get("thought_signature"):
            part["thoughtSignature"] = call.extra["thought_signature"]
        return part

    ids = {c.id: c.extra.get("gemini_id") for c in turn.tool_calls}

    def result_part(result: ToolOutcome) -> dict[str, Any]:
        response: dict[str, Any] = {
            "name": result.name,
            "response": {"error" if result.is_error else "result": result.text},
        }
        if ids.get(result.call_id):
            response["id"] = ids[result.call_id]
        return {"functionResponse": response}

    return [
        {"role": "user", "parts": [{"text": PROMPT}]},
        {"role": "model", "parts": [{"text": turn.text},
                                    *(call_part(c) for c in turn.tool_calls)]},
        {"role": "user", "parts": [result_part(r) for r in results]},
    ]


GEMINI = ToolCase(
    name="gemini",
    model="gemini-2.5-flash",
    make=lambda url: GeminiClient(api_key=KEY, base_url=f"{url}/", retry=FAST),
    frames=gemini_frames,
    usage=(Usage(input=300, output=80, cache_read=600, reasoning=30),
           Usage(input=300, output=20, cache_read=800)),
    offered=gemini_offered,
    history=lambda body: body["contents"],
    native=gemini_native,
    sends_ids=False,
)
GEMINI_TOOLS = [
    {"name": n, "description": d, "parametersJsonSchema": s} for n, d, s in PLAIN_TOOLS
]

CASES = [ANTHROPIC, OPENAI, DEEPSEEK, GEMINI]
NATIVE_TOOLS = {"anthropic": ANTHROPIC_TOOLS, "openai": OPENAI_TOOLS, "deepseek": OPENAI_TOOLS,
                "gemini": GEMINI_TOOLS}


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest) -> ToolCase:
    return request.param  # type: ignore[no-any-return]


def calls_of(items: list[StreamItem]) -> list[ToolCall]:
    return [item for item in items if isinstance(item, ToolCall)]


def kinds(items: list[StreamItem]) -> list[str]:
    """The stream's shape, runs of text collapsed: e.g. ["text", "call", "usage"]."""
    shape: list[str] = []
    for item in items:
        kind = {TextDelta: "text", ToolCall: "call", UsageReport: "usage"}.get(
            type(item), type(item).__name__
        )
        if not (shape and shape[-1] == kind == "text"):
            shape.append(kind)
    return shape


def two_rounds(
    case: ToolCase, wire: WireServer, calls: list[WireCall], outcome: Callable[[ToolCall], str],
    *, is_error: bool = False,
) -> tuple[list[StreamItem], list[StreamItem], AssistantTurn, tuple[ToolOutcome, ...]]:
    """Round 1 (text + ``calls``), then round 2 with the results; both rounds' items."""
    wire.add(SSEReply(case.frames(SAY, calls, 0)), SSEReply(case.frames(FINAL, [], 1)))
    first, error = collect(case.make(wire.base_url), case.request())
    assert error is None
    turn = AssistantTurn("".join(texts(first)), tuple(calls_of(first)))
    results = tuple(
        ToolOutcome(call.id, call.name, outcome(call), is_error) for call in turn.tool_calls
    )
    second, error = collect(
        case.make(wire.base_url), case.request(turn, ToolResultsTurn(results))
    )
    assert error is None
    return first, second, turn, results


# -- the round trip ----------------------------------------------------------------------


def test_tool_round_trip_in_the_native_wire_format(case: ToolCase, wire: WireServer) -> None:
    first, second, turn, results = two_rounds(
        case, wire, case.wire_calls(READ), lambda call: "1: def total(xs):\n2:     return 0\n"
    )

    # Round 1: the text as it streamed, then the call once complete, then the usage.
    assert texts(first) == SAY
    assert kinds(first) == ["text", "call", "usage"]
    (call,) = calls_of(first)
    assert (call.id, call.name, dict(call.arguments), call.error) == (
        case.expected_id(READ, 1, 1), "read_file", READ.arguments, "",
    )

    # Round 2's body: the tools offered, the assistant turn and the result, all native.
    sent = wire.requests[1].body
    assert case.offered(sent) == NATIVE_TOOLS[case.name]
    assert case.offered(wire.requests[0].body) == NATIVE_TOOLS[case.name]
    assert case.history(sent) == case.native(turn, results)

    # Round 2: the final answer, no calls.
    assert texts(second) == FINAL
    assert calls_of(second) == []

    # Usage: each round's reported figures, summed over the rounds.
    first_usage, second_usage = (reports(items) for items in (first, second))
    assert [r.usage for r in first_usage + second_usage] == list(case.usage)
    assert first_usage[0].usage + second_usage[0].usage == sum(case.usage, Usage())
    assert not (first_usage[0].usage.estimated or second_usage[0].usage.estimated)


def test_round_trip_usage_adds_up_to_the_servers_totals() -> None:
    """The per-round figures of the cases above, against the wire numbers added by hand."""
    assert sum(ANTHROPIC.usage, Usage()) == Usage(
        input=120 + 310, output=57 + 24, cache_read=400 + 550, cache_write=30
    )
    assert sum(OPENAI.usage, Usage()) == Usage(
        input=(1200 - 1000) + (1500 - 1200), output=80 + 30, cache_read=1000 + 1200,
        reasoning=20,
    )
    assert sum(DEEPSEEK.usage, Usage()) == Usage(input=200 + 200, output=40 + 20,
                                                 cache_read=300 + 500)
    assert sum(GEMINI.usage, Usage()) == Usage(
        input=(900 - 600) + (1100 - 800), output=(50 + 30) + 20, cache_read=600 + 800,
        reasoning=30,
    )


def test_parallel_tool_calls_keep_their_order(case: ToolCase, wire: WireServer) -> None:
    # Gemini signs only the first call of a parallel set; both calls carry ids here.
    calls = [READ, WRITE]
    first, _second, turn, results = two_rounds(case, wire, calls, lambda c: f"done: {c.name}")

    assert [(c.id, c.name, dict(c.arguments)) for c in calls_of(first)] == [
        (READ.id, "read_file", READ.arguments), (WRITE.id, "write_file", WRITE.arguments),
    ]
    assert kinds(first) == ["text", "call", "call", "usage"]
    assert case.history(wire.requests[1].body) == case.native(turn, results)


def test_error_result_is_sent_back_as_an_error(case: ToolCase, wire: WireServer) -> None:
    _first, second, turn, results = two_rounds(
        case, wire, case.wire_calls(READ),
        lambda call: "error: no such file: src/report.py", is_error=True,
    )

    history = case.history(wire.requests[1].body)
    assert history == case.native(turn, results)
    # Spelled out per API: Anthropic flags it, Gemini files it under "error", and
    # Chat Completions (no flag) says so in the text.
    last = history[-1]
    if case.name == "anthropic":
        assert last["content"][0]["is_error"] is True
    elif case.name == "gemini":
        assert last["parts"][0]["functionResponse"]["response"] == {
            "error": "error: no such file: src/report.py"
        }
    else:
        assert last == {"role": "tool", "tool_call_id": READ.id,
                        "content": "error: no such file: src/report.py"}
    assert texts(second) == FINAL


def test_no_tools_offered_sends_no_tools_field(case: ToolCase, wire: WireServer) -> None:
    wire.add(SSEReply(case.frames(FINAL, [], 0)))
    items, error = collect(case.make(wire.base_url), case.request(tools=()))
    assert error is None
    assert texts(items) == FINAL
    assert "tools" not in wire.requests[0].body


def test_a_user_note_after_results_joins_their_message(case: ToolCase, wire: WireServer) -> None:
    """Tool results then a user turn (e.g. a hint): Anthropic and Gemini get one user
    message (results first), Chat Completions a tool message then a user message."""
    call = ToolCall("call_7", "read_file", {"path": "a.py"})
    wire.add(SSEReply(case.frames(FINAL, [], 0)))
    collect(case.make(wire.base_url), case.request(
        AssistantTurn("", (call,)),
        ToolResultsTurn((ToolOutcome("call_7", "read_file", "x = 1"),)),
        UserTurn("Hint: the tests are in tests/."),
    ))
    history = case.history(wire.requests[0].body)
    if case.name == "anthropic":
        assert history[1] == {"role": "assistant", "content": [
            {"type": "tool_use", "id": "call_7", "name": "read_file", "input": {"path": "a.py"}}
        ]}
        assert [b["type"] for b in history[2]["content"]] == ["tool_result", "text"]
        assert len(history) == 3
    elif case.name == "gemini":
        assert history[1] == {"role": "model", "parts": [
            {"functionCall": {"name": "read_file", "args": {"path": "a.py"}}}
        ]}
        assert [next(iter(p)) for p in history[2]["parts"]] == ["functionResponse", "text"]
        assert len(history) == 3
    else:
        assert history[2] == {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_7", "type": "function",
             "function": {"name": "read_file", "arguments": '{"path": "a.py"}'}}
        ]}
        assert [m["role"] for m in history[3:]] == ["tool", "user"]


# -- malformed calls ---------------------------------------------------------------------


@pytest.mark.parametrize("case", [ANTHROPIC, OPENAI], ids=["anthropic", "openai"])
def test_malformed_arguments_become_a_tool_call_with_an_error(
    case: ToolCase, wire: WireServer
) -> None:
    wire.add(SSEReply(case.frames(SAY, [BROKEN, WRITE], 0)))
    items, error = collect(case.make(wire.base_url), case.request())

    assert error is None  # never an exception out of the stream
    broken, fine = calls_of(items)
    assert (broken.id, broken.name, dict(broken.arguments)) == (BROKEN.id, "read_file", {})
    assert broken.error.startswith("the arguments of read_file were not valid JSON")
    assert BROKEN.arguments_text in broken.error  # the model sees what it sent
    assert fine.error == "" and dict(fine.arguments) == WRITE.arguments
    assert reports(items) == [UsageReport(case.usage[0], case.model)]


@pytest.mark.parametrize("case", [ANTHROPIC, OPENAI], ids=["anthropic", "openai"])
def test_malformed_call_goes_back_with_empty_arguments(
    case: ToolCase, wire: WireServer
) -> None:
    """The answer to a malformed call is an error result; the call itself goes back with
    ``{}`` (servers may refuse invalid JSON in the history)."""
    call = tool_call_from_json("call_9", "read_file", '{"path": ')
    wire.add(SSEReply(case.frames(FINAL, [], 1)))
    collect(case.make(wire.base_url), case.request(
        AssistantTurn("", (call,)),
        ToolResultsTurn((ToolOutcome("call_9", "read_file", f"error: {call.error}", True),)),
    ))
    body = json.dumps(case.history(wire.requests[0].body))
    if case.name == "anthropic":
        assert '"input": {}' in body
    else:
        assert '"arguments": "{}"' in body
    assert "error: the arguments of read_file were not valid JSON" in body


def test_gemini_malformed_function_call_becomes_a_tool_call_with_an_error(
    wire: WireServer,
) -> None:
    malformed = wf._gemini({
        "candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL",
                        "finishMessage": "Malformed function call: read_file(path=",
                        "index": 0}],
        "usageMetadata": wf.GEMINI_USAGE,
        "modelVersion": "gemini-2.5-flash",
    })
    wire.add(SSEReply([malformed]), SSEReply(gemini_frames(FINAL, [], 1)))
    items, error = collect(GEMINI.make(wire.base_url), GEMINI.request())

    assert error is None
    (call,) = calls_of(items)
    assert call.id == "call_1_1"
    # (The SDK drops the Developer API's finishMessage, so no detail can be quoted.)
    assert call.error == (
        "Gemini could not parse the function call it wrote (MALFORMED_FUNCTION_CALL); "
        "call the tool again with valid arguments"
    )
    assert reports(items) == [UsageReport(GEMINI.usage[0], GEMINI.model)]

    # Round 2: no function_call to answer, so the exchange goes back as plain text.
    outcome = ToolOutcome(call.id, call.name, f"error: {call.error}", True)
    collect(GEMINI.make(wire.base_url),
            GEMINI.request(AssistantTurn("", (call,)), ToolResultsTurn((outcome,))))
    model, answer = wire.requests[1].body["contents"][1:]
    assert model == {"role": "model", "parts": [{"text": "(a malformed call of a function)"}]}
    assert answer == {"role": "user", "parts": [{"text": outcome.text}]}


def test_arguments_that_are_not_an_object_are_an_error() -> None:
    call = tool_call_from_json("c1", "list_dir", '["src"]')
    assert call.arguments == {}
    assert call.error == 'the arguments of list_dir were a JSON list, not an object: ["src"]'
    assert tool_call_from_json("c2", "list_dir", "  ") == ToolCall("c2", "list_dir", {})


# -- provider specifics ------------------------------------------------------------------


def test_gemini_call_id_and_thought_signature_go_back_unchanged(wire: WireServer) -> None:
    """With ids from Gemini, each call and its response carry the model's id; only the
    first of the parallel calls is signed, and its signature returns byte for byte."""
    first, _second, _turn, _results = two_rounds(GEMINI, wire, [READ, WRITE], lambda c: "ok")
    read, write = calls_of(first)
    assert read.extra == {"gemini_id": READ.id, "thought_signature": READ.signature}
    assert write.extra == {"gemini_id": WRITE.id}
    model, answers = wire.requests[1].body["contents"][1:]
    assert model["parts"][1] == {
        "functionCall": {"id": READ.id, "name": "read_file", "args": READ.arguments},
        "thoughtSignature": READ.signature,
    }
    assert [p["functionResponse"]["id"] for p in answers["parts"]] == [READ.id, WRITE.id]


def test_gemini_calls_without_ids_get_ids_unique_in_the_conversation(
    wire: WireServer,
) -> None:
    calls = GEMINI.wire_calls(READ, WRITE)
    wire.add(SSEReply(gemini_frames(SAY, calls, 0)))
    items, _ = collect(GEMINI.make(wire.base_url), GEMINI.request())
    assert [c.id for c in calls_of(items)] == ["call_1_1", "call_1_2"]

    # The next round's calls are numbered after the rounds already in the conversation.
    turn = AssistantTurn("", tuple(calls_of(items)))
    results = tuple(ToolOutcome(c.id, c.name, "ok") for c in turn.tool_calls)
    wire.add(SSEReply(gemini_frames([], [replace(READ, id="", signature="")], 0)))
    items, _ = collect(GEMINI.make(wire.base_url),
                       GEMINI.request(turn, ToolResultsTurn(results)))
    assert [c.id for c in calls_of(items)] == ["call_2_1"]
    # Made-up ids are never sent to Gemini.
    assert "call_1_1" not in json.dumps(wire.requests[1].body)


def test_openai_compatible_fragments_without_index_are_assembled_by_id(
    wire: WireServer,
) -> None:
    """Some OpenAI-compatible servers leave ``index`` out of ``delta.tool_calls``: a new
    id starts a new call, fragments without one continue the last."""
    def chunk(item: dict[str, Any]) -> bytes:
        return wf._chunk("local-model", [{"index": 0, "delta": {"tool_calls": [item]},
                                          "finish_reason": None}])

    script = wf.openai_script(SAY, "local-model")
    frames = [
        *script.head, *script.deltas,
        chunk({"id": "a", "type": "function",
               "function": {"name": "read_file", "arguments": '{"path": '}}),
        chunk({"function": {"arguments": '"a.py"}'}}),
        chunk({"id": "b", "type": "function",
               "function": {"name": "list_dir", "arguments": "{}"}}),
        *script.tail,
    ]
    wire.add(SSEReply(frames))
    client = OpenAIClient(provider="ollama", api_key=None, base_url=f"{wire.base_url}/v1")
    items, error = collect(client, OPENAI.request())
    assert error is None
    assert calls_of(items) == [ToolCall("a", "read_file", {"path": "a.py"}),
                               ToolCall("b", "list_dir", {})]


def test_openai_calls_without_a_finish_reason_are_still_handed_over(
    wire: WireServer,
) -> None:
    script = wf.openai_script(SAY, calls=[READ])
    # Drop the finish_reason chunk: the stream just ends with the usage and [DONE].
    frames = [f for f in script.full() if b'"finish_reason": "tool_calls"' not in f]
    wire.add(SSEReply(frames))
    items, error = collect(OPENAI.make(wire.base_url), OPENAI.request())
    assert error is None
    assert [(c.id, dict(c.arguments)) for c in calls_of(items)] == [(READ.id, READ.arguments)]
    assert kinds(items) == ["text", "call", "usage"]


def test_anthropic_tool_use_sent_whole_is_taken_as_is(wire: WireServer) -> None:
    """A ``tool_use`` block whose input arrives whole in content_block_start (no deltas)."""
    script = wf.anthropic_script(SAY)
    whole = [
        wf._event("content_block_start", {
            "type": "content_block_start", "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_9", "name": "list_dir",
                              "input": {"path": "src", "depth": 1}},
        }),
        wf._event("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ]
    wire.add(SSEReply([*script.head, *script.deltas, script.tail[0], *whole,
                       *script.tail[1:]]))
    items, _ = collect(ANTHROPIC.make(wire.base_url), ANTHROPIC.request())
    assert calls_of(items) == [ToolCall("toolu_9", "list_dir", {"path": "src", "depth": 1})]


def test_stream_cut_after_a_tool_call_is_not_retried(case: ToolCase, wire: WireServer) -> None:
    """A tool call (and no text) reached the stream: retrying here would make the call
    twice."""
    calls = case.wire_calls(READ)
    frames = case.frames([], calls, 0)
    # Everything up to and including the frame that completes the call, then a cut.
    end = next(i for i, f in enumerate(frames) if _completes_call(case, f))
    cut = [*frames[:end], _unfinished(frames[end]) if case.name == "gemini" else frames[end]]
    wire.add(SSEReply(cut, ending="cut"), SSEReply(frames))
    items, error = collect(case.make(wire.base_url), case.request())

    assert isinstance(error, ProviderError)
    assert error.began and error.retryable
    assert len(calls_of(items)) == 1
    assert len(wire.requests) == 1
    (report,) = reports(items)
    assert report.usage.estimated
    # The estimate counts the call's arguments as output.
    assert report.usage.output >= Usage.estimate("", f"read_file {READ.arguments_text}").output


def _completes_call(case: ToolCase, frame: bytes) -> bool:
    if case.name == "anthropic":
        return b'"content_block_stop", "index": 1' in frame
    if case.name == "gemini":
        return b"functionCall" in frame
    return b'"finish_reason": "tool_calls"' in frame


def _unfinished(frame: bytes) -> bytes:
    """A Gemini chunk without its finishReason and final usage (more was to follow)."""
    data = json.loads(frame.removeprefix(b"data: "))
    del data["candidates"][0]["finishReason"]
    data["usageMetadata"] = {"promptTokenCount": 900, "totalTokenCount": 900}
    return wf._gemini(data)
