"""What each tier sees: its prompt assembled from parts, each cut to its budget. No Qt.

- Tier 1: the epic; the repository map of the workspace (shared).
- Tier 2: the track and the skeletons of the files it names; the repository map (shared).
- Tier 3: the ticket, its target files in full, the skeletons of the files they import,
  the final answers of the completed tickets it depends on, QA's hint on a retry; the
  epic, the track, the repository map and the skeletons of every target file of the
  track (shared).
- Tier 4: the failure (its error, the end of its stream), the ticket and its target
  files; the epic and the track (shared).

The shared parts make up the request's ``system`` text, behind the tier's instructions,
so that every call of a tier in a track starts with the same bytes and providers' prompt
caches hit; the call's own parts make up the user prompt. A :class:`ContextBuilder`
belongs to one run: it walks the workspace for the repository map once, and renders each
track's shared prefix once, so that tickets 2..n get the identical string.

Every method of :class:`ContextBuilder` blocks (file system): call them in a worker thread
of the run's pool. They are thread-safe.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..model.context import ContextBudgets, ContextPart
from ..model.domain import Ticket, Tier, Track
from ..model.prompts import render, template
from ..tools.sandbox import Sandbox
from .repomap import RepoMap, repository_map
from .sources import Source, imported_files, read_source, skeleton_text
from .text import block, cut_head, cut_tail

_PATHISH = re.compile(r"[\w.\-/]*\w\.\w+|[\w.\-]+/[\w.\-/]+")
_LEFT_OUT = "(left out: over the budget; read_file shows it)"


@dataclass(frozen=True, slots=True)
class Assembly:
    """A request's ``system`` and user ``prompt``, and the parts they were made from."""

    system: str
    prompt: str
    parts: tuple[ContextPart, ...]

    def with_feedback(self, feedback: str) -> Assembly:
        """The prompt with a plan's rejection (or the user's remark) after it."""
        if not feedback:
            return self
        return Assembly(self.system, self.prompt + feedback,
                        (*self.parts, ContextPart("feedback", feedback)))


@dataclass(frozen=True, slots=True)
class _Prefix:
    system: str
    parts: tuple[ContextPart, ...]
    #: Files whose skeletons the prefix holds (not repeated in a ticket's own parts).
    skeletons: frozenset[str] = frozenset()


class ContextBuilder:
    """One run's context assembly; see the module docstring."""

    def __init__(self, workspace: Path | str, budgets: ContextBudgets) -> None:
        self.workspace = Path(workspace)
        self.budgets = budgets
        self._lock = threading.Lock()
        self._map: RepoMap | None = None
        self._prefixes: dict[tuple[Tier, str], _Prefix] = {}

    # -- shared by every call ---------------------------------------------------------

    def repo_map(self) -> RepoMap:
        """The workspace's repository map, walked once per run."""
        with self._lock:
            if self._map is None:
                self._map = repository_map(self.workspace, self.budgets.repo_map)
            return self._map

    def _map_part(self) -> ContextPart:
        found = self.repo_map()
        return ContextPart("repository map", found.text if self.budgets.repo_map else "",
                           shared=True, truncated=found.truncated)

    def _prefix(self, tier: Tier, key: str, make: Callable[[], _Prefix]) -> _Prefix:
        with self._lock:
            prefix = self._prefixes.get((tier, key))
        if prefix is None:
            made = make()
            with self._lock:  # the first one made wins: every later call gets its string
                prefix = self._prefixes.setdefault((tier, key), made)
        return prefix

    # -- the tiers --------------------------------------------------------------------

    def tier1(self, epic: str) -> Assembly:
        repo = self._map_part()
        shared = {"workspace": str(self.workspace), "repository_map": repo.text}
        rendered = render(Tier.ORCHESTRATOR, epic=epic, **shared)
        return Assembly(rendered.system, rendered.user,
                        (_instructions(Tier.ORCHESTRATOR), repo, ContextPart("epic", epic)))

    def tier2(self, epic: str, track: Track) -> Assembly:
        repo = self._map_part()
        named = _named_files(_track_text(track), self.repo_map().files)
        read = _reader(self.workspace)
        skeletons = self._group(
            ((f"skeleton: {rel}", skeleton_text(read(rel))) for rel in named),
            self.budgets.skeleton, self.budgets.skeletons)
        values = {
            "workspace": str(self.workspace), "repository_map": repo.text, "epic": epic,
            "track_title": track.title, "track_description": track.description,
            "track_skeletons": block("Skeletons of the files the track names", skeletons),
        }
        rendered = render(Tier.TECH_LEAD, **values)
        return Assembly(rendered.system, rendered.user, (
            _instructions(Tier.TECH_LEAD), repo,
            ContextPart("track", f"{track.title}\n{track.description}"), *skeletons))

    def tier3(self, epic: str, track: Track, ticket: Ticket, *, root: Path | str,
              done: Sequence[Ticket]) -> Assembly:
        """``root``: the track's working directory (its worktree, or the workspace);
        ``done``: the completed tickets it depends on."""
        prefix = self._prefix(Tier.WORKER, track.id,
                              lambda: self._worker_prefix(epic, track, Path(root)))
        read = _reader(root)
        sources = [read(rel) for rel in ticket.target_files]
        files = self._files(sources)
        imports = [rel for s in sources for rel in imported_files(s, lambda r: read(r).readable)
                   if rel not in ticket.target_files and rel not in prefix.skeletons]
        skeletons = self._group(
            ((f"import skeleton: {rel}", skeleton_text(read(rel)))
             for rel in dict.fromkeys(imports)),
            self.budgets.skeleton, self.budgets.skeletons)
        answers = self._group(
            ((f"answer: {t.id}", t.answer) for t in done if t.answer),
            self.budgets.answer, self.budgets.answers, cut=cut_tail)
        hint = [_part("QA hint", ticket.qa_hint, self.budgets.hint)] if ticket.qa_hint else []
        own = {
            "ticket_title": ticket.title, "ticket_id": ticket.id,
            "ticket_description": ticket.description,
            "target_files": ", ".join(ticket.target_files) or "(none named)",
            "dependencies": ", ".join(t.id for t in done) or "(none)",
            "qa_hint": hint[0].text if hint else "(none)",
            "target_contents": block("Target files, in full", files),
            "import_skeletons": block("Skeletons of the files they import", skeletons),
            "dependency_answers": block("Final answers of the tickets it depends on", answers),
        }
        return Assembly(prefix.system, _user(Tier.WORKER, own),
                        (*prefix.parts, _ticket(ticket), *files, *skeletons, *answers, *hint))

    def tier4(self, epic: str, track: Track, ticket: Ticket, *, root: Path | str, error: str,
              output: str) -> Assembly:
        """``error`` and ``output``: the failed attempt's error and its stream's text."""
        shared = {"epic": epic, "track_title": track.title, "workspace": str(self.workspace)}

        def make() -> _Prefix:
            return _Prefix(_system(Tier.QA, shared), (_instructions(Tier.QA), ContextPart(
                "track", f"{epic}\n{track.title}", shared=True)))

        prefix = self._prefix(Tier.QA, track.id, make)
        read = _reader(root)
        files = self._files([read(rel) for rel in ticket.target_files])
        failure = _part("error", error, self.budgets.error)
        tail = _part("output tail", output.rstrip() or "(no output)", self.budgets.tail, cut_tail)
        user = _user(Tier.QA, {
            "ticket_title": ticket.title, "ticket_id": ticket.id,
            "ticket_description": ticket.description,
            "target_files": ", ".join(ticket.target_files) or "(none named)",
            "error": failure.text, "output_tail": tail.text,
            "target_contents": block("Target files, in full", files)})
        return Assembly(prefix.system, user,
                        (*prefix.parts, _ticket(ticket), failure, tail, *files))

    # -- parts --------------------------------------------------------------------------

    def _worker_prefix(self, epic: str, track: Track, root: Path) -> _Prefix:
        repo = self._map_part()
        read = _reader(root)
        named = sorted({rel for t in track.tickets for rel in t.target_files})
        skeletons = self._group(
            ((f"skeleton: {rel}", skeleton_text(source))
             for rel in named if (source := read(rel)).readable),
            self.budgets.skeleton, self.budgets.skeletons, shared=True)
        values = {**_worker_shared(epic, track, self.workspace), "repository_map": repo.text,
                  "track_skeletons": block("Skeletons of the track's files", skeletons)}
        system = _system(Tier.WORKER, values)
        header = ContextPart("track", f"{epic}\n{track.title}\n{track.description}",
                             shared=True)
        return _Prefix(system, (_instructions(Tier.WORKER), header, repo, *skeletons),
                       frozenset(p.name.split(": ", 1)[1] for p in skeletons))

    def _files(self, sources: Iterable[Source]) -> list[ContextPart]:
        return self._group(((f"file: {s.rel}", s.text if s.readable else f"({s.problem})")
                            for s in sources), self.budgets.file, self.budgets.files)

    @staticmethod
    def _group(items: Iterable[tuple[str, str]], each: int, total: int, *,
               shared: bool = False,
               cut: Callable[[str, int], tuple[str, bool]] = cut_head) -> list[ContextPart]:
        """Parts cut to ``each`` characters, until ``total`` is spent; the rest are named
        with a note that they were left out. A zero budget leaves the group out."""
        if not each or not total:
            return []
        parts: list[ContextPart] = []
        left = total
        for name, text in items:
            budget = min(each, left)
            if budget <= 0:
                parts.append(ContextPart(name, _LEFT_OUT, shared, truncated=True))
                continue
            kept, truncated = cut(text, budget)
            left -= len(kept)
            parts.append(ContextPart(name, kept, shared, truncated))
        return parts


def _part(name: str, text: str, budget: int,
          cut: Callable[[str, int], tuple[str, bool]] = cut_head) -> ContextPart:
    kept, truncated = cut(text, budget)
    return ContextPart(name, kept, truncated=truncated)


def _ticket(ticket: Ticket) -> ContextPart:
    return ContextPart("ticket", f"{ticket.id}: {ticket.title}\n{ticket.description}")


def _reader(root: Path | str) -> Callable[[str], Source]:
    """Reads workspace files inside ``root``, each once per reader; a ``root`` that is no
    folder gives every file as a problem, never an exception (the prompt says why)."""
    try:
        sandbox = Sandbox(root)
    except ValueError as exc:
        problem = f"no working directory: {exc}"
        return lambda rel: Source(rel, problem=problem)
    return functools.cache(lambda rel: read_source(sandbox, rel))


def _instructions(tier: Tier) -> ContextPart:
    return ContextPart("instructions", template(tier).instructions.strip(), shared=True)


def _worker_shared(epic: str, track: Track, workspace: Path) -> dict[str, str]:
    return {"epic": epic, "track_title": track.title,
            "track_description": track.description, "workspace": str(workspace)}


def _system(tier: Tier, shared: dict[str, str]) -> str:
    """The system text: the instructions and the shared section filled with ``shared``."""
    parts = template(tier)
    return render(tier, **shared, **dict.fromkeys(parts.names - parts.shared_names, "")).system


def _user(tier: Tier, own: dict[str, str]) -> str:
    """The user prompt: the call's own section filled with ``own``."""
    return render(tier, **own, **dict.fromkeys(template(tier).shared_names, "")).user


def _track_text(track: Track) -> str:
    return f"{track.title}\n{track.description}"


def _named_files(text: str, files: Sequence[str]) -> list[str]:
    """Workspace files a text names: by their path, or by a path's end (``csv_export.py``
    names ``reports/csv_export.py``), in path order."""
    tokens = {t.strip("./") for t in _PATHISH.findall(text)} - {""}
    return [rel for rel in files
            if rel in tokens or any(rel.endswith("/" + t) for t in tokens)]
