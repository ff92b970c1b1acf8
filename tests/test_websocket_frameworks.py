"""WebSockets against real frameworks: Starlette, FastAPI, asgi-tools, Quart, Litestar;
uvicorn (when installed) as the reference for what a refused handshake answers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import ClientSession, WSMsgType, WSServerHandshakeError
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


@asynccontextmanager
async def uvicorn_session(app: Any) -> AsyncIterator[ClientSession]:
    """``app`` served by uvicorn (wsproto) on a 127.0.0.1 port in this loop: the reference."""
    uvicorn = pytest.importorskip("uvicorn")
    pytest.importorskip("wsproto")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, ws="wsproto", lifespan="off", log_level="critical")
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), task
            await asyncio.sleep(0.01)
        async with ClientSession(base_url=f"http://127.0.0.1:{port}") as session:
            yield session
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 5)
        sock.close()


async def handshake_status(session: ClientSession, path: str) -> int:
    try:
        ws = await session.ws_connect(path)
    except WSServerHandshakeError as exc:
        return exc.status
    await ws.close()
    return 101


def _fastapi_required_query() -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket, token: str) -> None:
        await websocket.accept()
        await websocket.send_text(token)
        await websocket.close()

    return app


def _raw_close_before_accept(close: dict[str, Any]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.close", **close})

    return app


@pytest.mark.parametrize(
    "make_app",
    [
        pytest.param(_fastapi_required_query, id="fastapi-missing-query-param"),
        pytest.param(lambda: _raw_close_before_accept({"code": 1006}), id="code-1006"),
        pytest.param(lambda: _raw_close_before_accept({"reason": ["a", "list"]}),
                     id="list-reason"),
        pytest.param(lambda: _raw_close_before_accept({"code": 1008, "reason": "x" * 300}),
                     id="long-reason"),
    ],
)
async def test_close_before_accept_is_403_as_uvicorn(make_app: Any) -> None:
    # FastAPI's websocket validation handler closes before accepting, with the errors
    # list as 'reason': the client gets uvicorn's 403, not an ASGIProtocolError or a 500.
    app = make_app()
    async with uvicorn_session(app) as session:
        expected = await handshake_status(session, "/ws")
    assert expected == 403
    async with make_session(app) as session:
        assert await handshake_status(session, "/ws") == 403
        assert await handshake_status(session, "/ws?token=t") == (
            101 if make_app is _fastapi_required_query else 403
        )
