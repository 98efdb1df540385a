"""``mma-qt``'s arguments: parsed and checked before Qt starts, so a bad one is refused
with one line and exit code 2 instead of failing (or hanging) later; and the ``--report``
file, checked before the run and written whole or not at all."""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
from pathlib import Path
from typing import Any

from . import __version__
from .parsing import OneLineParser


class StartupError(RuntimeError):
    """Why the app cannot start as asked: one line on stderr, exit code 2."""


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
    parser = OneLineParser(
        prog="mma-qt",
        description="Control room for a four-tier team of LLM agents that plans and writes "
        "software.",
    )
    parser.add_argument("--version", action="version", version=f"mma-qt {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="run the sample epic on the offline demo provider and exit when "
                        "done (same as --provider demo --epic <sample> --auto --exit-when-done), "
                        "in a fresh temporary folder unless --workspace is given; the files "
                        "stay there, and the last line says where")
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
    parser.add_argument("--workspace", default="",
                        help="workspace folder (default: cwd; with --demo a fresh folder)")
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


def check_report_path(path: Path, option: str = "--report") -> None:
    """Refuse a report path (given with ``option``) that could not be written later."""
    if path.is_dir():
        raise StartupError(f"{option} {path} is a folder; name a file")
    if path.exists() and not path.is_file():
        raise StartupError(f"{option} {path} is not a regular file")
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise StartupError(f"{option} {path}: {folder} {problem}")
    probe = _temporary_sibling(path)
    try:
        _write_new(probe, "")
        probe.unlink()
    except OSError as exc:
        raise StartupError(
            f"{option} {path}: cannot write in {folder}: {exc.strerror or exc}"
        ) from exc


def write_report(path: Path, status: dict[str, Any]) -> None:
    """Write ``status`` as JSON to ``path`` at once (see :func:`write_whole`)."""
    write_whole(path, json.dumps(status, indent=2, ensure_ascii=False))


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` at once (through a temporary file beside it, removed
    whatever fails), so ``path`` is either the whole text or untouched."""
    tmp = _temporary_sibling(path)
    _write_new(tmp, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
