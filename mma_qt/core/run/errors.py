"""What the controller says when it refuses a request. QtCore-free."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


class ControllerError(RuntimeError):
    """A request that cannot be done now (e.g. start while running); said to the caller
    (the hook answers -32000 with the message)."""


class InvalidEdit(ControllerError):
    """An edit the user sent is malformed (a track or ticket field); the message names the
    field. The hook answers -32602."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def choice(kind: type[E], value: str, what: str) -> E:
    """``value`` as a member of ``kind``, or a ControllerError naming the choices:
    ``unknown mode 'fast'; use one of: step, auto``."""
    try:
        return kind(value)
    except ValueError as exc:
        known = ", ".join(m.value for m in kind)
        raise ControllerError(f"unknown {what} {value!r}; use one of: {known}") from exc
