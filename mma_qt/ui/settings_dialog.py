"""Settings: providers and models per tier, the Tier 3 ladder, workers, retries, base URLs
and API keys.

Everything but keys is written to ``config.toml``. Keys go to the system keyring only
(``keys.store_key``), never to the config, QSettings or a log. Without a keyring backend
the dialog says so and points to the environment variables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

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
    QVBoxLayout,
    QWidget,
)

from ..core.model.domain import Tier
from ..core.providers.catalog import PROVIDER_NAMES, spec
from ..core.settings import keys
from ..core.settings.config import Config, ConfigError, ProviderConfig, save_config

log = logging.getLogger(__name__)

DEFAULT = "(default)"


class SettingsDialog(QDialog):
    def __init__(
        self,
        config: Config,
        on_saved: Callable[[Config], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._config = config
        self._on_saved = on_saved

        self.provider = QComboBox()
        self.provider.addItems(PROVIDER_NAMES)
        self.provider.setCurrentText(config.provider)
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

        tiers_box = QGroupBox("Tiers (empty model: the provider's default)")
        tiers = QFormLayout(tiers_box)
        self.tier_provider: dict[Tier, QComboBox] = {}
        self.tier_model: dict[Tier, QLineEdit] = {}
        for tier in Tier:
            tier_config = config.tier(tier)
            combo = QComboBox()
            combo.addItems([DEFAULT, *PROVIDER_NAMES])
            combo.setCurrentText(tier_config.provider or DEFAULT)
            model = QLineEdit(tier_config.model or "")
            row = QHBoxLayout()
            row.addWidget(combo)
            row.addWidget(model, 1)
            tiers.addRow(f"{tier.label} ({tier.role})", row)
            self.tier_provider[tier], self.tier_model[tier] = combo, model
        self.escalation = QLineEdit(", ".join(config.tiers.tier3.escalation))
        self.escalation.setPlaceholderText("models for Tier 3 retries, e.g. gpt-5-mini, gpt-5")
        tiers.addRow("Tier 3 escalation", self.escalation)

        self.base_url_provider = QComboBox()
        self.base_url_provider.addItems(PROVIDER_NAMES)
        self.base_url = QLineEdit()
        self.base_url_provider.currentTextChanged.connect(self._show_base_url)
        self._base_urls = {n: c.base_url or "" for n, c in config.providers.items()}
        self._show_base_url(self.base_url_provider.currentText())
        self.base_url.textEdited.connect(self._edit_base_url)
        urls = QHBoxLayout()
        urls.addWidget(self.base_url_provider)
        urls.addWidget(self.base_url, 1)

        keys_box = QGroupBox("API keys (stored in the system keyring only)")
        keys_layout = QVBoxLayout(keys_box)
        self.key_provider = QComboBox()
        self.key_provider.addItems([n for n in PROVIDER_NAMES if spec(n).needs_key])
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("paste a key, then Store")
        store = QPushButton("Store in keyring")
        store.clicked.connect(self._store_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_provider)
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(store)
        self.keyring_label = QLabel(f"Keyring: {keys.keyring_status()}")
        self.keyring_label.setWordWrap(True)
        keys_layout.addLayout(key_row)
        keys_layout.addWidget(self.keyring_label)

        self.error_label = QLabel()
        self.error_label.setStyleSheet("QLabel { color: #c62828; }")
        self.error_label.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(general)
        layout.addWidget(tiers_box)
        layout.addWidget(QLabel("Base URL (local servers, gateways; empty: the default)"))
        layout.addLayout(urls)
        layout.addWidget(keys_box)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)

    @Slot(str)
    def _show_base_url(self, provider: str) -> None:
        self.base_url.setText(self._base_urls.get(provider, ""))
        self.base_url.setPlaceholderText(spec(provider).base_url or "the SDK's default endpoint")

    @Slot(str)
    def _edit_base_url(self, text: str) -> None:
        self._base_urls[self.base_url_provider.currentText()] = text.strip()

    @Slot()
    def _store_key(self) -> None:
        provider, key = self.key_provider.currentText(), self.key_edit.text().strip()
        self.key_edit.clear()
        if not key:
            self.error_label.setText("Paste a key first.")
            return
        try:
            keys.store_key(provider, key)
        except keys.KeyStoreError as exc:
            self.error_label.setText(
                f"Could not store the key: {exc}. Set {keys.key_hint(provider)} instead."
            )
            log.warning("storing the %s key failed: %s", provider, exc)
            return
        self.error_label.setText("")
        self.keyring_label.setText(f"Stored the {provider} key in the keyring.")

    def build_config(self) -> Config:
        """The edited configuration (raises ValidationError on a bad value)."""
        data = self._config.model_dump()
        data["provider"] = self.provider.currentText()
        data["max_workers"] = self.max_workers.value()
        data["max_retries"] = self.max_retries.value()
        for tier in Tier:
            name = f"tier{int(tier)}"
            provider = self.tier_provider[tier].currentText()
            data["tiers"][name]["provider"] = None if provider == DEFAULT else provider
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
