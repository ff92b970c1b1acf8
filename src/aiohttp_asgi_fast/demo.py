"""A small raw ASGI application bundled for the load test and the README.

Routes: ``GET /`` (13-byte JSON), ``POST /echo`` (echoes the body), ``GET /stream``
(ten chunks, no Content-Length), ``GET /slow?ms=N`` (answers after N ms, default 20;
at most 10 s), ``/ws`` (WebSocket echo of text and bytes); anything else is 404. The
lifespan puts ``{"started": True}`` in the lifespan state.
"""

from __future__ import annotations

import asyncio

from ._types import Receive, Scope, Send

__all__ = ("app",)

_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain")]


async def _lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if "state" in scope:
                scope["state"]["started"] = True
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _websocket_echo(receive: Receive, send: Send) -> None:
    if (await receive())["type"] != "websocket.connect":
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


def _slow_ms(query: bytes) -> float:
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == b"ms":
            try:
                return min(max(float(value), 0.0), 10_000.0)
            except ValueError:
                break
    return 20.0


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    kind = scope["type"]
    if kind == "lifespan":
        await _lifespan(scope, receive, send)
        return
    if kind == "websocket":
        if scope["path"] == "/ws":
            await _websocket_echo(receive, send)
        else:
            await send({"type": "websocket.close", "code": 1008})
        return
    if kind != "http":
        raise ValueError(f"demo app: unsupported scope type {kind!r}")
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    path = scope["path"]
    if path == "/" and scope["method"] == "GET":
        await send({"type": "http.response.start", "status": 200, "headers": _JSON})
        await send({"type": "http.response.body", "body": b'{"hello":"w"}'})
    elif path == "/echo" and scope["method"] == "POST":
        await send({"type": "http.response.start", "status": 200, "headers": _TEXT})
        await send({"type": "http.response.body", "body": bytes(body)})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": _TEXT})
        for i in range(10):
            await send({"type": "http.response.body", "body": b"chunk %d\n" % i,
                        "more_body": i < 9})
    elif path == "/slow":
        await asyncio.sleep(_slow_ms(scope["query_string"]) / 1000)
        await send({"type": "http.response.start", "status": 200, "headers": _JSON})
        await send({"type": "http.response.body", "body": b'{"slow":true}'})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": _TEXT})
        await send({"type": "http.response.body", "body": b"not found"})
