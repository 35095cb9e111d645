"""Reading a webhook body without letting an unauthenticated client spend the bot's memory.

The routes decide from the headers alone whatever they can (a missing signature, an unknown secret, a
declared length over the limit) before reading a byte of the body; a body that must be read is streamed
with a cap, so a chunked body with no Content-Length is cut off as soon as it passes the limit, and the
number of large bodies being read at once is bounded, so N clients cost at most N_max x limit bytes.
A client that stops sending mid-body is dropped after `idle_timeout` seconds (uvicorn has no such
timeout of its own: its `timeout_keep_alive` only covers the gap between requests).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.requests import Request

# A body above this many bytes (or of unknown length: chunked) needs one of the large-body slots.
LARGE_BODY_BYTES = 1024 * 1024
RETRY_AFTER_SECONDS = 5


class BodyRefused(Exception):
    """The body was not (fully) read; answer `status` with `message`. `outcome` labels the metric."""

    def __init__(
        self, status: int, outcome: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome
        self.message = message
        self.headers = headers or {}


@dataclass
class BodyReader:
    """Reads request bodies up to `limit` bytes, at most `max_large` bodies over LARGE_BODY_BYTES at once."""

    limit: int
    max_large: int = 4
    idle_timeout: float = 10.0
    _large: asyncio.Semaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._large = asyncio.Semaphore(max(1, self.max_large))

    def declared_length(self, declared: str | None) -> int | None:
        """The Content-Length, refused (400/413) when it is not a number or over the limit."""
        if declared is None:
            return None
        if not declared.isdigit():
            raise BodyRefused(400, "malformed", "Content-Length is not a number")
        if int(declared) > self.limit:
            raise BodyRefused(413, "too_large", self.too_large())
        return int(declared)

    async def read_request(self, request: Request) -> bytes:
        return await self.read(request.headers.get("content-length"), request.stream())

    async def read(self, content_length: str | None, chunks: AsyncIterator[bytes]) -> bytes:
        """The body from `chunks` (an ASGI request's, in order), given its declared Content-Length."""
        declared = self.declared_length(content_length)
        if declared is not None and declared <= LARGE_BODY_BYTES:
            return await self._stream(chunks)
        # No await between the check and the acquire: on one event loop nobody can take the slot between.
        if self._large.locked():
            raise BodyRefused(
                503,
                "busy",
                f"{self.max_large} large bodies are being received already: retry later",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        async with self._large:
            return await self._stream(chunks)

    async def _stream(self, chunks: AsyncIterator[bytes]) -> bytes:
        parts: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        try:
            # One timer for the whole body, pushed back at each chunk (a task per chunk, as asyncio.wait_for
            # makes, cost more than the rest of the intake's reading).
            async with asyncio.timeout(self.idle_timeout) as idle:
                async for chunk in chunks:
                    size += len(chunk)
                    # Counted while streaming: a chunked body has no Content-Length to check up front.
                    if size > self.limit:
                        raise BodyRefused(413, "too_large", self.too_large())
                    parts.append(chunk)
                    idle.reschedule(loop.time() + self.idle_timeout)
        except TimeoutError as error:
            raise BodyRefused(
                408, "timeout", f"no part of the body arrived for {self.idle_timeout:g} s"
            ) from error
        return b"".join(parts)

    def too_large(self) -> str:
        return f"body is larger than {self.limit} bytes (GitHub caps webhook payloads at 25 MB)"
