"""An app that checks what the bench CLI sends: routes, headers, bodies.

``/a`` and ``/b`` answer 200 ``a``/``b``; ``POST /json`` echoes a body sent with
content-type application/json and ``X-Token: t`` (415 / 403 otherwise); ``POST /data``
echoes a body that is exactly ``payload-from-file\\n`` (400 otherwise); ``/token``
answers ``ok`` with ``X-Token: t`` (403 otherwise); ``/boom`` raises ``KeyError``;
``/after?ms=N`` answers 200, then raises ``ZeroDivisionError`` N ms later, when the
client already has the whole response; anything else is 404. No lifespan support (it
raises on the lifespan scope).
"""

from __future__ import annotations

import asyncio


async def _read_body(receive):
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def _answer(send, status, body):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan here")
    body = await _read_body(receive)
    if body is None:
        return
    path, method = scope["path"], scope["method"]
    headers = dict(scope["headers"])
    if path in ("/a", "/b") and method == "GET":
        await _answer(send, 200, path[1:].encode())
    elif path == "/json" and method == "POST":
        if headers.get(b"content-type") != b"application/json":
            await _answer(send, 415, b"expected application/json")
        elif headers.get(b"x-token") != b"t":
            await _answer(send, 403, b"bad token")
        else:
            await _answer(send, 200, body)
    elif path == "/data" and method == "POST":
        await _answer(send, 200 if body == b"payload-from-file\n" else 400, body)
    elif path == "/token":
        ok = headers.get(b"x-token") == b"t"
        await _answer(send, 200 if ok else 403, b"ok" if ok else b"bad token")
    elif path == "/boom":
        raise KeyError("boom-key")
    elif path == "/after":
        await _answer(send, 200, b"done")
        delay_ms = int(scope["query_string"].decode().partition("ms=")[2] or "1")
        await asyncio.sleep(delay_ms / 1000)  # the client has the whole response by now
        raise ZeroDivisionError("raised after the response")
    else:
        await _answer(send, 404, b"not found")
