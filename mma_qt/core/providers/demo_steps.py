"""What each of the demo plan's workers does with its tools, step by step. Pure logic.

The steps of :data:`mma_qt.core.providers.demo_plan.JOBS` write the ``reports`` package
and its tests (:mod:`mma_qt.core.providers.demo_project`) through ``write_file`` and
``apply_edit``; the last ticket runs the suite with ``run_command``. T-005 (the command
line's end-to-end tests) is the ticket worth skipping: it completes in a straight run, and
skipped, the rest of the suite still passes. A ticket the plan
does not know (a wide scenario's) writes a small file per target. A scenario adds steps
in front: an escape attempt, a deletion worth rejecting, a faulty edit before the tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from . import demo_project as files
from .demo_plan import CLI, CLI_TESTS, EXPORT, MODEL, UNIT_TESTS, VERIFY, Job, suite_command
from .demo_scenario import TicketScript
from .demo_worker import Exchange, Round, Seen, Step, suite_result

#: The start of a failed test run's message (QA reads it back: see :func:`qa_hint`).
TESTS_FAIL = "the tests fail"


def call(text: str, name: str, **arguments: Any) -> Step:
    """A step that says ``text`` and makes one tool call."""
    return lambda seen: Round(text, ((name, arguments),))


def write(text: str, path: str, content: str) -> Step:
    return call(text, "write_file", path=path, content=content)


def steps_for(job: Job | None, targets: list[str], script: TicketScript, seen: Seen,
              ) -> list[Step]:
    """The ticket's steps: the scenario's first, then its job's (or a generic file each)."""
    steps: list[Step] = []
    if script.escape:
        steps.append(write(f"Before the ticket, a note for the release team beside the "
                           f"project, in `{script.escape}`.", script.escape,
                           "The CSV export is on its way.\n"))
    if script.propose_delete:
        steps.append(call(f"`{script.propose_delete}` repeats what the other files cover "
                          "and slows everything down; I propose deleting it.",
                          "delete_file", path=script.propose_delete))
    if job is VERIFY:
        return steps + _verify(script, seen)
    if job is None:
        return steps + _generic(targets, seen)
    return steps + _BUILDERS[job.ticket_id]()


def _model() -> list[Step]:
    def create(seen: Seen) -> Round:
        listing = seen.latest("list_dir")
        if listing is None or not listing.ok or "is empty)" in listing.text:
            where = "The workspace is empty: I start the `reports` package."
        elif re.search(r"^reports/$", listing.text, re.MULTILINE):
            where = "There is a `reports/` folder already; the model goes into it."
        else:
            where = "There is no `reports` package yet: I start it."
        return Round(f"{where} `reports/model.py` holds `Report` (a title, column names, "
                     "rows), which refuses a row whose length does not match the columns, "
                     "a JSON loader, and a sample report whose values need every kind of "
                     "quoting.", (("write_file", {"path": MODEL.target_files[0],
                                                  "content": files.MODEL}),))

    return [
        call("I look at what the workspace holds first, so the package fits in.",
             "list_dir", path=".", depth=2),
        create,
        write("Then `reports/__init__.py`, so `from reports import Report` works.",
              "reports/__init__.py", files.INIT),
    ]


def _export() -> list[Step]:
    return [
        call("I read the model's interface before writing the export.",
             "get_skeleton", path="reports/model.py"),
        write("`reports/csv_export.py` quotes a field only when it holds a comma, a double "
              "quote or a line break, doubles the quotes inside it, ends lines with CRLF "
              "(RFC 4180) and writes UTF-8 bytes, so the platform's encoding never leaks in.",
              "reports/csv_export.py", files.CSV_EXPORT),
        call("Last, the package exports `to_csv` and `export_csv`: a small edit of "
             "`reports/__init__.py`.", "apply_edit", path="reports/__init__.py",
             old_text=files.INIT_EDIT[0], new_text=files.INIT_EDIT[1]),
    ]


def _cli() -> list[Step]:
    return [
        call("The command line needs the model's loader; I read its interface.",
             "get_skeleton", path="reports/model.py"),
        write("`reports/cli.py` reads a JSON report (or the sample), writes the CSV to "
              "`-o FILE` or to stdout as UTF-8 bytes, and turns a missing or malformed file "
              "into a one-line error and exit code 2.", "reports/cli.py", files.CLI),
        write("`reports/__main__.py` makes `python -m reports` work.",
              "reports/__main__.py", files.MAIN),
    ]


def _unit_tests() -> list[Step]:
    return [
        call("I read what the export offers before testing it.",
             "get_skeleton", path="reports/csv_export.py"),
        write("The tests use the standard library's `unittest` only, so they run without "
              "installing anything. `tests/__init__.py` first, so discovery imports them as "
              "a package.", "tests/__init__.py", files.TESTS_INIT),
        write("The model's checks: a short row, no columns, JSON in, JSON refused.",
              "tests/test_model.py", files.TEST_MODEL),
        write("Every quoting rule, CRLF line ends, a round trip through the `csv` module, "
              "and the UTF-8 file.", "tests/test_csv_export.py", files.TEST_CSV_EXPORT),
    ]


def _cli_tests() -> list[Step]:
    return [
        call("These end-to-end tests start a child process per case: the slowest part of "
             "the suite, and the one ticket the run can do without (skip it, and the unit "
             "tests still cover the export). I read the command line I am about to test.",
             "read_file", path="reports/cli.py"),
        write("Four tests: the sample to a file, a JSON report, a missing file (exit code "
              "2, no traceback), and `python -m reports` in a child process writing UTF-8 "
              "to stdout.", "tests/test_cli.py", files.TEST_CLI),
    ]


_BUILDERS: dict[str, Callable[[], list[Step]]] = {
    MODEL.ticket_id: _model, EXPORT.ticket_id: _export, CLI.ticket_id: _cli,
    UNIT_TESTS.ticket_id: _unit_tests, CLI_TESTS.ticket_id: _cli_tests,
}


def _verify(script: TicketScript, seen: Seen) -> list[Step]:
    """Run the suite and document; on a retry, first apply what QA's hint points at."""
    steps = [call("I look over the whole project before running its tests.",
                  "list_dir", path=".", depth=2)]
    if seen.attempt < script.failing_tests:
        steps.append(call(
            "A simplification first: a report cell never spans lines, so `NEEDS_QUOTES` "
            "needs only the comma and the double quote.", "apply_edit",
            path="reports/csv_export.py", old_text=files.QUOTING[0],
            new_text=files.QUOTING[1]))
    hinted = re.search(r"reports/\w+\.py", seen.hint)
    if hinted:
        steps += [call(f"Following the QA hint, I read `{hinted.group()}` first.",
                       "read_file", path=hinted.group()), _repair]
    return [*steps, call(f"Now the whole suite, with the project's Python: "
                         f"`{suite_command()}`.", "run_command", command=suite_command()),
            _document]


def _repair(seen: Seen) -> Round | None:
    read = seen.latest("read_file")
    if read is None or files.QUOTING[1].strip() not in read.text:
        return None
    return Round("The hint is right: `NEEDS_QUOTES` lost the line breaks, so a field holding "
                 "one is written unquoted and splits its row. I put them back.",
                 (("apply_edit", {"path": "reports/csv_export.py",
                                  "old_text": files.QUOTING[1],
                                  "new_text": files.QUOTING[0]}),))


def _document(seen: Seen) -> Round:
    run = seen.latest("run_command")
    if run is not None and _failed(run):
        message = failure_message(run.text)
        return Round(f"The tests fail:\n\n```\n{_failure_lines(run.text)}\n```\n\nI stop "
                     "here rather than guess: this attempt fails, so QA can diagnose it.\n",
                     failure=message)
    if run is None or not run.ok:
        why = run.reason if run is not None else "no test run"
        verdict = f"I could not run the tests ({why}); they still need a run. Meanwhile"
    else:
        verdict = f"The suite passes ({suite_result(run.text)}). Last,"
    return Round(f"{verdict} `docs/csv-export.md` tells users how to export a report and "
                 "how to run the tests.",
                 (("write_file", {"path": VERIFY.target_files[0], "content": files.DOCS}),))


def _failed(run: Exchange) -> bool:
    """The command ran and failed (not: refused, rejected, blocked by the sandbox)."""
    return not run.ok and run.reason.startswith(("exit code", "timed out"))


_FAILED_TEST = re.compile(r"^(?:FAIL|ERROR): (\w+) \((?:tests\.)?(\w+)[.\w]*\)", re.MULTILINE)
_EXCEPTION = re.compile(r"^\w+(?:Error|Exception)\b.*$", re.MULTILINE)


def _failure_lines(text: str) -> str:
    wanted = ("FAIL:", "ERROR:", "AssertionError", "FAILED", "Ran ", "error:")
    lines = [line for line in text.splitlines() if line.startswith(wanted)]
    return "\n".join(lines[:12]) or text.strip()[-1500:]


def failure_message(text: str) -> str:
    """One line: ``the tests fail: test_x (test_module) and 1 more: AssertionError: ...``."""
    failures = [(found, block) for block in re.split(r"^={20,}$", text, flags=re.MULTILINE)
                for found in [_FAILED_TEST.search(block)] if found is not None]
    if not failures:
        return f"{TESTS_FAIL}: {text.split(chr(10), 1)[0][:300]}"
    found, block = failures[-1]
    name, module = found.groups()
    cause = _EXCEPTION.search(block)
    more = f" and {len(failures) - 1} more" if len(failures) > 1 else ""
    return f"{TESTS_FAIL}: {name} ({module}){more}" + (f": {cause.group()[:300]}" if cause
                                                        else "")


def qa_hint(error: str) -> str:
    """QA's hint for a failed test run (:func:`failure_message`), or "" for another error."""
    found = re.search(rf"{TESTS_FAIL}: (\w+) \((test_\w+)\)[^:]*:?\s*(.*)", error)
    if found is None:
        return ""
    name, module, assertion = found.groups()
    code = f"reports/{module.removeprefix('test_')}.py"
    seen = f" ({assertion})" if assertion else ""
    return (f"Hint for the retry: {name} in tests/{module}.py fails{seen}; the code it checks "
            f"is {code}, which no longer does what the test expects: read {code}, restore "
            "that behaviour, and run the tests again.")


def _generic(targets: list[str], seen: Seen) -> list[Step]:
    steps = [call("I look at the workspace first.", "list_dir", path=".", depth=2)]
    for target in targets:
        steps.append(write(f"`{target}` is this ticket's: I write it.", target,
                           _stub(target, seen)))
    return steps


def _stub(target: str, seen: Seen) -> str:
    if PurePosixPath(target).suffix != ".py":
        return f"# {seen.title}\n\nDelivered by {seen.ticket_id}.\n"
    name = re.sub(r"[^a-z0-9]+", "_", seen.title.lower()).strip("_")[:40] or "change"
    name = f"do_{name}" if name[0].isdigit() else name
    return (f'"""{seen.title}."""\n\n\ndef {name}() -> str:\n'
            f'    """What {seen.ticket_id} delivers."""\n    return {seen.title!r}\n')
