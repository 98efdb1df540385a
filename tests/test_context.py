"""The context each tier sees (mma_qt/core/context): the repository map, skeletons, target
files, answers and hints, each cut to its budget; the shared prefix of a track."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from mma_qt.core.context import ContextBuilder, repository_map
from mma_qt.core.context.text import cut_head, cut_tail, fenced
from mma_qt.core.model.context import ContextBudgets
from mma_qt.core.model.domain import Ticket, Track
from mma_qt.core.model.status import TicketStatus
from mma_qt.core.settings.config import read_config, run_options

EPIC = "Add CSV export"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


PROJECT = {
    "reports/__init__.py": '"""Reports."""\n',
    "reports/model.py": '"""Rows."""\n\n\nclass Row:\n    """A row of a report."""\n\n'
                        "    def cells(self) -> list[str]:\n        return ['SECRET-BODY']\n",
    "reports/csv_export.py": "from reports.model import Row\nfrom .util import quote\n\n\n"
                             "def export(rows: list[Row]) -> str:\n"
                             '    """Rows as CSV."""\n    return quote(rows)\n',
    "reports/util.py": "def quote(rows: object) -> str:\n    \"\"\"Quoted.\"\"\"\n"
                       "    return 'UTIL-BODY'\n",
    "web/app.ts": "// The app.\nexport function start(port: number): void {\n"
                  "  console.log('TS-BODY');\n}\n",
}


def track_of(*tickets: Ticket, description: str = "Touch reports/csv_export.py") -> Track:
    return Track("TR-1", "CSV export", description, tickets=list(tickets))


# -- the repository map ------------------------------------------------------------------

def test_repo_map_honours_root_and_nested_gitignore_files(tmp_path: Path) -> None:
    write(tmp_path, {".gitignore": "*.log\nbuild/\n", "a.py": "x = 1\n", "run.log": "x\n",
                     "build/out.py": "x\n", "sub/.gitignore": "secret.txt\n",
                     "sub/secret.txt": "x\n", "sub/kept.txt": "x\n"})
    found = repository_map(tmp_path, 10_000)
    assert found.files == (".gitignore", "a.py", "sub/.gitignore", "sub/kept.txt")
    assert "run.log" not in found.text and "build" not in found.text
    assert "secret.txt" not in found.text and "kept.txt" in found.text


def test_repo_map_never_shows_git_or_mma(tmp_path: Path) -> None:
    write(tmp_path, {".git/config": "[core]\n", ".mma/worktrees/TR-1/a.py": "x\n",
                     "src/.git": "gitdir: elsewhere\n", "src/a.py": "x\n"})
    found = repository_map(tmp_path, 10_000)
    assert found.files == ("src/a.py",)
    listing = found.text.split("\n", 1)[1]
    assert ".git" not in listing and ".mma" not in listing and "TR-1" not in listing


def test_repo_map_gives_each_files_size_and_lines(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "x = 1\ny = 2\n", "no_newline.txt": "one\ntwo",
                     "img.png": b"\x89PNG\0\0data"})
    text = repository_map(tmp_path, 10_000).text
    assert "a.py  12 B  2 lines" in text
    assert "no_newline.txt  7 B  2 lines" in text
    assert "img.png  10 B  binary" in text


def deep_tree(root: Path) -> Path:
    return write(root, {f"pkg{i}/sub/deeper/module_{j}.py": "x = 1\n"
                        for i in range(4) for j in range(6)} | {"top.py": "x\n"})


def test_repo_map_over_its_budget_folds_its_deepest_folders(tmp_path: Path) -> None:
    full = repository_map(deep_tree(tmp_path), 100_000)
    folded = repository_map(tmp_path, 600)
    assert not full.truncated and "module_5.py" in full.text
    assert folded.truncated and len(folded.text) <= 600
    assert "module_5.py" not in folded.text
    assert "pkg3/" in folded.text and "top.py" in folded.text
    assert "… 6 files, 36 B" in folded.text
    assert folded.files == full.files  # everything walked, only the text is folded


def test_repo_map_that_does_not_fit_even_folded_is_cut(tmp_path: Path) -> None:
    write(tmp_path, {f"file_{i:03}.py": "x\n" for i in range(200)})
    found = repository_map(tmp_path, 300)
    assert found.truncated and len(found.text) <= 300
    assert "list_dir shows the rest" in found.text


def test_repo_map_is_the_same_for_the_same_tree_whatever_the_creation_order(
    tmp_path: Path,
) -> None:
    names = [f"d{i % 3}/f{i}.py" for i in range(12)]
    first = write(tmp_path / "one", {n: "x\n" for n in names})
    second = write(tmp_path / "two", {n: "x\n" for n in reversed(names)})
    assert repository_map(first, 5_000).text == repository_map(second, 5_000).text
    assert repository_map(first, 5_000) == repository_map(first, 5_000)


def test_repo_map_never_follows_a_symbolic_link_out_of_the_workspace(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"private/hidden.txt": "TOP SECRET\n"})
    root = write(tmp_path / "ws", {"a.py": "x\n"})
    os.symlink(outside / "private", root / "linked_dir")
    os.symlink(outside / "private" / "hidden.txt", root / "linked_file.txt")
    found = repository_map(root, 10_000)
    assert "linked_dir  (symbolic link)" in found.text
    assert "linked_file.txt  (symbolic link)" in found.text
    assert "hidden" not in found.text
    assert found.files == ("a.py",)


def test_repo_map_of_a_missing_workspace_says_so(tmp_path: Path) -> None:
    found = repository_map(tmp_path / "nowhere", 1_000)
    assert "no map" in found.text and found.files == ()


# -- the tiers -----------------------------------------------------------------------

def builder(root: Path, **budgets: int) -> ContextBuilder:
    return ContextBuilder(root, ContextBudgets(**budgets))


def test_tier1_shares_the_repository_map_and_asks_with_the_epic(tmp_path: Path) -> None:
    made = builder(write(tmp_path, PROJECT)).tier1(EPIC)
    assert made.system.startswith("You are Tier 1")
    assert "reports/\n  __init__.py" in made.system
    assert made.prompt == f"Epic: {EPIC}\n"
    assert [(p.name, p.shared) for p in made.parts] == [
        ("instructions", True), ("repository map", True), ("epic", False)]


def test_feedback_goes_after_the_prompt_and_leaves_the_system_text_alone(
    tmp_path: Path,
) -> None:
    made = builder(tmp_path).tier1(EPIC)
    again = made.with_feedback("\nYour previous reply was rejected: no JSON\n")
    assert again.system == made.system
    assert again.prompt == made.prompt + "\nYour previous reply was rejected: no JSON\n"
    assert again.parts[-1].name == "feedback"


def test_tier2_sees_the_skeletons_of_the_files_its_track_names(tmp_path: Path) -> None:
    made = builder(write(tmp_path, PROJECT)).tier2(
        EPIC, track_of(description="Change csv_export.py, then web/app.ts."))
    assert [p.name for p in made.parts if p.name.startswith("skeleton")] == [
        "skeleton: reports/csv_export.py", "skeleton: web/app.ts"]
    assert "def export(rows: list[Row]) -> str:" in made.prompt
    assert '"""Rows as CSV."""' in made.prompt
    assert "return quote(rows)" not in made.prompt  # bodies elided (ast)
    assert "export function start(port: number): void { … }" in made.prompt  # tree-sitter
    assert "TS-BODY" not in made.prompt
    assert "  model.py  " in made.system and "def export" not in made.system


def tickets_of_a_track() -> tuple[Ticket, Ticket, Track]:
    first = Ticket("T-001", "Rows", "The row model", target_files=("reports/model.py",),
                   answer="I added Row.cells.", status=TicketStatus.COMPLETED)
    second = Ticket("T-002", "Export", "Write the CSV export", depends_on=("T-001",),
                    target_files=("reports/csv_export.py",))
    return first, second, track_of(first, second)


def test_every_ticket_of_a_track_gets_the_identical_prefix(tmp_path: Path) -> None:
    root = write(tmp_path, PROJECT)
    first, second, track = tickets_of_a_track()
    context = builder(root)
    one = context.tier3(EPIC, track, first, root=root, done=[])
    (root / "reports" / "csv_export.py").write_text("def export_v2() -> None:\n    pass\n",
                                                    encoding="utf-8")
    two = context.tier3(EPIC, track, second, root=root, done=[first])
    assert two.system is one.system  # the same string, made once per track
    assert one.prompt != two.prompt
    shared = [p for p in two.parts if p.shared]
    assert [p.name for p in shared] == [
        "instructions", "track", "repository map", "skeleton: reports/csv_export.py",
        "skeleton: reports/model.py"]
    assert all(p.text in two.system for p in shared if p.name != "track")
    assert not any(p.shared for p in two.parts[len(shared):])
    # the prefix is a snapshot of the track's start; a ticket's own files are read fresh
    assert "def export(rows" in two.system and "export_v2" not in two.system
    assert "def export_v2() -> None:\n    pass" in two.prompt


def test_tier3_sees_its_files_in_full_its_imports_answers_and_qa_hint(tmp_path: Path) -> None:
    root = write(tmp_path, PROJECT)
    first, second, track = tickets_of_a_track()
    second.qa_hint = "Quote every field."
    made = builder(root).tier3(EPIC, track, second, root=root, done=[first])
    names = [p.name for p in made.parts if not p.shared]
    assert names == ["ticket", "file: reports/csv_export.py",
                     "import skeleton: reports/util.py", "answer: T-001", "QA hint"]
    assert "    return quote(rows)" in made.prompt  # its target file in full
    assert "def quote(rows: object) -> str:" in made.prompt and "UTIL-BODY" not in made.prompt
    assert "I added Row.cells." in made.prompt
    assert "QA hint: Quote every field." in made.prompt
    assert "Completed dependencies: T-001" in made.prompt
    assert "Target files: reports/csv_export.py" in made.prompt
    # model.py's skeleton is in the shared prefix: not repeated as an import skeleton
    assert made.prompt.count("class Row") == 0


def test_tier3_cuts_answers_and_files_to_their_budgets(tmp_path: Path) -> None:
    root = write(tmp_path, PROJECT | {"big.py": "x = 1\n" * 500, "next.py": "y = 2\n"})
    done = [Ticket(f"T-00{i}", "t", answer=f"start {i} " + "words " * 100 + f"end {i}")
            for i in (1, 2, 3)]
    ticket = Ticket("T-009", "Big", target_files=("big.py", "next.py"))
    made = builder(root, answer=150, answers=300, file=400, files=400).tier3(
        EPIC, track_of(ticket), ticket, root=root, done=done)
    parts = {p.name: p for p in made.parts}
    answers = [parts[f"answer: T-00{i}"] for i in (1, 2, 3)]
    assert all(p.truncated and len(p.text) <= 150 for p in answers)
    assert answers[0].text.endswith("end 1")  # an answer keeps its end, where it sums up
    assert sum(len(p.text) for p in answers[:2]) <= 300
    assert answers[2].text.startswith("(left out: over the budget")
    assert parts["file: big.py"].truncated and len(parts["file: big.py"].text) == 400
    assert parts["file: next.py"].text.startswith("(left out")


def test_a_target_file_outside_the_workspace_is_refused_never_read(tmp_path: Path) -> None:
    write(tmp_path, {"secret.txt": "TOP SECRET\n"})
    root = write(tmp_path / "ws", {"a.py": "x\n"})
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    ticket = Ticket("T-001", "Escape", target_files=("../secret.txt", "link.txt",
                                                     "/etc/passwd", ".git/config", "new.py"))
    made = builder(root).tier3(EPIC, track_of(ticket), ticket, root=root, done=[])
    assert "TOP SECRET" not in made.prompt and "TOP SECRET" not in made.system
    assert "root:" not in made.prompt
    texts = {p.name: p.text for p in made.parts}
    assert texts["file: ../secret.txt"].startswith("(refused:")
    assert texts["file: link.txt"].startswith("(refused:")
    assert texts["file: /etc/passwd"].startswith("(refused:")
    assert texts["file: .git/config"].startswith("(refused:")
    assert texts["file: new.py"] == "(does not exist yet)"


def test_tier4_sees_the_error_the_streams_end_the_ticket_and_its_files(tmp_path: Path) -> None:
    root = write(tmp_path, PROJECT)
    _first, second, track = tickets_of_a_track()
    output = "".join(f"line {i}\n" for i in range(400))
    made = builder(root, tail=200).tier4(EPIC, track, second, root=root,
                                         error="ValueError: bad row", output=output)
    assert made.system.startswith("You are Tier 4") and f"Epic: {EPIC}" in made.system
    assert "Error: ValueError: bad row" in made.prompt
    assert "line 399" in made.prompt and "line 0\n" not in made.prompt
    assert "    return quote(rows)" in made.prompt
    tail = next(p for p in made.parts if p.name == "output tail")
    assert tail.truncated and len(tail.text) <= 200
    again = builder(root).tier4(EPIC, track, second, root=root, error="x", output="")
    assert "(no output)" in again.prompt


def test_a_zero_budget_leaves_a_group_out(tmp_path: Path) -> None:
    root = write(tmp_path, PROJECT)
    first, second, track = tickets_of_a_track()
    made = builder(root, skeletons=0, repo_map=0).tier3(EPIC, track, second, root=root,
                                                        done=[first])
    assert not any("skeleton" in p.name for p in made.parts)
    assert "Repository map" not in made.system


# -- text and budgets ------------------------------------------------------------------

def test_cutting_keeps_the_head_or_the_tail_within_the_budget() -> None:
    text = "".join(f"{i:04}\n" for i in range(1000))
    head, cut = cut_head(text, 100, "; read_file for the rest")
    assert cut and len(head) <= 100 and head.startswith("0000\n")
    assert head.endswith("characters; read_file for the rest]")
    tail, cut = cut_tail(text, 100)
    assert cut and len(tail) <= 100 and tail.endswith("0999\n")
    assert cut_head("short", 100) == ("short", False) == cut_tail("short", 100)


def test_a_fence_is_longer_than_any_backticks_inside() -> None:
    assert fenced("a ```` b") == "`````\na ```` b\n`````"
    assert fenced("plain\n", "python") == "```python\nplain\n```"


def test_context_budgets_come_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[context]\nrepo_map = 5000\nanswer = 0\n", encoding="utf-8")
    config, _warnings = read_config(path)
    budgets = run_options(config).context
    assert budgets == replace(ContextBudgets(), repo_map=5000, answer=0)


def test_an_unknown_or_negative_context_budget_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[context]\nrepo_mop = 5000\nfile = -1\n", encoding="utf-8")
    with pytest.raises(ValueError) as info:
        read_config(path)
    assert "context.repo_mop: unknown key" in str(info.value)
    assert "context.file: Input should be greater than or equal to 0" in str(info.value)
