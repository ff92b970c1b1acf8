"""The ASGI apps and workloads of the peer suite, defined once and shared by every column.

Each app is a raw ASGI 3 callable (FastAPI for ``fastapi-json``) registered in ``APPS`` by
name, so the uvicorn server subprocess can load the very same object. A ``Workload`` is the
request a column sends (or the WebSocket messages), how the reply is checked, and how many
requests and body bytes one measured operation stands for.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KIB = 1024
MIB = 1024 * KIB
PIECE = 64 * KIB
SMALL_JSON = b'{"hello":"w"}'
ECHO_BODY = bytes(range(256)) * 4  # 1 KiB; no CRLFCRLF (a known rival bug, not measured here)
UPLOAD_10M = b"u" * (10 * MIB)
STREAM_CHUNKS = [b"chunk %05d\n" % i for i in range(1000)]  # 12 bytes each
STREAM_BODY = b"".join(STREAM_CHUNKS)
WS_MESSAGES = [f"message {i:04d}" for i in range(1000)]
_PATTERN = bytearray(b"0123456789abcdef" * (PIECE // 16))
_JSON_HEADERS = [(b"content-type", b"application/json")]


def _start(status: int, headers: list[tuple[bytes, bytes]]) -> Message:
    return {"type": "http.response.start", "status": status, "headers": headers}


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ConnectionError("client disconnected")
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


def _query(scope: Scope, name: str, default: str) -> str:
    return str(parse_qs(scope["query_string"].decode()).get(name, [default])[0])


async def get_small(scope: Scope, receive: Receive, send: Send) -> None:
    await send(_start(200, [*_JSON_HEADERS, (b"content-length", b"13")]))
    await send({"type": "http.response.body", "body": SMALL_JSON})


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    body = await _read_body(receive)
    headers = [(b"content-type", b"application/octet-stream"),
               (b"content-length", b"%d" % len(body))]
    await send(_start(200, headers))
    await send({"type": "http.response.body", "body": body})


async def count_upload(scope: Scope, receive: Receive, send: Send) -> None:
    """Count the request body's bytes as they arrive (nothing is kept) and answer the count."""
    count = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        count += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"%d" % count
    await send(_start(200, [(b"content-type", b"text/plain"),
                            (b"content-length", b"%d" % len(body))]))
    await send({"type": "http.response.body", "body": body})


async def download(scope: Scope, receive: Receive, send: Send) -> None:
    """``?size=N`` bytes (default 10 MiB) with Content-Length, in 64 KiB sends. Each piece
    is a fresh object, as if read from a file, so a peer that buffers really holds them."""
    size = int(_query(scope, "size", str(10 * MIB)))
    await send(_start(200, [(b"content-type", b"application/octet-stream"),
                            (b"content-length", b"%d" % size)]))
    sent = 0
    while sent < size:
        piece = bytes(_PATTERN) if size - sent >= PIECE else bytes(_PATTERN[: size - sent])
        sent += len(piece)
        await send({"type": "http.response.body", "body": piece, "more_body": sent < size})
    if size == 0:
        await send({"type": "http.response.body", "body": b""})


async def stream_1000(scope: Scope, receive: Receive, send: Send) -> None:
    await send(_start(200, [(b"content-type", b"text/plain")]))
    for chunk in STREAM_CHUNKS:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def headers_50(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer how many of the 50 ``x-req-NN: value NN`` request headers arrived intact,
    with 50 response headers."""
    expected = {b"x-req-%02d" % i: b"value %02d" % i for i in range(50)}
    seen = sum(1 for name, value in scope["headers"] if expected.get(name) == value)
    body = b"%d" % seen
    headers = [(b"x-resp-%02d" % i, b"value %02d" % i) for i in range(48)]
    headers += [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send(_start(200, headers))
    await send({"type": "http.response.body", "body": body})


async def ws_echo(scope: Scope, receive: Receive, send: Send) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


def _make_ttfb(with_length: bool) -> ASGIApp:
    first, rest = b"first", b"r" * 995

    async def ttfb(scope: Scope, receive: Receive, send: Send) -> None:
        """A first chunk, then ``?sleep=`` seconds (default 1), then the rest."""
        headers = [(b"content-type", b"text/plain")]
        if with_length:
            headers.append((b"content-length", b"%d" % (len(first) + len(rest))))
        await send(_start(200, headers))
        await send({"type": "http.response.body", "body": first, "more_body": True})
        await asyncio.sleep(float(_query(scope, "sleep", "1.0")))
        await send({"type": "http.response.body", "body": rest})

    return ttfb


def fastapi_app() -> ASGIApp:
    """POST /items/{item_id}?q=... with a pydantic body and a response model."""
    from _fastapi_app import app

    return app


APPS: dict[str, Callable[[], ASGIApp]] = {
    "get-small": lambda: get_small,
    "echo": lambda: echo,
    "count-upload": lambda: count_upload,
    "download": lambda: download,
    "stream-1000": lambda: stream_1000,
    "headers-50": lambda: headers_50,
    "ws-echo": lambda: ws_echo,
    "ttfb-length": lambda: _make_ttfb(True),
    "ttfb-chunked": lambda: _make_ttfb(False),
    "fastapi": fastapi_app,
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query string
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    read: str = "bytes"  # "bytes": whole body; count only: "any" (as delivered), "64k" (reads)
    want_headers: tuple[str, ...] = ()  # response header names (lower case) to return


@dataclass
class Reply:
    status: int
    body: bytes  # b"" when the body was only counted
    length: int
    headers: dict[str, str] = field(default_factory=dict)
    first_at: float | None = None  # perf_counter() when the first body bytes arrived


Check = Callable[[Reply], "str | None"]


def expect(status: int = 200, body: bytes | None = None, length: int | None = None,
           headers: dict[str, str] | None = None,
           json_body: Any = None) -> Check:
    """A check returning the reason a reply is wrong, or None."""
    def check(reply: Reply) -> str | None:
        if reply.status != status:
            return f"status {reply.status}, expected {status}"
        if body is not None and reply.body != body:
            return f"body of {reply.length} bytes differs from the expected {len(body)}"
        if length is not None and reply.length != length:
            return f"body length {reply.length}, expected {length}"
        for name, value in (headers or {}).items():
            if reply.headers.get(name) != value:
                return f"header {name}: {reply.headers.get(name)!r}, expected {value!r}"
        if json_body is not None and json.loads(reply.body) != json_body:
            return f"JSON {reply.body[:80]!r} differs from the expected"
        return None

    return check


@dataclass(frozen=True)
class Workload:
    name: str
    app: str  # key in APPS
    kind: str  # "http" (one request per op), "concurrent" (100 in flight) or "ws"
    request: Request
    check: Check
    per_op: int = 1  # requests (or WebSocket round trips) in one operation
    bytes_per_op: int = 0  # body bytes per operation when MiB/s is worth printing


_ITEM = {"name": "widget", "price": 2.5, "tags": ["a", "b"]}
_HEADERS_50 = tuple((f"x-req-{i:02d}", f"value {i:02d}") for i in range(50))

WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    Workload("get-small", "get-small", "http", Request("GET", "/", want_headers=("content-type",)),
             expect(body=SMALL_JSON, headers={"content-type": "application/json"})),
    Workload("post-echo-1k", "echo", "http",
             Request("POST", "/", (("content-type", "application/octet-stream"),), ECHO_BODY),
             expect(body=ECHO_BODY)),
    Workload("upload-10m", "count-upload", "http",
             Request("POST", "/", (("content-type", "application/octet-stream"),), UPLOAD_10M),
             expect(body=b"%d" % len(UPLOAD_10M)), bytes_per_op=len(UPLOAD_10M)),
    Workload("download-10m", "download", "http", Request("GET", "/", read="any"),
             expect(length=10 * MIB), bytes_per_op=10 * MIB),
    Workload("stream-1000", "stream-1000", "http", Request("GET", "/"),
             expect(body=STREAM_BODY)),
    Workload("concurrent-100", "get-small", "concurrent", Request("GET", "/"),
             expect(body=SMALL_JSON), per_op=100),
    Workload("fastapi-json", "fastapi", "http",
             Request("POST", "/items/42?q=search", (("content-type", "application/json"),),
                     json.dumps(_ITEM).encode()),
             expect(json_body={"item_id": 42, "q": "search", "name": "widget", "total": 5.0,
                               "tags": ["a", "b"]})),
    Workload("headers-50", "headers-50", "http",
             Request("GET", "/", _HEADERS_50, want_headers=("x-resp-00", "x-resp-47")),
             expect(body=b"50", headers={"x-resp-00": "value 00", "x-resp-47": "value 47"})),
    Workload("ws-echo", "ws-echo", "ws", Request("GET", "/ws"), expect(), per_op=1000),
)}
