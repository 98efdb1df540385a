"""The Settings dialog: config written without keys, keys to the keyring, applied live."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from mma_qt.core.model.domain import Tier
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.providers.demo import DemoProviderFactory
from mma_qt.core.settings.config import Config, config_path, load_config
from mma_qt.ui.settings_dialog import SettingsDialog
from mma_qt.wiring import AppParts, assemble

from .conftest import MemoryKeyring
from .helpers import short_socket_path

pytestmark = pytest.mark.ui

KEY = "sk-ant-TESTKEY-0123456789abcdef0123456789"


@pytest.fixture
def app(qtbot: Any, qloop: Any, monkeypatch: pytest.MonkeyPatch) -> AppParts:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    parts = assemble(DemoProviderFactory(delay=0), PricingTable.load(), RunOptions(),
                     auto=True, hook_address=short_socket_path(), config=Config())
    qtbot.addWidget(parts.window)
    return parts


def test_settings_save_config_and_keep_keys_in_the_keyring(
    app: AppParts, qtbot: Any, memory_keyring: MemoryKeyring
) -> None:
    applied: list[Config] = []
    dialog = SettingsDialog(Config(), applied.append)
    qtbot.addWidget(dialog)
    dialog.provider.setCurrentText("anthropic")
    dialog.max_workers.setValue(7)
    dialog.tier_model[Tier.WORKER].setText("claude-haiku-4-5")
    dialog.escalation.setText("claude-sonnet-4-6, claude-opus-4-8")
    dialog.key_provider.setCurrentText("anthropic")
    dialog.key_edit.setText(KEY)
    (store,) = [b for b in dialog.findChildren(QPushButton) if b.text() == "Store in keyring"]
    qtbot.mouseClick(store, Qt.MouseButton.LeftButton)
    assert dialog.key_edit.text() == ""
    qtbot.waitUntil(lambda: ("mma-qt", "anthropic") in memory_keyring.store)
    assert memory_keyring.store[("mma-qt", "anthropic")] == KEY
    dialog.save()
    assert applied and applied[0].max_workers == 7
    saved = load_config()
    assert saved.tiers.tier3.model == "claude-haiku-4-5"
    assert saved.tiers.tier3.escalation == ["claude-sonnet-4-6", "claude-opus-4-8"]
    assert KEY not in config_path().read_text(encoding="utf-8")


def test_a_bad_base_url_is_refused_with_a_clear_message(app: AppParts, qtbot: Any) -> None:
    applied: list[Config] = []
    dialog = SettingsDialog(Config(), applied.append)
    qtbot.addWidget(dialog)
    dialog.base_url_provider.setCurrentText("ollama")
    dialog.base_url.setText("not a url")
    dialog.base_url.textEdited.emit("not a url")
    dialog.save()
    assert applied == []
    assert "http" in dialog.error_label.text()
    assert not config_path().exists()


def test_applying_a_config_switches_the_next_run_to_real_providers(
    app: AppParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = app.window
    assert "DEMO" in window.provider_label.text()
    window.apply_config(Config(provider="openai"))  # no key: stays on the demo, says why
    assert app.controller.factory.is_demo
    assert "No API key for openai" in window.statusBar().currentMessage()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-shown")
    window.apply_config(Config(provider="openai", max_workers=3))
    assert not app.controller.factory.is_demo
    assert app.controller.options.max_workers == 3
    assert "openai" in window.windowTitle() and "DEMO" not in window.provider_label.text()
    assert "sk-test-not-shown" not in window.windowTitle() + window.provider_label.text()
