"""The demo's plan for the sample epic: Tier 1's tracks, each track's tickets, and the test
command the CSV export's last ticket runs.

Tier 1 proposes three tracks that touch different files: the CSV export itself (a diamond
DAG of six tickets), a user guide with a vague description worth editing, and a French
translation nobody asked for, worth dropping (a straight run still runs all three, and
finishes). One table serves both ends: Tier 2 plans a track's tickets, and a Tier 3 worker
recognises its ticket by the target files in its prompt and writes exactly those files
(:mod:`mma_qt.core.providers.demo_worker`; a ticket outside :data:`JOBS` writes a short
file per target).
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Job:
    ticket_id: str
    title: str
    description: str
    depends_on: tuple[str, ...]
    target_files: tuple[str, ...]

    def as_ticket(self) -> dict[str, Any]:
        return {
            "id": self.ticket_id,
            "title": self.title,
            "description": self.description,
            "depends_on": list(self.depends_on),
            "target_files": list(self.target_files),
        }


MODEL = Job(
    "T-001", "Define the report model",
    "A reports package with a Report (title, columns, rows of one value per column) that "
    "refuses malformed rows, a JSON loader and a sample report.",
    (), ("reports/model.py", "reports/__init__.py"))
EXPORT = Job(
    "T-002", "Export a report as CSV",
    "to_csv/export_csv: a header row, fields with commas, quotes or line breaks quoted "
    "(RFC 4180), UTF-8 output; exported from the package.",
    ("T-001",), ("reports/csv_export.py", "reports/__init__.py"))
CLI = Job(
    "T-003", "Add the command-line entry point",
    "python -m reports [REPORT.json] [-o FILE]: the CSV to a file or stdout, a clear "
    "error (exit code 2) for a report that cannot be read.",
    ("T-001",), ("reports/cli.py", "reports/__main__.py"))
UNIT_TESTS = Job(
    "T-004", "Write unit tests for the model and the export",
    "unittest tests (standard library only) of the model's checks and of every quoting "
    "rule, a round trip through the csv module and the UTF-8 file.",
    ("T-002",), ("tests/__init__.py", "tests/test_model.py", "tests/test_csv_export.py"))
CLI_TESTS = Job(
    "T-005", "Test the command line end to end",
    "unittest tests of the command line: to a file, from JSON, a missing file, and "
    "python -m reports writing UTF-8 to stdout.",
    ("T-002", "T-003"), ("tests/test_cli.py",))
VERIFY = Job(
    "T-006", "Run the tests and document the export",
    "Run the whole test suite with the project's Python, fix what fails, then document "
    "the export for users.",
    ("T-004", "T-005"), ("docs/csv-export.md",))

JOBS: tuple[Job, ...] = (MODEL, EXPORT, CLI, UNIT_TESTS, CLI_TESTS, VERIFY)


#: The user guide's tickets (plain files, written by the generic worker).
GUIDE = Job(
    "T-007", "Write the user guide",
    "How to install the reports package, export a report from Python and from the command "
    "line, and where the tests are.", (), ("guide/user-guide.md",))
NOTES = Job(
    "T-008", "Add release notes",
    "A CHANGELOG entry for the CSV export, pointing at the user guide.",
    ("T-007",), ("CHANGELOG.md",))
FRENCH = Job(
    "T-009", "Translate the user guide into French",
    "A French version of the user guide.", (), ("guide/fr/user-guide.md",))


@dataclass(frozen=True, slots=True)
class DemoTrack:
    track_id: str
    title: str
    description: str
    #: A field beyond id, title and description, as real plans carry (kept in proposals).
    priority: str
    jobs: tuple[Job, ...]
    #: Words that recognise the track in a Tier 2 prompt whose title the user edited.
    keywords: tuple[str, ...]

    def as_track(self) -> dict[str, Any]:
        return {"id": self.track_id, "title": self.title, "description": self.description,
                "priority": self.priority}


EXPORT_TRACK = DemoTrack(
    "TR-1", "CSV export of reports",
    "The reports package (model, CSV export, command line), its unittest suite run with the "
    "project's Python, and its documentation.", "must", JOBS, ("csv", "export", "report"))
GUIDE_TRACK = DemoTrack(
    "TR-2", "User guide and release notes", "Docs.", "should", (GUIDE, NOTES),
    ("guide", "release", "changelog", "documentation"))
FRENCH_TRACK = DemoTrack(
    "TR-3", "Translate the guide into French",
    "Nobody asked for it, but a French guide might reach more users.", "could", (FRENCH,),
    ("french", "translat"))

#: Tier 1's proposal, in order.
TRACKS: tuple[DemoTrack, ...] = (EXPORT_TRACK, GUIDE_TRACK, FRENCH_TRACK)


def tracks_for(remark: str, count: int = 0) -> list[DemoTrack]:
    """Tier 1's first ``count`` tracks (0: all); a re-plan whose remark names a track id
    leaves that track out."""
    proposal = TRACKS[:count] if count > 0 else TRACKS
    named = set(re.findall(r"\bTR-\d+\b", remark))
    return [t for t in proposal if t.track_id not in named] or list(proposal)


def track_for(title: str, description: str) -> DemoTrack:
    """The demo track a Tier 2 prompt is about: by its title, else by the most keywords of
    its title and description (the user may have edited both), else the CSV export."""
    for track in TRACKS:
        if track.title == title:
            return track
    text = f"{title} {description}".lower()
    hits = [sum(word in text for word in track.keywords) for track in TRACKS]
    best = max(hits)
    return TRACKS[hits.index(best)] if best else EXPORT_TRACK


def renumbered(tickets: list[dict[str, Any]], taken: list[str]) -> list[dict[str, Any]]:
    """The plan with its ids moved past ``taken`` (ids another track's plan holds), its
    dependencies following: the answer to "duplicate ticket ids" in a repair request."""
    numbers = [int(n) for n in re.findall(r"\d+", " ".join(taken))]
    offset = 100 * (1 + max(numbers, default=0) // 100)  # T-001 → T-101
    new = {t["id"]: f"T-{int(re.sub(r'[^0-9]', '', t['id']) or 0) + offset:03d}"
           for t in tickets}
    return [{**t, "id": new[t["id"]], "depends_on": [new.get(d, d) for d in t["depends_on"]]}
            for t in tickets]


def job_for(target_files: str) -> Job | None:
    """The job whose target files the prompt's ``Target files:`` line names."""
    named = {part.strip() for part in target_files.split(",") if part.strip()}
    return next((job for job in JOBS if set(job.target_files) == named), None)


def prompt_field(prompt: str, name: str) -> str:
    """Read a ``name: value`` line the prompt templates put in every prompt."""
    match = re.search(rf"^{re.escape(name)}:\s*(.+)$", prompt, re.MULTILINE)
    return match.group(1).strip() if match else ""


def suite_command() -> str:
    """The suite, run from the workspace root with the interpreter running this app."""
    return f"{shlex.quote(sys.executable)} -B -m unittest discover -s tests -t ."
