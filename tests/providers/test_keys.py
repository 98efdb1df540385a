"""API keys: environment first, then the keyring; a headless machine; redaction."""

from __future__ import annotations

import logging

import pytest

from mma_qt.core.settings import keys

from .conftest import CountingFailKeyring, MemoryKeyring

ENV_KEY = "sk-env-0123456789abcdefghij"
RING_KEY = "sk-ring-0123456789abcdefghij"


def test_environment_beats_keyring(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    keys.store_key("anthropic", RING_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    resolved = keys.KeyResolver().resolve("anthropic")
    assert resolved is not None
    assert resolved.value == ENV_KEY
    assert resolved.source == "environment variable ANTHROPIC_API_KEY"
    assert ENV_KEY not in repr(resolved)


def test_keyring_used_when_environment_has_none(memory_keyring: MemoryKeyring) -> None:
    keys.store_key("openai", f"  {RING_KEY}\n")
    assert memory_keyring.store == {("mma-qt", "openai"): RING_KEY}
    resolved = keys.KeyResolver().resolve("openai")
    assert resolved is not None
    assert resolved.value == RING_KEY
    assert resolved.source == "system keyring (mma-qt/openai)"


def test_gemini_reads_gemini_then_google_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-google")
    assert keys.KeyResolver().get("gemini") == "AIza-google"
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-gemini")
    assert keys.KeyResolver().get("gemini") == "AIza-gemini"


def test_blank_environment_variable_is_ignored(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "   ")
    keys.store_key("deepseek", RING_KEY)
    assert keys.KeyResolver().get("deepseek") == RING_KEY


def test_no_key_anywhere() -> None:
    resolver = keys.KeyResolver()
    assert resolver.get("anthropic") is None
    assert resolver.get("ollama") is None


def test_explicit_environ_mapping() -> None:
    resolver = keys.KeyResolver({"OPENROUTER_API_KEY": "sk-or-1"})
    assert resolver.get("openrouter") == "sk-or-1"


def test_headless_machine_is_probed_once_and_said_in_one_warning_line(
    no_keyring: CountingFailKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    resolver = keys.KeyResolver()
    with caplog.at_level(logging.DEBUG, logger="mma_qt.core.settings.keys"):
        for provider in ("anthropic", "openai", "gemini", "anthropic"):
            assert resolver.get(provider) is None
        status = resolver.keyring_status()

    assert no_keyring.lookups == 1
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    (warning,) = warnings
    assert warning.exc_info is None  # no traceback on the console
    line = warning.getMessage()
    assert "\n" not in line
    assert line.startswith("system keyring unavailable (NoKeyringError: ")
    assert "environment variables only" in line
    # The traceback stays findable at DEBUG level.
    assert any(r.exc_info for r in caplog.records if r.levelno == logging.DEBUG)
    assert status.startswith("system keyring unavailable (NoKeyringError")


def test_keyring_is_not_probed_until_a_lookup_reaches_it(
    no_keyring: CountingFailKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    resolver = keys.KeyResolver()
    assert resolver.get("anthropic") == ENV_KEY
    assert no_keyring.lookups == 0


@pytest.mark.usefixtures("no_keyring")
def test_headless_machine_falls_back_to_env_and_refuses_to_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status = keys.keyring_status()
    assert status.startswith("system keyring unavailable (NoKeyringError")
    assert "environment variables only" in status

    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    assert keys.KeyResolver().get("anthropic") == ENV_KEY

    with pytest.raises(keys.KeyStoreError) as info:
        keys.store_key("anthropic", RING_KEY)
    assert "ANTHROPIC_API_KEY" in str(info.value)
    assert RING_KEY not in str(info.value)


def test_keyring_status_when_available() -> None:
    resolver = keys.KeyResolver()
    assert resolver.keyring_status().startswith("system keyring available (")
    assert resolver.keyring_problem() is None


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


def test_key_hint_for_a_local_server_says_no_key_is_sent() -> None:
    assert "no key" in keys.key_hint("ollama")
    assert "keyring" not in keys.key_hint("ollama")
