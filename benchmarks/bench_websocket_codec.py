"""Micro-benchmark: parse masked client frames with this project's codec vs aiohttp's reader.

Run by hand (aiohttp 3.11+ for its WebSocketDataQueue):
    python benchmarks/bench_websocket_codec.py
Prints µs per frame for small text frames and MiB/s for 1 MiB binary frames.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
from typing import Any

from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader

from aiohttp_asgi_fast._websocket_frames import FrameReader


def masked(opcode: int, payload: bytes, mask: bytes = b"\x11\x22\x33\x44") -> bytes:
    n = len(payload)
    head = bytes((0x80 | opcode, 0x80 | n)) if n < 126 else (
        struct.pack("!BBH", 0x80 | opcode, 0xFE, n) if n < 65536
        else struct.pack("!BBQ", 0x80 | opcode, 0xFF, n)
    )
    key = (mask * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")
    return head + mask + body


class _Protocol:
    _reading_paused = False

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...


def time_ours(stream: bytes, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        reader = FrameReader()
        start = time.perf_counter()
        reader.feed(stream)
        best = min(best, time.perf_counter() - start)
    return best


def time_aiohttp(stream: bytes, repeat: int, loop: Any) -> float:
    best = float("inf")
    for _ in range(repeat):
        queue = WebSocketDataQueue(_Protocol(), 2**30, loop=loop)  # type: ignore[arg-type]
        reader = WebSocketReader(queue, 0, compress=False, decode_text=True)  # type: ignore[call-arg]
        start = time.perf_counter()
        reader.feed_data(stream)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    loop = asyncio.new_event_loop()
    small = b"".join(masked(0x1, b"hello world %d" % i) for i in range(10_000))
    big = b"".join(masked(0x2, os.urandom(1 << 20)) for _ in range(16))
    ours, theirs = time_ours(small, 20), time_aiohttp(small, 20, loop)
    print(f"small text frames: ours {ours / 10_000 * 1e6:.2f} µs/frame, "
          f"aiohttp {theirs / 10_000 * 1e6:.2f} µs/frame, ratio {theirs / ours:.2f}x")
    ours, theirs = time_ours(big, 5), time_aiohttp(big, 5, loop)
    print(f"1 MiB binary frames: ours {16 / ours:.0f} MiB/s, aiohttp {16 / theirs:.0f} MiB/s, "
          f"ratio {theirs / ours:.2f}x")
    loop.close()


if __name__ == "__main__":
    main()
