"""Configuration (config.toml) and API keys (environment, keyring). No Qt."""
