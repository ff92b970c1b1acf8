from __future__ import annotations

from typing import Any

import django.core.handlers.asgi  # type: ignore[import-untyped]
import falcon.asgi
from fastapi import FastAPI
from litestar import Litestar
from quart import Quart
from starlette.applications import Starlette

from aiohttp_asgi_fast import ASGIApplicationConnector
from aiohttp_asgi_fast.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)


async def plain(scope, receive, send):  # type: ignore[no-untyped-def]
    await send({"type": "http.response.start", "status": 204})


async def typed(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    event = await receive()
    if event["type"] == "http.request":
        body: bytes = event["body"]
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": 200}
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body}
    await send(end)


async def starlette_style(
    scope: dict[str, Any], receive: Any, send: Any
) -> None: ...


class Asgi2:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, receive: Receive, send: Send) -> None: ...


def asgi2_function(scope: Scope) -> Asgi2:
    return Asgi2(scope)


connectors = [
    ASGIApplicationConnector(plain),
    ASGIApplicationConnector(typed, lifespan=True, limit=10, keepalive_timeout=None),
    ASGIApplicationConnector(starlette_style, enable_cleanup_closed=False),
    ASGIApplicationConnector(Asgi2, interface="asgi2"),
    ASGIApplicationConnector(asgi2_function),
    ASGIApplicationConnector(FastAPI()),
    ASGIApplicationConnector(Starlette()),
    ASGIApplicationConnector(Quart(__name__)),
    ASGIApplicationConnector(Litestar()),
    ASGIApplicationConnector(falcon.asgi.App()),
    ASGIApplicationConnector(django.core.handlers.asgi.ASGIHandler()),
]
