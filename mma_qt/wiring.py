"""Putting the app together: the provider factory, and the session-to-hook object graph.

``assemble`` is used by ``mma-qt`` and by the in-process tests, so the tests drive the
same objects, wired the same way, as a user's window.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

from .core.conductor import RunOptions
from .core.controller import Controller
from .core.pricing import PricingTable
from .core.providers.base import ProviderFactory
from .core.providers.demo import DemoProviderFactory, Scenario
from .core.session import MmaSession
from .hooks.server import HookServer
from .ui.hook_api import AppHookApi
from .ui.log_panel import QtLogHandler
from .ui.main_window import MainWindow


def make_provider_factory(args: argparse.Namespace) -> ProviderFactory:
    provider = args.provider or "demo"
    if provider != "demo":
        raise ValueError(f"provider {provider!r} is not available yet; use --provider demo")
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
) -> AppParts:
    """Build session, controller, window and a listening hook server (raises on failure)."""
    session = MmaSession(pricing, factory.label)
    controller = Controller(session, factory, options, auto=auto)
    if log_handler is None:
        log_handler = QtLogHandler(logging.INFO)
    window = MainWindow(controller, log_handler)
    session.setParent(window)
    controller.setParent(window)
    api = AppHookApi(window)
    hook = HookServer(hook_address, api, window)
    hook.listen()
    session.bus.published.connect(hook.publish)
    return AppParts(session, controller, window, hook, api)
