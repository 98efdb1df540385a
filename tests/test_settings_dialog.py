"""The Settings dialog: config written without keys, keys to the keyring (asked off the
GUI thread), the offline demo offered, and saved settings applied through the one wiring
policy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keyring
import keyring.backend
import keyring.errors
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from mma_qt.core.model.domain import Tier
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.providers.demo import DemoProviderFactory
from mma_qt.core.settings.config import Config, config_path, load_config, save_config
from mma_qt.ui.settings_dialog import CHECKING, DEMO_LABEL, SettingsDialog
from mma_qt.ui.tasks import TaskRunner
from mma_qt.wiring import AppParts, assemble

from .conftest import MemoryKeyring, close_app
from .helpers import short_socket_path

pytestmark = pytest.mark.ui

KEY = "sk-ant-TESTKEY-0123456789abcdef0123456789"


class GatedKeyring(MemoryKeyring):
    """An in-memory keyring that answers once ``gate`` is set (a slow keyring), records
    the thread of every call, refuses to store when ``refuse`` is set and is missing (as
    on a headless machine) when ``missing`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.refuse = False
        self.missing = False
        self.threads: list[str] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.threads.append(threading.current_thread().name)
        self.gate.wait(10)
        if self.missing:
            raise keyring.errors.NoKeyringError("No recommended backend was available. " * 4)
        return super().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self.threads.append(threading.current_thread().name)
        self.gate.wait(10)
        if self.refuse:
            raise keyring.errors.PasswordSetError("the keyring is locked")
        super().set_password(service, username, password)


@contextmanager
def keyring_backend(backend: keyring.backend.KeyringBackend) -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def gated_keyring() -> Iterator[GatedKeyring]:
    backend = GatedKeyring()
    with keyring_backend(backend):
        yield backend
        backend.gate.set()


@pytest.fixture
def tasks(qapp: Any) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.shutdown()
    runner.deleteLater()


@pytest.fixture
def app(qtbot: Any, qloop: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppParts]:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    parts = assemble(DemoProviderFactory(delay=0), PricingTable.load(), RunOptions(),
                     auto=True, hook_address=short_socket_path(), config=Config())
    yield parts
    close_app(parts, qtbot)


def open_dialog(qtbot: Any, tasks: TaskRunner, config: Config,
                applied: list[Config]) -> SettingsDialog:
    dialog = SettingsDialog(config, applied.append, tasks)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.keyring_label.text() != CHECKING)
    return dialog


def press_save(dialog: SettingsDialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()


def test_settings_save_config_and_keep_keys_in_the_keyring(
    qtbot: Any, tasks: TaskRunner, gated_keyring: GatedKeyring
) -> None:
    applied: list[Config] = []
    dialog = open_dialog(qtbot, tasks, Config(), applied)
    dialog.provider.setCurrentText("anthropic")
    dialog.max_workers.setValue(7)
    dialog.tier_model[Tier.WORKER].setText("claude-haiku-4-5")
    dialog.escalation.setText("claude-sonnet-4-6, claude-opus-4-8")
    dialog.key_provider.setCurrentText("anthropic")
    dialog.key_edit.setText(KEY)
    qtbot.mouseClick(dialog.store_button, Qt.MouseButton.LeftButton)
    assert dialog.key_edit.text() == ""
    qtbot.waitUntil(lambda: "Stored the anthropic key" in dialog.keyring_label.text())
    assert gated_keyring.store[("mma-qt", "anthropic")] == KEY
    assert dialog.store_button.isEnabled()
    press_save(dialog)
    assert applied and applied[0].max_workers == 7
    saved = load_config()
    assert saved.tiers.tier3.model == "claude-haiku-4-5"
    assert saved.tiers.tier3.escalation == ["claude-sonnet-4-6", "claude-opus-4-8"]
    assert KEY not in config_path().read_text(encoding="utf-8")


def test_the_keyring_is_asked_off_the_gui_thread_and_the_dialog_says_so_meanwhile(
    qtbot: Any, tasks: TaskRunner, gated_keyring: GatedKeyring
) -> None:
    gated_keyring.gate.clear()  # the keyring does not answer yet
    dialog = SettingsDialog(Config(), [].append, tasks)
    qtbot.addWidget(dialog)
    assert dialog.keyring_label.text() == CHECKING  # the dialog is up, not frozen
    gated_keyring.gate.set()
    qtbot.waitUntil(lambda: "system keyring available" in dialog.keyring_label.text())
    assert gated_keyring.threads
    assert threading.main_thread().name not in gated_keyring.threads


@pytest.mark.parametrize("answer_first", [True, False], ids=["answer-first", "shown-first"])
def test_the_dialog_grows_to_show_a_late_keyring_answer_whole(
    qtbot: Any, tasks: TaskRunner, gated_keyring: GatedKeyring, answer_first: bool
) -> None:
    gated_keyring.missing = True  # a headless machine: a long NoKeyringError
    gated_keyring.gate.clear()
    dialog = SettingsDialog(Config(), [].append, tasks)
    qtbot.addWidget(dialog)
    label = dialog.keyring_label
    if answer_first:
        gated_keyring.gate.set()
        qtbot.waitUntil(lambda: "system keyring unavailable" in label.text())
    dialog.show()
    qtbot.waitExposed(dialog)
    gated_keyring.gate.set()
    qtbot.waitUntil(lambda: "system keyring unavailable" in label.text())
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()))
    assert label.heightForWidth(label.width()) > 3 * label.fontMetrics().height()


def test_storing_a_key_shows_progress_then_why_it_failed(
    qtbot: Any, tasks: TaskRunner, gated_keyring: GatedKeyring
) -> None:
    dialog = open_dialog(qtbot, tasks, Config(), [])
    gated_keyring.gate.clear()
    gated_keyring.refuse = True
    dialog.key_provider.setCurrentText("openai")
    dialog.key_edit.setText(KEY)
    qtbot.mouseClick(dialog.store_button, Qt.MouseButton.LeftButton)
    assert dialog.keyring_label.text() == "Storing the openai key in the keyring…"
    assert not dialog.store_button.isEnabled()
    gated_keyring.gate.set()
    qtbot.waitUntil(lambda: "Not stored" in dialog.error_label.text())
    assert "PasswordSetError" in dialog.error_label.text()
    assert "OPENAI_API_KEY" in dialog.error_label.text()
    assert KEY not in dialog.error_label.text() + dialog.keyring_label.text()
    assert dialog.store_button.isEnabled()
    assert ("mma-qt", "openai") not in gated_keyring.store
    assert threading.main_thread().name not in gated_keyring.threads


def test_a_config_naming_the_demo_opens_showing_it_and_saves_it_back(
    qtbot: Any, tasks: TaskRunner, gated_keyring: GatedKeyring
) -> None:
    save_config(Config(provider="demo", max_workers=2))
    applied: list[Config] = []
    dialog = open_dialog(qtbot, tasks, load_config(), applied)
    assert dialog.provider.currentText() == DEMO_LABEL
    assert "offline" in DEMO_LABEL
    press_save(dialog)
    assert [c.provider for c in applied] == ["demo"]
    assert load_config().provider == "demo"


def test_a_bad_base_url_is_refused_with_a_clear_message(
    qtbot: Any, tasks: TaskRunner, gated_keyring: GatedKeyring
) -> None:
    applied: list[Config] = []
    dialog = open_dialog(qtbot, tasks, Config(), applied)
    dialog.base_url_provider.setCurrentText("ollama")
    qtbot.keyClicks(dialog.base_url, "not a url")
    press_save(dialog)
    assert applied == []
    assert "http" in dialog.error_label.text()
    assert not config_path().exists()


def test_applying_a_config_switches_the_next_run_to_real_providers(
    app: AppParts, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = app.window
    assert "DEMO" in window.provider_label.text()
    window.apply_config(Config(provider="openai"))  # no key: stays on the demo, says why
    qtbot.waitUntil(lambda: "no API key for openai" in window.statusBar().currentMessage())
    assert app.controller.factory.is_demo
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-shown")
    window.apply_config(Config(provider="openai", max_workers=3))
    qtbot.waitUntil(lambda: not app.controller.factory.is_demo)
    assert app.controller.options.max_workers == 3
    assert "openai" in window.windowTitle() and "DEMO" not in window.provider_label.text()
    assert "sk-test-not-shown" not in window.windowTitle() + window.provider_label.text()


def test_saving_settings_that_name_the_demo_switches_to_the_demo(
    app: AppParts, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = app.window
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-shown")
    window.apply_config(Config(provider="openai"))
    qtbot.waitUntil(lambda: not app.controller.factory.is_demo)
    window.apply_config(Config(provider="demo", max_workers=2))
    qtbot.waitUntil(lambda: app.controller.factory.is_demo)
    assert app.controller.options.max_workers == 2
    assert "DEMO" in window.provider_label.text()
    assert window.statusBar().currentMessage() == "Next run uses demo (offline)"


def test_applying_settings_asks_the_keyring_once_and_off_the_gui_thread(
    app: AppParts, qtbot: Any, gated_keyring: GatedKeyring
) -> None:
    window = app.window
    window.apply_config(Config(provider="openai"))  # no key anywhere
    qtbot.waitUntil(lambda: "no API key for openai" in window.statusBar().currentMessage())
    assert len(gated_keyring.threads) == 1
    assert gated_keyring.threads[0] != threading.main_thread().name
