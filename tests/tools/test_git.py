"""The git trail on a temporary repository: worktree per track, commit per ticket, merge
on request (refused on a dirty tree or a conflict, nothing half-merged), cleanup; and the
patch store without git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mma_qt.core.tools import (
    FileClaims,
    GitError,
    GitRepo,
    MergeRefused,
    PatchStore,
    Sandbox,
    ToolRegistry,
    find_repo,
)
from mma_qt.core.tools.git import check_id

#: No global or system git config: no identity unless a test sets one.
ISOLATED = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Tester", "-c", "user.email=t@example.com", *args],
        cwd=repo, capture_output=True, text=True, check=True,
        env={**os.environ, **ISOLATED},
    ).stdout


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    """The user's repository: one commit on main, a clean tree."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
    (repo / "notes.txt").write_text("notes\n", encoding="utf-8")
    (repo / ".gitignore").write_text("*.log\n", encoding="utf-8")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


@pytest.fixture
def repo(user_repo: Path) -> GitRepo:
    found = find_repo(user_repo)
    assert found is not None
    return GitRepo(found.root, env={**os.environ, **ISOLATED})


def status(repo: Path) -> str:
    return git(repo, "status", "--porcelain", "--untracked-files=all")


def test_find_repo_tells_a_repository_from_a_plain_folder(user_repo: Path,
                                                          tmp_path: Path) -> None:
    (user_repo / "sub").mkdir()
    found = find_repo(user_repo / "sub")
    assert found is not None and found.root == user_repo.resolve()
    plain = tmp_path / "plain"
    plain.mkdir()
    assert find_repo(plain) is None


def test_the_app_folder_is_excluded_once(repo: GitRepo, user_repo: Path) -> None:
    assert repo.exclude_app_folder() is True
    assert repo.exclude_app_folder() is False
    exclude = (user_repo / ".git" / "info" / "exclude").read_text(encoding="utf-8")
    assert exclude.count(".mma/") == 1
    (user_repo / ".mma").mkdir()
    (user_repo / ".mma" / "x").write_text("", encoding="utf-8")
    assert status(user_repo) == ""


def test_a_track_works_in_its_own_worktree_and_the_users_checkout_stays_clean(
    repo: GitRepo, user_repo: Path
) -> None:
    head = git(user_repo, "rev-parse", "HEAD").strip()
    track = repo.create_track_worktree("TR-1")
    assert track.path == user_repo.resolve() / ".mma" / "worktrees" / "TR-1"
    assert track.branch == "mma/TR-1" and track.base == head
    assert (track.path / ".git").is_file()
    assert (track.path / "calc.py").read_text(encoding="utf-8").startswith("def add")
    assert git(track.path, "branch", "--show-current").strip() == "mma/TR-1"
    assert status(user_repo) == ""
    assert repo.create_track_worktree("TR-1") == track  # a resumed run gets it back


def test_a_ticket_commit_holds_only_the_paths_it_touched_under_the_app_identity(
    repo: GitRepo, user_repo: Path
) -> None:
    track = repo.create_track_worktree("TR-1")
    claims = FileClaims()
    tools = ToolRegistry(Sandbox(track.path), claims=claims)
    assert tools.run("apply_edit", {"path": "calc.py", "old_text": "return a + b",
                                    "new_text": "return b + a"}, ticket_id="T-001").ok
    assert tools.run("write_file", {"path": "report.py", "content": "print('r')\n"},
                     ticket_id="T-001").ok
    assert tools.run("write_file", {"path": "debug.log", "content": "ignored\n"},
                     ticket_id="T-001").ok
    assert tools.run("write_file", {"path": "other.py", "content": "x\n"},
                     ticket_id="T-002").ok
    changes = claims.release("T-001")
    commit = repo.commit_ticket(track.path, "T-001", "Swap  the\noperands",
                                [c.path for c in changes] + ["debug.log"])
    assert commit is not None
    log = git(track.path, "log", "-1", "--format=%an <%ae>|%s")
    assert log.strip() == "mma-qt <mma-qt@localhost>|T-001: Swap the operands"
    files = git(track.path, "show", "--name-status", "--format=", commit).split()
    assert files == ["M", "calc.py", "A", "report.py"]
    assert "?? other.py" in status(track.path)  # T-002's file is not in T-001's commit
    ticket_diff = repo.commit_diff(commit)
    assert "-    return a + b\n+    return b + a\n" in ticket_diff
    assert "+print('r')" in ticket_diff
    assert repo.commit_ticket(track.path, "T-001", "again", ["calc.py"]) is None
    assert status(user_repo) == ""


def test_the_users_own_identity_is_used_when_there_is_one(repo: GitRepo,
                                                          user_repo: Path) -> None:
    git(user_repo, "config", "user.name", "Ada")
    git(user_repo, "config", "user.email", "ada@example.com")
    track = repo.create_track_worktree("TR-1")
    (track.path / "new.txt").write_text("n\n", encoding="utf-8")
    repo.commit_ticket(track.path, "T-9", "Add new", ["new.txt"])
    assert git(track.path, "log", "-1", "--format=%an <%ae>").strip() == "Ada <ada@example.com>"


def test_a_deleted_file_is_committed_as_a_deletion(repo: GitRepo) -> None:
    track = repo.create_track_worktree("TR-1")
    (track.path / "notes.txt").unlink()
    commit = repo.commit_ticket(track.path, "T-3", "Drop notes", ["notes.txt", "never.txt"])
    assert commit is not None
    assert git(track.path, "show", "--name-status", "--format=", commit).split() == [
        "D", "notes.txt"]


def _track_with_change(repo: GitRepo, track_id: str = "TR-1") -> Path:
    track = repo.create_track_worktree(track_id)
    (track.path / "calc.py").write_text("def add(a, b):\n    return b + a\n",
                                        encoding="utf-8")
    assert repo.commit_ticket(track.path, "T-001", "Swap", ["calc.py"]) is not None
    return track.path


def test_merge_track_brings_the_change_with_a_no_ff_merge_commit(
    repo: GitRepo, user_repo: Path
) -> None:
    _track_with_change(repo)
    assert "return b + a" in repo.track_diff("TR-1")
    assert (user_repo / "calc.py").read_text(encoding="utf-8").endswith("a + b\n")
    result = repo.merge_track("TR-1")
    assert result.into == "main" and result.branch == "mma/TR-1" and result.commit
    assert (user_repo / "calc.py").read_text(encoding="utf-8").endswith("b + a\n")
    parents = git(user_repo, "log", "-1", "--format=%P|%s").strip()
    assert len(parents.split("|")[0].split()) == 2
    assert parents.endswith("|Merge track TR-1")
    assert status(user_repo) == ""
    repo.remove_track("TR-1")
    assert not (user_repo / ".mma" / "worktrees" / "TR-1").exists()
    assert git(user_repo, "branch", "--list", "mma/*").strip() == ""


def test_merge_is_refused_on_a_dirty_tree_and_nothing_changes(
    repo: GitRepo, user_repo: Path
) -> None:
    _track_with_change(repo)
    (user_repo / "notes.txt").write_text("my unsaved work\n", encoding="utf-8")
    head = git(user_repo, "rev-parse", "HEAD")
    with pytest.raises(MergeRefused, match=r"main has uncommitted changes \(notes.txt\); "
                                           r"commit or stash them"):
        repo.merge_track("TR-1")
    assert git(user_repo, "rev-parse", "HEAD") == head
    assert (user_repo / "notes.txt").read_text(encoding="utf-8") == "my unsaved work\n"
    assert (user_repo / "calc.py").read_text(encoding="utf-8").endswith("a + b\n")


def test_merge_is_refused_on_a_conflict_and_nothing_is_half_merged(
    repo: GitRepo, user_repo: Path
) -> None:
    _track_with_change(repo)
    (user_repo / "calc.py").write_text("def add(a, b):\n    return a + b + 0\n",
                                       encoding="utf-8")
    git(user_repo, "commit", "-q", "-am", "user edit")
    head = git(user_repo, "rev-parse", "HEAD")
    with pytest.raises(MergeRefused, match=r"conflicts in calc\.py; the merge was aborted"):
        repo.merge_track("TR-1")
    assert git(user_repo, "rev-parse", "HEAD") == head
    assert status(user_repo) == ""
    assert not (user_repo / ".git" / "MERGE_HEAD").exists()
    assert (user_repo / "calc.py").read_text(encoding="utf-8").endswith("a + b + 0\n")


def test_an_unmerged_track_branch_is_kept_unless_forced(repo: GitRepo,
                                                        user_repo: Path) -> None:
    _track_with_change(repo)
    with pytest.raises(GitError, match="not fully merged"):
        repo.remove_track("TR-1")
    repo.remove_track("TR-1", force=True)
    assert git(user_repo, "branch", "--list", "mma/*").strip() == ""


def test_a_repository_without_a_commit_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(GitError, match="has no commit yet"):
        GitRepo(empty).create_track_worktree("TR-1")


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "-x", "x..y", "x.lock", "a b"])
def test_ids_that_are_not_plain_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        check_id(bad, "track id")


def test_without_git_each_tickets_diff_is_kept_in_the_patch_store(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "a.txt").write_text("one\n", encoding="utf-8")
    tools = ToolRegistry(Sandbox(folder))
    tools.run("apply_edit", {"path": "a.txt", "old_text": "one", "new_text": "two"},
              ticket_id="T-001")
    tools.run("write_file", {"path": "b.txt", "content": "new\n"}, ticket_id="T-001")
    store = PatchStore(folder)
    path = store.write("T-001", tools.claims.release("T-001"))
    assert path == folder / ".mma" / "patches" / "T-001.diff"
    patch = store.read("T-001")
    assert patch is not None
    assert "-one\n+two\n" in patch and "--- /dev/null\n+++ b/b.txt\n" in patch
    assert store.write("T-002", tools.claims.release("T-002")) is None
    # The patch is a real one: it applies in reverse to restore the original.
    subprocess.run(["git", "apply", "-R", str(path)], cwd=folder, check=True)
    assert (folder / "a.txt").read_text(encoding="utf-8") == "one\n"
    assert not (folder / "b.txt").exists()
