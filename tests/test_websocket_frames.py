"""The server-side WebSocket frame codec, checked against aiohttp's own client writer."""

from __future__ import annotations

import asyncio
import itertools
import os
import struct
from typing import Any

import pytest
from aiohttp.http import WebSocketWriter
from hypothesis import given, settings
from hypothesis import strategies as st

from aiohttp_asgi_fast._websocket_frames import (
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
)


def masked(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0,
           mask: bytes = b"\x01\x82\x43\xf4") -> bytes:
    """A client frame built independently of the code under test (RFC 6455 §5.2)."""
    n = len(payload)
    first = (0x80 if fin else 0) | rsv | opcode
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


class _Transport:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return False


class _Protocol:
    _paused = False

    async def _drain_helper(self) -> None:
        return None


def aiohttp_client_frames(messages: list[tuple[int, bytes]]) -> bytes:
    """The exact bytes aiohttp's client WebSocketWriter (masking) writes."""
    transport = _Transport()
    writer: Any = WebSocketWriter(_Protocol(), transport, use_mask=True)  # type: ignore[arg-type]
    send_frame = getattr(writer, "send_frame", None) or writer._send_frame  # 3.8: _send_frame

    async def write_all() -> None:
        for opcode, payload in messages:
            await send_frame(payload, opcode)

    asyncio.run(write_all())
    return bytes(transport.data)


def test_accept_key_rfc_example() -> None:
    # RFC 6455 §1.3's worked example.
    assert accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_encode_frame_lengths(size: int) -> None:
    frame = encode_frame(OP_BINARY, b"a" * size)
    assert frame[0] == 0x82 and not frame[1] & 0x80  # final, binary, unmasked
    header = 2 if size < 126 else 4 if size < 65536 else 10
    assert len(frame) == header + size


def test_close_payload() -> None:
    assert close_payload(1005, b"ignored") == b""
    assert close_payload(4000, b"why") == b"\x0f\xa0why"


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(
        st.one_of(
            st.tuples(st.just(OP_TEXT), st.text(max_size=300).map(str.encode)),
            st.tuples(st.just(OP_BINARY), st.binary(max_size=70000)),
            st.tuples(st.sampled_from([OP_PING, OP_PONG]), st.binary(max_size=125)),
        ),
        max_size=6,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=200_000), max_size=6),
)
def test_reads_what_aiohttp_writes(messages: list[tuple[int, bytes]], cuts: list[int]) -> None:
    stream = aiohttp_client_frames(messages)
    reader = FrameReader()
    events: list[Any] = []
    bounds = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    for start, end in itertools.pairwise(bounds):
        events += reader.feed(stream[start:end])
    expected = [
        (op, payload.decode() if op == OP_TEXT else payload, "") for op, payload in messages
    ]
    assert events == expected


def test_fragments_with_interleaved_control_frames() -> None:
    stream = (
        masked(OP_TEXT, "hé".encode()[:2], fin=False)
        + masked(OP_PING, b"p")
        + masked(0, "hé".encode()[2:], fin=False)
        + masked(0, b"llo")
        + masked(OP_BINARY, b"\x00", fin=False)
        + masked(0, b"\x01")
        + masked(OP_CLOSE, b"")
    )
    reader = FrameReader()
    events = [e for byte in range(len(stream)) for e in reader.feed(stream[byte : byte + 1])]
    assert events == [
        (OP_PING, b"p", ""), (OP_TEXT, "héllo", ""), (OP_BINARY, b"\x00\x01", ""),
        (OP_CLOSE, 1005, ""),
    ]


def test_close_frames() -> None:
    assert FrameReader().feed(masked(OP_CLOSE, b"\x03\xe8")) == [(OP_CLOSE, 1000, "")]
    assert FrameReader().feed(masked(OP_CLOSE, b"\x0f\xa1bye \xc3\xa9")) == [
        (OP_CLOSE, 4001, "bye é")
    ]


def test_large_payload_unmasked_exactly() -> None:
    payload = os.urandom(3 * 1024 * 1024 + 3)
    stream = masked(OP_BINARY, payload, mask=b"\xff\x00\xa5\x5a")
    reader = FrameReader()
    events: list[Any] = []
    for start in range(0, len(stream), 65536):
        events += reader.feed(stream[start : start + 65536])
    assert events == [(OP_BINARY, payload, "")]


@pytest.mark.parametrize(
    ("stream", "code", "match"),
    [
        (masked(OP_TEXT, b"x", rsv=0x40), 1002, "reserved bits"),
        (b"\x81\x01x", 1002, "unmasked"),
        (masked(OP_PING, b"x", fin=False), 1002, "control frame"),
        (masked(OP_PING, b"x" * 126), 1002, "control frame"),
        (masked(0, b"x"), 1002, "continuation"),
        (masked(OP_TEXT, b"a", fin=False) + masked(OP_TEXT, b"b"), 1002, "new message"),
        (masked(3, b""), 1002, "unknown opcode"),
        (masked(OP_TEXT, b"\xff"), 1007, "UTF-8"),
        (masked(OP_TEXT, b"\xc3", fin=False) + masked(0, b"x"), 1007, "UTF-8"),
        (masked(OP_CLOSE, b"\x03"), 1002, "1-byte"),
        (masked(OP_CLOSE, b"\x03\xed"), 1002, "close code 1005"),
        (masked(OP_CLOSE, b"\x0b\xb7"), 1002, "close code 2999"),
        (masked(OP_CLOSE, b"\x03\xe8\xff"), 1007, "reason"),
        (b"\x82\xff\x80" + b"\x00" * 7 + b"mask", 1002, "overflow"),
    ],
)
def test_protocol_violations(stream: bytes, code: int, match: str) -> None:
    with pytest.raises(WebSocketProtocolError, match=match) as info:
        FrameReader().feed(stream)
    assert info.value.code == code
