"""``[tools]`` in config.toml: validated like the rest, carried into the run's options."""

from __future__ import annotations

from pathlib import Path

import pytest

from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.status import ToolPolicy
from mma_qt.core.settings.config import (
    Config,
    ConfigError,
    dump_config,
    read_config,
    run_options,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_tools_defaults_are_the_run_option_defaults() -> None:
    tools, options = Config().tools, RunOptions()
    assert (tools.policy, tools.max_tool_rounds, tools.max_command_timeout_s,
            tools.allow_network) == (ToolPolicy.ASK, 30, 600.0, False)
    assert (options.tool_policy, options.max_tool_rounds, options.max_command_timeout_s,
            options.allow_network) == (ToolPolicy.ASK, 30, 600.0, False)


def test_the_tools_section_reaches_the_run_options(tmp_path: Path) -> None:
    path = write(tmp_path, '[tools]\npolicy = "auto-edits"\nmax_tool_rounds = 12\n'
                           "max_command_timeout_s = 90\nallow_network = true\n")
    config, warnings = read_config(path)
    assert warnings == []
    options = run_options(config)
    assert (options.tool_policy, options.max_tool_rounds, options.max_command_timeout_s,
            options.allow_network) == (ToolPolicy.AUTO_EDITS, 12, 90.0, True)
    assert read_config(write(tmp_path, dump_config(config)))[0] == config  # round trip


@pytest.mark.parametrize(("text", "message"), [
    ('[tools]\npolicy = "yolo"\n', "tools.policy: Input should be 'ask', 'auto-edits' or 'auto'"),
    ("[tools]\nmax_tool_rounds = 0\n", "tools.max_tool_rounds"),
    ("[tools]\nmax_command_timeout_s = -1\n", "tools.max_command_timeout_s"),
    ("[tools]\nsandbox = false\n", "tools.sandbox: unknown key"),
], ids=["policy", "rounds", "timeout", "unknown"])
def test_a_bad_tools_section_is_refused_naming_the_field(
        tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"config\.toml: ") as caught:
        read_config(write(tmp_path, text))
    assert message in str(caught.value)
