"""What the controller says when it refuses a request. QtCore-free."""

from __future__ import annotations


class ControllerError(RuntimeError):
    """A request that cannot be done now (e.g. start while running); said to the caller
    (the hook answers -32000 with the message)."""


class InvalidEdit(ControllerError):
    """An edit the user sent is malformed (a track or ticket field); the message names the
    field. The hook answers -32602."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
