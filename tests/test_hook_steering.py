"""The hook's steering methods (issue 11): params, error codes, describe and the CLI."""

from __future__ import annotations

from typing import Any

import pytest

from mma_qt.core.live.events import EVENT_TYPES
from mma_qt.core.run.controller import ControllerError, InvalidEdit
from mma_qt.hooks.cli import build_parser
from mma_qt.hooks.protocol import INVALID_PARAMS, RpcError
from mma_qt.ui.hook_api import REFUSED
from mma_qt.wiring import AppParts

pytestmark = pytest.mark.ui  # the real window behind the hook

STEERING = [
    "plan_epic", "get_proposal", "accept_tracks", "replan", "set_mode", "set_ticket_step",
    "retry", "skip", "block", "unblock", "set_ticket_model", "edit_ticket", "cancel_track",
]


def test_describe_lists_every_steering_method_and_every_event_type(demo_app: AppParts) -> None:
    described = demo_app.api.call("describe", {})
    assert set(STEERING) <= set(described["methods"])
    assert described["events"] == list(EVENT_TYPES)
    assert {"proposal", "track", "attempt", "mode"} <= set(described["events"])


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("plan_epic", {"epic": ""}, "epic"),
        ("accept_tracks", {"tracks": "TR-1"}, "tracks"),
        ("accept_tracks", {"drop": "TR-1"}, "drop"),
        ("replan", {}, "remark"),
        ("set_mode", {"mode": "fast"}, "mode"),
        ("set_ticket_step", {"ticket_id": "T-001", "step": "yes"}, "step"),
        ("retry", {"ticket_id": "T-001", "model": ""}, "model"),
        ("skip", {"ticket_id": "T-001"}, "reason"),
        ("block", {"ticket_id": "T-001", "reason": ""}, "reason"),
        ("unblock", {"ticket": "T-001"}, "ticket"),
        ("set_ticket_model", {"ticket_id": "T-001"}, "model"),
        ("edit_ticket", {"ticket_id": "T-001", "depends_on": "T-002"}, "depends_on"),
        ("edit_ticket", {"ticket_id": "T-001", "owner": "me"}, "owner"),
        ("cancel_track", {}, "track_id"),
        ("approve", {"all": True, "prompt": "x"}, "prompt"),
    ],
)
def test_malformed_steering_params_are_refused_naming_the_field(
    demo_app: AppParts, method: str, params: dict[str, Any], field: str
) -> None:
    with pytest.raises(RpcError) as caught:
        demo_app.api.call(method, params)
    assert caught.value.code == INVALID_PARAMS
    assert field in caught.value.message


def test_a_refused_command_is_32000_and_a_bad_edit_is_32602_naming_the_field(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller = demo_app.controller

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise ControllerError("no run in progress")

    def bad_edit(*args: Any, **kwargs: Any) -> None:
        raise InvalidEdit("depends_on", "dependency cycle: T-001 -> T-002 -> T-001")

    monkeypatch.setattr(controller, "skip", refuse)
    monkeypatch.setattr(controller, "edit_ticket", bad_edit)
    with pytest.raises(RpcError) as refused:
        demo_app.api.call("skip", {"ticket_id": "T-001", "reason": "later"})
    assert (refused.value.code, refused.value.message) == (REFUSED, "no run in progress")
    with pytest.raises(RpcError) as invalid:
        demo_app.api.call("edit_ticket", {"ticket_id": "T-001", "depends_on": ["T-002"]})
    assert invalid.value.code == INVALID_PARAMS
    assert "depends_on: dependency cycle" in invalid.value.message


def test_steering_params_reach_the_controller_as_given(
    demo_app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    controller = demo_app.controller
    for name in ("accept_tracks", "retry", "edit_ticket", "resolve_approval", "set_mode"):
        def record(*args: Any, _name: str = name, **kwargs: Any) -> str:
            calls.append((_name, args, kwargs))
            return "auto"
        monkeypatch.setattr(controller, name, record)
    api = demo_app.api
    tracks = [{"id": "TR-2", "title": "Docs", "description": "Only the README"}]
    api.call("accept_tracks", {"tracks": tracks, "drop": ["TR-3"]})
    api.call("retry", {"ticket_id": "T-003", "model": "m2", "prompt": "Do it right"})
    api.call("edit_ticket", {"ticket_id": "T-004", "depends_on": ["T-001"]})
    api.call("approve", {"key": "T-001:spawn", "prompt": "Exactly this", "model": "m3"})
    assert api.call("set_mode", {"mode": "auto"}) == {"mode": "auto"}
    assert calls[0] == ("accept_tracks", (tracks, ["TR-3"]), {})
    assert calls[1] == ("retry", ("T-003",), {"model": "m2", "prompt": "Do it right"})
    assert calls[2] == ("edit_ticket", ("T-004",), {
        "title": None, "description": None, "depends_on": ["T-001"], "target_files": None})
    assert calls[3] == ("resolve_approval", ("T-001:spawn", True), {
        "edited": None, "reason": "", "prompt": "Exactly this", "model": "m3"})


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["accept", "--drop", "TR-3", "--tracks", '[{"id": "TR-1", "title": "A"}]'],
         {"drop": ["TR-3"], "tracks": [{"id": "TR-1", "title": "A"}]}),
        (["retry", "T-003", "--model", "m2"], {"ticket_id": "T-003", "model": "m2"}),
        (["edit", "T-004", "--depends-on"], {"ticket_id": "T-004", "depends_on": []}),
        (["approve", "T-001:spawn", "--prompt", "P"], {"key": "T-001:spawn", "prompt": "P"}),
        (["mode", "auto"], {"mode": "auto"}),
    ],
)
def test_cli_steering_commands_parse_their_arguments(
    argv: list[str], expected: dict[str, Any]
) -> None:
    args = build_parser().parse_args(argv)
    for name, value in expected.items():
        assert getattr(args, name) == value


def test_cli_refuses_tracks_that_are_not_a_json_list(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["accept", "--tracks", '{"id": "TR-1"}'])
    assert exited.value.code == 2
    assert "a JSON list of track objects" in capsys.readouterr().err
