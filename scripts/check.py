"""The project's whole check: ruff, mypy --strict, the layer contracts, then the tests.

Run by the README's test command and by .ci/run. pytest's exit code 5 (no test collected)
is a failure here: a green run must have run tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LINTED = [p for p in ("mma_qt", "tests", "benchmarks", "scripts") if Path(p).exists()]
STEPS = [
    ("ruff", [sys.executable, "-m", "ruff", "check", *LINTED]),
    ("mypy", [sys.executable, "-m", "mypy", "mma_qt"]),
    ("lint-imports", [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]),
    ("pytest", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *sys.argv[1:]]),
]


def main() -> int:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    for name, command in STEPS:
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        code = subprocess.call(command, env=env)
        if name == "pytest" and code == 5:
            print("pytest collected no tests: that is a failure, not a pass", flush=True)
            return 1
        if code != 0:
            print(f"== {name} failed (exit {code})", flush=True)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
