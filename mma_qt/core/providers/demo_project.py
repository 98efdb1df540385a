'''The files the demo's scripted workers write: the sample epic's CSV export, working.

A ``reports`` package (a report model, the CSV export, a command line) and its tests,
written with the standard library only: the tests use :mod:`unittest`, so a user who
installed mma-qt with a plain ``pip install .`` (no pytest) can run them with the same
interpreter, from the workspace root: ``python -m unittest discover -s tests -t .``.

Each constant is one file's whole content; :data:`INIT_EDIT` and :data:`QUOTING` are the
exact texts the scripted ``apply_edit`` calls replace.
'''

from __future__ import annotations

INIT = '''"""Reports: a title, columns and rows, exported as CSV."""

from .model import Report, load_report, sample_report

__all__ = ["Report", "load_report", "sample_report"]
'''

#: T-002 exports the CSV functions from the package: (old_text, new_text) in INIT.
INIT_EDIT = (
    'from .model import Report, load_report, sample_report\n\n'
    '__all__ = ["Report", "load_report", "sample_report"]\n',
    'from .csv_export import export_csv, to_csv\n'
    'from .model import Report, load_report, sample_report\n\n'
    '__all__ = ["Report", "export_csv", "load_report", "sample_report", "to_csv"]\n',
)

MODEL = '''"""A report: a title, its column names, and rows holding one value per column."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: What a cell may hold; None is exported as an empty field.
Cell = str | int | float | None


@dataclass(frozen=True)
class Report:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...] = ()

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError(f"report {self.title!r} has no columns")
        for number, row in enumerate(self.rows, start=1):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"report {self.title!r}: row {number} has {len(row)} values "
                    f"for {len(self.columns)} columns"
                )

    @classmethod
    def build(
        cls, title: str, columns: Sequence[str], rows: Sequence[Sequence[Cell]] = ()
    ) -> Report:
        return cls(title, tuple(columns), tuple(tuple(row) for row in rows))


def load_report(path: str | Path) -> Report:
    """A report from a JSON file: {"title": ..., "columns": [...], "rows": [[...], ...]}."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object with title, columns and rows")
    try:
        return Report.build(str(data["title"]), data["columns"], data.get("rows", []))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a report: {exc!r} is missing or malformed") from exc


def sample_report() -> Report:
    """A small report whose values need every kind of quoting."""
    return Report.build(
        "Quarterly sales",
        ["region", "product", "units", "note"],
        [
            ["North", "Widget, large", 120, ""],
            ["South", 'The "Pro" model', 75, "launch month"],
            ["East", "Gadget", 42, "two lines:\\nsee the appendix"],
            ["Zürich", "Crème brûlée kit", 9, None],
        ],
    )
'''

#: The characters that force quoting: (right, wrong). A scenario's worker swaps them.
QUOTING = (
    'NEEDS_QUOTES = (",", \'"\', "\\r", "\\n")\n',
    'NEEDS_QUOTES = (",", \'"\')  # a report cell never spans lines\n',
)

CSV_EXPORT = '''"""CSV export of a report: a header row, then one line per row (RFC 4180).

A field is quoted when it holds a comma, a double quote or a line break, and a double
quote inside it is doubled. Lines end with CRLF, as RFC 4180 asks; files are UTF-8.
"""

from __future__ import annotations

from pathlib import Path

from .model import Cell, Report

#: A field holding any of these is quoted.
''' + QUOTING[0] + '''

def quote(value: Cell) -> str:
    """One field as it appears in the file."""
    text = "" if value is None else str(value)
    if any(mark in text for mark in NEEDS_QUOTES):
        return '"' + text.replace('"', '""') + '"'
    return text


def to_csv(report: Report) -> str:
    """The whole report as CSV text, header first."""
    lines = [report.columns, *report.rows]
    return "".join(",".join(quote(value) for value in line) + "\\r\\n" for line in lines)


def export_csv(report: Report, path: str | Path) -> Path:
    """Write the report to ``path`` as UTF-8 CSV; returns the path."""
    target = Path(path)
    target.write_bytes(to_csv(report).encode("utf-8"))
    return target
'''

CLI = '''"""The command line: ``python -m reports [REPORT.json] [-o FILE]``, a report as CSV."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .csv_export import export_csv, to_csv
from .model import load_report, sample_report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reports", description="Export a report as CSV (UTF-8, header row first)."
    )
    parser.add_argument("report", nargs="?", help="the report, as JSON (default: a sample)")
    parser.add_argument("-o", "--output", help="write the CSV to this file (default: stdout)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Export the report; 0 on success, 2 when it cannot be read or written."""
    args = build_parser().parse_args(argv)
    try:
        report = load_report(args.report) if args.report else sample_report()
    except (OSError, ValueError) as exc:
        print(f"reports: cannot read {args.report}: {exc}", file=sys.stderr)
        return 2
    if not args.output:
        sys.stdout.buffer.write(to_csv(report).encode("utf-8"))
        sys.stdout.flush()
        return 0
    try:
        export_csv(report, args.output)
    except OSError as exc:
        print(f"reports: cannot write {args.output}: {exc}", file=sys.stderr)
        return 2
    print(f"reports: wrote {len(report.rows)} rows to {args.output}", file=sys.stderr)
    return 0
'''

MAIN = '''"""``python -m reports``: see :mod:`reports.cli`."""

from .cli import main

raise SystemExit(main())
'''

TESTS_INIT = '''"""Tests of the reports package: python -m unittest discover -s tests -t ."""
'''

TEST_MODEL = '''import json
import tempfile
import unittest
from pathlib import Path

from reports.model import Report, load_report, sample_report


class ReportTests(unittest.TestCase):
    def test_a_row_with_the_wrong_number_of_values_is_refused(self) -> None:
        with self.assertRaisesRegex(ValueError, "row 2 has 1 values for 2 columns"):
            Report.build("t", ["a", "b"], [["1", "2"], ["3"]])

    def test_a_report_needs_columns(self) -> None:
        with self.assertRaisesRegex(ValueError, "no columns"):
            Report.build("t", [])

    def test_load_report_reads_json(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "r.json"
            data = {"title": "T", "columns": ["city"], "rows": [["Zürich"]]}
            path.write_text(json.dumps(data), encoding="utf-8")
            self.assertEqual(load_report(path), Report("T", ("city",), (("Zürich",),)))

    def test_load_report_refuses_json_that_is_not_a_report(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "r.json"
            path.write_text(json.dumps({"columns": ["a"]}), encoding="utf-8")
            with self.assertRaisesRegex(ValueError, "not a report"):
                load_report(path)

    def test_the_sample_report_has_a_value_for_every_column(self) -> None:
        report = sample_report()
        self.assertTrue(report.rows)
        self.assertTrue(all(len(row) == len(report.columns) for row in report.rows))


if __name__ == "__main__":
    unittest.main()
'''

TEST_CSV_EXPORT = '''import csv
import io
import tempfile
import unittest
from pathlib import Path

from reports import Report, export_csv, sample_report, to_csv
from reports.csv_export import quote


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


class QuotingTests(unittest.TestCase):
    def test_plain_values_are_not_quoted(self) -> None:
        self.assertEqual([quote("North"), quote(42), quote(None)], ["North", "42", ""])

    def test_a_comma_is_quoted(self) -> None:
        self.assertEqual(quote("Widget, large"), '"Widget, large"')

    def test_quotes_are_doubled(self) -> None:
        self.assertEqual(quote('The "Pro" model'), '"The ""Pro"" model"')

    def test_a_line_break_is_quoted(self) -> None:
        self.assertEqual(quote("two\\nlines"), '"two\\nlines"')
        self.assertEqual(quote("cr\\rlf"), '"cr\\rlf"')


class ExportTests(unittest.TestCase):
    def test_the_header_row_comes_first_and_lines_end_with_crlf(self) -> None:
        text = to_csv(Report.build("t", ["a", "b"], [["1", "2"]]))
        self.assertEqual(text, "a,b\\r\\n1,2\\r\\n")

    def test_a_round_trip_through_the_csv_module_gives_every_value_back(self) -> None:
        report = sample_report()
        expected = [list(report.columns)]
        expected += [["" if v is None else str(v) for v in row] for row in report.rows]
        self.assertEqual(parse(to_csv(report)), expected)

    def test_export_writes_utf8(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = export_csv(sample_report(), Path(folder) / "sales.csv")
            data = path.read_bytes()
        self.assertIn("Zürich,Crème brûlée kit".encode(), data)
        self.assertEqual(data.decode("utf-8"), to_csv(sample_report()))


if __name__ == "__main__":
    unittest.main()
'''

TEST_CLI = '''import contextlib
import io
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from reports.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_main(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


class CommandLineTests(unittest.TestCase):
    def test_the_sample_report_is_exported_to_a_file(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "sales.csv"
            code, err = run_main("-o", str(out))
            text = out.read_bytes().decode("utf-8")
        self.assertEqual(code, 0, err)
        self.assertTrue(text.startswith("region,product,units,note\\r\\n"))
        self.assertIn("wrote 4 rows", err)

    def test_a_json_report_is_exported(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            source, out = Path(folder) / "r.json", Path(folder) / "r.csv"
            data = {"title": "T", "columns": ["name", "note"], "rows": [["Ann", "a, b"]]}
            source.write_text(json.dumps(data), encoding="utf-8")
            code, err = run_main(str(source), "-o", str(out))
            self.assertEqual(code, 0, err)
            self.assertEqual(out.read_bytes(), b'name,note\\r\\nAnn,"a, b"\\r\\n')

    def test_a_missing_report_is_an_error_not_a_traceback(self) -> None:
        code, err = run_main("no-such-report.json")
        self.assertEqual(code, 2)
        self.assertIn("reports: cannot read no-such-report.json", err)

    def test_python_dash_m_reports_writes_utf8_to_stdout(self) -> None:
        result = subprocess.run(
            [sys.executable, "-B", "-m", "reports"], cwd=ROOT, capture_output=True,
            timeout=60, check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        text = result.stdout.decode("utf-8")
        self.assertTrue(text.startswith("region,product,units,note\\r\\n"))
        self.assertIn("Zürich", text)


if __name__ == "__main__":
    unittest.main()
'''

DOCS = '''# CSV export of reports

Export any report as a CSV file: a header row, then one line per row. A field holding a
comma, a double quote or a line break is quoted (and its double quotes are doubled), lines
end with CRLF as RFC 4180 asks, and the file is UTF-8.

From the command line (in this folder):

    python -m reports                      # the sample report, to stdout
    python -m reports sales.json -o sales.csv

where `sales.json` is `{"title": ..., "columns": [...], "rows": [[...], ...]}`.

From Python:

    from reports import Report, export_csv
    export_csv(Report.build("Sales", ["region", "units"], [["North", 120]]), "sales.csv")

Run the tests (standard library only):

    python -m unittest discover -s tests -t .
'''
