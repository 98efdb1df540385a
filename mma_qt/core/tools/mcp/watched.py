"""A transport that reports when the server's side of it ends (the server died or hung up)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from types import TracebackType

    from mcp.client import Transport
    from mcp.client._transport import ReadStream, TransportStreams
    from mcp.shared.message import SessionMessage


@asynccontextmanager
async def watched(inner: Transport, on_close: Callable[[], None]
                  ) -> AsyncIterator[TransportStreams]:
    """``inner``, calling ``on_close`` when the server's side of it ends (EOF)."""
    async with inner as (read, write):
        yield WatchedReadStream(read, on_close), write


class WatchedReadStream:
    """A transport's read stream that reports its end (the server died or hung up)."""

    def __init__(self, inner: ReadStream[SessionMessage | Exception],
                 on_close: Callable[[], None]) -> None:
        self._inner = inner
        self._on_close = on_close

    async def receive(self) -> SessionMessage | Exception:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._on_close()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> WatchedReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> WatchedReadStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    def __getattr__(self, name: str) -> Any:
        # e.g. ``last_context``, which the SDK's dispatcher reads when the stream has it.
        return getattr(self._inner, name)
