"""config.toml: defaults, validation errors naming file and field, round trips, no keys."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest

from mma_qt.core.model.domain import Tier
from mma_qt.core.settings.config import (
    Config,
    ConfigError,
    ProviderConfig,
    config_path,
    load_config,
    read_config,
    save_config,
)
from mma_qt.core.settings.toml_writer import dump_toml


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "config.toml")
    assert config == Config()
    assert config.max_workers == 4
    assert config.provider_for(Tier.WORKER) == "anthropic"


def test_default_location_is_the_user_config_dir(tmp_path: Path) -> None:
    # tests/conftest.py points XDG_CONFIG_HOME at a temporary folder.
    assert config_path().name == "config.toml"
    assert config_path().parent.name == "mma-qt"


def test_saved_config_loads_back_equal(tmp_path: Path) -> None:
    config = Config.model_validate(
        {
            "provider": "openai",
            "max_workers": 8,
            "max_retries": 3,
            "request_timeout": 90.5,
            "pricing_file": str(tmp_path / "my prices.toml"),
            "tiers": {
                "tier1": {"model": "gpt-5"},
                "tier3": {"provider": "deepseek", "model": "deepseek-chat",
                          "escalation": ["deepseek-reasoner"]},
                "tier4": {"provider": "ollama", "model": 'qwen "coder"\t\\ é'},
            },
            "providers": {"ollama": {"base_url": "http://gpu-box:11434/v1"}},
        }
    )
    path = save_config(config, tmp_path / "sub" / "config.toml")
    assert load_config(path) == config
    assert tomllib.loads(path.read_text(encoding="utf-8"))["tiers"]["tier3"]["escalation"] == [
        "deepseek-reasoner"
    ]
    assert config.base_url_for("ollama") == "http://gpu-box:11434/v1"
    assert config.base_url_for("openai") is None
    assert config.provider_for(Tier.QA) == "ollama"
    assert config.provider_for(Tier.TECH_LEAD) == "openai"


def test_saved_config_never_contains_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-never-in-config-0123456789"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    path = save_config(Config(providers={"anthropic": ProviderConfig()}), tmp_path / "c.toml")
    text = path.read_text(encoding="utf-8")
    assert secret not in text
    assert "key" not in text.lower()
    with pytest.raises(ValueError):
        Config.model_validate({"api_key": secret})


def test_key_fields_in_the_file_are_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'provider = "openai"\napi_key = "sk-leaked-0123456789"\n\n'
        '[providers.openai]\nbase_url = "https://proxy.example/v1"\nauth_token = "t"\n'
        'client_secret = "s"\n',
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="mma_qt.core.settings.config"):
        config, warnings = read_config(path)
    assert config.provider == "openai"
    assert config.base_url_for("openai") == "https://proxy.example/v1"
    assert [w.split("'")[1] for w in warnings] == [
        "api_key", "providers.openai.auth_token", "providers.openai.client_secret",
    ]
    assert "sk-leaked" not in caplog.text
    assert "ignored field 'api_key'" in caplog.text
    assert "sk-leaked" not in repr(config)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("max_workers = 0\n", "max_workers"),
        ('max_workers = "many"\n', "max_workers"),
        ('provider = "acme"\n', "provider"),
        ('[tiers.tier3]\nescalation = "gpt-5"\n', "tiers.tier3.escalation"),
        ('[tiers.tier2]\nprovider = "nope"\n', "tiers.tier2.provider"),
        ('[providers.ollama]\nbase_url = "ftp://x"\n', "providers.ollama.base_url"),
        ("colour = 'blue'\n", "colour"),
    ],
)
def test_bad_values_name_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {field}: ")
    assert "Value error" not in message


def test_wrong_type_names_file_table_field_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[tiers.tier3]\nescalation = "gpt-5"\ncolour = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: tiers.tier3.escalation: Input should be a valid list; "
        "tiers.tier3.colour: unknown key"
    )


def test_config_accepts_the_offline_demo_as_its_provider(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('provider = "demo"\n', encoding="utf-8")
    assert load_config(path).provider == "demo"


@pytest.mark.parametrize(
    "text", ['[tiers.tier4]\nprovider = "demo"\n', '[providers.demo]\nbase_url = "http://x"\n']
)
def test_demo_is_only_a_top_level_provider(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="it can only be the top-level provider"):
        load_config(path)


def test_unknown_provider_lists_the_offline_demo(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('provider = "acme"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"known: demo \(the offline demo\), anthropic, "):
        load_config(path)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("max_workers = = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_toml_writer_escapes_and_quotes() -> None:
    data = {"a": 'q"\\\n\x7f\x01', "b": [1, 2.5, True], "t": {"dotted.name": {"x": 1}}}
    assert tomllib.loads(dump_toml(data)) == data
