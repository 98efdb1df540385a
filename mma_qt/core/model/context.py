"""The parts a tier's prompt is assembled from, as the spawn approval shows them. Pure.

A prompt is ordered so that what is the same for every ticket of a track (the system
text, the repository map, shared skeletons) comes first, byte for byte: those parts are
``shared``, and provider prompt caches hit on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .usage import estimate_tokens_for_length


@dataclass(frozen=True, slots=True)
class ContextPart:
    #: What it is: ``"system"``, ``"repository map"``, ``"skeleton: src/a.py"``, ...
    name: str
    text: str
    #: The same for every ticket of the track (in the cacheable prefix).
    shared: bool = False
    #: It was cut to its budget.
    truncated: bool = False

    @property
    def chars(self) -> int:
        return len(self.text)

    @property
    def tokens(self) -> int:
        """Estimated tokens."""
        return estimate_tokens_for_length(len(self.text))

    def to_dict(self) -> dict[str, Any]:
        """Name and sizes (not the text: the prompt itself carries it)."""
        return {"name": self.name, "chars": self.chars, "tokens": self.tokens,
                "shared": self.shared, "truncated": self.truncated}


@dataclass(frozen=True, slots=True)
class ContextBudgets:
    """Characters each part of a prompt may take (``[context]`` in config.toml).

    A part over its budget is cut (and marked ``truncated``); a group of parts (the
    skeletons, the target files, the answers of one prompt) also stops at its total.
    """

    #: Tier 1's (and the shared prefix's) repository map of the workspace.
    repo_map: int = 12_000
    #: Each file's skeleton (signatures and docstrings).
    skeleton: int = 6_000
    #: All skeletons of one prompt (the track's files; a ticket's imports).
    skeletons: int = 24_000
    #: Each target file in full (Tier 3, Tier 4).
    file: int = 24_000
    #: All target files of one prompt.
    files: int = 60_000
    #: The final answer of each completed ticket a ticket depends on (Tier 3).
    answer: int = 4_000
    #: All of those answers.
    answers: int = 12_000
    #: QA's hint on a retry (Tier 3).
    hint: int = 2_000
    #: The error of a failed attempt (Tier 4).
    error: int = 4_000
    #: The end of the failed attempt's stream (Tier 4).
    tail: int = 6_000
