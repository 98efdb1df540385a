"""Prompt templates from resources/prompts. Pure logic, no Qt.

A tier's template has three sections, split by lines of ``---``:

1. the instructions: the start of the system text, as written;
2. the shared context: the rest of the system text, the same for every call of the tier
   in a track (so providers' prompt caches hit on the whole system text);
3. the call's own context: the user prompt.

Sections 2 and 3 name ``$values``. A line that is only a ``$value`` whose value is empty
is left out, and so are the blank lines that would then pile up around it; the values
themselves are inserted exactly as given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Template

from .bundled import bundled
from .domain import Tier

_SEPARATOR = "\n---\n"
_ALONE = re.compile(r"^\$(?:(\w+)|\{(\w+)\})$")


@dataclass(frozen=True, slots=True)
class Prompt:
    #: The instructions, then the shared context: the request's ``system``.
    system: str
    #: The call's own context: the first user message.
    user: str


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    instructions: str
    shared: str
    own: str

    @property
    def names(self) -> frozenset[str]:
        """Every ``$value`` the template names."""
        return frozenset(Template(self.shared).get_identifiers()
                         + Template(self.own).get_identifiers())

    @property
    def shared_names(self) -> frozenset[str]:
        return frozenset(Template(self.shared).get_identifiers())


def template(tier: Tier) -> PromptTemplate:
    """The tier's template, ``resources/prompts/tier<N>.md``."""
    name = f"tier{int(tier)}.md"
    text = bundled("prompts", name).read_text(encoding="utf-8")
    sections = text.split(_SEPARATOR)
    if len(sections) != 3:
        raise ValueError(f"{name} must have three sections split by '---' lines "
                         f"(instructions, shared context, own context); it has {len(sections)}")
    return PromptTemplate(*sections)


def render(tier: Tier, **values: str) -> Prompt:
    """Fill the tier's template with exactly the values it names.

    Raises KeyError naming a missing value, or a value the template does not name, so a
    template and its caller cannot drift.
    """
    parts = template(tier)
    unknown = sorted(set(values) - parts.names)
    if unknown:
        raise KeyError(f"tier{int(tier)}.md names no {', '.join(unknown)}")
    instructions = parts.instructions.strip()
    shared = _fill(parts.shared, values)
    system = f"{instructions}\n\n{shared}" if shared else instructions
    return Prompt(system, _fill(parts.own, values) + "\n")


def _fill(section: str, values: dict[str, str]) -> str:
    missing = sorted(set(Template(section).get_identifiers()) - set(values))
    if missing:
        raise KeyError(f"no value for {', '.join(missing)}")
    lines: list[str] = []
    for line in section.strip().splitlines():
        alone = _ALONE.match(line.strip())
        if alone and not values[alone.group(1) or alone.group(2)]:
            continue
        if not line.strip() and (not lines or not lines[-1].strip()):
            continue  # one blank line at most, and none at the start
        lines.append(line)
    while lines and not lines[-1].strip():
        lines.pop()
    return Template("\n".join(lines)).substitute(values)


def sample_epic() -> str:
    path = bundled("sample_epic.md")
    return " ".join(path.read_text(encoding="utf-8").split())
