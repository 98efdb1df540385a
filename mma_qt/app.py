"""``mma-qt``: the command line that opens the window (or runs it offscreen)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.handlers
import os
import signal
import sys
from pathlib import Path
from typing import Any

import platformdirs

from . import __version__
from .core.model.status import RunStatus

log = logging.getLogger("mma_qt")

EXIT_CODES: dict[str, int] = {RunStatus.DONE: 0, RunStatus.FAILED: 1, RunStatus.CANCELLED: 130}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
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
    parser.add_argument("--demo-delay", type=float, default=0.02, metavar="SECONDS",
                        help="demo provider pause between chunks (0 = full speed)")
    parser.add_argument("--scenario", type=Path, default=None,
                        help="demo provider scenario file (TOML) scripting failures")
    parser.add_argument("--hook", default=None, metavar="NAME_OR_PATH",
                        help="hook socket name or path (default: $MMA_QT_HOOK, else per user)")
    parser.add_argument("--workspace", default="", help="workspace folder (default: cwd)")
    parser.add_argument("--epic", default=None, metavar="TEXT", help="start this epic at once")
    parser.add_argument("--auto", action="store_true", help="no approval gates")
    parser.add_argument("--max-workers", type=int, default=None, metavar="N",
                        help="Tier 3 workers at once (default: config, 4)")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="quit when the run ends; exit code 0 done, 1 failed, 130 cancelled")
    parser.add_argument("--report", type=Path, default=None, metavar="FILE",
                        help="write the final get_mma_status JSON to FILE")
    parser.add_argument("--offscreen", action="store_true",
                        help="run without showing a window (as on a machine without display)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log INFO to stderr")
    args = parser.parse_args(argv)
    if args.demo:
        args.provider = args.provider or "demo"
        args.auto = True
        args.exit_when_done = True
        if args.epic is None:
            from .core.model.prompts import sample_epic

            args.epic = sample_epic()
    if args.max_workers is not None and args.max_workers < 1:
        parser.error("--max-workers must be at least 1")
    if args.demo_delay < 0:
        parser.error("--demo-delay must be 0 or more")
    return args


def _has_display() -> bool:
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _setup_logging(verbose: bool) -> logging.Handler:
    """stderr (warnings, or INFO with -v) and a rotating log file in the user log folder."""
    from .ui.log_panel import QtLogHandler

    root = logging.getLogger()
    root.setLevel(logging.INFO)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("mma-qt: %(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    log_dir = Path(platformdirs.user_log_dir("mma-qt"))
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            log_dir / "mma-qt.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError as exc:
        log.warning("cannot write the log file in %s: %s", log_dir, exc)
    else:
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(file_handler)
    panel = QtLogHandler(logging.INFO)
    root.addHandler(panel)
    return panel


def write_report(path: Path, status: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(status, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.offscreen or (not _has_display() and not os.environ.get("QT_QPA_PLATFORM")):
        if not args.offscreen:
            print("mma-qt: no display available; running offscreen (progress below)",
                  file=sys.stderr, flush=True)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        args.offscreen = True
    os.environ.setdefault("QT_API", "pyside6")

    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setOrganizationName("mma-qt")
    app.setApplicationName("mma-qt")
    app.setApplicationVersion(__version__)
    app.setQuitOnLastWindowClosed(False)
    panel = _setup_logging(args.verbose)

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        code: int = loop.run_until_complete(_run(args, panel))
        return code
    except StartupError as exc:
        print(f"mma-qt: {exc}", file=sys.stderr)
        return 2
    finally:
        loop.close()
        asyncio.set_event_loop(None)


class StartupError(RuntimeError):
    pass


async def _run(args: argparse.Namespace, panel: Any) -> int:
    from PySide6.QtCore import QTimer

    from .core.model.pricing import PricingError
    from .core.providers.demo import ScenarioError
    from .core.run.controller import ControllerError
    from .core.settings.config import ConfigError, load_pricing, read_config, run_options
    from .hooks.protocol import resolve_hook_address
    from .hooks.server import HookServerError
    from .progress import ProgressPrinter
    from .wiring import NoKeyError, assemble, make_provider_factory

    def say(message: str) -> None:
        print(f"mma-qt: {message}", file=sys.stderr, flush=True)

    try:
        config, warnings = read_config()
        for warning in warnings:
            log.warning("%s", warning)
        factory = make_provider_factory(args, config, say=say)
        pricing = load_pricing(config)
    except (ConfigError, ScenarioError, PricingError, NoKeyError, ValueError) as exc:
        raise StartupError(str(exc)) from exc
    say(f"provider: {factory.label}")
    try:
        parts = assemble(
            factory,
            pricing,
            run_options(config, args.max_workers),
            auto=args.auto,
            hook_address=resolve_hook_address(args.hook),
            log_handler=panel,
            config=config,
        )
    except HookServerError as exc:
        raise StartupError(str(exc)) from exc
    session, controller, window, hook = parts.session, parts.controller, parts.window, parts.hook
    if args.workspace:
        window.workspace_edit.setText(args.workspace)
    print(f"mma-qt: hook listening on {hook.path}", file=sys.stderr, flush=True)

    if args.offscreen or args.exit_when_done:
        session.bus.published.connect(ProgressPrinter(sys.stderr, window).on_event)

    loop = asyncio.get_running_loop()
    closed: asyncio.Future[int] = loop.create_future()
    exit_code = 0

    def on_closed() -> None:
        if not closed.done():
            closed.set_result(exit_code)

    def on_finished(status: str) -> None:
        nonlocal exit_code
        totals = session.totals()
        print(
            f"mma-qt: finished {status}: {len(session.tickets)} tickets, "
            f"in {totals.usage.input} out {totals.usage.output} tokens",
            file=sys.stderr, flush=True,
        )
        if args.report is not None:
            write_report(args.report, session.snapshot())
            print(f"mma-qt: report written to {args.report}", file=sys.stderr, flush=True)
        if args.exit_when_done:
            exit_code = EXIT_CODES.get(status, 1)
            window.close()

    window.closed.connect(on_closed)
    controller.finished.connect(on_finished)

    # Ctrl+C / SIGTERM close the window like the user would. A short timer lets Python run
    # signal handlers while Qt's loop is in C++.
    def on_signal(signum: int, frame: object) -> None:
        nonlocal exit_code
        exit_code = 128 + signum
        QTimer.singleShot(0, window.close)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    ticker = QTimer(window)
    ticker.start(200)

    window.show()
    if args.epic:
        try:
            window.start(args.epic, args.workspace or None)
        except ControllerError as exc:
            hook.close()
            raise StartupError(str(exc)) from exc
    try:
        return await closed
    finally:
        hook.close()
        window.deleteLater()
