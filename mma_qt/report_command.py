"""``mma-qt report [WORKSPACE] [--run ID] [--format md|html|json] [-o FILE]``: a run's
report from the workspace's history, written without a display (no Qt is loaded).

Errors are one line on stderr: exit code 2 for bad arguments or a history that cannot be
read (none there, an unknown run, a newer schema), 3 when FILE cannot be written.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from .arguments import StartupError, check_report_path, write_whole
from .core.history.report import FORMATS, render
from .core.history.schema import SchemaError, history_path
from .core.history.store import HistoryStore, RunNotFound
from .parsing import EXIT_USAGE, OneLineParser

#: The report could not be written.
EXIT_WRITE = 3


def parse_report_args(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(prog="mma-qt report",
                     description="Write a run's report from the workspace's history "
                     "(.mma/history.sqlite3).")
    parser.add_argument("workspace", nargs="?", default=".", metavar="WORKSPACE",
                        help="the workspace folder (default: the current folder)")
    parser.add_argument("--run", default=None, metavar="ID",
                        help="the run (default: the latest); `mma-qt-hook call list_runs` "
                        "lists them")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="md (default, or from FILE's suffix), html (one self-contained "
                        "file) or json (the get_mma_status shape)")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                        help="write to FILE (whole or not at all) instead of stdout")
    args = parser.parse_args(argv)
    if args.format is None:
        suffix = args.output.suffix.lstrip(".").lower() if args.output is not None else ""
        args.format = {"htm": "html", "markdown": "md"}.get(suffix, suffix)
        if args.format not in FORMATS:
            args.format = "md"
    return args


def _document(args: argparse.Namespace) -> dict[str, object]:
    workspace = Path(args.workspace).expanduser()
    if not workspace.is_dir():
        raise StartupError(f"{args.workspace}: not a folder")
    path = history_path(workspace.resolve())
    if not path.is_file():
        raise StartupError(f"no history in {workspace} ({path} does not exist)")
    store = HistoryStore(path)
    try:
        run_id = args.run or store.latest_run_id()
        return store.get_run(run_id)
    except (RunNotFound, SchemaError) as exc:
        raise StartupError(str(exc.args[0])) from exc
    except sqlite3.Error as exc:
        raise StartupError(f"cannot read {path}: {exc}") from exc


def report_main(argv: list[str]) -> int:
    args = parse_report_args(argv)
    try:
        if args.output is not None:
            check_report_path(args.output, "-o")
        text = render(_document(args), args.format)
    except StartupError as exc:
        print(f"mma-qt report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        write_whole(args.output, text)
    except OSError as exc:
        print(f"mma-qt report: cannot write {args.output}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_WRITE
    print(f"mma-qt report: written to {args.output}", file=sys.stderr)
    return 0
