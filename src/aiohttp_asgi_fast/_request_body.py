"""The request side of ``RequestCycle``: request body pieces to ASGI ``receive()``.

The connection feeds body pieces (``feed_body``) as the parser finds them; ``receive()``
hands them to the app as ``http.request`` messages (decoded first when
``decompress_requests`` applies), with backpressure on aiohttp's writer, and returns
``http.disconnect`` once the response is sent or the client left (ASGI HTTP 2.5).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Final

from ._extensions import COMPLETE as _COMPLETE
from ._extensions import NOT_STARTED as _NOT_STARTED
from ._framing import CONTINUE_RESPONSE
from ._waiters import Waiters
from .exceptions import RequestParseError

if TYPE_CHECKING:
    from ._decompress import RequestDecoder
    from ._transport import InMemoryTransport
    from ._types import Message

__all__ = ("RequestBodyReceiver",)

# Request-body buffering towards the app: past the high-water mark aiohttp's writer is
# paused (protocol.pause_writing(), as a full socket buffer would), below low it resumes.
_BODY_HIGH_WATER: Final = 1 << 20
_BODY_LOW_WATER: Final = 1 << 18
# The most bytes one http.request message cuts from a view of a large request body.
_RECEIVE_PIECE: Final = 256 * 1024


class RequestBodyReceiver(Waiters):
    """RequestCycle's request side (the slots are RequestCycle's)."""

    if not TYPE_CHECKING:
        __slots__ = ()
    else:
        _transport: InMemoryTransport
        _loop: asyncio.AbstractEventLoop
        _state: int
        _decoder: RequestDecoder | None
        _decode_error: RequestParseError | None
        _expect_continue: bool
        _body: deque[bytes | memoryview]
        _body_buffered: int
        _body_complete: bool
        _request_done: bool
        _writing_paused: bool
        disconnected: bool
        app_done: bool
        _plain_chunks: bool

    # -- events from the connection -------------------------------------------------

    def feed_body(self, body: bytes | memoryview) -> None:
        if self.app_done or self.disconnected or self._state == _COMPLETE or self._request_done:
            return  # nobody will read it: drop, as a server drops an unread body
        self._body.append(body)
        self._body_buffered += len(body)
        if not self._writing_paused and self._body_buffered > _BODY_HIGH_WATER:
            self._writing_paused = True
            self._transport.pause_client_writing()
        self._wake()

    def body_complete(self) -> None:
        self._body_complete = True
        self._wake()

    def client_disconnected(self) -> None:
        """The client closed the connection (released early, session closed, timeout)."""
        if self.disconnected:
            return
        self.disconnected = True
        self._plain_chunks = False  # send()'s fast path must now raise
        self._drop_body()
        self._wake()

    def _drop_body(self) -> None:
        self._body.clear()
        self._body_buffered = 0
        if self._writing_paused:
            self._writing_paused = False
            self._transport.resume_client_writing()

    # -- ASGI receive -----------------------------------------------------------------

    async def receive(self) -> Message:
        while True:
            if self._expect_continue:
                # RFC 9110 §10.1.1: answer 100 Continue once the app asks for the body.
                self._expect_continue = False
                if self._state == _NOT_STARTED and not self.disconnected:
                    self._transport.deliver(CONTINUE_RESPONSE)
            if self.disconnected or self._state == _COMPLETE:
                # ASGI: http.disconnect once the response is sent or the client left.
                return {"type": "http.disconnect"}
            body = self._body
            if self._decoder is not None:
                message = self._next_decoded(self._decoder)
                if message is not None:
                    return message
            elif body:
                chunk = self._pop_body()
                more = bool(body) or not self._body_complete
                if not more:
                    self._request_done = True
                return {"type": "http.request", "body": chunk, "more_body": more}
            elif self._body_complete and not self._request_done:
                self._request_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self._wait()

    def _pop_body(self) -> bytes:
        body = self._body
        chunk = body.popleft()
        if type(chunk) is memoryview:
            # A view of a large body (see _framing.LARGE_BODY): cut bytes from it as the
            # app reads, so the body is never held twice.
            if len(chunk) > _RECEIVE_PIECE:
                body.appendleft(chunk[_RECEIVE_PIECE:])
                chunk = chunk[:_RECEIVE_PIECE]
            chunk = chunk.tobytes()
        self._body_buffered -= len(chunk)
        if self._writing_paused and self._body_buffered < _BODY_LOW_WATER:
            self._writing_paused = False
            self._transport.resume_client_writing()
        return chunk

    def _next_decoded(self, decoder: RequestDecoder) -> Message | None:
        """The next decoded http.request, or None if it must wait for more body."""
        if self._decode_error is not None:
            raise self._decode_error
        if self._request_done:
            return None
        try:
            if decoder.pending:  # output left over from the last piece comes first
                data = decoder.decompress(b"")
            elif self._body:
                data = decoder.decompress(self._pop_body())
            elif self._body_complete:
                data = b""
            else:
                return None
            more = decoder.pending or bool(self._body) or not self._body_complete
            if not more:
                data += decoder.flush()  # raises if the compressed data was truncated
        except RequestParseError as exc:
            self._decode_error = exc
            self._request_done = True
            self._drop_body()
            raise
        if not more:
            self._request_done = True
        return {"type": "http.request", "body": data, "more_body": more}
