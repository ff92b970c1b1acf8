"""A small raw ASGI application bundled for the load test and the README.

Routes: ``GET /`` (13-byte JSON), ``POST /echo`` (echoes the body), ``GET /stream``
(ten chunks, no Content-Length); anything else is 404.
"""

from __future__ import annotations

from ._types import Receive, Scope, Send

__all__ = ("app",)

_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain")]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        raise ValueError(f"demo app: unsupported scope type {scope['type']!r}")
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
    else:
        await send({"type": "http.response.start", "status": 404, "headers": _TEXT})
        await send({"type": "http.response.body", "body": b"not found"})
