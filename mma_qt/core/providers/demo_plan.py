"""The demo tech lead's plan for the sample epic, and the test command its last ticket runs.

One table serves both ends: Tier 2 plans these tickets (a diamond DAG), and a Tier 3
worker recognises its ticket by the target files in its prompt and writes exactly those
files (:mod:`mma_qt.core.providers.demo_worker`).
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
