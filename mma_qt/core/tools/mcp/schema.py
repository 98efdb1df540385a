"""An MCP tool's JSON schema in the plain form every provider accepts. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Keywords dropped from a server's schema: metadata providers reject or do not need.
_DROPPED = frozenset({"$schema", "$id", "$comment", "$defs", "definitions", "title",
                      "examples"})
_REF_DEPTH = 8


def plain_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A tool's JSON schema in the plain form every provider accepts.

    Local ``$ref`` s are inlined (a recursive one, past a few levels, becomes ``{}``);
    titles, ``$schema``, ``$defs`` and examples dropped; an optional value's
    ``anyOf [X, null]`` becomes X. The root is always an object with ``properties``.
    """
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    out = _plain_node(schema, defs, 0)
    out["type"] = "object"
    out.setdefault("properties", {})
    return out


def _plain_node(node: Any, defs: Mapping[str, Any], depth: int) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1]) if ref.startswith("#/") else None
        if target is None or depth >= _REF_DEPTH:
            return {}
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _plain_node(merged, defs, depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {name: _plain_node(sub, defs, depth) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, Mapping):
            out[key] = _plain_node(value, defs, depth)
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
            branches = [_plain_node(b, defs, depth) for b in value
                        if not (isinstance(b, Mapping) and b.get("type") == "null")]
            if key != "allOf" and len(branches) == 1:
                out.update({k: v for k, v in branches[0].items() if k not in out})
            elif branches:
                out[key] = branches
        else:
            out[key] = value
    if "default" in out and out["default"] is None:
        del out["default"]
    return out
