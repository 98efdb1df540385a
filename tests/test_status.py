"""One status vocabulary: the enums' values are the protocol, and mma_qt spells a status
only through them."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import mma_qt
from mma_qt.core.model.domain import Tier
from mma_qt.core.model.records import StreamRecord
from mma_qt.core.model.status import (
    RunMode,
    RunStatus,
    StreamStatus,
    TicketStatus,
    TrackStatus,
)

PACKAGE = Path(mma_qt.__file__).parent
STATUS_MODULE = PACKAGE / "core" / "model" / "status.py"
STATUS_VALUES = frozenset(s.value for e in (RunStatus, TicketStatus, StreamStatus) for s in e)


def status_literals(source: str) -> Iterator[tuple[int, str]]:
    """(line, value) of each string constant equal to a status value that is compared,
    assigned, passed, returned or used as a default — the places a status is *used*.

    Dict keys and values count only inside an assigned literal (a table of statuses);
    docstrings, messages in f-strings and other words that merely look alike do not.
    """

    def constants(node: ast.AST | None, *, nested: bool) -> Iterator[ast.Constant]:
        if isinstance(node, ast.Constant) and node.value in STATUS_VALUES:
            yield node
        elif isinstance(node, ast.IfExp):  # either branch is the value
            yield from constants(node.body, nested=nested)
            yield from constants(node.orelse, nested=nested)
        elif isinstance(node, ast.BoolOp):  # `x or "done"`
            for value in node.values:
                yield from constants(value, nested=nested)
        elif nested and isinstance(node, ast.Tuple | ast.List | ast.Set):
            for item in node.elts:
                yield from constants(item, nested=True)
        elif nested and isinstance(node, ast.Dict):
            for item in (*node.keys, *node.values):
                yield from constants(item, nested=True)

    for node in ast.walk(ast.parse(source)):
        found: list[ast.Constant] = []
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                found += constants(operand, nested=True)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            found += constants(node.value, nested=True)
        elif isinstance(node, ast.Call):
            for arg in (*node.args, *(k.value for k in node.keywords)):
                found += constants(arg, nested=False)
        elif isinstance(node, ast.Return):
            found += constants(node.value, nested=False)
        elif isinstance(node, ast.arguments):
            params = [*node.posonlyargs, *node.args]
            positional = params[len(params) - len(node.defaults):]
            pairs = [*zip(positional, node.defaults, strict=True),
                     *zip(node.kwonlyargs, node.kw_defaults, strict=True)]
            for param, default in pairs:
                if "status" in param.arg:
                    found += constants(default, nested=False)
        yield from ((c.lineno, str(c.value)) for c in found)


def mma_qt_sources() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != STATUS_MODULE:
            yield path


def test_mma_qt_spells_no_status_as_a_string_literal() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {value!r}"
        for path in mma_qt_sources()
        for line, value in status_literals(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "use the enums of mma_qt/core/model/status.py:\n" + "\n".join(
        offenders
    )


@pytest.mark.parametrize(
    "source",
    [
        'if record.status == "running": pass',
        'done = status in ("todo", other)',
        'record.status = "done"',
        'status: str = "waiting"',
        'CODES = {"failed": 1}',
        'session.stream_finished(sid, "cancelled")',
        'finish(sid, "cancelled" if cancelled else status)',
        'record.status = status or "waiting"',
        'publish(status="completed")',
        'def f():\n    return "blocked"',
        'def f(status="paused"): pass',
    ],
)
def test_the_scan_finds_a_status_literal_wherever_a_status_is_used(source: str) -> None:
    assert len(list(status_literals(source))) == 1


@pytest.mark.parametrize(
    "source",
    [
        '"""The run is done."""',
        'log.info(f"{tier} done")',
        'answer = {"cancelled": ticket_id}["cancelled"]',
        'def f():\n    return {"cancelled": "run"}',
        'def cancel(reason="cancelled"): pass',
        'message = "done: 3 tickets"',
    ],
)
def test_the_scan_leaves_words_that_only_look_like_a_status(source: str) -> None:
    assert list(status_literals(source)) == []


def test_status_values_are_the_protocol() -> None:
    # Scripts, reports and the hook's answers carry these values: renaming one breaks them.
    assert [s.value for s in RunStatus] == [
        "idle", "planning", "proposed", "running", "paused", "done", "failed", "cancelled",
        "interrupted"]
    assert [s.value for s in TicketStatus] == [
        "todo", "waiting", "in_progress", "completed", "blocked", "failed", "cancelled",
        "skipped", "interrupted"]
    assert [s.value for s in TrackStatus] == [
        "queued", "planning", "running", "done", "failed", "cancelled"]
    assert [s.value for s in RunMode] == ["step", "auto"]
    assert [s.value for s in StreamStatus] == [
        "waiting", "running", "done", "failed", "cancelled"]


def test_a_status_goes_on_the_wire_as_its_plain_value() -> None:
    record = StreamRecord("Tier 1", Tier.ORCHESTRATOR, "plan", status=StreamStatus.RUNNING)
    assert json.dumps({"status": record.status}) == '{"status": "running"}'
    assert TicketStatus.IN_PROGRESS.label == "in progress"


def test_a_stream_and_a_ticket_status_of_one_value_are_one_key() -> None:
    # The tree colours and counts Tier 3 rows (ticket statuses) and the other rows (stream
    # statuses) with one mapping.
    assert {StreamStatus.FAILED: 1}.get(TicketStatus.FAILED) == 1
    assert StreamStatus.DONE.is_final and TicketStatus.BLOCKED.is_final
    assert not StreamStatus.RUNNING.is_final and not TicketStatus.IN_PROGRESS.is_final
