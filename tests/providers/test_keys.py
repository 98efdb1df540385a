"""API keys: environment first, then the keyring; a headless machine; redaction."""

from __future__ import annotations

import logging

import pytest

from mma_qt.core.settings import keys

from .conftest import MemoryKeyring

ENV_KEY = "sk-env-0123456789abcdefghij"
RING_KEY = "sk-ring-0123456789abcdefghij"


def test_environment_beats_keyring(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    keys.store_key("anthropic", RING_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    resolved = keys.resolve_key("anthropic")
    assert resolved is not None
    assert resolved.value == ENV_KEY
    assert resolved.source == "environment variable ANTHROPIC_API_KEY"
    assert ENV_KEY not in repr(resolved)


def test_keyring_used_when_environment_has_none(memory_keyring: MemoryKeyring) -> None:
    keys.store_key("openai", f"  {RING_KEY}\n")
    assert memory_keyring.store == {("mma-qt", "openai"): RING_KEY}
    resolved = keys.resolve_key("openai")
    assert resolved is not None
    assert resolved.value == RING_KEY
    assert resolved.source == "system keyring (mma-qt/openai)"


def test_gemini_reads_gemini_then_google_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-google")
    assert keys.get_key("gemini") == "AIza-google"
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-gemini")
    assert keys.get_key("gemini") == "AIza-gemini"


def test_blank_environment_variable_is_ignored(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "   ")
    keys.store_key("deepseek", RING_KEY)
    assert keys.get_key("deepseek") == RING_KEY


def test_no_key_anywhere() -> None:
    assert keys.get_key("anthropic") is None
    assert keys.get_key("ollama") is None


def test_explicit_environ_mapping() -> None:
    assert keys.get_key("openrouter", {"OPENROUTER_API_KEY": "sk-or-1"}) == "sk-or-1"


@pytest.mark.usefixtures("no_keyring")
def test_headless_machine_reports_status_and_falls_back_to_env(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    status = keys.keyring_status()
    assert status.startswith("system keyring unavailable (NoKeyringError")
    assert "environment variables only" in status
    assert not keys.keyring_available()

    with caplog.at_level(logging.WARNING, logger="mma_qt.core.settings.keys"):
        assert keys.get_key("anthropic") is None
    assert "system keyring unavailable" in caplog.text

    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    assert keys.get_key("anthropic") == ENV_KEY

    with pytest.raises(keys.KeyStoreError) as info:
        keys.store_key("anthropic", RING_KEY)
    assert "ANTHROPIC_API_KEY" in str(info.value)
    assert RING_KEY not in str(info.value)


def test_keyring_status_when_available() -> None:
    assert keys.keyring_status().startswith("system keyring available (")
    assert keys.keyring_available()


def test_delete_key(memory_keyring: MemoryKeyring) -> None:
    keys.store_key("gemini", RING_KEY)
    keys.delete_key("gemini")
    keys.delete_key("gemini")  # absent: no error
    assert memory_keyring.store == {}


def test_store_rejects_empty_key() -> None:
    with pytest.raises(ValueError, match="empty"):
        keys.store_key("openai", "  ")


def test_redact_known_keys_and_key_shapes() -> None:
    text = (
        f"401: invalid key {ENV_KEY}; header 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz'; "
        "google AIzaSyA0123456789abcdefghijklmnopqrstuv; custom k3y-custom-value"
    )
    out = keys.redact(text, [ENV_KEY, "k3y-custom-value", None, ""])
    assert ENV_KEY not in out
    assert "abcdefghijklmnopqrstuvwxyz" not in out
    assert "AIzaSyA0123456789" not in out
    assert "k3y-custom-value" not in out
    assert out.count(keys.REDACTED) == 4
    assert keys.redact("model claude-sonnet-4-6 failed", []) == "model claude-sonnet-4-6 failed"


def test_key_hint_names_the_sources() -> None:
    assert keys.key_hint("gemini") == (
        "set GEMINI_API_KEY or GOOGLE_API_KEY, or store a key in the system keyring "
        "(service 'mma-qt', user 'gemini')"
    )
