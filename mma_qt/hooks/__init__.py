"""Local JSON-RPC 2.0 hooks that let scripts, tests and the CLI drive a running mma-qt.

Only the Qt-free parts are imported here so ``mma-qt-hook`` starts fast; the server lives
in :mod:`mma_qt.hooks.server`.
"""

from mma_qt.hooks.client import (
    ApiHookClient,
    HookCallError,
    HookError,
    HookProtocolError,
    HookUnavailableError,
)
from mma_qt.hooks.protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    MAX_LINE_BYTES,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    Dispatcher,
    LargeResult,
    RpcError,
    resolve_hook_address,
)

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "MAX_LINE_BYTES",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "ApiHookClient",
    "Dispatcher",
    "HookCallError",
    "HookError",
    "HookProtocolError",
    "HookUnavailableError",
    "LargeResult",
    "RpcError",
    "resolve_hook_address",
]
