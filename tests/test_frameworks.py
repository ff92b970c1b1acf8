"""Real frameworks through the connector: the rival's documented example and usage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import aiohttp
import pytest
from fastapi import BackgroundTasks, Body, FastAPI, HTTPException, Request
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from helpers import make_session


def rival_fastapi_app() -> FastAPI:
    # The aiohttp-asgi-connector README example, verbatim in behaviour.
    app = FastAPI()

    @app.post("/ping")
    async def pong(message: Annotated[str, Body(embed=True)]) -> dict[str, str]:
        return {"broadcast": f"Application says '{message}'!"}

    @app.get("/items/{item_id}")
    async def item(item_id: int, q: str | None = None) -> dict[str, Any]:
        return {"item_id": item_id, "q": q}

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(status_code=404, detail="nope")

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("handler crashed")

    return app


async def test_rival_readme_example() -> None:
    async with make_session(rival_fastapi_app(), base_url="http://localhost") as session:
        async with session.post("/ping", json={"message": "hello"}) as resp:
            assert resp.status == 200
            assert await resp.json() == {"broadcast": "Application says 'hello'!"}


async def test_fastapi_path_query_validation_and_http_errors() -> None:
    async with make_session(rival_fastapi_app()) as session:
        async with session.get("/items/42", params={"q": "x y"}) as resp:
            assert await resp.json() == {"item_id": 42, "q": "x y"}
        async with session.get("/items/notanint") as resp:
            assert resp.status == 422
        async with session.get("/missing") as resp:
            assert resp.status == 404
            assert await resp.json() == {"detail": "nope"}


async def test_fastapi_unhandled_exception_propagates_or_is_500() -> None:
    async with make_session(rival_fastapi_app()) as session:
        with pytest.raises(RuntimeError, match="handler crashed"):
            await session.get("/crash")
    async with make_session(rival_fastapi_app(), propagate_exceptions=False) as session:
        async with session.get("/crash") as resp:
            assert resp.status == 500


async def test_fastapi_streaming_upload_and_download() -> None:
    app = FastAPI()

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    @app.get("/download")
    async def download() -> StreamingResponse:
        async def gen() -> AsyncIterator[bytes]:
            for i in range(100):
                yield b"%05d" % i

        return StreamingResponse(gen(), media_type="text/plain")

    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"u" * 10000
            await asyncio.sleep(0)

    async with make_session(app) as session:
        async with session.post("/upload", data=body()) as resp:
            assert await resp.json() == {"size": 100000}
        async with session.get("/download") as resp:
            assert await resp.read() == b"".join(b"%05d" % i for i in range(100))


async def test_fastapi_streaming_response_that_raises_fails_the_read() -> None:
    # aiohttp-asgi-connector fault 8 with a FastAPI StreamingResponse.
    app = FastAPI()

    @app.get("/s")
    async def s() -> StreamingResponse:
        async def gen() -> AsyncIterator[bytes]:
            yield b"one"
            await asyncio.sleep(0)  # "one" and the head reach the client first
            raise ValueError("stream broke")

        return StreamingResponse(gen())

    async with make_session(app) as session:
        async with session.get("/s") as resp:
            with pytest.raises(aiohttp.ClientPayloadError) as info:
                await resp.read()
    cause = info.value.__cause__
    # Starlette may wrap the error in an ExceptionGroup.
    while cause is not None and hasattr(cause, "exceptions"):  # (Base)ExceptionGroup
        cause = cause.exceptions[0]
    assert isinstance(cause, ValueError)


async def test_starlette_endless_sse_and_disconnect_detection() -> None:
    disconnected = asyncio.Event()

    async def events(request: Any) -> StreamingResponse:
        async def gen() -> AsyncIterator[bytes]:
            n = 0
            try:
                while True:
                    if await request.is_disconnected():
                        disconnected.set()
                        return
                    yield b"data: %d\n\n" % n
                    n += 1
                    await asyncio.sleep(0.001)
            finally:
                disconnected.set()

        return StreamingResponse(gen(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/events", events)])
    async with make_session(app) as session:
        async with session.get("/events") as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            got = []
            async for line in resp.content:
                if line.strip():
                    got.append(line.strip())
                if len(got) == 3:
                    break
        await asyncio.wait_for(disconnected.wait(), 5)
    assert got == [b"data: 0", b"data: 1", b"data: 2"]


async def test_starlette_base_http_middleware() -> None:
    class AddHeader(BaseHTTPMiddleware):
        async def dispatch(self, request: Any, call_next: Any) -> Any:
            response = await call_next(request)
            response.headers["x-middleware"] = "yes"
            return response

    async def echo(request: Any) -> PlainTextResponse:
        return PlainTextResponse((await request.body()).decode())

    async def data(request: Any) -> JSONResponse:
        return JSONResponse({"path": request.url.path, "root": request.scope["root_path"]})

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/data", data)],
                    middleware=[Middleware(AddHeader)])
    async with make_session(app) as session:
        for _ in range(3):
            async with session.post("/echo", data=b"hello\r\n\r\nworld") as resp:
                assert resp.headers["x-middleware"] == "yes"
                assert await resp.text() == "hello\r\n\r\nworld"
        async with session.get("/data") as resp:
            assert await resp.json() == {"path": "/data", "root": ""}


async def test_fastapi_background_task_runs_after_response() -> None:
    ran = asyncio.Event()
    app = FastAPI()

    @app.post("/job")
    async def job(background: BackgroundTasks) -> dict[str, str]:
        async def work() -> None:
            ran.set()

        background.add_task(work)
        return {"status": "queued"}

    async with make_session(app) as session:
        async with session.post("/job") as resp:
            assert await resp.json() == {"status": "queued"}
        await asyncio.wait_for(ran.wait(), 5)


async def test_rival_lifespan_manager_pattern() -> None:
    # aiohttp-asgi-connector's README: wrap the app in asgi-lifespan's LifespanManager.
    from contextlib import asynccontextmanager

    from asgi_lifespan import LifespanManager

    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        events.append("startup")
        yield {"db": "connected"}
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/state")
    async def state(request: Request) -> dict[str, str]:
        return {"db": request.state.db}

    async with LifespanManager(app) as manager:
        async with make_session(manager.app) as session:
            async with session.get("/state") as resp:
                assert await resp.json() == {"db": "connected"}
    assert events == ["startup", "shutdown"]
