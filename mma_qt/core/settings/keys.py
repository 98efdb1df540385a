"""API keys: environment variables first, then the system keyring. Pure logic, no Qt.

A key is looked up when a provider factory is built and lives only in memory. It is never
written to the config file, logs, streams, reports or hook answers; any text that could
carry one (an SDK error message, say) goes through :func:`redact` first.

Lookups go through a :class:`KeyResolver`. On a machine without a usable keyring (a
headless box, a CI runner) the ``keyring`` library raises
:class:`keyring.errors.NoKeyringError`; the resolver says so once, in one warning line,
and from then on reads the environment alone.
"""

from __future__ import annotations

import logging
import os
import re
import threading
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

_ENV_ONLY = (
    "API keys are read from environment variables only "
    "(e.g. ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY)"
)

#: Keyring errors that mean "no usable keyring here" (OSError: file-based backends).
_KEYRING_ERRORS: tuple[type[Exception], ...] = (keyring.errors.KeyringError, OSError)


class KeyStoreError(RuntimeError):
    """A key could not be stored in the system keyring."""


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    provider: str
    #: Where the key came from, fit to show: "environment variable ANTHROPIC_API_KEY".
    source: str
    value: str = field(repr=False)


def env_vars(provider: str) -> tuple[str, ...]:
    """The environment variables read for ``provider`` (none for keyless local servers)."""
    return ENV_VARS.get(provider, ())


class KeyResolver:
    """Finds API keys: environment variables first, then the system keyring.

    One belongs to whoever resolves keys (the app at start-up builds one for its provider
    factory); nothing about the keyring is kept per process. The keyring is probed lazily,
    by the first lookup that reaches it, and only once: if it fails, that is said in one
    warning line (its traceback goes to DEBUG) and every later lookup of this resolver
    uses the environment alone. Safe to use from any thread.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ
        self._lock = threading.Lock()
        self._checked = False
        self._problem: str | None = None

    def resolve(self, provider: str) -> ResolvedKey | None:
        """The key for ``provider`` and where it came from, or None."""
        env = os.environ if self._environ is None else self._environ
        for name in env_vars(provider):
            value = env.get(name, "").strip()
            if value:
                return ResolvedKey(provider, f"environment variable {name}", value)
        stored = self._keyring_get(provider)
        if stored:
            return ResolvedKey(provider, f"system keyring ({SERVICE}/{provider})", stored)
        return None

    def get(self, provider: str) -> str | None:
        resolved = self.resolve(provider)
        return None if resolved is None else resolved.value

    def keyring_problem(self) -> str | None:
        """None if the keyring answers; otherwise why not (probing it if nothing has yet)."""
        with self._lock:
            checked = self._checked
        if not checked:
            self._keyring_get("__probe__")
        return self._problem

    def keyring_status(self) -> str:
        """One human-readable line about the system keyring, for messages and dialogs."""
        problem = self.keyring_problem()
        if problem is None:
            backend = keyring.get_keyring()
            return (
                f"system keyring available ({type(backend).__module__}."
                f"{type(backend).__name__})"
            )
        return f"system keyring unavailable ({problem}); {_ENV_ONLY}"

    def _keyring_get(self, username: str) -> str | None:
        with self._lock:
            if self._problem is not None:
                return None
            try:
                value = keyring.get_password(SERVICE, username)
            except _KEYRING_ERRORS as exc:
                # Not fatal: the environment is the fallback. Said once, in one line.
                self._problem = _describe(exc)
                log.warning("system keyring unavailable (%s); %s", self._problem, _ENV_ONLY)
                log.debug("the keyring lookup that failed", exc_info=True)
                return None
            finally:
                self._checked = True
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


def keyring_status() -> str:
    """:meth:`KeyResolver.keyring_status` of a fresh resolver (probes the keyring now)."""
    return KeyResolver().keyring_status()


def key_hint(provider: str) -> str:
    """Where the user can put a key for ``provider``: for error messages."""
    names = env_vars(provider)
    if not names:
        # Keyless local servers: no key is looked up for them, in the keyring or elsewhere.
        return "mma-qt sends no key to this local server; let it accept requests without one"
    keyring_entry = f"the system keyring (service '{SERVICE}', user '{provider}')"
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
