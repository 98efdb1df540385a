"""Cutting text to a budget and fencing it for a prompt. Pure, no Qt."""

from __future__ import annotations

import re

from ..model.context import ContextPart

_FENCE_RUN = re.compile(r"`{3,}")


def cut_head(text: str, budget: int, hint: str = "") -> tuple[str, bool]:
    """``text`` kept from its start within ``budget`` characters, a note saying what was
    cut (``hint`` tells where the rest is). Returns the text and whether it was cut."""
    if len(text) <= budget:
        return text, False
    note = f"\n… [cut to {budget:,} of {len(text):,} characters{hint}]"
    keep = budget - len(note)
    if keep <= 0:
        return text[:budget], True
    return text[:keep] + note, True


def cut_tail(text: str, budget: int) -> tuple[str, bool]:
    """``text`` kept from its end within ``budget`` characters, a note saying so first."""
    if len(text) <= budget:
        return text, False
    note = f"[… the end of {len(text):,} characters]\n"
    keep = budget - len(note)
    if keep <= 0:
        return text[len(text) - budget:], True
    return note + text[-keep:], True


def fenced(text: str, info: str = "") -> str:
    """``text`` in a code fence longer than any run of backticks inside it."""
    longest = max((len(m.group(0)) for m in _FENCE_RUN.finditer(text)), default=2)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}{info}\n{body}{fence}"


def block(title: str, parts: list[ContextPart] | tuple[ContextPart, ...],
          body: str = "") -> str:
    """A titled section of parts, each under its own heading with its text fenced; empty
    when there are no parts (so the template leaves its line out)."""
    if not parts:
        return ""
    sections = [f"## {title}"] + ([body] if body else [])
    for part in parts:
        label = part.name.split(": ", 1)[-1]
        sections.append(f"### {label}\n{fenced(part.text)}")
    return "\n\n".join(sections)
