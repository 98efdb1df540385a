"""Stand-ins for controller commands in window tests: record each call, optionally refuse.

The window's tests assert what the window asked the controller; the commands themselves
are tested where they are built."""

from __future__ import annotations

from typing import Any

import pytest


class Spy:
    """A callable that records ``(args, kwargs)`` per call and raises ``raises`` if set."""

    def __init__(self, raises: BaseException | None = None, returns: Any = None) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.raises = raises
        self.returns = returns

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        if self.raises is not None:
            raise self.raises
        return self.returns


def spy_on(monkeypatch: pytest.MonkeyPatch, target: object, name: str,
           raises: BaseException | None = None, returns: Any = None) -> Spy:
    """Replace ``target.name`` by a :class:`Spy` for the test."""
    spy = Spy(raises, returns)
    monkeypatch.setattr(target, name, spy)
    return spy
