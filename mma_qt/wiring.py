"""Putting the app together: the provider factory, and the session-to-hook object graph.

``assemble`` is used by ``mma-qt`` and by the in-process tests, so the tests drive the
same objects, wired the same way, as a user's window.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .core.live.session import MmaSession
from .core.model.options import RunOptions
from .core.model.pricing import PricingTable
from .core.providers.base import ProviderFactory
from .core.providers.catalog import DEMO
from .core.providers.demo import DemoProviderFactory, Scenario
from .core.providers.registry import build_factory, missing_keys
from .core.run.controller import Controller
from .core.settings import keys
from .core.settings.config import Config
from .hooks.server import HookServer
from .ui.hook_api import AppHookApi
from .ui.log_panel import QtLogHandler
from .ui.main_window import MainWindow

log = logging.getLogger(__name__)


class NoKeyError(RuntimeError):
    """A provider was asked for by name but has no API key."""


def make_provider_factory(
    args: argparse.Namespace, config: Config, *, say: Callable[[str], None] = print
) -> ProviderFactory:
    """The demo when asked for (``--provider demo``, or ``provider = "demo"`` in the config
    with no ``--provider``), else the configured (or ``--provider``) real providers.

    With no provider named and no key configured, fall back to the demo and say why; with
    a provider named explicitly and no key, refuse (the user asked for a real model). One
    :class:`keys.KeyResolver` serves the whole choice, so the keyring is probed at most
    once, and only if a provider that needs a key is configured.
    """
    if (args.provider or config.provider) == DEMO:
        return _demo_factory(args)
    resolver = keys.KeyResolver()
    factory = build_factory(config, args.provider, lookup=resolver.get)
    if factory is not None:
        return factory
    missing = missing_keys(config, args.provider, lookup=resolver.get)
    hints = "; ".join(f"{name}: {keys.key_hint(name)}" for name in missing)
    if args.provider is not None:
        raise NoKeyError(f"no API key for {', '.join(missing)} ({hints}). "
                         f"Keyring: {resolver.keyring_status()}")
    say(f"no API key for {', '.join(missing)} ({hints}); using the offline DEMO provider")
    return _demo_factory(args)


def _demo_factory(args: argparse.Namespace) -> DemoProviderFactory:
    scenario = Scenario.load(args.scenario) if args.scenario is not None else Scenario()
    return DemoProviderFactory(delay=args.demo_delay, scenario=scenario)


@dataclass(frozen=True, slots=True)
class AppParts:
    session: MmaSession
    controller: Controller
    window: MainWindow
    hook: HookServer
    api: AppHookApi


def assemble(
    factory: ProviderFactory,
    pricing: PricingTable,
    options: RunOptions,
    *,
    auto: bool,
    hook_address: str,
    log_handler: QtLogHandler | None = None,
    config: Config | None = None,
) -> AppParts:
    """Build session, controller, window and a listening hook server (raises on failure)."""
    session = MmaSession(pricing, factory.label)
    controller = Controller(session, factory, options, auto=auto,
                            mcp=None if config is None else config.mcp.servers)
    if log_handler is None:
        log_handler = QtLogHandler(logging.INFO)
    window = MainWindow(controller, log_handler, config=config)
    session.setParent(window)
    controller.setParent(window)
    api = AppHookApi(window)
    hook = HookServer(hook_address, api, window)
    hook.listen()
    session.bus.published.connect(hook.publish)
    return AppParts(session, controller, window, hook, api)
