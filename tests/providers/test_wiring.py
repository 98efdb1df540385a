"""Choosing the provider factory at start-up: the demo, the keyring probed at most once
and only for providers that need a key, and what a headless machine's console shows."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mma_qt.arguments import parse_args
from mma_qt.core.settings import keys
from mma_qt.core.settings.config import Config
from mma_qt.wiring import NoKeyError, make_provider_factory

from .conftest import CountingFailKeyring

KEYS_LOGGER = "mma_qt.core.settings.keys"


def choose(
    argv: list[str], config: Config | None = None
) -> tuple[str, bool, list[str]]:
    said: list[str] = []
    factory = make_provider_factory(parse_args(argv), config or Config(), say=said.append)
    return factory.label, factory.is_demo, said


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_fallback_to_the_demo_on_a_headless_machine_warns_once_without_traceback(
    no_keyring: CountingFailKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger=KEYS_LOGGER):
        label, is_demo, said = choose([])

    assert (label, is_demo) == ("demo (offline)", True)
    assert no_keyring.lookups == 1
    (warning,) = warnings_of(caplog)
    assert warning.exc_info is None
    assert warning.getMessage().startswith("system keyring unavailable (NoKeyringError")
    (line,) = said
    assert line.startswith("no API key for anthropic")
    assert line.endswith("using the offline DEMO provider")


@pytest.mark.parametrize("provider", ["ollama", "demo"])
def test_start_on_a_provider_without_key_never_touches_the_keyring(
    provider: str, no_keyring: CountingFailKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger=KEYS_LOGGER):
        label, _is_demo, said = choose(["--provider", provider])

    assert label.startswith(provider)
    assert no_keyring.lookups == 0
    assert caplog.records == []
    assert said == []


def test_config_naming_the_demo_starts_the_offline_demo(
    no_keyring: CountingFailKeyring,
) -> None:
    label, is_demo, said = choose([], Config(provider="demo"))
    assert (label, is_demo, said) == ("demo (offline)", True, [])
    assert no_keyring.lookups == 0


def test_provider_flag_beats_a_config_naming_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wiring-0123456789abcdef")
    label, is_demo, _said = choose(["--provider", "openai"], Config(provider="demo"))
    assert (label, is_demo) == ("openai: gpt-5", False)


def test_named_provider_without_key_is_refused_after_one_probe(
    no_keyring: CountingFailKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger=KEYS_LOGGER), pytest.raises(NoKeyError) as info:
        choose(["--provider", "openai"])

    message = str(info.value)
    assert "OPENAI_API_KEY" in message
    assert "Keyring: system keyring unavailable (NoKeyringError" in message
    assert no_keyring.lookups == 1
    assert len(warnings_of(caplog)) == 1


def test_unknown_provider_flag_lists_the_offline_demo() -> None:
    with pytest.raises(ValueError, match=r"unknown provider 'nosuch' \(known: demo \(the "):
        choose(["--provider", "nosuch"])


def test_headless_console_shows_one_keyring_line_and_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _KEY_VARIABLES}
    env.update(
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        QT_QPA_PLATFORM="offscreen",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mma_qt", "--provider", "openai", "--offscreen"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, done.stderr
    assert "system keyring unavailable (NoKeyringError" in warnings[0]
    assert "no API key for openai" in done.stderr


_KEY_VARIABLES = frozenset(name for names in keys.ENV_VARS.values() for name in names)
