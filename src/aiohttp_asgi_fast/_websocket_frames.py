"""WebSocket frames (RFC 6455 §5) for the server side of the in-process connection.

The client side is aiohttp's own reader and writer; this module reads the masked
frames aiohttp's writer produces and writes the unmasked frames aiohttp's reader
expects. No extension is ever negotiated (permessage-deflate is declined in the
handshake), so the RSV bits must be zero.

Kept independent of aiohttp's server-side ``WebSocketReader``, whose constructor and
queue contract changed across the supported releases (3.8 through 3.14); the test suite
checks this codec against aiohttp's client reader and writer byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Final

from ._hotpath import unmask

__all__ = (
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameReader",
    "WebSocketProtocolError",
    "accept_key",
    "close_payload",
    "encode_frame",
)

OP_CONTINUATION: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA

_DATA_OPCODES: Final = frozenset((OP_CONTINUATION, OP_TEXT, OP_BINARY))
_CONTROL_OPCODES: Final = frozenset((OP_CLOSE, OP_PING, OP_PONG))

# RFC 6455 §7.4: close codes an endpoint may send; 3000-4999 are for libraries and apps.
_SENDABLE_CLOSE_CODES: Final = frozenset((*range(1000, 1004), *range(1007, 1015)))
CLOSE_NO_STATUS: Final = 1005  # "no status code was present" (never sent on the wire)
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_INVALID_DATA: Final = 1007
MAX_CLOSE_REASON: Final = 123  # a control frame payload is at most 125 bytes (§5.5)

_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_PACK_LEN16: Final = struct.Struct("!BBH").pack
_PACK_LEN64: Final = struct.Struct("!BBQ").pack
_UNPACK_LEN16: Final = struct.Struct("!H").unpack_from
_UNPACK_LEN64: Final = struct.Struct("!Q").unpack_from


class WebSocketProtocolError(Exception):
    """The client broke RFC 6455; ``code`` is the close code to answer with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def accept_key(key: bytes) -> bytes:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.strip() + _GUID).digest())


def is_sendable_close_code(code: int) -> bool:
    return code in _SENDABLE_CLOSE_CODES or 3000 <= code <= 4999


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked server frame (RFC 6455 §5.2, §5.1: servers never mask)."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 0x10000:
        return _PACK_LEN16(0x80 | opcode, 126, n) + payload
    return _PACK_LEN64(0x80 | opcode, 127, n) + payload


def close_payload(code: int, reason: bytes) -> bytes:
    """A close frame's body: the code, then the UTF-8 reason (§5.5.1); none for 1005."""
    if code == CLOSE_NO_STATUS:
        return b""
    return struct.pack("!H", code) + reason


def _close_event(payload: bytes) -> tuple[int, int | str, str]:
    if not payload:
        return (OP_CLOSE, CLOSE_NO_STATUS, "")
    if len(payload) == 1:
        raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte body")
    code = int.from_bytes(payload[:2], "big")
    if not is_sendable_close_code(code):
        raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise WebSocketProtocolError(
            CLOSE_INVALID_DATA, "close reason is not valid UTF-8"
        ) from None
    return (OP_CLOSE, code, reason)


def _prefix(chunks: list[bytes], n: int) -> bytes:
    out = b""
    for chunk in chunks:
        out += chunk[: n - len(out)]
        if len(out) >= n:
            break
    return out


def _header(buffer: bytes, pos: int, size: int) -> tuple[bool, int, int, int] | None:
    """``(fin, opcode, payload start, payload end)`` of the frame at ``pos`` (§5.2).

    None while the header is incomplete; raises on a header no client may send.
    """
    first, second = buffer[pos], buffer[pos + 1]
    if first & 0x70:
        raise WebSocketProtocolError(
            CLOSE_PROTOCOL_ERROR, "reserved bits set but no extension was negotiated"
        )
    if not second & 0x80:  # §5.1: a server must close on an unmasked client frame
        raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, "unmasked client frame")
    length = second & 0x7F
    start = pos + 6
    if length == 126:
        if size - pos < 4:
            return None
        (length,) = _UNPACK_LEN16(buffer, pos + 2)
        start = pos + 8
    elif length == 127:
        if size - pos < 10:
            return None
        (length,) = _UNPACK_LEN64(buffer, pos + 2)
        if length >> 63:  # §5.2: the most significant bit must be 0
            raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, "payload length overflow")
        start = pos + 14
    return (bool(first & 0x80), first & 0x0F, start, start + length)


class FrameReader:
    """Turn the client's masked frames into complete messages and control frames.

    ``feed(data)`` returns a list of events: ``(OP_TEXT, str, "")``,
    ``(OP_BINARY, bytes, "")``, ``(OP_PING, bytes, "")``, ``(OP_PONG, bytes, "")`` and
    ``(OP_CLOSE, code, reason)``. It raises WebSocketProtocolError on a violation.
    Fragments are reassembled (§5.4); only complete messages are returned.
    """

    __slots__ = ("_chunks", "_fragments", "_message_opcode", "_size")

    def __init__(self) -> None:
        self._chunks: list[bytes] = []  # bytes of an incomplete frame, as fed
        self._size = 0
        self._fragments: list[bytes] = []
        self._message_opcode = -1  # opcode of the fragmented message in progress

    def feed(self, data: bytes) -> list[tuple[int, int | str | bytes, str]]:
        events: list[tuple[int, int | str | bytes, str]] = []
        chunks = self._chunks
        if data:
            chunks.append(data)
            self._size += len(data)
        if len(chunks) > 1:
            # A frame arriving in pieces is joined once, when all of it is here.
            head = chunks[0]
            if len(head) < 14:  # the longest header is 14 bytes
                head = b"".join(chunks)[:14] if self._size < 1024 else _prefix(chunks, 14)
            header = _header(head, 0, len(head))
            if header is None or self._size < header[3]:
                return events
            chunks[:] = [b"".join(chunks)]
        elif not chunks:
            return events
        buffer = chunks[0]
        size = len(buffer)
        pos = 0
        while size - pos >= 2:
            header = _header(buffer, pos, size)
            if header is None or header[3] > size:
                break
            fin, opcode, start, end = header
            payload = unmask(buffer[start - 4 : start], buffer, start, end)
            pos = end
            event = self._frame(fin, opcode, payload)
            if event is not None:
                events.append(event)
        if pos:
            rest = buffer[pos:]
            self._chunks = [rest] if rest else []
            self._size = size - pos
        return events

    def _frame(
        self, fin: bool, opcode: int, payload: bytes
    ) -> tuple[int, int | str | bytes, str] | None:
        if opcode in _CONTROL_OPCODES:
            # §5.5: control frames are never fragmented and carry at most 125 bytes.
            if not fin or len(payload) > 125:
                raise WebSocketProtocolError(
                    CLOSE_PROTOCOL_ERROR, "fragmented or oversized control frame"
                )
            if opcode == OP_CLOSE:
                return _close_event(payload)
            return (opcode, payload, "")
        if opcode not in _DATA_OPCODES:
            raise WebSocketProtocolError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
        if opcode == OP_CONTINUATION:
            if self._message_opcode < 0:
                raise WebSocketProtocolError(
                    CLOSE_PROTOCOL_ERROR, "continuation frame without a message to continue"
                )
            self._fragments.append(payload)
            if not fin:
                return None
            opcode = self._message_opcode
            payload = b"".join(self._fragments)
            self._fragments = []
            self._message_opcode = -1
        elif self._message_opcode >= 0:
            raise WebSocketProtocolError(
                CLOSE_PROTOCOL_ERROR, "new message before the fragmented one ended"
            )
        elif not fin:
            self._message_opcode = opcode
            self._fragments = [payload]
            return None
        if opcode == OP_TEXT:
            try:
                return (OP_TEXT, payload.decode("utf-8"), "")
            except UnicodeDecodeError:  # §8.1
                raise WebSocketProtocolError(
                    CLOSE_INVALID_DATA, "text message is not valid UTF-8"
                ) from None
        return (OP_BINARY, payload, "")
