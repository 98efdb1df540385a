"""build_factory: routes per tier, the Tier 3 ladder, keys, presets, fresh clients."""

from __future__ import annotations

import pytest

from mma_qt.core.model.cancel import CancelToken
from mma_qt.core.model.domain import Tier
from mma_qt.core.providers.anthropic_provider import AnthropicClient
from mma_qt.core.providers.base import (
    CompletionRequest,
    ProviderClient,
    ProviderFactory,
    TextDelta,
    UsageReport,
)
from mma_qt.core.providers.common import RetryPolicy
from mma_qt.core.providers.gemini_provider import GeminiClient
from mma_qt.core.providers.openai_provider import OpenAIClient
from mma_qt.core.providers.registry import build_factory, missing_keys
from mma_qt.core.settings.config import Config

from .conftest import MemoryKeyring
from .wire import SSEReply, WireServer, openai_script

KEY = "sk-registry-0123456789abcdef"


def factory(config: Config, override: str | None = None) -> ProviderFactory:
    built = build_factory(config, override)
    assert built is not None
    return built


def test_no_key_means_no_factory() -> None:
    assert build_factory(Config()) is None
    assert missing_keys(Config()) == ["anthropic"]


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    built = factory(Config())
    assert built.label == "anthropic: claude-sonnet-4-6"
    assert built.is_demo is False
    assert KEY not in repr(built)
    assert KEY not in repr(built.routes)  # type: ignore[attr-defined]


def test_key_from_keyring(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password("mma-qt", "gemini", KEY)
    built = factory(Config(provider="gemini"))
    assert built.label == "gemini: gemini-2.5-pro"
    assert isinstance(built.create(Tier.WORKER), GeminiClient)


def test_default_worker_ladder_climbs_and_stays_on_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    built = factory(Config())
    assert [built.model_for(Tier.WORKER, n) for n in range(5)] == [
        "claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-8",
        "claude-opus-4-8", "claude-opus-4-8",
    ]
    assert built.model_for(Tier.QA, 3) == "claude-haiku-4-5"


def test_configured_models_and_escalation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    config = Config.model_validate(
        {
            "provider": "openai",
            "tiers": {
                "tier1": {"model": "o3"},
                "tier3": {"model": "gpt-4.1-mini", "escalation": ["gpt-4.1", "gpt-4.1-mini", "o3"]},
            },
        }
    )
    built = factory(config)
    assert built.model_for(Tier.ORCHESTRATOR) == "o3"
    assert built.model_for(Tier.TECH_LEAD) == "gpt-5"
    assert [built.model_for(Tier.WORKER, n) for n in range(4)] == [
        "gpt-4.1-mini", "gpt-4.1", "o3", "o3",
    ]
    client = built.create(Tier.WORKER)
    assert isinstance(client, OpenAIClient)
    assert client.max_completion_tokens is True


def test_hand_picked_worker_model_without_escalation_does_not_climb(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    built = factory(Config.model_validate({"tiers": {"tier3": {"model": "claude-opus-4-8"}}}))
    assert built.model_for(Tier.WORKER, 2) == "claude-opus-4-8"


def test_mixed_providers_need_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    config = Config.model_validate({"tiers": {"tier4": {"provider": "deepseek"}}})
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert build_factory(config) is None
    assert missing_keys(config) == ["deepseek"]
    monkeypatch.setenv("DEEPSEEK_API_KEY", KEY)
    built = factory(config)
    assert built.label == "anthropic: claude-sonnet-4-6 (+ deepseek)"
    assert built.model_for(Tier.QA) == "deepseek-chat"
    assert isinstance(built.create(Tier.QA), OpenAIClient)
    assert isinstance(built.create(Tier.ORCHESTRATOR), AnthropicClient)


def test_override_moves_every_tier_to_its_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    config = Config.model_validate({"tiers": {"tier1": {"model": "claude-opus-4-8"}}})
    built = factory(config, "gemini")
    assert built.model_for(Tier.ORCHESTRATOR) == "gemini-2.5-pro"
    assert [built.model_for(Tier.WORKER, n) for n in range(3)] == [
        "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-pro",
    ]
    with pytest.raises(ValueError, match="unknown provider 'acme'"):
        build_factory(config, "acme")


def test_local_preset_needs_no_key() -> None:
    built = factory(Config(provider="ollama"))
    assert built.label == "ollama: qwen2.5-coder"
    client = built.create(Tier.WORKER)
    assert isinstance(client, OpenAIClient)
    assert client.base_url == "http://localhost:11434/v1"
    assert client.max_completion_tokens is False


def test_each_call_gets_a_fresh_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    built = factory(Config())
    first, second = built.create(Tier.WORKER), built.create(Tier.WORKER)
    assert first is not second
    assert isinstance(first, ProviderClient)
    assert KEY not in repr(first)


def test_factory_streams_through_a_configured_base_url(wire: WireServer) -> None:
    config = Config.model_validate(
        {"provider": "vllm", "providers": {"vllm": {"base_url": f"{wire.base_url}/v1"}},
         "request_attempts": 2}
    )
    built = build_factory(config, retry=RetryPolicy(attempts=2, base_delay=0.001))
    assert built is not None
    wire.add(SSEReply(openai_script(["ok", "!"], "local-model").full()))
    request = CompletionRequest(
        tier=Tier.WORKER, model=built.model_for(Tier.WORKER), system="", prompt="hi",
        stream_id="Tier 3 (Worker): T-1", ticket_id="T-1",
    )
    client = built.create(Tier.WORKER)
    items = list(client.stream(request, CancelToken()))
    client.close()
    assert [i.text for i in items if isinstance(i, TextDelta)] == ["ok", "!"]
    assert isinstance(items[-1], UsageReport)
    assert wire.requests[0].body["model"] == "local-model"
    assert wire.requests[0].headers["authorization"] == "Bearer not-needed"


def test_keys_are_looked_up_only_for_providers_that_need_one() -> None:
    asked: list[str] = []

    def lookup(provider: str) -> str | None:
        asked.append(provider)
        return KEY

    config = Config.model_validate(
        {"provider": "ollama", "tiers": {"tier4": {"provider": "openai"}}}
    )
    built = build_factory(config, lookup=lookup)
    assert built is not None
    assert missing_keys(config, lookup=lookup) == []
    assert asked == ["openai", "openai"]

    asked.clear()
    assert build_factory(Config(), "lmstudio", lookup=lookup) is not None
    assert missing_keys(Config(), "lmstudio", lookup=lookup) == []
    assert asked == []


def test_unknown_provider_error_lists_the_offline_demo() -> None:
    with pytest.raises(ValueError, match=r"known: demo \(the offline demo\), anthropic, openai"):
        build_factory(Config(), "nosuch")


def test_the_demo_is_not_built_as_a_real_provider() -> None:
    with pytest.raises(ValueError, match="'demo' is the offline demo"):
        build_factory(Config(provider="demo"))
