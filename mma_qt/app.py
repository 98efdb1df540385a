"""``mma-qt``: the command line that opens the window (or runs it offscreen)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import secrets
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from . import __version__
from .core.model.status import RunStatus

if TYPE_CHECKING:
    from .ui.log_panel import QtLogHandler
    from .wiring import AppParts

log = logging.getLogger("mma_qt")

EXIT_CODES: dict[str, int] = {RunStatus.DONE: 0, RunStatus.FAILED: 1, RunStatus.CANCELLED: 130}
#: Bad arguments, or the app could not start: nothing ran.
EXIT_USAGE = 2
#: The run ended but ``--report`` could not be written.
EXIT_REPORT = 3


class StartupError(RuntimeError):
    """Why the app cannot start as asked: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not the usage block: what is wrong and where to read more."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, not {text}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(
        prog="mma-qt",
        description="Control room for a four-tier team of LLM agents that plans and writes "
        "software.",
    )
    parser.add_argument("--version", action="version", version=f"mma-qt {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="run the sample epic on the offline demo provider and exit when "
                        "done (same as --provider demo --epic <sample> --auto --exit-when-done)")
    parser.add_argument("--provider", default=None,
                        help="provider for every tier: demo, anthropic, openai, gemini, or an "
                        "OpenAI-compatible preset (deepseek, openrouter, ollama, llamacpp, "
                        "vllm, lmstudio). Default: the configuration, falling back to demo "
                        "when no API key is configured")
    parser.add_argument("--demo-delay", type=_seconds, default=0.02, metavar="SECONDS",
                        help="demo provider pause between chunks (0 = full speed)")
    parser.add_argument("--scenario", type=Path, default=None,
                        help="demo provider scenario file (TOML) scripting failures")
    parser.add_argument("--hook", default=None, metavar="NAME_OR_PATH",
                        help="hook socket name or path (default: $MMA_QT_HOOK, else per user)")
    parser.add_argument("--workspace", default="", help="workspace folder (default: cwd)")
    parser.add_argument("--epic", default=None, metavar="TEXT", help="start this epic at once")
    parser.add_argument("--auto", action="store_true", help="no approval gates")
    parser.add_argument("--max-workers", type=_workers, default=None, metavar="N",
                        help="Tier 3 workers at once (default: config, 4)")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="quit when the run ends (needs --epic); exit code 0 done, "
                        "1 failed, 130 cancelled")
    parser.add_argument("--report", type=Path, default=None, metavar="FILE",
                        help="write the final get_mma_status JSON to FILE (its folder must "
                        "exist); exit code 3 if it cannot be written")
    parser.add_argument("--offscreen", action="store_true",
                        help="run without showing a window (as on a machine without display)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log INFO to stderr, with tracebacks, Python warnings and Qt's "
                        "messages (otherwise only in the log file and the Log dock)")
    args = parser.parse_args(argv)
    if args.demo:
        args.provider = args.provider or "demo"
        args.auto = True
        args.exit_when_done = True
        if args.epic is None:
            from .core.model.prompts import sample_epic

            args.epic = sample_epic()
    return args


def check_args(args: argparse.Namespace) -> None:
    """Refuse, before anything starts, what would fail or hang later (StartupError).

    Sets ``args.hook_address``.
    """
    from .core.run.controller import ControllerError, check_start, check_workspace
    from .hooks.protocol import resolve_hook_address

    try:
        if args.epic is not None:
            check_start(args.epic, args.workspace)
        elif args.workspace:
            check_workspace(args.workspace)
    except ControllerError as exc:
        raise StartupError(str(exc)) from exc
    if args.exit_when_done and args.epic is None:
        raise StartupError("--exit-when-done needs --epic TEXT (or --demo): no run would start")
    if args.scenario is not None:
        if args.provider not in (None, "demo"):
            raise StartupError(
                f"--scenario scripts the demo provider, not --provider {args.provider}"
            )
        if not args.scenario.is_file():
            raise StartupError(f"--scenario {args.scenario}: no such file")
    if args.report is not None:
        check_report_path(args.report)
    try:
        args.hook_address = resolve_hook_address(args.hook)
    except ValueError as exc:
        raise StartupError(f"--hook: {exc}") from exc


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` (never an existing one) with ``text``; on failure leave nothing."""
    out = path.open("x", encoding="utf-8")
    try:
        with out:
            out.write(text)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def check_report_path(path: Path) -> None:
    """Refuse a ``--report`` path that could not be written when the run ends."""
    if path.is_dir():
        raise StartupError(f"--report {path} is a folder; name a file")
    if path.exists() and not path.is_file():
        raise StartupError(f"--report {path} is not a regular file")
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise StartupError(f"--report {path}: {folder} {problem}")
    probe = _temporary_sibling(path)
    try:
        _write_new(probe, "")
        probe.unlink()
    except OSError as exc:
        raise StartupError(
            f"--report {path}: cannot write in {folder}: {exc.strerror or exc}"
        ) from exc


def write_report(path: Path, status: dict[str, Any]) -> None:
    """Write ``status`` as JSON to ``path`` at once (through a temporary file beside it,
    removed whatever fails), so ``path`` is either the whole report or untouched."""
    text = json.dumps(status, indent=2, ensure_ascii=False)
    tmp = _temporary_sibling(path)
    _write_new(tmp, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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


def _has_display() -> bool:
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_args(args)
    except StartupError as exc:
        print(f"mma-qt: {exc}", file=sys.stderr)
        return EXIT_USAGE
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
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        hook.close()
        ticker.stop()
        window.deleteLater()
    return state.code()
