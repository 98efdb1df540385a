"""Every event type ``describe`` announces is published somewhere, and nothing is published
that it does not announce: an AST scan of every ``.publish("type", ...)`` call in mma_qt."""

from __future__ import annotations

import ast
from pathlib import Path

from mma_qt.core.live.events import EVENT_TYPES

SOURCE = Path(__file__).resolve().parents[1] / "mma_qt"


def published_types() -> dict[str, list[str]]:
    """Event type → where it is published (``path:line``)."""
    found: dict[str, list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "publish" and node.args):
                first = node.args[0]
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                    f"{path}:{node.lineno}: publish with a type that is not a literal")
                where = f"{path.relative_to(SOURCE)}:{node.lineno}"
                found.setdefault(first.value, []).append(where)
    return found


def test_every_event_type_is_published_and_every_published_type_is_announced() -> None:
    published = published_types()
    assert sorted(set(EVENT_TYPES) - set(published)) == []  # announced, never published
    assert {t: published[t] for t in set(published) - set(EVENT_TYPES)} == {}
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES))


def test_a_plan_of_one_ticket_says_ticket() -> None:
    """``mma-qt --demo`` printed "plan TR-3: 1 tickets T-009"."""
    from mma_qt.progress import format_event

    def plan(*ids: str) -> str | None:
        return format_event({"type": "plan", "track": {"id": "TR-3"}, "tickets": list(ids)})

    assert plan("T-009") == "plan TR-3: 1 ticket T-009"
    assert plan("T-007", "T-008") == "plan TR-3: 2 tickets T-007, T-008"
