"""The ASGI HTTP extensions ``RequestCycle`` serves, and the response states it shares.

ASGI spec, "Extensions": HTTP Trailers, Path Send and Early Hints, all three in
``scope["extensions"]``; early hints because aiohttp's client (3.8 to 3.14, llhttp
and pure-Python parsers alike) skips any number of 103 responses before the final
one. Framing follows RFC 9110 and RFC 9112; every check raises ``ASGIProtocolError``
before a byte is sent.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any, Final, cast

from ._aiohttp_compat import client_parses_trailers
from ._framing import BODY_CHUNKED, BODY_NONE, TCHAR, VALUE_FORBIDDEN
from .exceptions import ASGIProtocolError, ClientDisconnectedError

if TYPE_CHECKING:
    import asyncio

    from ._transport import InMemoryTransport
    from ._types import Message, Scope

__all__ = (
    "AWAIT_TRAILERS",
    "BODY_MESSAGES",
    "CLIENT_PARSES_TRAILERS",
    "COMPLETE",
    "NOT_STARTED",
    "PATHSEND",
    "SEND_TRAILERS",
    "START_PENDING",
    "STREAMING",
    "ExtensionSends",
)

# RequestCycle's response states.
NOT_STARTED: Final = 0
START_PENDING: Final = 1  # http.response.start received, head not yet delivered
STREAMING: Final = 2  # head delivered, body in progress
COMPLETE: Final = 3
AWAIT_TRAILERS: Final = 4  # final body sent, trailers promised (a chunked body's end waits)

# http.response.start "trailers": True (ASGI HTTP Trailers).
DROP_TRAILERS: Final = 1  # validated, not sent: no "TE: trailers", or no body
SEND_TRAILERS: Final = 2  # a chunked trailer section, RFC 9112 §7.1.2

# What carries the response body: http.response.body messages or a path send.
BODY_MESSAGES: Final = 1
PATHSEND: Final = 2

CHUNKED_TAIL_LEN: Final = len(b"transfer-encoding: chunked\r\n\r\n")

# Path Send: the file is read in pieces this size, each one going through the body
# path and its backpressure, so a slow client keeps memory bounded.
PATHSEND_READ_SIZE: Final = 64 * 1024

# ASGI: header names are lower-case; RFC 9110 §5.6.2 tokens.
_LOWER_TCHAR: Final = bytes(sorted(c for c in TCHAR if not 0x41 <= c <= 0x5A))
_VALUE_BAD: Final = re.compile(
    b"[" + b"".join(b"\\x%02x" % c for c in sorted(VALUE_FORBIDDEN)) + b"]"
).search
# RFC 9110 §6.5.1: framing fields cannot be trailers (our request parser rejects
# them in a trailer section too, as llhttp does).
_NOT_TRAILERS: Final = frozenset((b"content-length", b"transfer-encoding"))
_EARLY_HINTS: Final = b"HTTP/1.1 103 Early Hints\r\n"


#: Whether a trailer section can be sent to this process's aiohttp client.
CLIENT_PARSES_TRAILERS: Final = client_parses_trailers()


def accepts_trailers(scope_headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """True if the request has ``TE: trailers`` (RFC 9110 §10.1.4)."""
    for name, value in scope_headers:
        if name == b"te":
            for item in value.split(b","):
                if item.partition(b";")[0].strip(b" \t").lower() == b"trailers":
                    return True
    return False


def header_pairs(message_type: str, headers: object) -> list[tuple[bytes, bytes]]:
    """The ``headers`` of a ``message_type`` message as a list of (bytes, bytes) pairs,
    or an ASGIProtocolError naming that message type (ASGI: an iterable of pairs)."""
    if not isinstance(headers, (str, bytes, bytearray, memoryview)):  # not per character
        try:
            items = list(cast(Iterable[Any], headers))
        except TypeError:
            pass
        else:
            for item in items:
                if not isinstance(item, (tuple, list)) or len(item) != 2:
                    raise ASGIProtocolError(
                        f"'{message_type}' header must be a [name, value] pair, "
                        f"got {item!r:.200}"
                    )
                name, value = item
                if not isinstance(name, bytes) or not isinstance(value, bytes):
                    raise ASGIProtocolError(
                        f"'{message_type}' header names and values must be bytes, "
                        f"got {name!r:.100}: {value!r:.100}"
                    )
            return items
    raise ASGIProtocolError(
        f"'{message_type}' headers must be an iterable of [name, value] pairs, "
        f"got {headers!r:.200}"
    )


def trailer_fields(headers: object) -> bytes:
    """Validate an ``http.response.trailers`` 'headers'; return its field lines."""
    lines: list[bytes] = []
    for name, value in header_pairs("http.response.trailers", headers):
        if not name or name.translate(None, _LOWER_TCHAR):
            raise ASGIProtocolError(
                f"invalid trailer name {name!r:.100}: must be a lower-case RFC 9110 §5.6.2 "
                f"token (ASGI trailer names are lower-cased)"
            )
        if _VALUE_BAD(value):
            raise ASGIProtocolError(
                f"invalid value for trailer {name!r:.100}: CR, LF, NUL and other control "
                f"characters are not allowed (RFC 9110 §5.5)"
            )
        if name in _NOT_TRAILERS:
            raise ASGIProtocolError(
                f"{name.decode()} cannot be sent as a trailer (RFC 9110 §6.5.1)"
            )
        lines += (name, b": ", value, b"\r\n")
    return b"".join(lines)


def early_hint(links: object) -> bytes:
    """Validate ``http.response.early_hint`` links; return the 103 response (RFC 8297)."""
    if isinstance(links, (bytes, bytearray, str)) or not isinstance(links, Iterable):
        raise ASGIProtocolError(
            f"'http.response.early_hint' links must be an iterable of bytes, "
            f"got {links!r:.200}"
        )
    parts = [_EARLY_HINTS]
    for link in links:
        if not isinstance(link, bytes):
            raise ASGIProtocolError(
                f"'http.response.early_hint' links must be bytes, got {link!r:.200}"
            )
        if _VALUE_BAD(link):
            raise ASGIProtocolError(
                f"invalid early hint link {link!r:.200}: CR, LF, NUL and other control "
                f"characters are not allowed (RFC 9110 §5.5)"
            )
        parts += (b"link: ", link, b"\r\n")
    if len(parts) == 1:
        return b""  # no links: nothing worth a 103
    parts.append(b"\r\n")
    return b"".join(parts)


def open_pathsend(path: object) -> tuple[IO[bytes], int]:
    """Open the file of an ``http.response.pathsend``; return it and its size.

    ASGI Path Send asks for an absolute path as a str. A relative one (Starlette's
    ``FileResponse("image.png")``) is resolved against the current directory when it
    is sent, as Granian and uvicorn's file reading do. A missing or unreadable file
    raises the OSError of ``open()``, which names the path.
    """
    if not isinstance(path, str) or not path or "\x00" in path:
        raise ASGIProtocolError(
            f"'http.response.pathsend' path must be a file path as a non-empty str "
            f"without NUL, got {path!r:.200}"
        )
    path = os.path.abspath(path)
    file = open(path, "rb")  # noqa: SIM115 - the caller closes it
    try:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"'http.response.pathsend' path is not a regular file: {path!r}")
    except BaseException:
        file.close()
        raise
    return file, info.st_size


def chunked_head(head: bytes) -> bytes:
    """``head`` with its Content-Length field(s) replaced by chunked framing.

    RFC 9112 §6.1: a sender must not send Content-Length with Transfer-Encoding;
    a trailer section needs the chunked coding (RFC 9112 §7.1.2).
    """
    lines = [
        line for line in head[:-4].split(b"\r\n")
        if line.partition(b":")[0].lower() != b"content-length"
    ]
    lines.append(b"transfer-encoding: chunked\r\n\r\n")
    return b"\r\n".join(lines)


def close_head(head: bytes) -> bytes:
    """``head`` (or a whole response) with ``connection: close`` after its status line:
    the server closes the connection after this response (RFC 9112 §9.6)."""
    end = head.index(b"\r\n") + 2
    return b"%sconnection: close\r\n%s" % (head[:end], head[end:])


def add_content_length(head: bytes, length: int) -> bytes:
    """``head`` with a Content-Length unless it has one (RFC 9110 §8.6: allowed on HEAD)."""
    if b"\r\ncontent-length:" in head.lower():
        return head
    return b"%scontent-length: %d\r\n\r\n" % (head[:-2], length)


class ExtensionSends:
    """RequestCycle's handlers of the extension messages (the state is RequestCycle's)."""

    if not TYPE_CHECKING:  # RequestCycle declares the slots these methods use
        __slots__ = ()
    else:
        scope: Scope
        interim: bool
        disconnected: bool
        _loop: asyncio.AbstractEventLoop
        _transport: InMemoryTransport
        _state: int
        _framing: int
        _content_remaining: int
        _head: bytes
        _trailers: int
        _trailer_lines: bytes
        _body_kind: int
        _pending_size: int
        _plain_chunks: bool
        _wire_done: bool

        def _hold(self, body: bytes) -> None: ...

        def _deliver_pending(self) -> None: ...

        def _wire_complete(self) -> None: ...

        async def _send_body(self, message: Message, path_send: bool = False) -> None: ...

        _whole_response: bytes | None

        async def _backpressure(self) -> None: ...

        def _drop_body(self) -> None: ...

        def _wake(self) -> None: ...

        def _flush_pending(self) -> None: ...

        _flush_scheduled: bool

        def _schedule_flush(self) -> None: ...

    def _length_head(self, length: int) -> bytes:
        """The held chunked head with a Content-Length instead (the body is known)."""
        return b"%scontent-length: %d\r\n\r\n" % (self._head[:-CHUNKED_TAIL_LEN], length)

    def _promise_trailers(self, head: bytes, framing: int) -> bytes:
        """http.response.start set trailers: choose to send or drop them; return the head."""
        # ASGI: send trailers only if the client sent "TE: trailers" (RFC 9110
        # §10.1.4); they need a chunked body (RFC 9112 §7.1.2), so not on HTTP/1.0,
        # HEAD, 1xx, 204 or 304 responses.
        self._trailers = DROP_TRAILERS
        if (
            framing != BODY_NONE
            and CLIENT_PARSES_TRAILERS
            and self.scope["http_version"] == "1.1"
            and accepts_trailers(self.scope["headers"])
        ):
            self._trailers = SEND_TRAILERS
            if framing >= 0:  # the app's Content-Length is still checked
                head = chunked_head(head)
        return head

    async def _send_path(self, message: Message) -> None:
        """ASGI Path Send: the file at an absolute path is the whole response body."""
        state = self._state
        if state != START_PENDING and state != STREAMING:
            raise ASGIProtocolError(
                "'http.response.pathsend' sent before 'http.response.start'"
                if state == NOT_STARTED
                else "'http.response.pathsend' sent after the final body"
            )
        if self._body_kind:
            raise ASGIProtocolError(
                "'http.response.pathsend' sent twice"
                if self._body_kind == PATHSEND
                else "'http.response.pathsend' cannot follow 'http.response.body'"
            )
        file, size = open_pathsend(message.get("path"))
        with file:
            self._body_kind = PATHSEND
            framing = self._framing
            if framing >= 0 and framing != size:
                raise ASGIProtocolError(
                    f"'http.response.pathsend' file {file.name!r} is {size} bytes but the "
                    f"response's Content-Length is {framing}"
                )
            if state == START_PENDING and self._trailers != SEND_TRAILERS:
                if framing == BODY_CHUNKED:  # no Content-Length from the app: the size
                    self._head = self._length_head(size)
                    self._framing = self._content_remaining = size
                elif self.scope["method"] == "HEAD" and not self.interim and (
                    self._head[9:12] not in (b"204", b"304")
                ):
                    self._head = add_content_length(self._head, size)
            if self._framing == BODY_NONE:
                await self._send_body({"body": b"", "more_body": False}, True)
                return
            remaining = size
            while True:
                # Blocking reads of a local file, like any in-process app's file I/O;
                # each piece passes backpressure before the next is read.
                chunk = file.read(min(PATHSEND_READ_SIZE, remaining)) if remaining else b""
                remaining -= len(chunk)
                more = bool(chunk) and remaining > 0
                await self._send_body({"body": chunk, "more_body": more}, True)
                if not more:
                    return
                if self.disconnected:
                    raise ClientDisconnectedError("the client disconnected")

    async def _send_trailers(self, message: Message) -> None:
        """ASGI HTTP Trailers: the trailer section ends the response."""
        state = self._state
        if state == NOT_STARTED or not self._trailers:
            raise ASGIProtocolError(
                "'http.response.trailers' sent before 'http.response.start'"
                if state == NOT_STARTED
                else "'http.response.trailers' sent but 'http.response.start' did not "
                "set 'trailers': True"
            )
        if state != AWAIT_TRAILERS:
            raise ASGIProtocolError(
                "'http.response.trailers' sent before the final 'http.response.body' "
                "(more_body False)"
            )
        fields = trailer_fields(message.get("headers", ()))
        more = message.get("more_trailers", False)
        if more is not True and more is not False:
            raise ASGIProtocolError(
                f"'http.response.trailers' more_trailers must be a bool, "
                f"got {type(more).__name__}"
            )
        if self._trailers == SEND_TRAILERS:
            self._trailer_lines += fields
        if more:
            return
        self._state = COMPLETE
        tail = b""
        if self._trailers == SEND_TRAILERS:  # last-chunk, trailer section, CRLF
            tail = b"0\r\n%s\r\n" % self._trailer_lines
        elif self._framing == BODY_CHUNKED:  # (dropped trailers)
            tail = b"0\r\n\r\n"
        self._trailer_lines = b""
        if not self._wire_done:
            self._deliver_pending()  # the head and body held in this step go first
            if tail:
                if self._transport.reading_paused:
                    await self._backpressure()
                self._transport.deliver(tail)
            self._wire_complete()
        self._drop_body()
        self._wake()  # pending receive() calls now return http.disconnect

    def _end_body_for_trailers(self, body: bytes) -> None:
        """The final body message of a response that promised trailers.

        The body goes out as any other (coalesced until the app's step ends, ASGI:
        what send() took is flushed); only the end of a chunked body, the last chunk
        with the trailer section, waits for the final ``http.response.trailers``.
        """
        self._state = AWAIT_TRAILERS
        self._plain_chunks = False
        if body:
            self._hold(body)

    def _send_early_hint(self, message: Message) -> None:
        """ASGI Early Hints: a 103 response (RFC 8297) before the final head."""
        data = early_hint(message.get("links"))
        # Once the final head or body started a hint is pointless: the extension lets
        # the server ignore it. (The head waits in START_PENDING, see _send_start.)
        if data and not self._body_kind and self._state <= START_PENDING:
            self._transport.deliver(data)
