"""API keys: environment variables first, then the system keyring. Pure logic, no Qt.

A key is looked up when a provider factory is built and lives only in memory. It is never
written to the config file, logs, streams, reports or hook answers; any text that could
carry one (an SDK error message, say) goes through :func:`redact` first.

On a machine without a usable keyring (a headless box, a CI runner) the ``keyring``
library raises :class:`keyring.errors.NoKeyringError`; lookups then fall back to the
environment alone, and :func:`keyring_status` says so in words the user can act on.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import keyring
import keyring.errors

log = logging.getLogger(__name__)

#: The keyring service name; the keyring username is the provider name.
SERVICE = "mma-qt"

#: Environment variables read for each provider, in order (the first non-empty wins).
ENV_VARS: Mapping[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
}

#: What :func:`redact` puts in place of a secret.
REDACTED = "[redacted]"

#: Keyring errors that mean "no usable keyring here" (OSError: file-based backends).
_KEYRING_ERRORS: tuple[type[Exception], ...] = (keyring.errors.KeyringError, OSError)


class KeyStoreError(RuntimeError):
    """A key could not be stored in (or removed from) the system keyring."""


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    provider: str
    #: Where the key came from, fit to show: "environment variable ANTHROPIC_API_KEY".
    source: str
    value: str = field(repr=False)


def env_vars(provider: str) -> tuple[str, ...]:
    """The environment variables read for ``provider`` (none for keyless local servers)."""
    return ENV_VARS.get(provider, ())


def resolve_key(
    provider: str, environ: Mapping[str, str] | None = None
) -> ResolvedKey | None:
    """The key for ``provider``: environment variables first, then the keyring."""
    env = os.environ if environ is None else environ
    for name in env_vars(provider):
        value = env.get(name, "").strip()
        if value:
            return ResolvedKey(provider, f"environment variable {name}", value)
    stored = _keyring_get(provider)
    if stored:
        return ResolvedKey(provider, f"system keyring ({SERVICE}/{provider})", stored)
    return None


def get_key(provider: str, environ: Mapping[str, str] | None = None) -> str | None:
    resolved = resolve_key(provider, environ)
    return None if resolved is None else resolved.value


def _keyring_get(provider: str) -> str | None:
    try:
        value = keyring.get_password(SERVICE, provider)
    except _KEYRING_ERRORS:
        # Not fatal: the environment is the fallback. Logged with its traceback so the
        # cause is findable; keyring_status() reports it to the user.
        log.warning(
            "system keyring unavailable; using environment variables only for %s",
            provider,
            exc_info=True,
        )
        return None
    if value is None:
        return None
    return value.strip() or None


def store_key(provider: str, key: str) -> None:
    """Store ``key`` for ``provider`` in the system keyring (never in a file we own)."""
    key = key.strip()
    if not key:
        raise ValueError("an empty API key cannot be stored")
    try:
        keyring.set_password(SERVICE, provider, key)
    except _KEYRING_ERRORS as exc:
        raise KeyStoreError(
            f"could not store the {provider} API key in the system keyring "
            f"({redact(_describe(exc), [key])}). {_env_hint(provider)}"
        ) from exc


def delete_key(provider: str) -> None:
    """Remove ``provider``'s key from the keyring (no error if there is none)."""
    try:
        keyring.delete_password(SERVICE, provider)
    except keyring.errors.PasswordDeleteError:
        log.debug("no %s key in the keyring to delete", provider, exc_info=True)
    except _KEYRING_ERRORS as exc:
        raise KeyStoreError(
            f"could not remove the {provider} API key from the system keyring "
            f"({_describe(exc)})"
        ) from exc


def keyring_available() -> bool:
    return _probe_keyring() is None


def keyring_status() -> str:
    """One human-readable line about the system keyring, for the settings dialog."""
    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    problem = _probe_keyring()
    if problem is None:
        return f"system keyring available ({name})"
    return (
        f"system keyring unavailable ({problem}); API keys are read from environment "
        "variables only (e.g. ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY)"
    )


def _probe_keyring() -> str | None:
    """None if the keyring answers a lookup; otherwise why not."""
    try:
        keyring.get_password(SERVICE, "__probe__")
    except _KEYRING_ERRORS as exc:
        log.debug("keyring probe failed", exc_info=True)
        return _describe(exc)
    return None


def key_hint(provider: str) -> str:
    """Where the user can put a key for ``provider``: for error messages."""
    names = env_vars(provider)
    keyring_entry = f"the system keyring (service '{SERVICE}', user '{provider}')"
    if not names:
        return f"store a key in {keyring_entry}"
    return f"set {' or '.join(names)}, or store a key in {keyring_entry}"


def _env_hint(provider: str) -> str:
    names = env_vars(provider)
    if not names:
        return "This provider needs no key."
    return f"Set {' or '.join(names)} in the environment instead."


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- redaction ---------------------------------------------------------------------------

#: Shapes of well-known keys, redacted even when the exact key is not known to the caller.
_KEY_SHAPES = re.compile(
    r"sk-[A-Za-z0-9_\-]{16,}"  # OpenAI, Anthropic (sk-ant-...), DeepSeek, OpenRouter
    r"|AIza[0-9A-Za-z_\-]{30,}"  # Google API keys
    r"|(?<=Bearer )[A-Za-z0-9._~+/\-]{16,}=*"  # Authorization: Bearer <token>
)


def redact(text: str, keys: Iterable[str | None] = ()) -> str:
    """``text`` with every one of ``keys`` (and anything shaped like a key) replaced."""
    for key in sorted({k for k in keys if k and len(k) >= 4}, key=len, reverse=True):
        text = text.replace(key, REDACTED)
    return _KEY_SHAPES.sub(REDACTED, text)
