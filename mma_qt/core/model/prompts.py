"""Prompt templates from resources/prompts. Pure logic, no Qt."""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

from .bundled import bundled
from .domain import Tier


@dataclass(frozen=True, slots=True)
class Prompt:
    system: str
    user: str


def render(tier: Tier, **values: str) -> Prompt:
    """Fill the tier's template; the part above ``---`` is the system prompt.

    Raises KeyError naming a missing value, so a template and its caller cannot drift.
    """
    path = bundled("prompts", f"tier{int(tier)}.md")
    system, _, user = path.read_text(encoding="utf-8").partition("\n---\n")
    return Prompt(system.strip(), Template(user).substitute(values).strip() + "\n")


def sample_epic() -> str:
    path = bundled("sample_epic.md")
    return " ".join(path.read_text(encoding="utf-8").split())
