"""Token usage of one model call, and how usage adds up. Pure logic, no Qt."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: Characters per token used by :func:`estimate_tokens`. OpenAI's published rule of thumb
#: for English text; good to about ±20 % for prose and code.
CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Estimate a token count for ``text`` when a provider reported none.

    The documented estimator: ``ceil(len(text) / 4)`` (0 for empty text).
    """
    return estimate_tokens_for_length(len(text))


def estimate_tokens_for_length(chars: int) -> int:
    return math.ceil(max(0, chars) / CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class Usage:
    """Normalised usage: every token is counted once.

    ``input`` is uncached input; ``cache_read``/``cache_write`` are the cached parts of
    the prompt (so a provider whose prompt count includes cached tokens must subtract
    them). ``reasoning`` is the part of ``output`` spent thinking, for information only.
    ``estimated`` is true when any part came from :func:`estimate_tokens`.
    """

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0
    estimated: bool = False

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input=self.input + other.input,
            output=self.output + other.output,
            cache_read=self.cache_read + other.cache_read,
            cache_write=self.cache_write + other.cache_write,
            reasoning=self.reasoning + other.reasoning,
            estimated=self.estimated or other.estimated,
        )

    @property
    def cache(self) -> int:
        return self.cache_read + self.cache_write

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
            "reasoning": self.reasoning,
            "estimated": self.estimated,
        }

    @staticmethod
    def estimate(prompt: str, output: str) -> Usage:
        return Usage(
            input=estimate_tokens(prompt), output=estimate_tokens(output), estimated=True
        )


def sum_usage(usages: Iterable[Usage]) -> Usage:
    """One pass over plain ints: roll-ups run on every snapshot and tier repaint."""
    inp = out = read = write = reasoning = 0
    estimated = False
    for u in usages:
        inp += u.input
        out += u.output
        read += u.cache_read
        write += u.cache_write
        reasoning += u.reasoning
        estimated = estimated or u.estimated
    return Usage(inp, out, read, write, reasoning, estimated)
