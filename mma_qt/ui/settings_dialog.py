"""Settings: providers and models per tier, the Tier 3 ladder, workers, retries, base URLs
and API keys.

Everything but keys is written to ``config.toml``. Keys go to the system keyring only
(``keys.store_key``), never to the config, QSettings or a log. The keyring is asked on the
window's :class:`~mma_qt.ui.tasks.TaskRunner`, never on the GUI thread (a locked or absent
keyring can take seconds to answer): the dialog says "checking the keyring…" until it has.
Without a keyring backend it says so and points to the environment variables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from functools import partial

from pydantic import ValidationError
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.model.domain import Tier
from ..core.providers.catalog import DEMO, PROVIDER_NAMES, spec
from ..core.settings import keys
from ..core.settings.config import Config, ConfigError, ProviderConfig, save_config
from .tasks import TaskRunner

log = logging.getLogger(__name__)

DEFAULT = "(default)"
DEMO_LABEL = "demo (offline, no API key)"
CHECKING = "Keyring: checking the keyring…"


def provider_combo(names: Iterable[str], *, demo: bool = False,
                   default: bool = False) -> QComboBox:
    """Provider names shown as themselves (item data: the name); ``default`` adds
    "(default)" first (data ""), ``demo`` the offline demo last, labelled as such."""
    combo = QComboBox()
    if default:
        combo.addItem(DEFAULT, "")
    for name in names:
        combo.addItem(name, name)
    if demo:
        combo.addItem(DEMO_LABEL, DEMO)
    return combo


def select_provider(combo: QComboBox, name: str) -> None:
    combo.setCurrentIndex(max(combo.findData(name), 0))


class SettingsDialog(QDialog):
    def __init__(
        self,
        config: Config,
        on_saved: Callable[[Config], None],
        tasks: TaskRunner,
        parent: QWidget | None = None,
        *,
        pages: Sequence[tuple[str, QWidget]] = (),
    ) -> None:
        """``pages``: more tabs beside the general one (title, page), e.g. MCP servers."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._config = config
        self._on_saved = on_saved
        self._tasks = tasks
        self.error_label = QLabel()
        self.error_label.setStyleSheet("QLabel { color: #c62828; }")
        self.error_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        general = QWidget()
        layout = QVBoxLayout(general)
        layout.addLayout(self._general(config))
        layout.addWidget(self._tiers(config))
        layout.addWidget(QLabel("Base URL (local servers, gateways; empty: the default)"))
        layout.addLayout(self._base_urls_row(config))
        layout.addWidget(self._keys_box())
        outer = QVBoxLayout(self)
        if pages:
            tabs = QTabWidget()
            tabs.addTab(general, "Providers")
            for title, page in pages:
                tabs.addTab(page, title)
            outer.addWidget(tabs)
        else:
            outer.addWidget(general)
        outer.addWidget(self.error_label)
        outer.addWidget(self.buttons)
        self._check_keyring()

    # -- construction --------------------------------------------------------------------
    def _general(self, config: Config) -> QFormLayout:
        self.provider = provider_combo(PROVIDER_NAMES, demo=True)
        select_provider(self.provider, config.provider)
        self.max_workers = QSpinBox()
        self.max_workers.setRange(1, 64)
        self.max_workers.setValue(config.max_workers)
        self.max_retries = QSpinBox()
        self.max_retries.setRange(0, 10)
        self.max_retries.setValue(config.max_retries)
        general = QFormLayout()
        general.addRow("Default provider", self.provider)
        general.addRow("Tier 3 workers at once", self.max_workers)
        general.addRow("Retries of a failed ticket", self.max_retries)
        return general

    def _tiers(self, config: Config) -> QGroupBox:
        box = QGroupBox("Tiers (empty model: the provider's default)")
        tiers = QFormLayout(box)
        self.tier_provider: dict[Tier, QComboBox] = {}
        self.tier_model: dict[Tier, QLineEdit] = {}
        for tier in Tier:
            tier_config = config.tier(tier)
            combo = provider_combo(PROVIDER_NAMES, default=True)
            select_provider(combo, tier_config.provider or "")
            model = QLineEdit(tier_config.model or "")
            row = QHBoxLayout()
            row.addWidget(combo)
            row.addWidget(model, 1)
            tiers.addRow(f"{tier.label} ({tier.role})", row)
            self.tier_provider[tier], self.tier_model[tier] = combo, model
        self.escalation = QLineEdit(", ".join(config.tiers.tier3.escalation))
        self.escalation.setPlaceholderText("models for Tier 3 retries, e.g. gpt-5-mini, gpt-5")
        tiers.addRow("Tier 3 escalation", self.escalation)
        return box

    def _base_urls_row(self, config: Config) -> QHBoxLayout:
        self._base_urls = {n: c.base_url or "" for n, c in config.providers.items()}
        self.base_url_provider = provider_combo(PROVIDER_NAMES)
        self.base_url = QLineEdit()
        self.base_url_provider.currentTextChanged.connect(self._show_base_url)
        self._show_base_url(self.base_url_provider.currentText())
        self.base_url.textEdited.connect(self._edit_base_url)
        urls = QHBoxLayout()
        urls.addWidget(self.base_url_provider)
        urls.addWidget(self.base_url, 1)
        return urls

    def _keys_box(self) -> QGroupBox:
        box = QGroupBox("API keys (stored in the system keyring only)")
        self.key_provider = provider_combo(n for n in PROVIDER_NAMES if spec(n).needs_key)
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("paste a key, then Store")
        self.store_button = QPushButton("Store in keyring")
        self.store_button.clicked.connect(self._store_key)
        row = QHBoxLayout()
        row.addWidget(self.key_provider)
        row.addWidget(self.key_edit, 1)
        row.addWidget(self.store_button)
        self.keyring_label = QLabel(CHECKING)
        self.keyring_label.setWordWrap(True)
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addWidget(self.keyring_label)
        return box

    # -- base URLs -----------------------------------------------------------------------
    @Slot(str)
    def _show_base_url(self, provider: str) -> None:
        self.base_url.setText(self._base_urls.get(provider, ""))
        self.base_url.setPlaceholderText(spec(provider).base_url or "the SDK's default endpoint")

    @Slot(str)
    def _edit_base_url(self, text: str) -> None:
        self._base_urls[self.base_url_provider.currentText()] = text.strip()

    # -- the keyring, off the GUI thread -------------------------------------------------
    def _check_keyring(self) -> None:
        self.keyring_label.setText(CHECKING)
        self._tasks.submit(keys.keyring_status, self._on_keyring_status, owner=self)

    def _on_keyring_status(self, future: Future[str]) -> None:
        try:
            status = future.result()
        except Exception as exc:
            log.exception("checking the system keyring failed")
            status = f"could not be checked ({type(exc).__name__}: {exc})"
        self._say(self.keyring_label, f"Keyring: {status}")

    @Slot()
    def _store_key(self) -> None:
        provider, key = self.key_provider.currentText(), self.key_edit.text().strip()
        self.key_edit.clear()
        if not key:
            self.error_label.setText("Paste a key first.")
            return
        self.error_label.setText("")
        self.store_button.setEnabled(False)
        self.keyring_label.setText(f"Storing the {provider} key in the keyring…")
        self._tasks.submit(
            partial(keys.store_key, provider, key), partial(self._on_stored, provider),
            owner=self,
        )

    def _on_stored(self, provider: str, future: Future[None]) -> None:
        self.store_button.setEnabled(True)
        try:
            future.result()
        except keys.KeyStoreError as exc:  # its message is redacted and says what to do
            log.warning("storing the %s key failed: %s", provider, exc)
            self._not_stored(provider, str(exc))
            return
        except Exception as exc:
            log.exception("storing the %s key failed", provider)
            self._not_stored(provider, f"{type(exc).__name__}; {keys.key_hint(provider)}")
            return
        self._say(self.keyring_label, f"Stored the {provider} key in the keyring.")

    def _not_stored(self, provider: str, why: str) -> None:
        self.keyring_label.setText(f"The {provider} key was not stored.")
        self._say(self.error_label, f"Not stored: {why}")

    def _say(self, label: QLabel, text: str) -> None:
        """Show an answer that came later; grow (never squeeze the rows) to show it whole.

        The layouts between the label and the dialog are brought up to date first: a
        group box would otherwise report its new height only once its own posted layout
        request is handled, after the dialog had kept its old size.
        """
        label.setText(text)
        widget = label.parentWidget()
        while widget is not None:
            layout = widget.layout()
            if layout is not None:
                # The tab widget between has no layout: the dialog's own cached its hint.
                layout.invalidate()
                layout.activate()
            widget = None if widget is self else widget.parentWidget()
        self.resize(self.size().expandedTo(self.sizeHint()))

    # -- saving --------------------------------------------------------------------------
    def build_config(self) -> Config:
        """The edited configuration (raises ValidationError on a bad value)."""
        data = self._config.model_dump()
        data["provider"] = self.provider.currentData()
        data["max_workers"] = self.max_workers.value()
        data["max_retries"] = self.max_retries.value()
        for tier in Tier:
            name = f"tier{int(tier)}"
            data["tiers"][name]["provider"] = self.tier_provider[tier].currentData() or None
            data["tiers"][name]["model"] = self.tier_model[tier].text().strip() or None
        data["tiers"]["tier3"]["escalation"] = [
            m.strip() for m in self.escalation.text().split(",") if m.strip()
        ]
        data["providers"] = {
            name: ProviderConfig(base_url=url).model_dump()
            for name, url in self._base_urls.items()
            if url
        }
        return Config.model_validate(data)

    @Slot()
    def save(self) -> None:
        try:
            config = self.build_config()
            save_config(config)
        except (ValidationError, ConfigError, OSError) as exc:
            self.error_label.setText(f"Not saved: {exc}")
            log.warning("settings not saved: %s", exc)
            return
        self._config = config
        self._on_saved(config)
        self.accept()
