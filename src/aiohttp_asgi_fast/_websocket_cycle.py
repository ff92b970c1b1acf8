"""One WebSocket connection: the ASGI ``websocket`` receive/send pair and the app task body.

The opening handshake (RFC 6455 §4.2) completes when the app sends ``websocket.accept``;
``websocket.close`` before that becomes a 403 and ``websocket.http.response.*`` (the
denial extension) any HTTP response. Afterwards client frames arrive through
``feed_frames`` and app messages leave as server frames. Rules enforced are the ASGI
WebSocket message format 2.5 and RFC 6455.

A ``websocket.close`` before accept is not validated: its code and reason are never sent
(the client gets a plain 403, as from uvicorn), so FastAPI's validation handler, which
puts a list in ``reason``, or a code such as 1006 still refuse the connection. After
accept they are checked, since they go into the close frame. Errors name the message
that broke a rule (``websocket.accept``, ``websocket.http.response.start``, ...), not the
HTTP message whose head encoder they share.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any, Final, cast

from ._extensions import header_pairs
from ._framing import INTERNAL_ERROR_RESPONSE, MAX_STATUS
from ._hotpath import encode_response_head
from ._waiters import Waiters
from ._websocket_frames import (
    MAX_CLOSE_REASON,
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    WebSocketProtocolError,
    accept_key,
    close_payload,
    encode_frame,
    is_sendable_close_code,
)
from .exceptions import ASGIAppError, ASGIProtocolError, ClientDisconnectedError

if TYPE_CHECKING:
    from ._transport import InMemoryTransport
    from ._types import ASGIApp, Message, Scope

__all__ = ("WebSocketCycle",)

logger: Final = logging.getLogger("aiohttp_asgi_fast")

# Connection states.
_CONNECTING: Final = 0  # handshake pending: the app has not accepted or refused yet
_RESPONDING: Final = 1  # websocket.http.response.start sent, body in progress
_OPEN: Final = 2
_CLOSING: Final = 3  # the server sent its close frame, the client's has not come yet
_CLOSED: Final = 4

CLOSE_ABNORMAL: Final = 1006  # the connection dropped without a close frame (§7.1.5)
CLOSE_INTERNAL_ERROR: Final = 1011

# Headers the server owns in a 101 response (RFC 6455 §4.2.2); the subprotocol goes
# through websocket.accept's "subprotocol" (ASGI), no extension is negotiated.
_SERVER_HEADERS: Final = frozenset(
    (b"upgrade", b"connection", b"sec-websocket-accept", b"sec-websocket-protocol",
     b"sec-websocket-extensions")
)

# Client messages buffered towards the app: past HIGH the client's writer is paused.
_INBOX_HIGH_WATER: Final = 1 << 20
_INBOX_LOW_WATER: Final = 1 << 18

# Frames delivered without a loop turn before send() yields once (see _send_data).
_YIELD_EVERY: Final = 1 << 18

_FORBIDDEN: Final = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n"


def _plain_response(status: bytes, text: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %s\r\ncontent-type: text/plain; charset=utf-8\r\n%s" \
        b"content-length: %d\r\n\r\n%s" % (status, extra, len(text), text)


def _header_value(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


class WebSocketCycle(Waiters):
    """Per-connection state shared by ``receive``, ``send`` and the app task."""

    interim = False  # the transport's RequestCycle interface

    def __init__(self, transport: InMemoryTransport, scope: Scope) -> None:
        self._transport = transport
        self._loop = transport.loop
        self.scope = scope
        scope["extensions"] = {"websocket.http.response": {}}
        self._state = _CONNECTING
        self._connect_delivered = False
        self._close_sent = False
        self._reader = FrameReader()
        self._inbox: deque[Message] = deque()
        self._inbox_size = 0
        self._writing_paused = False
        self._unyielded = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._disconnect: Message | None = None
        self._pending_error: BaseException | None = None
        self._denial: tuple[Any, Any] | None = None
        self._denial_body: list[bytes] = []

    # -- events from the connection -------------------------------------------------

    def feed_body(self, body: bytes | memoryview) -> None:
        return None  # a GET handshake has no body

    def body_complete(self) -> None:
        return None

    def feed_frames(self, data: bytes) -> None:
        """Bytes the client wrote after the handshake request."""
        error = self._pending_error
        if error is not None:
            # The app failed after accepting (close 1011 sent): its exception is what
            # the client's next write (often its close reply) raises.
            self._pending_error = None
            self._loop.call_soon(self._transport.close_from_server)
            raise error
        if self._state == _CLOSED or not data:
            return
        try:
            events = self._reader.feed(data)
        except WebSocketProtocolError as exc:
            logger.warning("WebSocket client broke RFC 6455: %s", exc)
            self._fail_connection(exc.code, str(exc))
            return
        for opcode, value, reason in events:
            if opcode == OP_TEXT:
                self._push({"type": "websocket.receive", "text": value}, len(value))  # type: ignore[arg-type]
            elif opcode == OP_BINARY:
                self._push({"type": "websocket.receive", "bytes": value}, len(value))  # type: ignore[arg-type]
            elif opcode == OP_PING:  # §5.5.2: answer with a pong carrying the same data
                self._loop.call_soon(self._send_control, OP_PONG, cast(bytes, value))
            elif opcode == OP_CLOSE:
                self._client_closed(cast(int, value), reason)
                return

    def client_disconnected(self) -> None:
        """The connection is gone (client closed it, session closed, timeout)."""
        if self._disconnect is None:
            self._disconnect = {"type": "websocket.disconnect", "code": CLOSE_ABNORMAL,
                                "reason": ""}
        self._state = _CLOSED
        self._resume_client()
        self._wake()

    def _push(self, message: Message, size: int) -> None:
        if self._state != _OPEN:
            return  # after the app's close, data frames are ignored (RFC 6455 §5.5.1)
        self._inbox.append(message)
        self._inbox_size += size
        if not self._writing_paused and self._inbox_size > _INBOX_HIGH_WATER:
            self._writing_paused = True
            self._transport.pause_client_writing()
        self._wake()

    def _client_closed(self, code: int, reason: str) -> None:
        if self._state == _OPEN:
            # §5.5.1: answer a close frame with one, echoing the status code.
            self._loop.call_soon(self._send_control, OP_CLOSE, close_payload(code, b""))
        self._close_sent = True
        self._state = _CLOSED
        self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
        self._wake()
        # §7.1.1: once both close frames are exchanged the server closes the connection.
        self._loop.call_soon(self._transport.close_from_server)

    def _fail_connection(self, code: int, message: str) -> None:
        self._send_control(OP_CLOSE, close_payload(code, message.encode()[:MAX_CLOSE_REASON]))
        self._close_sent = True
        self._state = _CLOSED
        self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": ""}
        self._wake()
        self._loop.call_soon(self._transport.close_from_server)

    def _send_control(self, opcode: int, payload: bytes) -> None:
        if opcode != OP_CLOSE and self._close_sent:
            return  # nothing may follow a close frame (§5.5.1)
        self._transport.deliver(encode_frame(opcode, payload))

    def _resume_client(self) -> None:
        if self._writing_paused:
            self._writing_paused = False
            self._transport.resume_client_writing()

    # -- ASGI receive -----------------------------------------------------------------

    async def receive(self) -> Message:
        while True:
            if not self._connect_delivered:
                self._connect_delivered = True
                return {"type": "websocket.connect"}
            inbox = self._inbox
            if inbox and self._state != _CONNECTING:
                message = inbox.popleft()
                self._inbox_size -= len(message.get("text") or message.get("bytes") or b"")
                if self._writing_paused and self._inbox_size < _INBOX_LOW_WATER:
                    self._resume_client()
                return message
            if self._disconnect is not None:
                return dict(self._disconnect)
            await self._wait()

    # -- ASGI send --------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        try:
            message_type = message["type"]
        except (TypeError, KeyError):
            raise ASGIProtocolError(
                f"ASGI message must be a dict with a 'type' key, got {message!r:.200}"
            ) from None
        state = self._state
        if state >= _CLOSING:
            # ASGI spec 2.4: send() on a closed connection raises an OSError subclass.
            raise ClientDisconnectedError(f"the WebSocket is closed; cannot send {message_type!r}")
        if state == _OPEN:
            if message_type == "websocket.send":
                await self._send_data(message)
            elif message_type == "websocket.close":
                code, reason = _close_fields(message)
                self._state = _CLOSING
                self._send_control(OP_CLOSE, close_payload(code, reason))
                self._close_sent = True
            else:
                raise _unexpected(message_type, "after 'websocket.accept'",
                                  "'websocket.send' or 'websocket.close'")
        elif state == _CONNECTING:
            if message_type == "websocket.accept":
                self._accept(message)
            elif message_type == "websocket.close":
                # ASGI: a close before accept becomes an HTTP 403. Its code and reason are
                # never sent, so they are not validated (uvicorn ignores them too).
                self._respond_and_close(_FORBIDDEN)
            elif message_type == "websocket.http.response.start":
                status = message.get("status")
                if status.__class__ is bool or not isinstance(status, int) or not (
                    200 <= status <= MAX_STATUS
                ):
                    raise ASGIProtocolError(
                        f"'websocket.http.response.start' status must be an int of 200 or "
                        f"more (at most {MAX_STATUS}), got {status!r:.100}"
                    )
                headers = header_pairs(message_type, message.get("headers", ()))
                _encode_head(message_type, status, headers, body_length=0)
                self._denial = (status, headers)
                self._state = _RESPONDING
            else:
                raise _unexpected(message_type, "before the handshake completed",
                                  "'websocket.accept', 'websocket.close' or "
                                  "'websocket.http.response.start'")
        elif message_type == "websocket.http.response.body":  # _RESPONDING
            self._send_denial_body(message)
        else:
            raise _unexpected(message_type, "after 'websocket.http.response.start'",
                              "'websocket.http.response.body'")

    def _accept(self, message: Message) -> None:
        subprotocol = message.get("subprotocol")
        extra = message.get("headers") or ()
        headers: list[tuple[bytes, bytes]] = [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", accept_key(self._key or b"")),
        ]
        if subprotocol is not None:
            # RFC 6455 §4.2.2: the selected subprotocol is one the client offered.
            if not isinstance(subprotocol, str) or subprotocol not in self.scope["subprotocols"]:
                raise ASGIProtocolError(
                    f"'websocket.accept' subprotocol {subprotocol!r} was not offered by the "
                    f"client (offered: {self.scope['subprotocols']!r})"
                )
            headers.append((b"sec-websocket-protocol", subprotocol.encode("latin-1")))
        extra = header_pairs("websocket.accept", extra)
        for name, _ in extra:
            if name.lower() in _SERVER_HEADERS:
                raise ASGIProtocolError(
                    f"'websocket.accept' headers must not set {name!r}: the server owns it "
                    "(use 'subprotocol' for Sec-WebSocket-Protocol)"
                )
        head, _ = _encode_head("websocket.accept", 101, headers + extra, body_length=-1)
        self._state = _OPEN
        self._transport.deliver(head)
        self._wake()  # frames that arrived early are now receivable

    async def _send_data(self, message: Message) -> None:
        data = message.get("bytes")
        text = message.get("text")
        if (data is None) == (text is None):
            raise ASGIProtocolError(
                "'websocket.send' needs exactly one of 'bytes' and 'text' that is not None, "
                f"got {message!r:.200}"
            )
        if text is not None:
            if not isinstance(text, str):
                raise ASGIProtocolError(
                    f"'websocket.send' text must be a str, got {type(text).__name__}"
                )
            frame = encode_frame(OP_TEXT, text.encode("utf-8"))
        else:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise ASGIProtocolError(
                    f"'websocket.send' bytes must be bytes, got {type(data).__name__}"
                )
            frame = encode_frame(OP_BINARY, bytes(data))
        transport = self._transport
        if transport.reading_paused:
            await transport.wait_reading_resumed()  # backpressure from the client
        elif self._unyielded > _YIELD_EVERY:
            # Until aiohttp's client installs its WebSocket reader (it needs a loop turn
            # after the 101) frames are buffered without flow control: let it run.
            await asyncio.sleep(0)
        else:
            self._unyielded += len(frame)
            transport.deliver(frame)
            return
        self._unyielded = 0
        if self._state != _OPEN:
            raise ClientDisconnectedError("the WebSocket closed while send() waited")
        transport.deliver(frame)

    def _send_denial_body(self, message: Message) -> None:
        body = message.get("body", b"")
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise ASGIProtocolError(
                f"'websocket.http.response.body' body must be bytes, got {type(body).__name__}"
            )
        more_body = message.get("more_body", False)
        if more_body is not True and more_body is not False:
            raise ASGIProtocolError("'websocket.http.response.body' more_body must be a bool")
        self._denial_body.append(bytes(body))
        if more_body:
            return
        assert self._denial is not None
        status, headers = self._denial
        body = b"".join(self._denial_body)
        self._denial_body = []
        head, framing = _encode_head(
            "websocket.http.response.start", status, headers, body_length=len(body)
        )
        if framing >= 0 and framing != len(body):
            raise ASGIProtocolError(
                f"'websocket.http.response.body' messages carried {len(body)} bytes but "
                f"'websocket.http.response.start' gave Content-Length {framing}"
            )
        self._respond_and_close(head + (body if framing >= 0 else b""))

    def _respond_and_close(self, response: bytes) -> None:
        """Answer the handshake with an HTTP response; the connection then closes."""
        self._state = _CLOSED
        self._close_sent = True
        self._disconnect = {"type": "websocket.disconnect", "code": CLOSE_ABNORMAL, "reason": ""}
        self._transport.deliver(response)
        self._transport.close_from_server()
        self._wake()

    @property
    def _key(self) -> bytes | None:
        return _header_value(self.scope, b"sec-websocket-key")

    # -- the app task -------------------------------------------------------------------

    async def run(self, app: ASGIApp, propagate_exceptions: bool) -> None:
        refusal = self._check_handshake()
        if refusal is not None:
            self._finish()
            self._respond_and_close(refusal)
            return
        try:
            await app(self.scope, self.receive, self.send)
        except asyncio.CancelledError:
            self._finish()
            raise
        except BaseException as exc:
            self._finish()
            self._app_failed(exc, propagate_exceptions)
            if not isinstance(exc, Exception):
                raise
        else:
            self._finish()
            state = self._state
            if state == _OPEN:
                # The app returned without closing: close normally (RFC 6455 §7.4.1).
                self._state = _CLOSING
                self._send_control(OP_CLOSE, close_payload(1000, b""))
                self._close_sent = True
            elif state < _OPEN:
                self._app_failed(
                    ASGIAppError(
                        "ASGI application returned without accepting or closing the WebSocket"
                        if state == _CONNECTING
                        else "ASGI application returned without completing its "
                        "'websocket.http.response' body"
                    ),
                    propagate_exceptions,
                )

    def _check_handshake(self) -> bytes | None:
        """An HTTP refusal for a malformed opening handshake (RFC 6455 §4.2.1, §4.4)."""
        if _header_value(self.scope, b"sec-websocket-version") != b"13":
            return _plain_response(b"426 Upgrade Required", b"WebSocket version 13 required",
                                   b"sec-websocket-version: 13\r\n")
        if not self._key:
            return _plain_response(b"400 Bad Request", b"missing Sec-WebSocket-Key")
        return None

    def _finish(self) -> None:
        self._inbox.clear()
        self._inbox_size = 0
        self._resume_client()
        self._transport.app_finished(self)

    def _app_failed(self, exc: BaseException, propagate_exceptions: bool) -> None:
        state = self._state
        if state >= _CLOSING:
            if not isinstance(exc, ClientDisconnectedError):
                logger.error("Exception in ASGI WebSocket application after close", exc_info=exc)
            return
        if state == _OPEN:
            # ASGI: if the app dies the socket closes; 1011 = internal error (§7.4.1).
            logger.error("Exception in ASGI WebSocket application", exc_info=exc)
            reason = f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")[:MAX_CLOSE_REASON]
            self._state = _CLOSING
            self._send_control(OP_CLOSE, close_payload(CLOSE_INTERNAL_ERROR, reason))
            self._close_sent = True
            if propagate_exceptions:
                self._pending_error = exc
            return
        # Handshake not completed: as for HTTP, before the response started.
        if propagate_exceptions:
            self._state = _CLOSED
            self._transport.fail_pending_response(exc)
        else:
            logger.error("Exception in ASGI WebSocket application", exc_info=exc)
            self._respond_and_close(INTERNAL_ERROR_RESPONSE)


def _close_fields(message: Message) -> tuple[int, bytes]:
    code = message.get("code", 1000)
    if code is None:
        code = 1000
    reason = message.get("reason") or ""
    if code.__class__ is not int or not is_sendable_close_code(code):
        raise ASGIProtocolError(
            f"'websocket.close' code must be 1000-1003, 1007-1014 or 3000-4999 "
            f"(RFC 6455 §7.4), got {code!r}"
        )
    if not isinstance(reason, str):
        raise ASGIProtocolError(f"'websocket.close' reason must be a str, got {reason!r:.100}")
    encoded = reason.encode("utf-8")
    if len(encoded) > MAX_CLOSE_REASON:
        raise ASGIProtocolError(
            f"'websocket.close' reason is {len(encoded)} bytes in UTF-8; at most "
            f"{MAX_CLOSE_REASON} fit in a close frame (RFC 6455 §5.5)"
        )
    return code, encoded


def _encode_head(
    message_type: str, status: int, headers: list[tuple[bytes, bytes]], body_length: int
) -> tuple[bytes, int]:
    """``encode_response_head`` for a WebSocket message; its errors name ``message_type``."""
    try:
        return encode_response_head(status, headers, head_request=False, body_length=body_length)
    except ASGIProtocolError as exc:
        raise ASGIProtocolError(f"'{message_type}': {exc}") from None


def _unexpected(message_type: object, when: str, expected: str) -> ASGIProtocolError:
    return ASGIProtocolError(
        f"unexpected ASGI message {message_type!r} {when} in a websocket scope; "
        f"expected {expected}"
    )

