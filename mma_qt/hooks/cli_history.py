"""``mma-qt-hook`` commands for a workspace's history: ``runs``, ``run``, ``search``,
``resume-run`` and ``rerun``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from mma_qt.hooks.client import ApiHookClient

Call = Callable[[ApiHookClient, argparse.Namespace], Any]
Handler = Callable[[ApiHookClient, argparse.Namespace], int]
Add = Callable[[str, Handler, str], argparse.ArgumentParser]


def add_history_commands(add: Add, result_of: Callable[[Call], Handler]) -> None:
    def command(name: str, call: Call, help_text: str) -> argparse.ArgumentParser:
        parser = add(name, result_of(call), help_text)
        parser.add_argument("--workspace", metavar="DIR",
                            help="the workspace whose history to read (default: the app's)")
        return parser

    runs = command("runs", lambda c, a: c.list_runs(a.limit, workspace=a.workspace),
                   "list the workspace's past runs, newest first")
    runs.add_argument("--limit", type=int, metavar="N")
    run = command("run", lambda c, a: c.get_run(a.run_id, streams=not a.summary,
                                                workspace=a.workspace),
                  "print a past run in the get_mma_status shape")
    run.add_argument("run_id", metavar="RUN")
    run.add_argument("--summary", action="store_true", help="stream lengths, not texts")
    search = command("search", lambda c, a: c.search_streams(a.query, a.limit,
                                                             workspace=a.workspace),
                     "search the workspace's streams")
    search.add_argument("query", metavar="TEXT")
    search.add_argument("--limit", type=int, metavar="N")
    resume = command("resume-run", lambda c, a: c.resume_run(a.run_id, workspace=a.workspace),
                     "run an interrupted run's unfinished tickets in a new run")
    resume.add_argument("run_id", metavar="RUN")
    rerun = command("rerun", lambda c, a: c.rerun_ticket(
        a.run_id, a.ticket_id, prompt=a.prompt, model=a.model, workspace=a.workspace),
        "run a past run's ticket again (edited prompt or model) in a new run")
    rerun.add_argument("run_id", metavar="RUN")
    rerun.add_argument("ticket_id", metavar="TICKET")
    rerun.add_argument("--prompt", metavar="TEXT")
    rerun.add_argument("--model", metavar="MODEL")
