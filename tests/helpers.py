"""Raw ASGI apps and a session factory shared by the connector tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import ClientSession

from aiohttp_asgi_fast import ASGIApplicationConnector

Scope = dict[str, Any]
Message = dict[str, Any]


@asynccontextmanager
async def make_session(
    app: Any, base_url: str = "http://testserver", session_options: dict[str, Any] | None = None,
    **connector_options: Any,
) -> AsyncIterator[ClientSession]:
    connector = ASGIApplicationConnector(app, **connector_options)
    async with ClientSession(
        base_url=base_url, connector=connector, **(session_options or {})
    ) as session:
        yield session


async def read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        chunks.append(message["body"])
        if not message.get("more_body", False):
            return b"".join(chunks)


def json_app(status: int = 200, body: bytes = b'{"ok": true}') -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        await read_body(receive)
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        })
        await send({"type": "http.response.body", "body": body})

    return app


class Recorder:
    """An app that records its scope and received messages, then echoes the body."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []
        self.messages: list[Message] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        chunks = []
        while True:
            message = await receive()
            self.messages.append(message)
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"".join(chunks)})
