"""Fixtures for the provider tests: a loopback wire server, an in-memory keyring, a
headless machine's keyring, a clean environment (no real API keys leak in from the
developer's shell)."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import keyring.backend
import keyring.backends.fail
import pytest

from mma_qt.core.settings import keys

from ..conftest import MemoryKeyring
from .wire import WireServer

__all__ = ["CountingFailKeyring", "MemoryKeyring"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for names in keys.ENV_VARS.values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _always_memory_keyring(memory_keyring: MemoryKeyring) -> MemoryKeyring:
    """Every provider test runs against an empty in-memory keyring, never the real one."""
    return memory_keyring


class CountingFailKeyring(keyring.backends.fail.Keyring):
    """A headless machine's keyring: every call raises NoKeyringError. Counts lookups."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.lookups = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.lookups += 1
        return super().get_password(service, username)  # type: ignore[no-any-return]


@pytest.fixture
def no_keyring() -> Iterator[CountingFailKeyring]:
    """A headless machine: every keyring call raises NoKeyringError."""
    previous = keyring.get_keyring()
    backend = CountingFailKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def wire() -> Iterator[WireServer]:
    with WireServer() as server:
        yield server
