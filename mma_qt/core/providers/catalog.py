"""The providers the app knows: which SDK serves each, default URLs, models and ladders.

Pure data and no SDK imports, so the config can validate provider names cheaply. Three
SDKs serve everything: ``anthropic``, ``openai`` (Chat Completions; with a ``base_url`` it
also serves DeepSeek, OpenRouter and local OpenAI-compatible servers through the presets
below) and ``google-genai``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from ..model.domain import Tier


class Backend(StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    GEMINI = "gemini"


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    backend: Backend
    #: None: the SDK's own default endpoint.
    base_url: str | None
    #: False for local servers, which accept any (or no) key.
    needs_key: bool
    models: Mapping[Tier, str]
    #: Tier 3 escalation ladder used when the config names none (first = Tier 3 model).
    ladder: tuple[str, ...]
    #: Chat Completions only: send ``max_completion_tokens`` instead of ``max_tokens``.
    max_completion_tokens: bool = False

    def default_model(self, tier: Tier) -> str:
        return self.models[tier]


def _same(model: str) -> Mapping[Tier, str]:
    return MappingProxyType(dict.fromkeys(Tier, model))


def _models(
    orchestrator: str, tech_lead: str, worker: str, qa: str
) -> Mapping[Tier, str]:
    return MappingProxyType(
        {
            Tier.ORCHESTRATOR: orchestrator,
            Tier.TECH_LEAD: tech_lead,
            Tier.WORKER: worker,
            Tier.QA: qa,
        }
    )


@dataclass(frozen=True, slots=True)
class OpenAIPreset:
    """An OpenAI-compatible endpoint: base URL, whether it needs a key, default model."""

    base_url: str
    needs_key: bool
    default_model: str


#: OpenAI-compatible presets (name -> base URL, key needed, default model). Keys come from
#: :data:`mma_qt.core.settings.keys.ENV_VARS` (DEEPSEEK_API_KEY, OPENROUTER_API_KEY) or the keyring.
OPENAI_COMPATIBLE_PRESETS: Mapping[str, OpenAIPreset] = MappingProxyType(
    {
        "deepseek": OpenAIPreset("https://api.deepseek.com/v1", True, "deepseek-chat"),
        "openrouter": OpenAIPreset(
            "https://openrouter.ai/api/v1", True, "anthropic/claude-sonnet-4.6"
        ),
        "ollama": OpenAIPreset("http://localhost:11434/v1", False, "qwen2.5-coder"),
        "llamacpp": OpenAIPreset("http://localhost:8080/v1", False, "local-model"),
        "vllm": OpenAIPreset("http://localhost:8000/v1", False, "local-model"),
        "lmstudio": OpenAIPreset("http://localhost:1234/v1", False, "local-model"),
    }
)


def _preset_spec(name: str, preset: OpenAIPreset) -> ProviderSpec:
    ladder: tuple[str, ...] = (preset.default_model,)
    if name == "deepseek":
        ladder = ("deepseek-chat", "deepseek-reasoner")
    return ProviderSpec(
        name=name,
        backend=Backend.OPENAI,
        base_url=preset.base_url,
        needs_key=preset.needs_key,
        models=_same(preset.default_model),
        ladder=ladder,
    )


def _cloud(
    name: str,
    backend: Backend,
    models: tuple[str, str, str, str],
    ladder: tuple[str, ...],
    *,
    max_completion_tokens: bool = False,
) -> ProviderSpec:
    """A provider's own cloud API: the SDK's default endpoint, a key needed."""
    return ProviderSpec(
        name=name,
        backend=backend,
        base_url=None,
        needs_key=True,
        models=_models(*models),
        ladder=ladder,
        max_completion_tokens=max_completion_tokens,
    )


PROVIDERS: Mapping[str, ProviderSpec] = MappingProxyType(
    {
        "anthropic": _cloud(
            "anthropic",
            Backend.ANTHROPIC,
            ("claude-sonnet-4-6", "claude-sonnet-4-6", "claude-haiku-4-5", "claude-haiku-4-5"),
            ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-8"),
        ),
        "openai": _cloud(
            "openai",
            Backend.OPENAI,
            ("gpt-5", "gpt-5", "gpt-5-mini", "gpt-5-mini"),
            ("gpt-5-mini", "gpt-5"),
            max_completion_tokens=True,
        ),
        "gemini": _cloud(
            "gemini",
            Backend.GEMINI,
            ("gemini-2.5-pro", "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash"),
            ("gemini-2.5-flash", "gemini-2.5-pro"),
        ),
        **{name: _preset_spec(name, p) for name, p in OPENAI_COMPATIBLE_PRESETS.items()},
    }
)

#: The SDK-backed providers.
PROVIDER_NAMES: tuple[str, ...] = tuple(PROVIDERS)

#: The offline demo (:mod:`.demo`): no network, no key, every tier. Not SDK-backed, so it
#: has no :class:`ProviderSpec`; ``--provider`` and the config's top-level ``provider``
#: accept it beside :data:`PROVIDER_NAMES`.
DEMO = "demo"


def known_providers() -> str:
    """The accepted names for error messages, the demo labelled as what it is."""
    return ", ".join([f"{DEMO} (the offline demo)", *PROVIDER_NAMES])


def spec(name: str) -> ProviderSpec:
    """The SDK-backed provider ``name``; ValueError naming the known ones otherwise."""
    if name == DEMO:
        raise ValueError(f"{DEMO!r} is the offline demo, not an SDK-backed provider")
    try:
        return PROVIDERS[name]
    except KeyError as exc:
        raise ValueError(f"unknown provider {name!r} (known: {known_providers()})") from exc
