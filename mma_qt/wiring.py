"""Putting the app together: the provider factory, and the session-to-hook object graph.

``assemble`` is used by ``mma-qt`` and by the in-process tests, so the tests drive the
same objects, wired the same way, as a user's window.
"""

from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .core.history.recorder import HistoryRecorder
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
from .ui.history_ui import HistoryUi
from .ui.hook_api import AppHookApi, status_document
from .ui.log_panel import QtLogHandler
from .ui.main_window import MainWindow, ProviderChooser

log = logging.getLogger(__name__)


class NoKeyError(ValueError):
    """A provider that needs an API key has none (neither environment nor keyring)."""

    def __init__(self, missing: list[str], keyring_status: str) -> None:
        hints = "; ".join(f"{name}: {keys.key_hint(name)}" for name in missing)
        #: "no API key for openai (openai: set OPENAI_API_KEY, or ...)"
        self.reason = f"no API key for {', '.join(missing)} ({hints})"
        self.missing = missing
        super().__init__(f"{self.reason}. Keyring: {keyring_status}")


def choose_factory(
    config: Config, provider: str | None = None, *, demo: Callable[[], ProviderFactory]
) -> ProviderFactory:
    """The one policy for which providers serve a run: ``demo()`` when the demo is named
    (``provider``, else the config's), else the configured real providers (every tier on
    ``provider`` if given). Raises :class:`NoKeyError` when a key is missing, ValueError for
    an unknown provider.

    One :class:`keys.KeyResolver` serves the whole choice and each provider's key is looked
    up once, so the keyring is probed at most once, and only if a provider that needs a
    key is configured. Blocking (the keyring): the window calls it off the GUI thread.
    """
    if (provider or config.provider) == DEMO:
        return demo()
    resolver = keys.KeyResolver()
    lookup = functools.cache(resolver.get)
    factory = build_factory(config, provider, lookup=lookup)
    if factory is not None:
        return factory
    missing = missing_keys(config, provider, lookup=lookup)
    raise NoKeyError(missing, resolver.keyring_status())


def make_provider_factory(
    args: argparse.Namespace, config: Config, *, say: Callable[[str], None] = print
) -> ProviderFactory:
    """At start-up: :func:`choose_factory` for the config and ``--provider``.

    With no provider named and no key configured, fall back to the demo and say why; with
    a provider named explicitly and no key, refuse (the user asked for a real model).
    """
    demo = functools.partial(_demo_factory, args)
    try:
        return choose_factory(config, args.provider, demo=demo)
    except NoKeyError as exc:
        if args.provider is not None:
            raise
        say(f"{exc.reason}; using the offline DEMO provider")
        return demo()


def provider_chooser(started_with: ProviderFactory) -> ProviderChooser:
    """:func:`choose_factory` for the window's Settings (no ``--provider`` override: the
    saved config decides). A config naming the demo gets the demo the app started with,
    if it did (its delay and scenario), else a default one."""
    if started_with.is_demo:
        return functools.partial(choose_factory, demo=lambda: started_with)
    return functools.partial(choose_factory, demo=DemoProviderFactory)


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
    #: Records each run into ``<workspace>/.mma/history.sqlite3``; close it after the run.
    history: HistoryRecorder
    #: The window's History dock, past runs read-only, Resume, Re-run… and reports.
    history_ui: HistoryUi


def assemble(
    factory: ProviderFactory,
    pricing: PricingTable,
    options: RunOptions,
    *,
    auto: bool,
    hook_address: str,
    log_handler: QtLogHandler | None = None,
    config: Config | None = None,
    choose: ProviderChooser | None = None,
) -> AppParts:
    """Build session, controller, window and a listening hook server (raises on failure).

    ``choose`` builds the providers when Settings are saved; by default
    :func:`provider_chooser` of ``factory``.
    """
    session = MmaSession(pricing, factory.label)
    controller = Controller(session, factory, options, auto=auto,
                            mcp=None if config is None else config.mcp.servers)
    if log_handler is None:
        log_handler = QtLogHandler(logging.INFO)
    history = HistoryRecorder(
        session, functools.partial(status_document, controller, streams=False))
    window = MainWindow(controller, log_handler, choose=choose or provider_chooser(factory),
                        config=config, history=history)
    session.setParent(window)
    controller.setParent(window)
    history.setParent(window)
    history_ui = window.history
    if history_ui is None:  # the window installs it whenever it is given a recorder
        raise RuntimeError("the window has no History dock")
    api = AppHookApi(window, history)
    hook = HookServer(hook_address, api, window)
    hook.listen()
    session.bus.published.connect(hook.publish)
    return AppParts(session, controller, window, hook, api, history, history_ui)
