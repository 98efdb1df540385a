"""The :class:`ProviderFactory` for real providers, built from the config. Pure logic, no Qt.

Each tier has a route: provider, model, base URL and key. :meth:`RealProviderFactory.create`
returns a fresh SDK client for every call, so nothing provider-related is shared between
calls or threads, and nothing is process-global. SDK modules are imported on first use.

:func:`build_factory` returns None when a configured provider needs a key and none is
available (environment or keyring): the app then falls back to the demo provider.
:func:`missing_keys` says which providers lacked one, for the status bar. Both take the
key lookup of the caller's :class:`~mma_qt.core.settings.keys.KeyResolver`, so that one
start-up probes the keyring once. The offline demo (``"demo"``) is not built here.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..model.domain import Tier
from ..settings import keys
from ..settings.config import Config
from .base import ProviderClient
from .catalog import Backend, ProviderSpec, spec
from .common import DEFAULT_TIMEOUT, SdkClient
from .retry import RetryPolicy

log = logging.getLogger(__name__)

KeyLookup = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class Route:
    """Where one tier's calls go."""

    provider: str
    model: str
    base_url: str | None
    api_key: str | None = field(default=None, repr=False)

    @property
    def spec(self) -> ProviderSpec:
        return spec(self.provider)


class RealProviderFactory:
    """Creates one SDK-backed :class:`ProviderClient` per call."""

    def __init__(
        self,
        routes: Mapping[Tier, Route],
        worker_ladder: tuple[str, ...] = (),
        *,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        missing = [tier.label for tier in Tier if tier not in routes]
        if missing:
            raise ValueError(f"no route for {', '.join(missing)}")
        self._routes = MappingProxyType(dict(routes))
        self._ladder = worker_ladder or (routes[Tier.WORKER].model,)
        self._retry = retry or RetryPolicy()
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"RealProviderFactory({self.label!r})"

    @property
    def label(self) -> str:
        """``"anthropic: claude-sonnet-4-5"``; other providers used by some tiers follow."""
        first = self._routes[Tier.ORCHESTRATOR]
        others = sorted({r.provider for r in self._routes.values()} - {first.provider})
        extra = f" (+ {', '.join(others)})" if others else ""
        return f"{first.provider}: {first.model}{extra}"

    @property
    def is_demo(self) -> bool:
        return False

    @property
    def routes(self) -> Mapping[Tier, Route]:
        return self._routes

    def model_for(self, tier: Tier, attempt: int = 0) -> str:
        if tier is Tier.WORKER:
            return self._ladder[min(max(attempt, 0), len(self._ladder) - 1)]
        return self._routes[tier].model

    def create(self, tier: Tier) -> ProviderClient:
        route = self._routes[tier]
        client_class = _client_class(route.spec.backend)
        return client_class(
            provider=route.provider,
            api_key=route.api_key,
            base_url=route.base_url,
            retry=self._retry,
            timeout=self._timeout,
            rng=random.Random(),
        )


def _client_class(backend: Backend) -> type[SdkClient]:
    """The adapter for ``backend``; its SDK is imported on first use."""
    if backend is Backend.ANTHROPIC:
        from .anthropic_provider import AnthropicClient

        return AnthropicClient
    if backend is Backend.GEMINI:
        from .gemini_provider import GeminiClient

        return GeminiClient
    from .openai_provider import OpenAIClient

    return OpenAIClient


# -- building from the config ------------------------------------------------------------


def tier_provider(config: Config, tier: Tier, provider_override: str | None = None) -> str:
    return provider_override or config.provider_for(tier)


def tier_model(config: Config, tier: Tier, provider_override: str | None = None) -> str:
    """The configured model, unless the override moved the tier to another provider."""
    provider = tier_provider(config, tier, provider_override)
    settings = config.tier(tier)
    if settings.model and config.provider_for(tier) == provider:
        return settings.model
    return spec(provider).default_model(tier)


def worker_ladder(config: Config, provider_override: str | None = None) -> tuple[str, ...]:
    provider = tier_provider(config, Tier.WORKER, provider_override)
    first = tier_model(config, Tier.WORKER, provider_override)
    settings = config.tiers.tier3
    same_provider = config.provider_for(Tier.WORKER) == provider
    if same_provider and settings.escalation:
        rest = list(settings.escalation)
    elif same_provider and settings.model:
        rest = []  # a model chosen by hand, no ladder: retries stay on it
    else:
        rest = list(spec(provider).ladder)
    ladder: list[str] = [first]
    for model in rest:
        if model and model not in ladder:
            ladder.append(model)
    return tuple(ladder)


def missing_keys(
    config: Config, provider_override: str | None = None, lookup: KeyLookup | None = None
) -> list[str]:
    """Providers the config needs that have no key, in tier order. ``lookup`` defaults to
    a fresh :class:`keys.KeyResolver`; it is asked only about providers that need a key."""
    get = lookup or keys.KeyResolver().get
    missing: list[str] = []
    for provider in dict.fromkeys(tier_provider(config, t, provider_override) for t in Tier):
        if spec(provider).needs_key and not get(provider):
            missing.append(provider)
    return missing


def build_factory(
    config: Config,
    provider_override: str | None = None,
    *,
    lookup: KeyLookup | None = None,
    retry: RetryPolicy | None = None,
) -> RealProviderFactory | None:
    """A factory for ``config`` (every tier on ``provider_override`` if given), or None
    when a provider it needs has no key. ``lookup`` defaults to a fresh
    :class:`keys.KeyResolver`; it is asked only about providers that need a key (a local
    server never touches the keyring). ValueError for an unknown provider or the demo."""
    if provider_override is not None:
        spec(provider_override)  # unknown name: ValueError naming the known ones
    get = lookup or keys.KeyResolver().get
    found: dict[str, str | None] = {}
    routes: dict[Tier, Route] = {}
    for tier in Tier:
        provider = tier_provider(config, tier, provider_override)
        provider_spec = spec(provider)
        if provider not in found:
            found[provider] = get(provider) if provider_spec.needs_key else None
        key = found[provider]
        if provider_spec.needs_key and not key:
            log.info("no API key for %s (%s)", provider, keys.key_hint(provider))
            return None
        routes[tier] = Route(
            provider=provider,
            model=tier_model(config, tier, provider_override),
            base_url=config.base_url_for(provider) or provider_spec.base_url,
            api_key=key,
        )
    policy = retry or RetryPolicy(attempts=config.request_attempts)
    return RealProviderFactory(
        routes,
        worker_ladder(config, provider_override),
        retry=policy,
        timeout=config.request_timeout,
    )
