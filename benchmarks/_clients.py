"""One client per column, all behind the same two calls: ``request(Request) -> Reply`` and
``ws_echo(path, texts) -> echoed texts``. ``open_client`` builds a column's client.

Columns: ``app`` (app-only floor), ``aiohttp`` (aiohttp-only floor), ``compiled`` and
``pure`` (this project; the parent process sets AIOHTTP_ASGI_NO_EXTENSIONS for ``pure``),
``rival`` (aiohttp-asgi-connector), ``httpx`` (httpx.ASGITransport), ``asgi-tools``
(ASGITestClient) and ``uvicorn`` (aiohttp over TCP to uvicorn in another process).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from time import perf_counter
from typing import Any, Protocol

import aiohttp

from _apps import APPS, PIECE, WS_MESSAGES, Reply, Request
from _canned import CannedConnector
from _floors import AppClient, record, record_ws

__all__ = ("COLUMNS", "CheckFailed", "Client", "NotSupported", "open_client")

COLUMNS = ("app", "aiohttp", "compiled", "pure", "rival", "httpx", "asgi-tools", "uvicorn")
BASE_URL = "http://testserver"


class NotSupported(Exception):
    """The column cannot do this workload (printed as n/a)."""


class CheckFailed(Exception):
    """The column gave a wrong answer (printed as ERR)."""


class Client(Protocol):
    async def request(self, req: Request) -> Reply: ...

    async def ws_echo(self, path: str, texts: list[str]) -> list[str]: ...


class AiohttpClient:
    def __init__(self, session: aiohttp.ClientSession, *, ws: bool = True) -> None:
        self.session = session
        self._ws = ws
        self.server_pid: int | None = None  # set for uvicorn (memory mode reads its RSS)

    async def request(self, req: Request) -> Reply:
        async with self.session.request(req.method, req.path, headers=req.headers or None,
                                        data=req.body) as resp:
            headers = {name: resp.headers.get(name, "") for name in req.want_headers}
            if req.read == "bytes":
                body = await resp.read()
                return Reply(resp.status, body, len(body), headers)
            content = resp.content
            chunks = content.iter_any() if req.read == "any" else content.iter_chunked(PIECE)
            length, first_at = 0, None
            async for chunk in chunks:
                if first_at is None:
                    first_at = perf_counter()
                length += len(chunk)
            return Reply(resp.status, b"", length, headers, first_at)

    async def ws_echo(self, path: str, texts: list[str]) -> list[str]:
        if not self._ws:
            raise NotSupported("no WebSocket support")
        echoed = []
        # compress=0: the in-process connectors decline permessage-deflate anyway; uvicorn
        # would accept it and pay for compression the others skip.
        async with self.session.ws_connect(path, compress=0) as ws:
            for text in texts:
                await ws.send_str(text)
                msg = await ws.receive()
                echoed.append(msg.data if msg.type == aiohttp.WSMsgType.TEXT else repr(msg))
        return echoed


class HttpxClient:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def request(self, req: Request) -> Reply:
        headers = list(req.headers)
        if req.read == "bytes":
            resp = await self.client.request(req.method, req.path, headers=headers,
                                             content=req.body)
            wanted = {name: resp.headers.get(name, "") for name in req.want_headers}
            return Reply(resp.status_code, resp.content, len(resp.content), wanted)
        async with self.client.stream(req.method, req.path, headers=headers,
                                      content=req.body) as resp:
            wanted = {name: resp.headers.get(name, "") for name in req.want_headers}
            length, first_at = 0, None
            async for chunk in resp.aiter_bytes(None if req.read == "any" else PIECE):
                if first_at is None:
                    first_at = perf_counter()
                length += len(chunk)
            return Reply(resp.status_code, b"", length, wanted, first_at)

    async def ws_echo(self, path: str, texts: list[str]) -> list[str]:
        raise NotSupported("httpx.ASGITransport has no WebSocket support")


class AsgiToolsClient:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def request(self, req: Request) -> Reply:
        resp = await self.client.request(req.path, method=req.method, headers=dict(req.headers),
                                         data=req.body or b"")
        wanted = {name: resp.headers.get(name, "") for name in req.want_headers}
        if req.read == "bytes":
            body = await resp.body()
            return Reply(resp.status_code, body, len(body), wanted)
        length, first_at = 0, None
        async for chunk in resp.stream():
            if first_at is None:
                first_at = perf_counter()
            length += len(chunk)
        return Reply(resp.status_code, b"", length, wanted, first_at)

    async def ws_echo(self, path: str, texts: list[str]) -> list[str]:
        echoed = []
        async with self.client.websocket(path) as ws:
            for text in texts:
                await ws.send(text)
                echoed.append(await ws.receive())
        return echoed


@asynccontextmanager
async def _session(connector: aiohttp.BaseConnector, base_url: str = BASE_URL,
                   **kwargs: Any) -> AsyncIterator[AiohttpClient]:
    async with aiohttp.ClientSession(base_url=base_url, connector=connector) as session:
        yield AiohttpClient(session, **kwargs)


@asynccontextmanager
async def open_client(column: str, app_name: str, request: Request | None = None,
                      loop: str = "asyncio") -> AsyncIterator[Client]:
    """The column's client for the app ``APPS[app_name]``; ``request`` is what the
    aiohttp-only floor records its canned response from."""
    # Any: each peer annotates the ASGI callable its own way. uvicorn's server builds its own.
    app: Any = None if column == "uvicorn" else APPS[app_name]()
    if column == "app":
        yield AppClient(app)
    elif column == "aiohttp":
        if app_name == "ws-echo":
            connector = CannedConnector(ws_replies=await record_ws(app, WS_MESSAGES))
        elif request is None or app_name.startswith("ttfb"):
            raise NotSupported("a canned response has no pause to time")
        else:
            connector = CannedConnector(await record(app, request))
        async with _session(connector) as client:
            yield client
    elif column in ("compiled", "pure"):
        import aiohttp_asgi_fast

        wanted, got = ("python" if column == "pure" else "cython",
                       aiohttp_asgi_fast.IMPLEMENTATION)
        if got != wanted:
            raise RuntimeError(f"IMPLEMENTATION is {got!r}, "
                               f"expected {wanted!r} (AIOHTTP_ASGI_NO_EXTENSIONS="
                               f"{os.environ.get('AIOHTTP_ASGI_NO_EXTENSIONS')!r})")
        async with _session(aiohttp_asgi_fast.ASGIApplicationConnector(app)) as client:
            yield client
    elif column == "rival":
        from aiohttp_asgi_connector import ASGIApplicationConnector

        async with _session(ASGIApplicationConnector(app), ws=False) as client:
            yield client
    elif column == "httpx":
        import httpx

        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield HttpxClient(http)
    elif column == "asgi-tools":
        from asgi_tools.tests import ASGITestClient

        yield AsgiToolsClient(ASGITestClient(app, base_url=BASE_URL))
    elif column == "uvicorn":
        from _uvicorn import uvicorn_server

        with uvicorn_server(app_name, loop) as (base_url, pid):
            async with _session(aiohttp.TCPConnector(), base_url) as client:
                client.server_pid = pid
                yield client
    else:
        raise ValueError(f"unknown column {column!r}")
