"""What a model and the log read of an MCP call: a result's text, an exception's cause."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .env import McpError

if TYPE_CHECKING:
    from mcp_types import CallToolResult


def describe_exception(exc: BaseException) -> str:
    """The innermost cause in one line (exception groups unwrapped)."""
    from mcp import MCPError
    from mcp_types import CONNECTION_CLOSED

    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, McpError):
        return str(exc)
    if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
        return "the server closed the connection"
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"cannot run {exc.filename!r}: no such file or directory"
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename!r}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = str(exc).strip().splitlines()
    name = type(exc).__name__
    return f"{name}: {text[0]}" if text else name


def result_text(result: CallToolResult) -> str:
    """The text a model reads from a tool's result: text blocks, other blocks described."""
    parts: list[str] = []
    for block in result.content:
        if block.type == "text":
            parts.append(block.text)
        elif block.type in ("image", "audio"):
            parts.append(f"[{block.type} {block.mime_type}, {len(block.data) * 3 // 4:,} bytes]")
        elif block.type == "resource_link":
            parts.append(f"[resource link: {block.uri}]")
        elif block.type == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            parts.append(text if isinstance(text, str) else
                         f"[resource {resource.uri} ({resource.mime_type or 'binary'})]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)
