"""``mma-qt-hook`` commands for steering the pipeline: the track proposal, the run mode,
per-ticket control and a track's cancel."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mma_qt.core.model.status import RunMode
from mma_qt.hooks.client import ApiHookClient

Call = Callable[[ApiHookClient, argparse.Namespace], Any]
Handler = Callable[[ApiHookClient, argparse.Namespace], int]
Add = Callable[[str, Handler, str], argparse.ArgumentParser]


def _tracks(text: str) -> list[dict[str, Any]]:
    """``--tracks``: a JSON list of tracks, or ``@FILE`` holding one."""
    try:
        source = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise argparse.ArgumentTypeError(f"cannot read {text[1:]}: {why}") from exc
    try:
        value = json.loads(source)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from exc
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise argparse.ArgumentTypeError("a JSON list of track objects")
    return value


def _edits(args: argparse.Namespace) -> dict[str, Any]:
    names = ("title", "description", "depends_on", "target_files")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _something_to_edit(args: argparse.Namespace) -> str | None:
    if _edits(args):
        return None
    return "nothing to change: give --title, --description, --depends-on or --target-files"


def _reasoned(add: Add, result_of: Callable[[Call], Handler], name: str, help_text: str,
              call: Call) -> None:
    command = add(name, result_of(call), help_text)
    command.add_argument("ticket_id", metavar="TICKET")
    command.add_argument("reason", metavar="REASON")


def add_steering_commands(add: Add, result_of: Callable[[Call], Handler]) -> None:
    plan = add("plan", result_of(lambda c, a: c.plan_epic(a.epic, a.workspace)),
               "start a run that stops after Tier 1 with its tracks proposed")
    plan.add_argument("epic", metavar="EPIC")
    plan.add_argument("--workspace", metavar="DIR")
    add("proposal", result_of(lambda c, a: c.get_proposal()), "print the proposed tracks")
    accept = add("accept", result_of(lambda c, a: c.accept_tracks(a.tracks, a.drop)),
                 "run the proposed tracks (edited with --tracks, less --drop)")
    accept.add_argument("--drop", nargs="+", default=[], metavar="TRACK")
    accept.add_argument("--tracks", type=_tracks, metavar="JSON|@FILE",
                        help="the tracks to run, in order: a JSON list or @file")
    replan = add("replan", result_of(lambda c, a: c.replan(a.remark)),
                 "ask Tier 1 again, with a remark")
    replan.add_argument("remark", metavar="REMARK")
    mode = add("mode", result_of(lambda c, a: c.set_mode(a.mode)),
               "step (spawns wait for approval) or auto, now and for the next runs")
    mode.add_argument("mode", choices=[m.value for m in RunMode])
    step = add("step", result_of(lambda c, a: c.set_ticket_step(a.ticket_id, not a.off)),
               "make a ticket's spawns wait for approval even in auto mode")
    step.add_argument("ticket_id", metavar="TICKET")
    step.add_argument("--off", action="store_true", help="clear the flag")
    retry = add("retry", result_of(
        lambda c, a: c.retry(a.ticket_id, model=a.model, prompt=a.prompt)),
        "run a failed, cancelled or completed ticket again as a new attempt")
    retry.add_argument("ticket_id", metavar="TICKET")
    retry.add_argument("--model", metavar="MODEL")
    retry.add_argument("--prompt", metavar="TEXT")
    _reasoned(add, result_of, "skip", "skip a ticket (done, for its dependents)",
              lambda c, a: c.skip(a.ticket_id, a.reason))
    _reasoned(add, result_of, "block", "keep a ticket (and its dependents) from running",
              lambda c, a: c.block(a.ticket_id, a.reason))
    unblock = add("unblock", result_of(lambda c, a: c.unblock(a.ticket_id)),
                  "let a blocked ticket and its dependents run")
    unblock.add_argument("ticket_id", metavar="TICKET")
    model = add("set-model", result_of(lambda c, a: c.set_ticket_model(a.ticket_id, a.model)),
                "the model of a ticket's next attempts")
    model.add_argument("ticket_id", metavar="TICKET")
    model.add_argument("model", metavar="MODEL")
    edit = add("edit", result_of(lambda c, a: c.edit_ticket(a.ticket_id, **_edits(a))),
               "change a ticket that has not started")
    edit.add_argument("ticket_id", metavar="TICKET")
    edit.add_argument("--title")
    edit.add_argument("--description")
    edit.add_argument("--depends-on", dest="depends_on", nargs="*", metavar="TICKET")
    edit.add_argument("--target-files", dest="target_files", nargs="*", metavar="PATH")
    edit.set_defaults(check=_something_to_edit)
    cancel = add("cancel-track", result_of(lambda c, a: c.cancel_track(a.track_id)),
                 "cancel one track; the others go on")
    cancel.add_argument("track_id", metavar="TRACK")
