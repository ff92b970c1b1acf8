"""One HTTP request/response cycle: the ASGI ``receive``/``send`` pair and the app task body.

The cycle gets request body pieces from the connection (``feed_body``), hands them to
the app through ``receive()``, validates what the app passes to ``send()``, frames it
with the hot path and delivers the bytes to aiohttp's response parser through the
connection. Rules enforced are the ASGI HTTP message format 2.5, the ASGI extensions
it advertises (trailers, path send, early hints) and RFC 9110/9112.
"""

from __future__ import annotations

import asyncio
from collections import deque
from time import perf_counter_ns
from typing import TYPE_CHECKING, Final

from ._app_outcome import AppOutcome
from ._decompress import request_decoder
from ._extensions import BODY_MESSAGES as _BODY_MESSAGES
from ._extensions import COMPLETE as _COMPLETE
from ._extensions import NOT_STARTED as _NOT_STARTED
from ._extensions import PATHSEND as _PATHSEND
from ._extensions import SEND_TRAILERS as _SEND_TRAILERS
from ._extensions import START_PENDING as _START_PENDING
from ._extensions import STREAMING as _STREAMING
from ._extensions import ExtensionSends, close_head
from ._framing import BODY_CHUNKED, BODY_NONE, LAST_CHUNK
from ._hotpath import encode_chunk, encode_response_head
from ._request_body import RequestBodyReceiver
from .exceptions import (
    ASGIProtocolError,
    ClientDisconnectedError,
    RequestParseError,
)

if TYPE_CHECKING:
    from ._decompress import RequestDecoder
    from ._transport import InMemoryTransport
    from ._types import Message, Scope

__all__ = ("RequestCycle",)

# Response body pieces are coalesced up to this size (see _send_body).
_COALESCE_LIMIT: Final = 64 * 1024


class RequestCycle(RequestBodyReceiver, ExtensionSends, AppOutcome):
    """Per-request state shared by ``receive``, ``send`` and the app task."""

    __slots__ = (
        "_body",
        "_body_buffered",
        "_body_complete",
        "_body_kind",
        "_called_ns",
        "_content_remaining",
        "_decode_error",
        "_decoder",
        "_expect_continue",
        "_flush_scheduled",
        "_framing",
        "_head",
        "_head_ns",
        "_loop",
        "_pending",
        "_pending_size",
        "_plain_chunks",
        "_request_done",
        "_state",
        "_status",
        "_stepping",
        "_timer",
        "_trailer_lines",
        "_trailers",
        "_transport",
        "_waiters",
        "_whole_response",
        "_wire_done",
        "_writing_paused",
        "app_done",
        "disconnected",
        "interim",
        "scope",
    )

    def __init__(self, transport: InMemoryTransport, scope: Scope, expect_continue: bool) -> None:
        self._transport = transport
        self._loop = transport.loop
        # ASGI extensions: exactly what this cycle implements (see _extensions.py), in
        # the parser's empty dict.
        extensions = scope["extensions"]
        extensions["http.response.trailers"] = {}
        extensions["http.response.pathsend"] = {}
        extensions["http.response.early_hint"] = {}
        self.scope = scope
        self._decoder: RequestDecoder | None = None
        self._decode_error: RequestParseError | None = None
        if transport.decompress_requests:
            found = request_decoder(scope["headers"])
            if found is not None:
                self._decoder, scope["headers"] = found
        self._expect_continue = expect_continue
        # A deque: 1 MiB of tiny chunks is a million pieces (see _BODY_HIGH_WATER).
        self._body: deque[bytes | memoryview] = deque()
        self._body_buffered = 0
        self._body_complete = False
        self._request_done = False  # receive() returned the last http.request
        self._waiters: list[asyncio.Future[None]] = []
        self._writing_paused = False
        self._state = _NOT_STARTED
        self._head = b""  # the response head while it is held (b"" once delivered)
        self._whole_response: bytes | None = None
        self._pending: list[bytes] = []  # body pieces coalesced until the step ends
        self._pending_size = 0
        # A flush is owed: when the app's step ends (see _app_steps) or, for a send()
        # from another task, by a loop callback.
        self._flush_scheduled = False
        self._stepping = False  # the app's own task is running (see _app_steps)
        # A plain chunked body is streaming (no trailers, no path send, a body message
        # accepted, client connected and reading): send()'s inlined path relies on it.
        self._plain_chunks = False
        self._framing = BODY_CHUNKED
        self._content_remaining = 0
        self._trailers = 0
        self._trailer_lines = b""
        # The response's last byte reached the client (its framing says it is
        # complete): the client may reuse the connection from then on.
        self._wire_done = False
        self._body_kind = 0
        self.disconnected = False
        self.app_done = False
        self.interim = False
        # The load tester's timer (connector._app_timer), usually None: see _wire_complete.
        self._timer = transport._connector._app_timer

    # -- ASGI send --------------------------------------------------------------------

    def client_paused_reading(self) -> None:
        """aiohttp's buffer is full: body pieces must take the path that waits."""
        self._plain_chunks = False  # set again by _send_body_fast once reading resumes

    async def send(self, message: Message) -> None:
        """ASGI send. The common body messages (a coalesced piece, a whole body that is
        held) take a short path with no nested coroutine; errors come from the long one."""
        if type(message) is dict and message.get("type") == "http.response.body":
            if self._plain_chunks and message.get("more_body") is True:
                # _hold() inlined for the hottest case, a middle piece of a chunked
                # plain body: ~0.15 us per send less (stream-1000).
                body = message.get("body", b"")
                if type(body) is bytes:
                    size = self._pending_size + len(body)
                    if size < _COALESCE_LIMIT:
                        if body:
                            self._pending.append(body)
                            self._pending_size = size
                            if not self._flush_scheduled:
                                self._schedule_flush()
                        return
            if not self.disconnected and self._send_body_fast(message):
                return
        try:
            message_type = message["type"]
        except (TypeError, KeyError):
            raise ASGIProtocolError(
                f"ASGI message must be a dict with a 'type' key, got {message!r:.200}"
            ) from None
        if self.disconnected and not self._wire_done:
            # ASGI HTTP spec 2.4: send() after the client left raises an OSError subclass.
            # (A client that closed after reading the whole response did not leave early:
            # the rest of the app's messages are checked, and dropped, as before.)
            raise ClientDisconnectedError("the client disconnected")
        if message_type == "http.response.body":
            await self._send_body(message)
        elif message_type == "http.response.start":
            self._send_start(message)
        elif self._state == _COMPLETE:
            raise ASGIProtocolError(
                f"unexpected ASGI message {message_type!r} after the response completed"
            )
        elif message_type == "http.response.pathsend":
            await self._send_path(message)
        elif message_type == "http.response.trailers":
            await self._send_trailers(message)
        elif message_type == "http.response.early_hint":
            self._send_early_hint(message)
        else:
            raise ASGIProtocolError(
                f"unexpected ASGI message type {message_type!r} in an http scope; "
                "expected 'http.response.start', 'http.response.body' or an advertised "
                f"extension ({', '.join(self.scope['extensions'])})"
            )

    def _send_body_fast(self, message: Message) -> bool:
        """The common body messages without a coroutine: a middle piece that is
        coalesced, or the whole body of a held response. False: use _send_body, which
        makes the same checks (and raises the errors)."""
        state = self._state
        body = message.get("body", b"")
        if (
            type(body) is not bytes
            or self._trailers
            or self._body_kind == _PATHSEND
            or (state != _START_PENDING and state != _STREAMING)
        ):
            return False
        size = len(body)
        framing = self._framing
        more_body = message.get("more_body", False)
        if more_body is True:
            if (
                self._pending_size + size >= _COALESCE_LIMIT
                or (framing != BODY_CHUNKED and size > self._content_remaining)
                or self._transport.reading_paused  # _send_body waits first
            ):
                return False
            if framing != BODY_CHUNKED:
                self._content_remaining -= size
            self._body_kind = _BODY_MESSAGES
            # Until the response ends or the client leaves or stops reading:
            self._plain_chunks = framing == BODY_CHUNKED
            if size:
                self._hold(body)
            return True
        if (
            more_body is not False
            or state != _START_PENDING
            or self._pending
            or (framing != BODY_CHUNKED and size != self._content_remaining)
        ):
            return False
        # The whole body in the step that started the response (see _send_start).
        self._body_kind = _BODY_MESSAGES
        self._state = _COMPLETE
        self._plain_chunks = False
        if framing == BODY_CHUNKED:  # the whole body is known: a Content-Length
            self._whole_response = self._length_head(size) + body
        else:
            self._content_remaining = 0
            self._whole_response = self._head + body
        self._drop_body()
        self._wake()  # pending receive() calls now return http.disconnect
        return True

    def _send_start(self, message: Message) -> None:
        if self._state != _NOT_STARTED:
            raise ASGIProtocolError(
                "'http.response.start' sent twice"
                if self._state != _COMPLETE
                else "'http.response.start' sent after the response completed"
            )
        try:
            status = message["status"]
        except KeyError:
            raise ASGIProtocolError("'http.response.start' is missing 'status'") from None
        trailers = message.get("trailers", False)
        if trailers is not True and trailers is not False:
            raise ASGIProtocolError(
                f"'http.response.start' trailers must be a bool, got {type(trailers).__name__}"
            )
        head, framing = encode_response_head(
            status,
            message.get("headers", ()),
            head_request=self.scope["method"] == "HEAD",
            body_length=-1,
        )
        if trailers:
            head = self._promise_trailers(head, framing)
        if self._expect_continue:
            # The client still waits for 100 Continue and may never send the body: the
            # connection ends with this response, which says so (RFC 9110 §10.1.1).
            self._transport.close_after_response()
        if not self._transport.keep_alive:
            head = close_head(head)
            self._transport.response_says_close()
        self._head = head
        self._framing = framing
        # An interim (1xx, not 101) status cannot end a response: aiohttp keeps waiting
        # for the final one, so the connection is closed once this "response" completes.
        self.interim = status < 200 and status != 101
        self._content_remaining = framing
        self._state = _START_PENDING
        if self._timer is not None:
            self._status = status
            self._head_ns = perf_counter_ns()
        # ASGI lets a server hold the head until the first body message ("leaving room
        # to substitute an error response"): a single-message body gets a Content-Length,
        # and a whole response is held until the app's current step ends, so an app that
        # sends an error page and then raises (Starlette's ServerErrorMiddleware) can
        # still propagate its exception. An app that pauses between start and body gets
        # its head to the client as it pauses.
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        """Owe a flush of what is held: at the end of the app's step (_app_steps), or
        from the loop when a task other than the app's sent (a framework's child task).
        (The hot paths check _flush_scheduled first, sparing the call.)"""
        if self._flush_scheduled:
            return
        self._flush_scheduled = True
        if not self._stepping:
            self._loop.call_soon(self._flush_pending)

    def _flush_pending(self) -> None:
        """The app's step ended: deliver what it held back (see _send_start)."""
        self._flush_scheduled = False
        if self.disconnected or self._wire_done:
            return
        whole = self._whole_response
        if whole is not None:
            self._whole_response = None
            self._head = b""
            self._transport.deliver(whole)
            self._wire_complete()
        elif self._pending or self._head:
            self._deliver_held()

    def _wire_complete(self) -> None:
        """The response's last byte reached the client: aiohttp may reuse the
        connection now (unless it closes, see InMemoryTransport.response_complete),
        whether or not the app has sent its final message yet."""
        if not self._wire_done:
            self._wire_done = True
            self._transport.response_complete(self)
            timer = self._timer
            if timer is not None:
                called = self._called_ns
                timer((self._status, (self._head_ns - called) // 1000,
                       (perf_counter_ns() - called) // 1000))

    async def _send_body(self, message: Message, path_send: bool = False) -> None:
        state = self._state
        if state != _START_PENDING and state != _STREAMING:
            raise ASGIProtocolError(
                "'http.response.body' sent before 'http.response.start'"
                if state == _NOT_STARTED
                else "'http.response.body' sent after the response completed"
                if state == _COMPLETE
                else "'http.response.body' sent after the final body; the response "
                "promised 'http.response.trailers'"
            )
        if self._body_kind != _BODY_MESSAGES:
            if self._body_kind == _PATHSEND and not path_send:
                raise ASGIProtocolError(
                    "'http.response.body' sent after 'http.response.pathsend'"
                )
            self._body_kind = _PATHSEND if path_send else _BODY_MESSAGES
        body = message.get("body", b"")
        if type(body) is not bytes:
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise ASGIProtocolError(
                    f"'http.response.body' body must be bytes, got {type(body).__name__}"
                )
            body = bytes(body)
        more_body = message.get("more_body", False)
        if more_body is not True and more_body is not False:
            raise ASGIProtocolError(
                f"'http.response.body' more_body must be a bool, got {type(more_body).__name__}"
            )
        framing = self._framing
        if framing >= 0:  # Content-Length: RFC 9112 §6.3 the body is exactly that long
            remaining = self._content_remaining - len(body)
            if remaining < 0:
                raise ASGIProtocolError(
                    f"response body is longer than its Content-Length ({framing} bytes)"
                )
            if not more_body and remaining:
                raise ASGIProtocolError(
                    f"response body ended {remaining} bytes short of its "
                    f"Content-Length ({framing} bytes)"
                )
            self._content_remaining = remaining
        elif framing != BODY_CHUNKED:  # BODY_NONE: HEAD, 1xx, 204, 304 (RFC 9110 §6.4.1)
            body = b""
        if more_body:
            # Coalesce: the client cannot run before the app's task yields, so pieces
            # sent in one step are delivered together when it does (_flush_pending), as
            # TCP coalesces small writes; past _COALESCE_LIMIT they go at once, behind
            # the client's backpressure.
            if body:
                if self._transport.reading_paused:
                    # The client's buffer is full: wait before taking more (what is
                    # pending already is bounded by _COALESCE_LIMIT).
                    await self._backpressure()
                self._hold(body)
                if self._pending_size >= _COALESCE_LIMIT:
                    if self._transport.reading_paused:
                        await self._backpressure()
                    self._deliver_held()
            return
        if self._trailers:
            self._end_body_for_trailers(body)
            return
        self._state = _COMPLETE
        self._plain_chunks = False
        pending = self._pending
        if pending:
            pending.append(body)
            body = b"".join(pending)
            self._pending = []
            self._pending_size = 0
        if state == _START_PENDING:
            # The whole response in one step: held for _flush_pending (see _send_start).
            if framing == BODY_CHUNKED:  # the whole body is known: a Content-Length
                self._head = self._length_head(len(body))
            self._whole_response = self._head + body
            self._drop_body()
            self._wake()  # pending receive() calls now return http.disconnect
            return
        if framing == BODY_CHUNKED:
            body = (encode_chunk(body) + LAST_CHUNK) if body else LAST_CHUNK
        transport = self._transport
        if body:
            if transport.reading_paused:
                await self._backpressure()
            transport.deliver(body)
        self._drop_body()
        self._wake()  # pending receive() calls now return http.disconnect
        self._wire_complete()

    def _hold(self, body: bytes) -> None:
        """Coalesce a body piece until the app's step ends (see _send_body)."""
        self._pending.append(body)
        self._pending_size += len(body)
        if not self._flush_scheduled:
            self._schedule_flush()

    def _deliver_pending(self) -> None:
        """Deliver the held head (if any) and the coalesced body pieces."""
        pending = self._pending
        if pending:
            # One chunk, RFC 9112 §7.1 (a trailer section needs chunks, see _promise_trailers)
            if self._framing == BODY_CHUNKED or self._trailers == _SEND_TRAILERS:
                pending.insert(0, b"%x\r\n" % self._pending_size)
                pending.append(b"\r\n")
            data = pending[0] if len(pending) == 1 else b"".join(pending)
            self._pending = []
            self._pending_size = 0
        else:
            data = b""
        head = self._head
        if head:
            self._head = b""
            data = head + data
            if self._state == _START_PENDING:
                self._state = _STREAMING
        if data:
            self._transport.deliver(data)

    def _deliver_held(self) -> None:
        """``_deliver_pending``, then note whether that ended the response on the wire:
        no body (RFC 9110 §6.4.1), or all of its Content-Length (RFC 9112 §6.3)."""
        self._deliver_pending()
        framing = self._framing
        if self._trailers != _SEND_TRAILERS and (
            framing == BODY_NONE or (framing >= 0 and not self._content_remaining)
        ):
            self._wire_complete()

    async def _backpressure(self) -> None:
        await self._transport.wait_reading_resumed()  # the client's buffer is full
        if self.disconnected:
            raise ClientDisconnectedError("the client disconnected")
