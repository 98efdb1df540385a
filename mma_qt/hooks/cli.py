"""``mma-qt-hook``: drive a running mma-qt from a shell or a CI script.

Exit codes: 0 success, 1 the call failed (error answer, timeout, lost connection),
2 no hook endpoint to talk to (none listening, or one of another protocol version).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from mma_qt import __version__
from mma_qt.core.model.status import ToolPolicy
from mma_qt.hooks.cli_history import add_history_commands
from mma_qt.hooks.cli_steering import add_steering_commands
from mma_qt.hooks.client import (
    ApiHookClient,
    HookCallError,
    HookError,
    HookProtocolError,
    HookUnavailableError,
)
from mma_qt.parsing import OneLineParser

Handler = Callable[[ApiHookClient, argparse.Namespace], int]
#: What is wrong with a command's arguments that argparse cannot see, or None.
Check = Callable[[argparse.Namespace], str | None]


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _result_of(call: Callable[[ApiHookClient, argparse.Namespace], Any]) -> Handler:
    """A handler that prints the call's result as JSON."""

    def handler(client: ApiHookClient, args: argparse.Namespace) -> int:
        _print_json(call(client, args))
        return 0

    return handler


def _parse_value(text: str) -> Any:
    """JSON if it parses (``3``, ``true``, ``{"a": 1}``), otherwise the plain string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _cmd_stream(client: ApiHookClient, args: argparse.Namespace) -> int:
    result = client.get_stream(args.stream_id, args.offset)
    text = result.get("text") if isinstance(result, dict) else result
    if isinstance(text, str):
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        _print_json(result)
    return 0


def _cmd_wait(client: ApiHookClient, args: argparse.Namespace) -> int:
    wanted = set(args.statuses)
    status = client.wait_for(lambda s: s.get("status") in wanted, args.wait_timeout)
    _print_json(status)
    return 0


def _cmd_events(client: ApiHookClient, args: argparse.Namespace) -> int:
    client.subscribe(args.types)
    try:
        while True:
            event = client.next_event(None)
            print(json.dumps(event, ensure_ascii=False), flush=True)
    except KeyboardInterrupt:
        return 0


def _cmd_merge(client: ApiHookClient, args: argparse.Namespace) -> int:
    """Start the merge, then print its ``merge`` event (exit 1 when it was refused)."""
    with ApiHookClient(client.address, client.timeout) as watcher:
        watcher.subscribe(["merge"])  # before the merge starts: its end cannot be missed
        client.merge_track(args.track_id)
        event = watcher.next_event(args.wait_timeout)
        while event.get("track_id") != args.track_id:
            event = watcher.next_event(args.wait_timeout)
    _print_json(event)
    if event.get("state") == "merged":
        return 0
    print(f"mma-qt-hook: merge refused: {event.get('message')}", file=sys.stderr)
    return 1


def _cmd_call(client: ApiHookClient, args: argparse.Namespace) -> int:
    params: Any = None
    if args.params is not None:
        try:
            params = json.loads(args.params)
        except ValueError as exc:
            print(f"mma-qt-hook: JSON_PARAMS is not valid JSON: {exc}", file=sys.stderr)
            return 1
        if not isinstance(params, dict):
            print("mma-qt-hook: JSON_PARAMS must be a JSON object", file=sys.stderr)
            return 1
    _print_json(client.call(args.method, params))
    return 0


def _resolver(approve: bool) -> Handler:
    """``approve KEY`` / ``approve --all`` (and the same for reject)."""

    def resolve(client: ApiHookClient, args: argparse.Namespace) -> Any:
        if args.all:
            return client.approve_all() if approve else client.reject_all(args.reason)
        if not approve:
            return client.reject(args.key, args.reason)
        if args.prompt is not None or args.model is not None:
            return client.approve_spawn(args.key, prompt=args.prompt, model=args.model)
        return client.approve(args.key)

    return _result_of(resolve)


def _one_spawn_edited(args: argparse.Namespace) -> str | None:
    """``--prompt``/``--model`` edit one spawn: with ``--all`` they would be dropped."""
    if args.all and (args.prompt is not None or args.model is not None):
        return "--prompt and --model edit one spawn: give its KEY, not --all"
    return None


def _add_resolve_arguments(command: argparse.ArgumentParser) -> None:
    which = command.add_mutually_exclusive_group(required=True)
    which.add_argument("key", metavar="KEY", nargs="?", help='e.g. "T-001:spawn"')
    which.add_argument("--all", action="store_true", help="every request pending now")


Add = Callable[[str, Handler, str], argparse.ArgumentParser]


def _add_run_commands(add: Add) -> None:
    """Starting, steering and approving a run."""
    start = add(
        "start",
        _result_of(lambda c, a: c.start_epic(a.epic, a.workspace, auto=a.auto)),
        "start an epic",
    )
    start.add_argument("epic", metavar="EPIC")
    start.add_argument("--workspace", metavar="DIR")
    start.add_argument(
        "--auto",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="approve every spawn of this run without asking (default: the app's setting)",
    )
    add("approvals", _result_of(lambda c, a: c.get_approvals()), "list pending approvals")
    approve = add("approve", _resolver(True), "approve a pending request")
    _add_resolve_arguments(approve)
    approve.add_argument("--prompt", metavar="TEXT", help="a spawn: the prompt the worker gets")
    approve.add_argument("--model", metavar="MODEL", help="a spawn: the model it runs on")
    approve.set_defaults(check=_one_spawn_edited)
    reject = add("reject", _resolver(False), "reject a pending request")
    _add_resolve_arguments(reject)
    reject.add_argument("--reason", default="", metavar="TEXT",
                        help="why: the worker reads it (a spawn: shown on its ticket)")
    add("pause", _result_of(lambda c, a: c.pause()), "pause all workers")
    add("resume", _result_of(lambda c, a: c.resume()), "resume paused workers")
    cancel = add(
        "cancel", _result_of(lambda c, a: c.cancel(a.ticket_id)), "cancel the run or one ticket"
    )
    cancel.add_argument("ticket_id", metavar="TICKET_ID", nargs="?")


def _add_tool_commands(add: Add) -> None:
    """What tickets did with their tools, the tool policy, and merging a track."""
    calls = add("tool-calls", _result_of(lambda c, a: c.get_tool_calls(a.ticket_id)),
                "print a ticket's tool calls (arguments, decisions, results)")
    calls.add_argument("ticket_id", metavar="TICKET")
    changes = add("changes", _result_of(lambda c, a: c.get_changes(a.ticket_id)),
                  "print the files a ticket changed, with their diffs")
    changes.add_argument("ticket_id", metavar="TICKET")
    merge = add("merge", _cmd_merge,
                "merge a done track's branch into your current branch and print how it ended")
    merge.add_argument("track_id", metavar="TRACK")
    merge.add_argument("--wait", dest="wait_timeout", type=float, default=600.0, metavar="S",
                       help="give up waiting for the merge after S seconds (default 600)")
    policy = add("policy", _result_of(lambda c, a: c.set_tool_policy(a.policy)),
                 "set the tool policy of the running run and the next ones")
    policy.add_argument("policy", choices=[p.value for p in ToolPolicy])


def _add_watch_commands(add: Add) -> None:
    """Reading the status, streams and events."""
    status = add(
        "status",
        _result_of(lambda c, a: c.get_mma_status(**({"summary": True} if a.summary else {}))),
        "print the orchestration status",
    )
    status.add_argument("--summary", action="store_true", help="ask for a short summary")
    stream = add("stream", _cmd_stream, "print a stream's text as is")
    stream.add_argument("stream_id", metavar="STREAM_ID")
    stream.add_argument("--offset", type=int, default=0, metavar="N")
    wait = add("wait", _cmd_wait, "wait until the status is one of STATUS")
    wait.add_argument("statuses", metavar="STATUS", nargs="+")
    wait.add_argument(
        "--timeout",
        dest="wait_timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="give up after S seconds (default 600)",
    )
    events = add("events", _cmd_events, "print events as JSON lines until interrupted")
    events.add_argument("--types", nargs="+", metavar="TYPE", help="only these event types")


def _add_window_commands(add: Add) -> None:
    """The window's controls and fields, and any method by name."""
    click = add("click", _result_of(lambda c, a: c.click(a.name)), "press a named control")
    click.add_argument("name", metavar="NAME")
    get = add("get", _result_of(lambda c, a: c.get_value(a.name)), "read a named value")
    get.add_argument("name", metavar="NAME")
    set_ = add(
        "set",
        _result_of(lambda c, a: c.set_value(a.name, _parse_value(a.value))),
        "set a named value (VALUE is parsed as JSON if it can be)",
    )
    set_.add_argument("name", metavar="NAME")
    set_.add_argument("value", metavar="VALUE")
    select = add("select", _result_of(lambda c, a: c.select(a.target)), "select an item")
    select.add_argument("target", metavar="TARGET")
    call = add("call", _cmd_call, "call any method")
    call.add_argument("method", metavar="METHOD")
    call.add_argument("params", metavar="JSON_PARAMS", nargs="?")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(  # a mistake is one line on stderr, exit code 2
        prog="mma-qt-hook", description="Talk to a running mma-qt over its local hook socket."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--hook",
        metavar="NAME_OR_PATH",
        help="socket path or name (default: $MMA_QT_HOOK, then the per-user runtime socket)",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each answer"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler, check=None, command_parser=command)
        return command

    add("ping", _result_of(lambda c, a: c.ping()), "check that mma-qt answers")
    _add_run_commands(add)
    add_steering_commands(add, _result_of)
    add_history_commands(add, _result_of)
    _add_tool_commands(add)
    _add_watch_commands(add)
    _add_window_commands(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check: Check | None = args.check
    problem = None if check is None else check(args)
    if problem is not None:
        args.command_parser.error(problem)
    try:
        client = ApiHookClient(args.hook, timeout=args.timeout)
    except ValueError as exc:
        print(f"mma-qt-hook: {exc}", file=sys.stderr)
        return 2
    handler: Handler = args.handler
    try:
        with client:
            return handler(client, args)
    except (HookUnavailableError, HookProtocolError) as exc:
        print(f"mma-qt-hook: {exc}", file=sys.stderr)
        return 2
    except HookCallError as exc:
        print(f"mma-qt-hook: {args.command} failed: {exc}", file=sys.stderr)
        return 1
    except (HookError, OSError) as exc:  # OSError covers timeouts and lost connections
        print(f"mma-qt-hook: {args.command} failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
