"""The user's settings: ``config.toml`` in ``platformdirs.user_config_dir("mma-qt")``.

Read with :mod:`tomllib`, validated with pydantic, written by the small TOML writer of
:mod:`.toml_writer` (no extra dependency). A ``pricing.toml`` beside ``config.toml`` (or the
file named by ``pricing_file``) overrides the bundled prices entry by entry. Pure logic, no Qt.

API keys never live here: a field whose name contains "key", "token", "secret" or
"password" is dropped on load with a warning, and the schema has no place for one.
Keys come from the environment or the system keyring (:mod:`mma_qt.core.settings.keys`).
The one exception is an MCP server's ``env`` table: the variables the user gives that
server (a token among them, written out or as ``"${NAME}"`` to take it from the app's
environment) are kept as written, hidden from ``repr`` and from validation errors
(:mod:`.mcp_config`).

Example::

    provider = "anthropic"          # the provider of every tier that names none
                                    # ("demo": the offline demo, for every tier)
    max_workers = 4                 # Tier 3 workers running at once, across all tracks
    max_tracks = 2                  # tracks running at once (Tier 2 plan, then its tickets)
    max_retries = 2                 # Tier 3 retries of a failed ticket (climbing the ladder)
    request_attempts = 4            # HTTP attempts per call (429/5xx/timeouts)
    request_timeout = 120.0         # seconds without a byte before a call times out

    [tiers.tier1]
    model = "claude-sonnet-4-6"

    [tiers.tier3]
    model = "claude-haiku-4-5"
    escalation = ["claude-sonnet-4-6", "claude-opus-4-8"]

    [tiers.tier4]
    provider = "ollama"
    model = "qwen2.5-coder"

    [providers.ollama]
    base_url = "http://gpu-box:11434/v1"

    [tools]
    policy = "ask"                  # ask | auto-edits | auto: which tool calls need approval
    max_tool_rounds = 30            # model rounds with tool calls per attempt, at most
    max_command_timeout_s = 600     # the longest timeout run_command may ask for
    allow_network = false           # commands reach the network (under bubblewrap)

    [context]                       # characters per part of each tier's context
    repo_map = 12000                # the repository map (Tier 1, and every shared prefix)
    skeleton = 6000                 # each file's skeleton (signatures, docstrings)
    skeletons = 24000               # all skeletons of one prompt
    file = 24000                    # each target file in full (Tier 3, Tier 4)
    files = 60000                   # all target files of one prompt
    answer = 4000                   # each completed dependency's final answer (Tier 3)
    answers = 12000                 # all of them
    hint = 2000                     # QA's hint on a retry
    error = 4000                    # a failed attempt's error (Tier 4)
    tail = 6000                     # the end of its stream (Tier 4)

    [mcp.servers.github]            # an MCP server whose tools workers may call
    command = ["npx", "-y", "@modelcontextprotocol/server-github"]
    env = { GITHUB_TOKEN = "${GITHUB_TOKEN}" }
    auto_approve = ["search_issues"]

    [mcp.servers.docs]              # one over streamable HTTP
    url = "http://127.0.0.1:8765/mcp"
    timeout_s = 30
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import Field, ValidationError, field_validator

from ..model.context import ContextBudgets
from ..model.domain import Tier
from ..model.options import RunOptions
from ..model.pricing import PricingTable
from ..model.status import ToolPolicy
from ..providers.catalog import DEMO, PROVIDER_NAMES, known_providers
from .mcp_config import McpConfig
from .strict import Strict as _Strict
from .strict import check_url as _check_url
from .toml_writer import dump_toml

log = logging.getLogger(__name__)

APP_NAME = "mma-qt"
CONFIG_FILE = "config.toml"
PRICING_FILE = "pricing.toml"

_SECRET_NAME = re.compile(r"key|token|secret|password|passwd", re.IGNORECASE)


class ConfigError(ValueError):
    """A config file that cannot be used, naming the file and the field."""


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def config_path() -> Path:
    return config_dir() / CONFIG_FILE


# -- the model ---------------------------------------------------------------------------


def _check_provider(name: str | None) -> str | None:
    """An SDK-backed provider, for a tier or a ``[providers.*]`` table."""
    if name == DEMO:
        raise ValueError(
            f"{DEMO!r} (the offline demo) serves every tier at once: it can only be the "
            "top-level provider"
        )
    if name is not None and name not in PROVIDER_NAMES:
        raise ValueError(f"unknown provider {name!r}; known: {known_providers()}")
    return name


class TierConfig(_Strict):
    #: None: the top-level ``provider``.
    provider: str | None = None
    #: None: that provider's default model for the tier.
    model: str | None = Field(default=None, min_length=1)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str | None) -> str | None:
        return _check_provider(value)


class WorkerTierConfig(TierConfig):
    #: Models for Tier 3 retries after ``model``: attempt 1 uses escalation[0], and so on;
    #: the last one repeats. Empty: the provider's default ladder if ``model`` is unset.
    escalation: list[str] = Field(default_factory=list)


class TiersConfig(_Strict):
    tier1: TierConfig = Field(default_factory=TierConfig)
    tier2: TierConfig = Field(default_factory=TierConfig)
    tier3: WorkerTierConfig = Field(default_factory=WorkerTierConfig)
    tier4: TierConfig = Field(default_factory=TierConfig)


class ProviderConfig(_Strict):
    #: Overrides the provider's endpoint (local servers, proxies, gateways).
    base_url: str | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_url(value)


class ToolsConfig(_Strict):
    """``[tools]``: the gate and the limits of the workers' tools."""

    #: ``ask``: every mutating call waits for approval; ``auto-edits``: edits of a
    #: ticket's target files do not; ``auto``: nothing does.
    policy: ToolPolicy = RunOptions().tool_policy
    max_tool_rounds: int = Field(default=RunOptions().max_tool_rounds, ge=1, le=1000)
    max_command_timeout_s: float = Field(default=RunOptions().max_command_timeout_s, gt=0,
                                         le=86_400)
    allow_network: bool = RunOptions().allow_network


_BUDGETS = ContextBudgets()
_MAX_BUDGET = 10_000_000


class ContextConfig(_Strict):
    """``[context]``: characters per part of each tier's context (0: leave the part out)."""

    repo_map: int = Field(default=_BUDGETS.repo_map, ge=0, le=_MAX_BUDGET)
    skeleton: int = Field(default=_BUDGETS.skeleton, ge=0, le=_MAX_BUDGET)
    skeletons: int = Field(default=_BUDGETS.skeletons, ge=0, le=_MAX_BUDGET)
    file: int = Field(default=_BUDGETS.file, ge=0, le=_MAX_BUDGET)
    files: int = Field(default=_BUDGETS.files, ge=0, le=_MAX_BUDGET)
    answer: int = Field(default=_BUDGETS.answer, ge=0, le=_MAX_BUDGET)
    answers: int = Field(default=_BUDGETS.answers, ge=0, le=_MAX_BUDGET)
    hint: int = Field(default=_BUDGETS.hint, ge=0, le=_MAX_BUDGET)
    error: int = Field(default=_BUDGETS.error, ge=0, le=_MAX_BUDGET)
    tail: int = Field(default=_BUDGETS.tail, ge=0, le=_MAX_BUDGET)

    def budgets(self) -> ContextBudgets:
        return ContextBudgets(**self.model_dump())


class Config(_Strict):
    #: ``"demo"``: every tier on the offline demo (as ``--provider demo``); the tiers'
    #: providers and models then apply only when ``--provider`` names a real one.
    provider: str = "anthropic"
    max_workers: int = Field(default=RunOptions().max_workers, ge=1, le=64)
    max_tracks: int = Field(default=RunOptions().max_tracks, ge=1, le=16)
    max_retries: int = Field(default=RunOptions().max_retries, ge=0, le=10)
    request_attempts: int = Field(default=4, ge=1, le=10)
    request_timeout: float = Field(default=120.0, gt=0, le=3600)
    #: None: ``pricing.toml`` beside ``config.toml``.
    pricing_file: Path | None = None
    tiers: TiersConfig = Field(default_factory=TiersConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    context: ContextConfig = Field(default_factory=ContextConfig)
    mcp: McpConfig = Field(default_factory=McpConfig)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value != DEMO:
            _check_provider(value)
        return value

    @field_validator("providers")
    @classmethod
    def _known_providers(cls, value: dict[str, ProviderConfig]) -> dict[str, ProviderConfig]:
        for name in value:
            _check_provider(name)
        return value

    def tier(self, tier: Tier) -> TierConfig:
        return getattr(self.tiers, f"tier{int(tier)}")  # type: ignore[no-any-return]

    def provider_for(self, tier: Tier) -> str:
        return self.tier(tier).provider or self.provider

    def base_url_for(self, provider: str) -> str | None:
        settings = self.providers.get(provider)
        return None if settings is None else settings.base_url

    def pricing_path(self, directory: Path | None = None) -> Path:
        if self.pricing_file is not None:
            return self.pricing_file.expanduser()
        return (directory or config_dir()) / PRICING_FILE


# -- reading -----------------------------------------------------------------------------


def load_config(path: Path | None = None) -> Config:
    """The config at ``path`` (default :func:`config_path`); defaults if it is missing."""
    config, _warnings = read_config(path)
    return config


def read_config(path: Path | None = None) -> tuple[Config, list[str]]:
    """Like :func:`load_config`, also returning warnings (e.g. dropped key fields)."""
    path = path or config_path()
    if not path.is_file():
        return Config(), []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    warnings: list[str] = []
    data = _without_secrets(data, path, (), warnings)
    for warning in warnings:
        log.warning("%s", warning)
    try:
        return Config.model_validate(data), warnings
    except ValidationError as exc:
        raise ConfigError(describe_errors(path, exc)) from exc


def _without_secrets(
    data: Mapping[str, Any], path: Path, where: tuple[str, ...], warnings: list[str]
) -> dict[str, Any]:
    if len(where) == 4 and where[:2] == ("mcp", "servers") and where[3] == "env":
        # An MCP server's own variables: the user's to give it, tokens included.
        return dict(data)
    clean: dict[str, Any] = {}
    for name, value in data.items():
        dotted = ".".join((*where, name))
        if _SECRET_NAME.search(name):
            warnings.append(
                f"{path}: ignored field '{dotted}': API keys and tokens are never read from "
                "the config file; use an environment variable or the system keyring"
            )
            continue
        clean[name] = (
            _without_secrets(value, path, (*where, name), warnings)
            if isinstance(value, dict)
            else value
        )
    return clean


#: Pydantic's words for some errors, in a TOML file's terms.
_TOML_REASONS = {
    "extra_forbidden": "unknown key",
    "model_type": "should be a table",
    "dict_type": "should be a table",
}


def describe_errors(source: Path | str, exc: ValidationError) -> str:
    """One line naming the TOML file, then each bad field by its dotted table path and why:
    ``failing.toml: tickets.T-002.raise_times: Input should be a valid integer``."""
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, ValueError):
            # A validator's own words, without pydantic's "Value error, " before them.
            reason = str(cause)
        else:
            reason = _TOML_REASONS.get(error["type"], error["msg"])
        problems.append(f"{field}: {reason}")
    return f"{source}: " + "; ".join(problems)


def run_options(config: Config, max_workers: int | None = None) -> RunOptions:
    """The conductor's options from the config (``max_workers`` from the command line wins)."""
    tools = config.tools
    return RunOptions(
        max_workers=max_workers or config.max_workers, max_tracks=config.max_tracks,
        max_retries=config.max_retries,
        tool_policy=tools.policy, max_tool_rounds=tools.max_tool_rounds,
        max_command_timeout_s=tools.max_command_timeout_s, allow_network=tools.allow_network,
        context=config.context.budgets(),
    )


def load_pricing(config: Config, directory: Path | None = None) -> PricingTable:
    """Bundled prices overridden by the user's pricing file, if there is one."""
    return PricingTable.load(config.pricing_path(directory))


# -- writing -----------------------------------------------------------------------------


def save_config(config: Config, path: Path | None = None) -> Path:
    """Write ``config`` atomically (temporary file + rename). Returns the path."""
    path = path or config_path()
    text = dump_config(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def dump_config(config: Config) -> str:
    """``config`` as TOML text (fields left at None are omitted)."""
    data = config.model_dump(mode="json", exclude_none=True)
    return dump_toml(data)
