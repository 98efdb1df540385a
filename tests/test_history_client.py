"""The history's client calls and ``mma-qt-hook`` commands (issue 12): which method each
sends, with which params."""

from __future__ import annotations

from typing import Any

import pytest

from mma_qt.hooks.cli import build_parser
from mma_qt.hooks.client import ApiHookClient
from mma_qt.hooks.client_history import HistoryCalls


class Recording(HistoryCalls):
    """A client that records what it would send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any] | None]] = []

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        self.sent.append((method, params))
        return {"ok": True}


def test_the_client_has_every_history_call() -> None:
    assert issubclass(ApiHookClient, HistoryCalls)
    client = Recording()
    client.list_runs(5)
    client.get_run("R1", streams=False, workspace="/ws")
    client.search_streams("RFC 4180")
    client.resume_run("R1")
    client.rerun_ticket("R1", "T-002", prompt="Better", model="m2")
    assert client.sent == [
        ("list_runs", {"limit": 5}),
        ("get_run", {"run_id": "R1", "streams": False, "workspace": "/ws"}),
        ("search_streams", {"query": "RFC 4180"}),
        ("resume_run", {"run_id": "R1"}),
        ("rerun_ticket", {"run_id": "R1", "ticket_id": "T-002", "prompt": "Better",
                          "model": "m2"}),
    ]


@pytest.mark.parametrize(
    ("argv", "sent"),
    [
        (["runs", "--limit", "3"], ("list_runs", {"limit": 3})),
        (["run", "R1", "--summary"], ("get_run", {"run_id": "R1", "streams": False})),
        (["search", "csv", "--workspace", "/ws"],
         ("search_streams", {"query": "csv", "workspace": "/ws"})),
        (["resume-run", "R1"], ("resume_run", {"run_id": "R1"})),
        (["rerun", "R1", "T-001", "--prompt", "P", "--model", "m"],
         ("rerun_ticket", {"run_id": "R1", "ticket_id": "T-001", "prompt": "P", "model": "m"})),
    ],
)
def test_the_cli_history_commands_send_their_method(
    argv: list[str], sent: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(argv)
    client = Recording()
    assert args.handler(client, args) == 0
    assert client.sent == [sent]
    assert '"ok": true' in capsys.readouterr().out
