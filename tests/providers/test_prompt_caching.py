"""Issue 11 acceptance 5, prompt caching: a track of several tickets run through the real
Anthropic, OpenAI and Gemini adapters against loopback wire servers.

The servers behave like a provider's prompt cache: a call whose system text the server
has seen before reports it as cache reads (Anthropic ``cache_read_input_tokens``, OpenAI
``prompt_tokens_details.cached_tokens``, which ``prompt_tokens`` includes, Gemini
``cachedContentTokenCount``, which ``promptTokenCount`` includes), the first one as a
cache write (Anthropic) or uncached input (OpenAI, Gemini). So tickets 2..n hit only if they
send ticket 1's prefix byte for byte, and the app must count each reported token once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.domain import Tier
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.status import RunStatus
from mma_qt.core.model.usage import Usage
from mma_qt.core.providers.anthropic_provider import AnthropicClient
from mma_qt.core.providers.base import (
    AssistantTurn,
    CompletionRequest,
    ToolCall,
    ToolDefinition,
    ToolOutcome,
    ToolResultsTurn,
)
from mma_qt.core.providers.registry import build_factory
from mma_qt.core.settings.config import (
    Config,
    ProviderConfig,
    TierConfig,
    TiersConfig,
    WorkerTierConfig,
)

from .wire import (
    Recorded,
    Reply,
    SSEReply,
    WireServer,
    anthropic_script,
    gemini_script,
    openai_script,
)

TICKETS = [
    {"id": "T-001", "title": "The row model", "depends_on": [],
     "target_files": ["reports/model.py"]},
    {"id": "T-002", "title": "CSV export", "depends_on": ["T-001"],
     "target_files": ["reports/csv_export.py"]},
    {"id": "T-003", "title": "Command line", "depends_on": ["T-001"],
     "target_files": ["reports/cli.py"]},
    {"id": "T-004", "title": "Document it", "depends_on": ["T-002", "T-003"],
     "target_files": ["docs/export.md"]},
]
PLAN_TRACKS = {"tracks": [{"id": "TR-1", "title": "CSV export",
                           "description": "Add reports/csv_export.py and reports/cli.py."}]}


def workspace(folder: Path) -> Path:
    files = {
        ".gitignore": "build/\n",
        "build/junk.txt": "ignored\n",
        "reports/__init__.py": '"""Reports."""\n',
        "reports/model.py": '"""Rows."""\n\n\nclass Row:\n    """A row."""\n\n'
                            '    def cells(self) -> list[str]:\n        return []\n',
        "reports/csv_export.py": "from reports.model import Row\n\n\n"
                                 "def export(rows: list[Row]) -> str:\n    return ''\n",
        "README.md": "# Reports\n" + "Some words about the project.\n" * 40,
    }
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    return folder


@dataclass
class Served:
    tier: Tier
    ticket: str | None
    system: str
    user: str
    body: dict[str, Any]
    usage: Usage


@dataclass
class CachingServer:
    """Answers every tier like the provider named, with a prompt cache keyed on the
    system text (tools count as part of the prefix, as for Anthropic)."""

    provider: str
    seen: set[str] = field(default_factory=set)
    served: list[Served] = field(default_factory=list)

    def __call__(self, recorded: Recorded) -> Reply:
        body = recorded.body
        if self.provider == "anthropic":
            blocks = body.get("system", [])
            system = "".join(b["text"] for b in blocks)
            user = body["messages"][0]["content"][0]["text"]
        elif self.provider == "gemini":
            system = "".join(p["text"] for p in body["systemInstruction"]["parts"])
            user = body["contents"][0]["parts"][0]["text"]
        else:
            system = next(m["content"] for m in body["messages"] if m["role"] == "system")
            user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        tier = Tier(int(re.search(r"Tier (\d)", system).group(1)))  # type: ignore[union-attr]
        found = re.search(r"^Ticket id: (\S+)", user, re.MULTILINE)
        prefix = json.dumps(body.get("tools", [])) + system
        hit = prefix in self.seen
        self.seen.add(prefix)
        prefix_tokens, own_tokens = len(prefix) // 4, len(user) // 4 + 3
        text = self._reply(tier, found.group(1) if found else None)
        usage = Usage(input=own_tokens, output=len(text) // 4 + 1,
                      cache_read=prefix_tokens if hit else 0,
                      cache_write=0 if hit or self.provider != "anthropic" else prefix_tokens)
        if self.provider != "anthropic" and not hit:
            usage = Usage(input=own_tokens + prefix_tokens, output=usage.output)
        self.served.append(Served(tier, found.group(1) if found else None, system, user, body,
                                  usage))
        pieces = [text[i:i + 40] for i in range(0, len(text), 40)]
        model = body.get("model") or recorded.path.split("/models/")[1].split(":")[0]
        if self.provider == "gemini":
            return SSEReply(gemini_script(pieces, model, {
                "promptTokenCount": usage.input + usage.cache_read,
                "cachedContentTokenCount": usage.cache_read,
                "candidatesTokenCount": usage.output,
                "totalTokenCount": usage.input + usage.cache_read + usage.output}).full())
        if self.provider == "anthropic":
            figures = {"input_tokens": usage.input, "output_tokens": usage.output,
                       "cache_read_input_tokens": usage.cache_read,
                       "cache_creation_input_tokens": usage.cache_write}
            return SSEReply(anthropic_script(pieces, model, start_usage={**figures,
                            "output_tokens": 1}, final_usage=figures).full())
        cached = usage.cache_read
        figures = {
            "prompt_tokens": usage.input + cached, "completion_tokens": usage.output,
            "total_tokens": usage.input + cached + usage.output,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
        return SSEReply(openai_script(pieces, model, figures).full())

    @staticmethod
    def _reply(tier: Tier, ticket: str | None) -> str:
        if tier is Tier.ORCHESTRATOR:
            return "One track.\n```json\n" + json.dumps(PLAN_TRACKS) + "\n```"
        if tier is Tier.TECH_LEAD:
            return "Four tickets.\n```json\n" + json.dumps({"tickets": TICKETS}) + "\n```"
        return f"Done: {ticket} changed its target file and checked it."

    def workers(self) -> list[Served]:
        return [s for s in self.served if s.tier is Tier.WORKER]


MODELS = {"anthropic": "claude-sonnet-4-6", "openai": "gpt-4o-mini",
          "gemini": "gemini-2.5-flash"}


def config(provider: str, base_url: str) -> Config:
    model = MODELS[provider]
    url = base_url + "/v1" if provider == "openai" else base_url + "/"
    return Config(
        provider=provider, providers={provider: ProviderConfig(base_url=url)},
        tiers=TiersConfig(tier1=TierConfig(model=model), tier2=TierConfig(model=model),
                          tier3=WorkerTierConfig(model=model), tier4=TierConfig(model=model)))


@pytest.mark.parametrize("provider", list(MODELS))
def test_tickets_of_a_track_share_the_first_tickets_prefix_and_cache_reads_count_once(
    provider: str, qtbot: Any, start: Any, tmp_path: Path
) -> None:
    server = CachingServer(provider)
    with WireServer(responder=server) as wire:
        factory = build_factory(config(provider, wire.base_url), lookup=lambda _: "sk-test-1")
        assert factory is not None
        runner, task = start(factory, RunOptions(max_workers=1),
                             workspace=str(workspace(tmp_path)), epic="Add CSV export")
        qtbot.waitUntil(task.done, timeout=60_000)
    assert task.result() is RunStatus.DONE, runner.session.error

    workers = server.workers()
    assert [w.ticket for w in workers] == ["T-001", "T-002", "T-003", "T-004"]
    first = workers[0]
    assert "reports/model.py" in first.system and "class Row:" in first.system  # map, skeletons
    assert "build/" not in first.system  # .gitignore honoured
    for later in workers[1:]:
        assert later.system == first.system  # byte for byte
        assert later.user != first.user
        assert later.usage.cache_read > 0
    if provider == "anthropic":
        for served in server.served:
            (block,) = served.body["system"]
            assert block["cache_control"] == {"type": "ephemeral"}
            assert block["text"] == served.system
        assert first.usage.cache_write > 0
    else:  # automatic prefix caching: nothing to mark
        assert "cache_control" not in json.dumps([w.body for w in workers])

    status = runner.session.snapshot()
    for tier in (Tier.ORCHESTRATOR, Tier.TECH_LEAD, Tier.WORKER):
        reported = sum((s.usage for s in server.served if s.tier is tier), Usage())
        got = status["tier_usage"][tier.label]
        assert (got["input"], got["output"], got["cache_read"], got["cache_write"]) == (
            reported.input, reported.output, reported.cache_read, reported.cache_write), tier
        assert got["estimated"] is False
    assert status["tier_usage"]["Tier 3"]["cache_read"] == sum(
        w.usage.cache_read for w in workers[1:]) > 0


def anthropic_body(wire: WireServer, request: CompletionRequest) -> dict[str, Any]:
    wire.add(SSEReply(anthropic_script(["ok"]).full()))
    client = AnthropicClient(api_key="sk-test-1", base_url=wire.base_url)
    list(client.stream(request, CancelToken()))
    return wire.requests[-1].body


def breakpoints(body: dict[str, Any]) -> list[str]:
    """Where the request's cache breakpoints are: ``system`` or ``message N block M``."""
    found = [f"system {i}" for i, b in enumerate(body["system"]) if "cache_control" in b]
    for n, message in enumerate(body["messages"]):
        found += [f"message {n} block {m}" for m, b in enumerate(message["content"])
                  if b.get("cache_control") == {"type": "ephemeral"}]
    return found


def test_anthropic_marks_the_system_text_and_a_tool_conversations_last_block(
    wire: WireServer,
) -> None:
    tool = ToolDefinition("read_file", "Read a file", {"type": "object", "properties": {}})
    call = ToolCall("toolu_1", "read_file", {"path": "a.py"})
    first = CompletionRequest(Tier.WORKER, "claude-sonnet-4-6", "SYSTEM", "PROMPT", "s",
                              tools=(tool,))
    later = replace(first, history=(AssistantTurn("Reading.", (call,)),
                                    ToolResultsTurn((ToolOutcome("toolu_1", "read_file", "x"),))))
    plain = replace(first, tools=())

    assert breakpoints(anthropic_body(wire, first)) == ["system 0", "message 0 block 0"]
    assert breakpoints(anthropic_body(wire, later)) == ["system 0", "message 2 block 0"]
    assert breakpoints(anthropic_body(wire, plain)) == ["system 0"]
