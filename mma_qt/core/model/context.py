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
