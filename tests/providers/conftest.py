"""Fixtures for the provider tests: a loopback wire server, an in-memory keyring, a
clean environment (no real API keys leak in from the developer's shell)."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import keyring.backend
import keyring.backends.fail
import pytest

from mma_qt.core.settings import keys

from ..conftest import MemoryKeyring
from .wire import WireServer


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


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """A headless machine: every keyring call raises NoKeyringError."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def wire() -> Iterator[WireServer]:
    with WireServer() as server:
        yield server
