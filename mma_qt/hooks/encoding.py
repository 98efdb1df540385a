"""JSON in pieces, so that a large answer is encoded and sent between events.

:func:`json_pieces` yields the compact UTF-8 JSON of a value as byte strings whose
concatenation is exactly ``json.dumps(value, ensure_ascii=False, separators=(",", ":"),
allow_nan=False).encode()``. No step takes long whatever the size: long strings are
escaped in slices, and a piece is cut every :data:`PIECE_CHARS` characters or
:data:`PIECE_FRAGMENTS` fragments. Walking the structure in Python costs more than the
stdlib's C encoder in one call, so it is used only for answers of unbounded size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from json.encoder import encode_basestring
from typing import Final

STRING_SLICE_CHARS: Final = 32 * 1024
"""A longer string is escaped in slices of this many characters (~0.2 ms each)."""

PIECE_CHARS: Final = 64 * 1024
PIECE_FRAGMENTS: Final = 512


def _float(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
    return float.__repr__(value)


def _scalar(value: object) -> str | None:
    """The JSON of a scalar; None for a container or an unsupported type."""
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    return None


def _key(key: object) -> str:
    """A dict key as JSON turns it into a string, encoded."""
    if isinstance(key, str):
        return encode_basestring(key)
    if isinstance(key, (bool, int, float)) or key is None:
        text = _scalar(key)
        assert text is not None
        return f'"{text}"'
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _long_string(text: str) -> Iterator[str]:
    yield '"'
    for start in range(0, len(text), STRING_SLICE_CHARS):
        yield encode_basestring(text[start : start + STRING_SLICE_CHARS])[1:-1]
    yield '"'


def json_fragments(value: object) -> Iterator[str]:
    """The compact JSON of ``value`` as text fragments; raises as :func:`json.dumps` does."""
    markers: set[int] = set()

    def walk(node: object) -> Iterator[str]:
        if isinstance(node, str) and len(node) > STRING_SLICE_CHARS:
            yield from _long_string(node)
            return
        text = _scalar(node)
        if text is not None:
            yield text
            return
        if not isinstance(node, (dict, list, tuple)):
            raise TypeError(f"Object of type {type(node).__name__} is not JSON serializable")
        if id(node) in markers:
            raise ValueError("Circular reference detected")
        markers.add(id(node))
        if isinstance(node, dict):
            yield "{"
            for index, (key, item) in enumerate(node.items()):
                yield f"{',' if index else ''}{_key(key)}:"
                yield from walk(item)
            yield "}"
        else:
            yield "["
            for index, item in enumerate(node):
                if index:
                    yield ","
                yield from walk(item)
            yield "]"
        markers.discard(id(node))

    return walk(value)


def json_pieces(value: object) -> Iterator[bytes]:
    """The compact UTF-8 JSON of ``value`` in pieces of bounded work each."""
    buffer: list[str] = []
    size = 0
    for fragment in json_fragments(value):
        buffer.append(fragment)
        size += len(fragment)
        if size >= PIECE_CHARS or len(buffer) >= PIECE_FRAGMENTS:
            yield "".join(buffer).encode("utf-8")
            buffer.clear()
            size = 0
    if buffer:
        yield "".join(buffer).encode("utf-8")
