"""The builtin tools: what they read, write, refuse, bound and preview."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.model.domain import Tier
from mma_qt.core.tools import (
    FileClaims,
    Sandbox,
    Tool,
    ToolContext,
    ToolError,
    ToolRegistry,
    ToolResult,
    ToolSettings,
    ToolSpec,
)
from mma_qt.core.tools.skeleton import outline, skeleton

from .conftest import tree_state

EXPECTED_TOOLS = {
    "read_file": ({"path", "start_line", "end_line"}, {"path"}, False),
    "list_dir": ({"path", "depth"}, set(), False),
    "search_text": ({"pattern", "path", "glob"}, {"pattern"}, False),
    "get_skeleton": ({"path"}, {"path"}, False),
    "write_file": ({"path", "content"}, {"path", "content"}, True),
    "apply_edit": ({"path", "old_text", "new_text"}, {"path", "old_text", "new_text"}, True),
    "delete_file": ({"path"}, {"path"}, True),
    "run_command": ({"command", "timeout_s"}, {"command"}, True),
}


def test_the_tools_have_exactly_the_specified_names_parameters_and_kinds(
    registry: ToolRegistry,
) -> None:
    specs = {spec.name: spec for spec in registry.specs()}
    assert set(specs) == set(EXPECTED_TOOLS)
    for name, (params, required, mutating) in EXPECTED_TOOLS.items():
        schema = specs[name].parameters
        assert schema["type"] == "object"
        assert set(schema["properties"]) == params, name
        assert set(schema.get("required", [])) == required, name
        assert specs[name].mutating is mutating, name
        assert specs[name].description


def test_schemas_are_plain_json_schema_every_provider_accepts(registry: ToolRegistry) -> None:
    def walk(value: object) -> None:
        if isinstance(value, Mapping):
            assert not {"title", "anyOf", "$defs", "$ref"} & set(value), value
            assert value.get("default", 0) is not None
            for item in value.values():
                walk(item)

    for spec in registry.specs():
        walk(spec.parameters)
    props = registry.spec("read_file").parameters["properties"]  # type: ignore[union-attr]
    assert props["start_line"] == {"type": "integer", "minimum": 1,
                                   "description": props["start_line"]["description"]}
    assert registry.spec("list_dir").parameters["properties"]["depth"]["default"] == 2  # type: ignore[union-attr]
    assert registry.spec("run_command").parameters["properties"]["timeout_s"]["default"] == 120  # type: ignore[union-attr]


# -- read_file -----------------------------------------------------------------------------


def test_read_file_reads_a_range_of_lines_one_based(registry: ToolRegistry,
                                                    workspace: Path) -> None:
    (workspace / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)),
                                     encoding="utf-8")
    result = registry.run("read_file", {"path": "n.txt", "start_line": 3, "end_line": 4})
    assert result.ok
    assert result.text == "[n.txt: lines 3-4 of 10]\nline 3\nline 4\n"
    assert registry.run("read_file", {"path": "n.txt", "start_line": 10}).text.endswith(
        "line 10\n")


def test_read_file_keeps_crlf_line_endings(registry: ToolRegistry, workspace: Path) -> None:
    (workspace / "w.txt").write_bytes(b"a\r\nb\r\n")
    assert registry.run("read_file", {"path": "w.txt"}).text == "a\r\nb\r\n"


@pytest.mark.parametrize(("args", "words"), [
    ({"path": "missing.py"}, "does not exist"),
    ({"path": "src"}, "is a folder"),
    ({"path": "src/calc.py", "start_line": 99}, "past its end"),
    ({"path": "src/calc.py", "start_line": 4, "end_line": 2}, "before start_line"),
    ({"path": "src/calc.py", "start_line": 0}, "greater than or equal to 1"),
    ({"path": "src/calc.py", "bogus": 1}, "unexpected argument 'bogus'"),
    ({}, "missing required argument 'path'"),
    ({"path": 7}, "path: Input should be a valid string"),
])
def test_read_file_errors_name_the_problem(
    registry: ToolRegistry, args: dict[str, Any], words: str
) -> None:
    result = registry.run("read_file", args)
    assert not result.ok and result.text.startswith("error: ") and words in result.text


def test_read_file_refuses_binary_files(registry: ToolRegistry, workspace: Path) -> None:
    (workspace / "b.bin").write_bytes(b"\xff\xfe\x00\x01")
    assert "not UTF-8 text" in registry.run("read_file", {"path": "b.bin"}).text


def test_long_output_is_cut_with_a_note_saying_how_to_read_the_rest(
    registry: ToolRegistry, workspace: Path
) -> None:
    lines = [f"{i:05d} " + "x" * 94 + "\n" for i in range(1, 501)]  # 100 chars a line
    (workspace / "big.txt").write_text("".join(lines), encoding="utf-8")
    first = registry.run("read_file", {"path": "big.txt"})
    assert first.ok and first.truncated
    assert len(first.text) <= 20_000
    # Following the notes reads the whole file, each line once, in order.
    collected: list[str] = []
    result, start = first, 1
    while True:
        body = result.text.splitlines()
        if start > 1:
            assert body[0].startswith(f"[big.txt: lines {start}-500 of 500]")
            body = body[1:]
        note = re.search(r"showing lines (\d+)-(\d+); the file has 500 lines\. Call read_file "
                         r"with path='big\.txt' and start_line=(\d+) for the rest", result.text)
        if note is None:
            assert not result.truncated
            collected += body
            break
        assert result.truncated and int(note[1]) == start
        last = int(note[2])
        assert int(note[3]) == last + 1
        collected += body[: last - start + 1]
        start = last + 1
        result = registry.run("read_file", {"path": "big.txt", "start_line": start})
        assert len(result.text) <= 20_000
    assert collected == [line.rstrip("\n") for line in lines]


def test_output_limit_comes_from_the_settings(workspace: Path) -> None:
    registry = ToolRegistry(Sandbox(workspace), settings=ToolSettings(output_limit=50))
    (workspace / "one.txt").write_text("y" * 500, encoding="utf-8")
    result = registry.run("read_file", {"path": "one.txt"})
    assert result.truncated and result.text.startswith("y" * 50)
    assert "showing 50 of 500 characters" in result.text


# -- list_dir and search_text --------------------------------------------------------------


@pytest.fixture
def ignoring(workspace: Path) -> Path:
    (workspace / ".gitignore").write_text("build/\n*.log\n!keep.log\n", encoding="utf-8")
    (workspace / "build").mkdir()
    (workspace / "build" / "out.py").write_text("needle = 1\n", encoding="utf-8")
    (workspace / "debug.log").write_text("needle\n", encoding="utf-8")
    (workspace / "keep.log").write_text("needle\n", encoding="utf-8")
    (workspace / "src" / "gen").mkdir()
    (workspace / "src" / ".gitignore").write_text("gen/\n", encoding="utf-8")
    (workspace / "src" / "gen" / "g.py").write_text("needle\n", encoding="utf-8")
    (workspace / "src" / "calc.py").write_text("needle = 2\n", encoding="utf-8")
    (workspace / ".git").mkdir()
    (workspace / ".git" / "config").write_text("needle\n", encoding="utf-8")
    (workspace / ".mma").mkdir()
    (workspace / ".mma" / "state").write_text("needle\n", encoding="utf-8")
    return workspace


def test_list_dir_skips_git_mma_and_what_gitignore_ignores(
    registry: ToolRegistry, ignoring: Path
) -> None:
    result = registry.run("list_dir", {})
    assert result.ok
    assert result.text.splitlines() == [
        ".gitignore", "README.md", "keep.log", "src/", "  .gitignore", "  calc.py"]


def test_list_dir_depth_and_symlinks(registry: ToolRegistry, workspace: Path,
                                     outside: Path) -> None:
    (workspace / "a" / "b" / "c").mkdir(parents=True)
    (workspace / "a" / "b" / "c" / "deep.txt").write_text("", encoding="utf-8")
    (workspace / "out").symlink_to(outside, target_is_directory=True)
    shallow = registry.run("list_dir", {"path": "a", "depth": 1}).text.splitlines()
    assert shallow == ["b/"]
    deep = registry.run("list_dir", {"path": "a", "depth": 5}).text.splitlines()
    assert deep == ["b/", "  c/", "    deep.txt"]
    top = registry.run("list_dir", {"depth": 3}).text
    assert "out@" in top and "secret.txt" not in top


def test_search_text_finds_matches_and_skips_ignored_files(
    registry: ToolRegistry, ignoring: Path
) -> None:
    result = registry.run("search_text", {"pattern": r"needle"})
    assert result.ok
    assert result.text.splitlines() == ["keep.log:1: needle", "src/calc.py:1: needle = 2"]


def test_search_text_glob_path_and_regex_errors(registry: ToolRegistry,
                                                ignoring: Path) -> None:
    assert registry.run("search_text", {"pattern": "needle", "glob": "*.py"}).text \
        == "src/calc.py:1: needle = 2\n"
    assert registry.run("search_text", {"pattern": "needle", "path": "src"}).text \
        == "src/calc.py:1: needle = 2\n"
    assert registry.run("search_text", {"pattern": "needle = [0-9]",
                                        "path": "src/calc.py"}).ok
    assert registry.run("search_text", {"pattern": "absent"}).text == "no match for 'absent'"
    bad = registry.run("search_text", {"pattern": "(unclosed"})
    assert bad.text.startswith("error: invalid regular expression '(unclosed'")


# -- get_skeleton --------------------------------------------------------------------------

PYTHON = '''"""Module doc."""

import os
from typing import Any

LIMIT = 3


class Shape:
    """A shape."""

    sides: int = 0

    def __init__(self, sides: int) -> None:
        self.sides = sides
        secret_body_line = 1

    @property
    def name(self) -> str:
        """Its name."""
        return "shape" + str(secret_body_line)


async def fetch(url: str, *, retries: int = 3) -> bytes:
    """Fetch it.

    With retries.
    """
    body_detail = url * retries
    return body_detail.encode()
'''


def test_the_skeleton_of_a_python_file_keeps_signatures_and_docstrings_only(
    registry: ToolRegistry, workspace: Path
) -> None:
    (workspace / "shapes.py").write_text(PYTHON, encoding="utf-8")
    result = registry.run("get_skeleton", {"path": "shapes.py"})
    assert result.ok
    text = result.text
    for kept in ('"""Module doc."""', "import os", "from typing import Any", "LIMIT = 3",
                 "class Shape:  # lines 9-21", '    """A shape."""', "    sides: int = 0",
                 "    def __init__(self, sides: int) -> None:  # lines 14-16",
                 "    @property", "    def name(self) -> str:  # lines 18-21",
                 '        """Its name."""',
                 "async def fetch(url: str, *, retries: int=3) -> bytes:  # lines 24-30",
                 "    With retries."):
        assert kept in text, kept
    assert "secret_body_line" not in text and "body_detail" not in text
    compile(text, "skeleton", "exec")  # still valid Python


def test_the_skeleton_of_other_languages_uses_tree_sitter() -> None:
    source = ("// Adds numbers.\nexport function add(a, b) {\n  return a + b + hidden;\n}\n"
              "class Calc {\n  total(x) { return x * hidden; }\n}\n")
    text = skeleton(source, ".js")
    assert "// Adds numbers." in text
    assert "export function add(a, b) { … }  // lines 2-4" in text
    assert "class Calc {  // lines 5-7" in text and "  total(x) { … }" in text
    assert "hidden" not in text


def test_the_skeleton_falls_back_to_an_outline_of_lines() -> None:
    assert skeleton("# Title\ntext\n## Part\nmore\n", ".md") == "1: # Title\n3: ## Part\n"
    assert skeleton("def broken(:\n    pass\nclass Ok:\n", ".py").startswith(
        "# not valid Python")
    assert "no declarations" in outline("just words\n")


# -- mutating tools ------------------------------------------------------------------------


def test_write_file_creates_folders_and_keeps_content_exact(registry: ToolRegistry,
                                                            workspace: Path) -> None:
    result = registry.run("write_file", {"path": "pkg/sub/m.py", "content": "a\r\nb"})
    assert result.ok and result.text == "created pkg/sub/m.py (2 lines)"
    assert (workspace / "pkg" / "sub" / "m.py").read_bytes() == b"a\r\nb"
    again = registry.run("write_file", {"path": "pkg/sub/m.py", "content": "c\n"})
    assert again.text == "updated pkg/sub/m.py (1 line)"


def test_apply_edit_replaces_one_exact_match(registry: ToolRegistry, workspace: Path) -> None:
    result = registry.run("apply_edit", {"path": "src/calc.py", "old_text": "return a + b",
                                         "new_text": "return a + b + 0"})
    assert result.ok
    assert "return a + b + 0\n" in (workspace / "src" / "calc.py").read_text(encoding="utf-8")


def test_apply_edit_not_found_is_a_clear_error_and_changes_nothing(
    registry: ToolRegistry, workspace: Path
) -> None:
    before = tree_state(workspace)
    result = registry.run("apply_edit", {"path": "src/calc.py", "old_text": "return a - b",
                                         "new_text": "x"})
    assert result.text.startswith("error: old_text was not found in src/calc.py")
    assert tree_state(workspace) == before


def test_apply_edit_ambiguous_says_how_many_matches(registry: ToolRegistry,
                                                    workspace: Path) -> None:
    (workspace / "dup.py").write_text("x = 1\nx = 1\nx = 1\n", encoding="utf-8")
    result = registry.run("apply_edit", {"path": "dup.py", "old_text": "x = 1",
                                         "new_text": "x = 2"})
    assert result.text.startswith("error: old_text occurs 3 times in dup.py")
    assert (workspace / "dup.py").read_text(encoding="utf-8") == "x = 1\nx = 1\nx = 1\n"


def test_apply_edit_on_a_missing_file_points_to_write_file(registry: ToolRegistry) -> None:
    result = registry.run("apply_edit", {"path": "nope.py", "old_text": "a", "new_text": "b"})
    assert "use write_file" in result.text


def test_delete_file_deletes_files_only(registry: ToolRegistry, workspace: Path) -> None:
    assert registry.run("delete_file", {"path": "README.md"}).text == "deleted README.md"
    assert not (workspace / "README.md").exists()
    assert "deletes files only" in registry.run("delete_file", {"path": "src"}).text
    assert "does not exist" in registry.run("delete_file", {"path": "README.md"}).text


@pytest.mark.parametrize(("tool", "args", "diff"), [
    ("write_file", {"path": "src/calc.py", "content": "x = 1\n"},
     "--- a/src/calc.py\n+++ b/src/calc.py\n@@ -1,6 +1 @@\n"),
    ("write_file", {"path": "new.py", "content": "x = 1"},
     "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+x = 1\n\\ No newline at end of file\n"),
    ("apply_edit", {"path": "src/calc.py", "old_text": "a + b", "new_text": "b + a"},
     "--- a/src/calc.py\n+++ b/src/calc.py\n@@ -3,4 +3,4 @@\n \n def add(a: int, b: int) "
     '-> int:\n     """Add."""\n-    return a + b\n+    return b + a\n'),
    ("delete_file", {"path": "README.md"},
     "--- a/README.md\n+++ /dev/null\n@@ -1 +0,0 @@\n-# Demo\n"),
])
def test_preview_gives_the_unified_diff_without_touching_disk(
    registry: ToolRegistry, workspace: Path, tool: str, args: dict[str, Any], diff: str
) -> None:
    before = tree_state(workspace)
    change = registry.preview(tool, args)
    assert change.diff.startswith(diff)
    assert change.path == args["path"] and change.tool == tool
    assert tree_state(workspace) == before


def test_preview_errors_are_the_errors_the_call_would_give(registry: ToolRegistry) -> None:
    with pytest.raises(ToolError, match="not found"):
        registry.preview("apply_edit", {"path": "src/calc.py", "old_text": "zzz",
                                        "new_text": "y"})
    with pytest.raises(ToolError, match="invalid arguments"):
        registry.preview("write_file", {"path": "x"})


def test_an_edited_approval_applies_the_users_version(registry: ToolRegistry,
                                                      workspace: Path) -> None:
    args = {"path": "src/calc.py", "old_text": "return a + b", "new_text": "return a+b"}
    proposed = registry.preview("apply_edit", args)
    assert proposed.editable_text == "return a+b"
    edited = registry.edited("apply_edit", args, "return b + a  # edited")
    assert edited == {**args, "new_text": "return b + a  # edited"}
    assert "+    return b + a  # edited" in registry.preview("apply_edit", edited).diff
    assert registry.run("apply_edit", edited).ok
    assert "# edited" in (workspace / "src" / "calc.py").read_text(encoding="utf-8")
    assert registry.edited("write_file", {"path": "a", "content": "b"}, "c")["content"] == "c"
    assert registry.edited("run_command", {"command": "ls"}, "ls -la") == {"command": "ls -la"}
    with pytest.raises(ToolError, match="nothing the user can edit"):
        registry.edited("delete_file", {"path": "README.md"}, "x")


def test_run_command_preview_shows_the_command_and_its_confinement(
    registry: ToolRegistry,
) -> None:
    change = registry.preview("run_command", {"command": "pytest -q"})
    assert change.command == "pytest -q" and change.diff == ""
    assert change.note.startswith("Runs UNCONFINED")


# -- claims ----------------------------------------------------------------------------------


def test_a_write_to_a_file_another_running_ticket_wrote_is_refused(workspace: Path) -> None:
    claims = FileClaims()
    track_a = ToolRegistry(Sandbox(workspace), claims=claims)
    track_b = ToolRegistry(Sandbox(workspace), claims=claims)
    assert track_a.run("write_file", {"path": "shared.py", "content": "a\n"},
                       ticket_id="T-001").ok
    refused = track_b.run("apply_edit", {"path": "shared.py", "old_text": "a",
                                         "new_text": "b"}, ticket_id="T-002")
    assert refused.text.startswith("error: shared.py was written by T-001, which is still "
                                   "running")
    assert (workspace / "shared.py").read_text(encoding="utf-8") == "a\n"
    assert track_a.run("write_file", {"path": "shared.py", "content": "a2\n"},
                       ticket_id="T-001").ok
    changes = claims.release("T-001")
    assert [(c.path, c.status) for c in changes] == [("shared.py", "added")]
    assert track_b.run("write_file", {"path": "shared.py", "content": "b\n"},
                       ticket_id="T-002").ok
    assert claims.holder((workspace / "shared.py").resolve()) == "T-002"


def test_released_changes_are_frozen_per_ticket(registry: ToolRegistry,
                                                workspace: Path) -> None:
    registry.run("apply_edit", {"path": "src/calc.py", "old_text": "a + b",
                                "new_text": "b + a"}, ticket_id="T-1")
    registry.run("write_file", {"path": "tmp.txt", "content": "x"}, ticket_id="T-1")
    registry.run("delete_file", {"path": "tmp.txt"}, ticket_id="T-1")
    registry.run("delete_file", {"path": "README.md"}, ticket_id="T-1")
    live = registry.claims.changes("T-1")
    assert [(c.path, c.status) for c in live] == [("src/calc.py", "modified"),
                                                  ("README.md", "deleted")]
    frozen = registry.claims.release("T-1")
    assert frozen == live
    (workspace / "src" / "calc.py").write_text("later\n", encoding="utf-8")
    assert registry.claims.changes("T-1") == frozen
    assert registry.claims.touched("T-1") == ["src/calc.py", "tmp.txt", "README.md"]
    ended = registry.run("write_file", {"path": "x", "content": ""}, ticket_id="T-1")
    assert "has ended" in ended.text


# -- the registry ----------------------------------------------------------------------------


def test_tier_4_gets_the_read_only_tools_only(registry: ToolRegistry) -> None:
    qa = registry.for_tier(Tier.QA)
    assert qa.names() == ["read_file", "list_dir", "search_text", "get_skeleton"]
    assert not any(spec.mutating for spec in qa.specs())
    refused = qa.run("write_file", {"path": "x.py", "content": ""})
    assert refused.text.startswith("error: there is no tool named 'write_file' here")
    assert registry.for_tier(Tier.WORKER).names() == registry.names()


def test_arguments_may_be_the_json_text_a_provider_streamed(registry: ToolRegistry) -> None:
    assert registry.run("read_file", '{"path": "README.md"}').text == "# Demo\n"
    assert registry.run("list_dir", "").ok
    bad = registry.run("read_file", '{"path": "README.md"')
    assert bad.text.startswith("error: the arguments are not valid JSON")
    assert registry.run("read_file", "[1]").text == "error: the arguments must be a JSON object"


def test_unknown_tools_are_errors_and_count_as_mutating(registry: ToolRegistry) -> None:
    result = registry.run("rm_rf", {})
    assert result.text.startswith("error: there is no tool named 'rm_rf' here; the tools "
                                  "are: read_file")
    assert registry.is_mutating("rm_rf") and registry.is_mutating("write_file")
    assert not registry.is_mutating("read_file")


class _Broken(Tool):
    spec = ToolSpec("srv__explode", "raises", {"type": "object", "properties": {}},
                    mutating=True)

    def execute(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        raise KeyError("boom")


def test_an_unexpected_failure_is_a_result_and_is_logged_not_raised(
    registry: ToolRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    registry.register(_Broken())
    with caplog.at_level(logging.ERROR):
        result = registry.run("srv__explode", {})
    assert result.text == "error: srv__explode failed: KeyError: 'boom'"
    assert any(r.exc_info and "srv__explode" in r.getMessage() for r in caplog.records)


def test_extra_tools_need_a_valid_unique_name(registry: ToolRegistry) -> None:
    registry.register(_Broken())
    with pytest.raises(ValueError, match="already registered"):
        registry.register(_Broken())
    bad = _Broken()
    bad.spec = ToolSpec("srv/tool", "", {})
    with pytest.raises(ValueError, match="letters, digits"):
        registry.register(bad)
    assert registry.describe("srv__explode", {"path": "a.py"}) == "srv__explode a.py"
    preview = registry.preview("srv__explode", {"x": 1})
    assert preview.tool == "srv__explode" and '"x": 1' in preview.note


def test_describe_gives_the_short_line_for_the_stream(registry: ToolRegistry) -> None:
    assert registry.describe("write_file", {"path": "src/report.py",
                                            "content": "a\n" * 41}) \
        == "write_file src/report.py (41 lines)"
    assert registry.describe("run_command", '{"command": "pytest -q"}') \
        == "run_command pytest -q"
    assert registry.describe("nope", {}) == "nope"


def test_result_text_starts_with_error_exactly_when_it_failed() -> None:
    with pytest.raises(ValueError):
        ToolResult(True, "error: but ok")
    with pytest.raises(ValueError):
        ToolResult(False, "fine")
    assert ToolResult.failure("bad", "detail").text == "error: bad\ndetail"
