"""``mma-qt``: the command line that opens the window (or runs it offscreen)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .arguments import StartupError, check_args, parse_args, write_report
from .core.model.status import RunStatus
from .parsing import EXIT_USAGE

if TYPE_CHECKING:
    from .ui.log_panel import QtLogHandler
    from .wiring import AppParts

log = logging.getLogger("mma_qt")

EXIT_CODES: dict[str, int] = {RunStatus.DONE: 0, RunStatus.FAILED: 1, RunStatus.CANCELLED: 130}
#: The run ended but ``--report`` could not be written.
EXIT_REPORT = 3


@dataclass(slots=True)
class ExitState:
    """What decides the exit code, gathered while the app runs."""

    exit_when_done: bool
    status: str | None = None
    signal: int | None = None
    report_failed: bool = False

    def code(self) -> int:
        """128 + signal number; else 3 for a report not written; else, with
        ``--exit-when-done``, the run's outcome; else 0 (the user closed the window)."""
        if self.signal is not None:
            return 128 + self.signal
        if self.report_failed:
            return EXIT_REPORT
        if self.exit_when_done and self.status is not None:
            return EXIT_CODES.get(self.status, 1)
        return 0


def demo_workspace(args: argparse.Namespace) -> Path | None:
    """``--demo`` without ``--workspace``: a fresh folder for the run (kept after exit).

    The demo's workers write files, so it never runs in the user's current folder.
    Returns the folder created, or None when none was needed.
    """
    if not args.demo or args.workspace:
        return None
    folder = Path(tempfile.mkdtemp(prefix="mma-qt-demo-"))
    args.workspace = str(folder)
    return folder


def say_where_the_demo_is(args: argparse.Namespace, fresh: Path | None, code: int) -> None:
    """The last line of a ``--demo`` run: where its files are. A fresh folder that a failed
    start left empty is removed instead."""
    if fresh is not None and code == EXIT_USAGE and not any(fresh.iterdir()):
        fresh.rmdir()
        return
    folder = Path(args.workspace).expanduser().resolve()
    print(f"mma-qt: the demo's files are in {folder}", file=sys.stderr, flush=True)


def _has_display() -> bool:
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:  # a subcommand that needs no display (and loads no Qt)
        from .report_command import report_main

        return report_main(argv[1:])
    args = parse_args(argv)
    try:
        check_args(args)
    except StartupError as exc:
        print(f"mma-qt: {exc}", file=sys.stderr)
        return EXIT_USAGE
    fresh = demo_workspace(args)
    code = _main(args)
    if args.demo:
        say_where_the_demo_is(args, fresh, code)
    return code


def _main(args: argparse.Namespace) -> int:
    if args.offscreen or (not _has_display() and not os.environ.get("QT_QPA_PLATFORM")):
        if not args.offscreen:
            print("mma-qt: no display available; running offscreen (progress below)",
                  file=sys.stderr, flush=True)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        args.offscreen = True
    os.environ.setdefault("QT_API", "pyside6")

    import qasync
    from PySide6.QtWidgets import QApplication

    from .console import QtMessageLogger, setup_logging
    from .ui.log_panel import QtLogHandler

    setup_logging(args.verbose)
    qt_messages = QtMessageLogger()
    qt_messages.install()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setOrganizationName("mma-qt")
    app.setApplicationName("mma-qt")
    app.setApplicationVersion(__version__)
    app.setQuitOnLastWindowClosed(False)
    panel = QtLogHandler(logging.INFO)
    logging.getLogger().addHandler(panel)

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        code: int = loop.run_until_complete(_run(args, panel))
        return code
    except StartupError as exc:
        print(f"mma-qt: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        qt_messages.uninstall()


def _say(message: str) -> None:
    print(f"mma-qt: {message}", file=sys.stderr, flush=True)


def _assemble_app(args: argparse.Namespace, panel: QtLogHandler) -> AppParts:
    """Config, provider, pricing and the app's objects; StartupError says what is wrong."""
    from .core.model.pricing import PricingError
    from .core.providers.demo import ScenarioError
    from .core.settings.config import ConfigError, load_pricing, read_config, run_options
    from .hooks.server import HookServerError
    from .wiring import NoKeyError, assemble, make_provider_factory

    try:
        config, warnings = read_config()
        for warning in warnings:
            log.warning("%s", warning)
        factory = make_provider_factory(args, config, say=_say)
        pricing = load_pricing(config)
    except (ConfigError, ScenarioError, PricingError, NoKeyError, ValueError) as exc:
        raise StartupError(str(exc)) from exc
    _say(f"provider: {factory.label}")
    try:
        return assemble(
            factory,
            pricing,
            run_options(config, args.max_workers),
            auto=args.auto,
            hook_address=args.hook_address,
            log_handler=panel,
            config=config,
        )
    except HookServerError as exc:
        raise StartupError(str(exc)) from exc


def _report_finished(args: argparse.Namespace, parts: AppParts, state: ExitState,
                     status: str) -> None:
    """The run ended: the summary line, the report; the window closes if asked to."""
    from .ui.hook_api import status_document

    state.status = status
    totals = parts.session.totals()
    _say(f"finished {status}: {len(parts.session.tickets)} tickets, "
         f"in {totals.usage.input} out {totals.usage.output} tokens")
    if args.report is not None:
        try:
            write_report(args.report, status_document(parts.controller))
        except (OSError, TypeError, ValueError) as exc:
            state.report_failed = True
            reason = getattr(exc, "strerror", None) or str(exc)
            log.error("cannot write the report to %s: %s", args.report, reason, exc_info=exc)
        else:
            _say(f"report written to {args.report}")


async def _run(args: argparse.Namespace, panel: QtLogHandler) -> int:
    from PySide6.QtCore import QTimer

    from .core.run.controller import ControllerError
    from .progress import ProgressPrinter

    parts = _assemble_app(args, panel)
    session, controller, window, hook = parts.session, parts.controller, parts.window, parts.hook
    if args.workspace:
        window.set_workspace(args.workspace)
    _say(f"hook listening on {hook.path}")

    if args.offscreen or args.exit_when_done:
        session.bus.published.connect(ProgressPrinter(sys.stderr, window).on_event)

    state = ExitState(args.exit_when_done)
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_closed() -> None:
        if not closed.done():
            closed.set_result(None)

    def on_finished(status: str) -> None:
        _report_finished(args, parts, state, status)
        if args.exit_when_done and not closed.done():
            window.close()

    window.closed.connect(on_closed)
    controller.finished.connect(on_finished)

    # Ctrl+C / SIGTERM close the window like the user would; the exit code says which
    # signal it was. A short timer lets Python run signal handlers while Qt's loop is in C++.
    def on_signal(signum: int, frame: object) -> None:
        if state.signal is None:
            state.signal = signum
        if not closed.done():
            QTimer.singleShot(0, window.close)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    ticker = QTimer(window)
    ticker.start(200)
    try:
        window.show()
        if args.epic is not None:
            try:
                window.start(args.epic, args.workspace or None)
            except ControllerError as exc:
                raise StartupError(str(exc)) from exc
        await closed
    finally:
        # The run ends (and says so) before its owner goes: nothing is emitted on a
        # deleted object, and no callback outlives the loop.
        await controller.aclose()
        parts.history.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        hook.close()
        ticker.stop()
        window.deleteLater()
    return state.code()
