"""A stdio server's environment: ``${NAME}`` references resolved, its values kept secret.

The values a server is given (a token among them) never reach a log line or a reason
shown to the user: :func:`redact` cuts them out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: Values shorter than this are not cut out of log lines (they would cut common words).
_SECRET_MIN = 4


class McpError(Exception):
    """A server that cannot be started as configured (the message says why)."""


def resolve_env(env: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """``env`` with each ``${NAME}`` replaced by ``environ[NAME]``.

    Raises :class:`McpError` naming the variable (never a value) when one is unset.
    """
    def value(name: str, text: str) -> str:
        def sub(match: re.Match[str]) -> str:
            ref = match.group(1)
            if ref not in environ:
                raise McpError(f"env {name} refers to ${{{ref}}}, which is not set")
            return environ[ref]
        return _ENV_REFERENCE.sub(sub, text)

    return {name: value(name, text) for name, text in env.items()}


def secrets_of(env: Mapping[str, str]) -> tuple[str, ...]:
    """The values of a resolved ``env`` that :func:`redact` cuts out (all but short ones)."""
    return tuple(v for v in env.values() if len(v) >= _SECRET_MIN)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
