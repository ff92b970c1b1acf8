"""The aiohttp-only floor's peer: a connector whose connections are fake asyncio
transports. No app and no HTTP server run; each complete request is answered with canned
bytes (``_floors.record``); a WebSocket upgrade is accepted and the n-th data frame of a
connection is answered with the n-th canned frame (``_floors.record_ws``), a close with a
close.

Works with aiohttp 3.8 to 3.14: it only uses ``BaseConnector._create_connection`` and
``self._factory()`` (aiohttp's ResponseHandler), as aiohttp's own connectors do.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import deque
from collections.abc import Iterable
from typing import Any

import aiohttp

from _apps import PIECE

__all__ = ("CannedConnector", "CannedTransport", "ws_frame")

_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class _ChunkedEnd:
    """Finds where a chunked request body ends without keeping its data."""

    def __init__(self) -> None:
        self._line = bytearray()
        self._skip = 0  # chunk data + CRLF still to pass over
        self._last = False  # the 0-size chunk was seen: only trailer lines remain

    def feed(self, view: memoryview) -> tuple[bool, memoryview]:
        while view:
            if self._skip:
                taken = min(self._skip, len(view))
                self._skip -= taken
                view = view[taken:]
                continue
            end = bytes(view[:4096]).find(b"\n")
            if end < 0:
                self._line += view
                return False, view[len(view):]
            line = bytes(self._line + view[:end]).strip()
            self._line.clear()
            view = view[end + 1:]
            if self._last:
                if not line:
                    return True, view
            elif int(line.split(b";")[0], 16) == 0:
                self._last = True
            else:
                self._skip = int(line.split(b";")[0], 16) + 2
        return False, view


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """A server (unmasked, final) WebSocket frame."""
    size = len(payload)
    if size < 126:
        return bytes([0x80 | opcode, size]) + payload
    if size < 65536:
        return bytes([0x80 | opcode, 126]) + size.to_bytes(2, "big") + payload
    return bytes([0x80 | opcode, 127]) + size.to_bytes(8, "big") + payload


_CLOSE_1000 = ws_frame(0x8, (1000).to_bytes(2, "big"))


def _client_frames(buffer: bytearray) -> list[int]:
    """Opcodes of the complete client frames at the front of ``buffer`` (removed from it);
    their payloads are not even unmasked: the replies are canned."""
    opcodes = []
    while len(buffer) >= 2:
        length, offset = buffer[1] & 0x7F, 2
        if length >= 126:
            offset += 2 if length == 126 else 8
            if len(buffer) < offset:
                break
            length = int.from_bytes(buffer[2:offset], "big")
        if len(buffer) < offset + 4 + length:
            break
        opcodes.append(buffer[0] & 0x0F)
        del buffer[:offset + 4 + length]
    return opcodes


class CannedTransport(asyncio.Transport):
    """Reads each request to its end (Content-Length counted, or the terminating chunk),
    then answers with the canned bytes; after a WebSocket upgrade, with canned frames.

    Delivery: at most 64 KiB per ``data_received``, one piece per event-loop iteration
    (``call_soon``), so the reader task runs between pieces as it does with a socket, whose
    selector transport also makes one bounded ``recv`` per iteration (64 KiB is what a
    loopback read typically yields). Nothing is delivered while the protocol has paused
    reading; ``resume_reading`` continues. Writes are never paused (a socket with room).
    """

    def __init__(self, protocol: asyncio.Protocol, canned: bytes,
                 ws_replies: list[bytes]) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._protocol = protocol
        self._canned = canned
        self._ws_replies = ws_replies
        self._ws_count = 0
        self._out: deque[memoryview] = deque()  # bytes still to deliver
        self._state = "head"  # "head", "length" (self._left to go), "chunked" or "ws"
        self._head = bytearray()
        self._left = 0
        self._chunked = _ChunkedEnd()
        self._frames = bytearray()
        self._paused = self._scheduled = self._closing = False
        protocol.connection_made(self)

    def write(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        while view:
            view = self._consume(view)

    def writelines(self, list_of_data: Iterable[Any]) -> None:
        for data in list_of_data:
            self.write(data)

    def _consume(self, view: memoryview) -> memoryview:
        """Take request bytes; returns what follows a complete request (a next one)."""
        if self._state == "head":
            prefix = bytes(view[:PIECE])  # a head is small: never copy the body behind it
            data = bytes(self._head) + prefix
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self._head += prefix
                return view[len(prefix):]
            rest = view[end + 4 - len(self._head):]
            self._head.clear()
            self._left = 0
            headers = {}
            for line in data[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            if headers.get(b"upgrade", b"").lower() == b"websocket":
                self._upgrade(headers[b"sec-websocket-key"])
            elif b"chunked" in headers.get(b"transfer-encoding", b""):
                self._state, self._chunked = "chunked", _ChunkedEnd()
            else:
                self._state, self._left = "length", int(headers.get(b"content-length", 0))
                if not self._left:
                    self._respond()
            return rest
        if self._state == "ws":
            self._frames += view
            for opcode in _client_frames(self._frames):
                if opcode in (0x1, 0x2):
                    self._send(self._ws_replies[self._ws_count % len(self._ws_replies)])
                    self._ws_count += 1
                elif opcode == 0x8:
                    self._send(_CLOSE_1000)
            return view[len(view):]
        if self._state == "chunked":
            done, rest = self._chunked.feed(view)
            if done:
                self._respond()
            return rest
        taken = min(self._left, len(view))
        self._left -= taken
        if not self._left:
            self._respond()
        return view[taken:]

    def _respond(self) -> None:
        self._state = "head"
        self._send(self._canned)

    def _upgrade(self, key: bytes) -> None:
        self._state = "ws"
        accept = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest())
        self._send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")

    def _send(self, data: bytes) -> None:
        self._out.append(memoryview(data))
        self._schedule()

    def _schedule(self) -> None:
        if not (self._scheduled or self._paused or self._closing) and self._out:
            self._scheduled = True
            self._loop.call_soon(self._deliver)

    def _deliver(self) -> None:
        self._scheduled = False
        if self._paused or self._closing or not self._out:
            return
        view = self._out[0]
        piece = bytes(view[:PIECE])  # a fresh object, as a recv() gives
        if len(view) > PIECE:
            self._out[0] = view[PIECE:]
        else:
            self._out.popleft()
        self._protocol.data_received(piece)
        self._schedule()

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        self._paused = False
        self._schedule()

    def is_reading(self) -> bool:
        return not self._paused

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def can_write_eof(self) -> bool:
        return False


class CannedConnector(aiohttp.BaseConnector):
    """A connector whose every connection is a ``CannedTransport`` (kept alive and reused
    like a TCP connection)."""

    def __init__(self, canned: bytes = b"", ws_replies: list[bytes] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._canned = canned
        self._ws_replies = ws_replies or [_CLOSE_1000]

    async def _create_connection(self, req: Any, *args: Any, **kwargs: Any) -> Any:
        protocol = self._factory()  # aiohttp's ResponseHandler
        CannedTransport(protocol, self._canned, self._ws_replies)
        return protocol
