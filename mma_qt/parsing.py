"""The command lines' parser (``mma-qt``, ``mma-qt report``, ``mma-qt-hook``): a mistake is
one line on stderr, not the usage block, and exit code 2. Standard library only, so that
every layer's command line may use it."""

from __future__ import annotations

import argparse
from typing import NoReturn

#: Bad arguments, or the app could not start: nothing ran.
EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not the usage block: what is wrong and where to read more."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")
