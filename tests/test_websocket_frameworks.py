"""WebSockets against real frameworks: Starlette, FastAPI, asgi-tools, Quart, Litestar."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from helpers import make_session

# FastAPI resolves the (string) annotations below in this module's globals.


async def echo_roundtrips(app: Any, path: str = "/ws", **ws_options: Any) -> None:
    async with make_session(app) as session:
        async with session.ws_connect(path, **ws_options) as ws:
            await ws.send_str("hello")
            assert (await ws.receive(timeout=5)).data == "echo: hello"
            await ws.send_str("again")
            assert (await ws.receive(timeout=5)).data == "echo: again"


async def test_starlette_websocket_route() -> None:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute

    disconnects: list[int] = []

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="v1", headers=[(b"x-app", b"starlette")])
        try:
            while True:
                text = await websocket.receive_text()
                await websocket.send_text(f"echo: {text}")
        except WebSocketDisconnect as exc:
            disconnects.append(exc.code)

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    await echo_roundtrips(app, protocols=("v1",))
    await asyncio.sleep(0.05)
    assert disconnects == [1000]


async def test_starlette_close_with_reason_and_denial() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import WebSocketRoute

    async def closer(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close(code=4003, reason="forbidden topic")

    async def denier(websocket: WebSocket) -> None:
        await websocket.send_denial_response(PlainTextResponse("nope", status_code=418))

    app = Starlette(routes=[WebSocketRoute("/close", closer), WebSocketRoute("/deny", denier)])
    async with make_session(app) as session:
        async with session.ws_connect("/close") as ws:
            message = await ws.receive(timeout=5)
            assert (message.type, message.data, message.extra) == (
                WSMsgType.CLOSE, 4003, "forbidden topic",
            )
        with pytest.raises(WSServerHandshakeError) as info:
            await session.ws_connect("/deny")
        assert info.value.status == 418


async def test_fastapi_websocket_json_and_path_params() -> None:
    app = FastAPI()

    @app.websocket("/rooms/{room}")
    async def room(websocket: WebSocket, room: str, token: str = "") -> None:
        await websocket.accept()
        try:
            while True:
                data = await websocket.receive_json()
                await websocket.send_json({"room": room, "token": token, "got": data})
        except WebSocketDisconnect:
            pass

    async with make_session(app) as session:
        async with session.ws_connect("/rooms/blue?token=t1") as ws:
            await ws.send_json({"n": 1})
            expected = {"room": "blue", "token": "t1", "got": {"n": 1}}
            assert await ws.receive_json(timeout=5) == expected
            await ws.send_bytes(b'{"n": 2}')  # FastAPI's receive_json reads text frames only
            message = await ws.receive(timeout=5)
            assert message.type in (WSMsgType.CLOSE, WSMsgType.ERROR)


async def test_fastapi_websocket_exception_surfaces() -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def broken(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise ZeroDivisionError("in handler")

    async with make_session(app) as session:
        async with session.ws_connect("/ws") as ws:
            await ws.send_str("x")
            message = await ws.receive(timeout=5)
            assert (message.type, message.data) == (WSMsgType.CLOSE, 1011)
            assert isinstance(ws.exception(), ZeroDivisionError)


async def test_asgi_tools_response_websocket() -> None:
    from asgi_tools import App, ResponseWebSocket

    app = App()

    @app.route("/ws")
    async def ws_handler(request: Any) -> Any:
        async with ResponseWebSocket(request) as ws:
            while True:
                text = await ws.receive()
                if not isinstance(text, str):  # the disconnect message
                    break
                await ws.send(f"echo: {text}")
        return ws

    await echo_roundtrips(app)


async def test_quart_websocket() -> None:
    from quart import Quart, websocket

    app = Quart(__name__)

    @app.websocket("/ws")
    async def ws() -> None:
        while True:
            data = await websocket.receive()
            await websocket.send(f"echo: {data}")

    await echo_roundtrips(app)


async def test_litestar_websocket_listener_and_handler() -> None:
    from litestar import Litestar, websocket, websocket_listener
    from litestar import WebSocket as LitestarWebSocket

    @websocket_listener("/ws")
    async def listener(data: str) -> str:
        return f"echo: {data}"

    @websocket("/raw", signature_namespace={"LitestarWebSocket": LitestarWebSocket})
    async def raw(socket: LitestarWebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        text = await socket.receive_text()
        await socket.send_text(f"echo: {text}")
        text = await socket.receive_text()
        await socket.send_text(f"echo: {text}")
        await socket.close()

    app = Litestar(route_handlers=[listener, raw])
    await echo_roundtrips(app)
    await echo_roundtrips(app, "/raw")
