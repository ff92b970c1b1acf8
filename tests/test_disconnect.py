"""The app learns when the client goes away (issue 2, HTTP behaviour 4)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from aiohttp_asgi_fast import ClientDisconnectedError
from helpers import make_session


class StreamingApp:
    """Streams until send() fails; records what receive()/send() did at the end."""

    def __init__(self) -> None:
        self.send_error: BaseException | None = None
        self.disconnect_message: dict[str, Any] | None = None
        self.finished = asyncio.Event()
        self.started = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()

        async def watch() -> None:
            self.disconnect_message = await receive()

        watcher = asyncio.ensure_future(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            self.started.set()
            while True:
                await send({"type": "http.response.body", "body": b"x" * 100,
                            "more_body": True})
                await asyncio.sleep(0.001)
        except OSError as exc:
            self.send_error = exc
            await asyncio.wait_for(watcher, 5)
        finally:
            watcher.cancel()
            self.finished.set()


async def test_receive_after_complete_response_is_disconnect() -> None:
    after: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        after.append(await receive())
        done.set()

    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert await resp.read() == b"ok"
        await asyncio.wait_for(done.wait(), 5)
    assert after == [{"type": "http.disconnect"}]


async def test_release_early_disconnects_the_app() -> None:
    # aiohttp-asgi-connector fault 10: the app kept producing.
    app = StreamingApp()
    async with make_session(app) as session:
        resp = await session.get("/")
        await resp.content.readexactly(100)
        resp.release()
        await asyncio.wait_for(app.finished.wait(), 5)
    assert isinstance(app.send_error, ClientDisconnectedError)
    assert isinstance(app.send_error, OSError)
    assert app.disconnect_message == {"type": "http.disconnect"}


async def test_response_close_disconnects_the_app() -> None:
    app = StreamingApp()
    async with make_session(app) as session:
        async with session.get("/") as resp:
            await resp.content.readexactly(100)
            resp.close()
        await asyncio.wait_for(app.finished.wait(), 5)
    assert isinstance(app.send_error, ClientDisconnectedError)


async def test_session_close_disconnects_the_app() -> None:
    app = StreamingApp()
    async with make_session(app) as session:
        resp = await session.get("/")
        await resp.content.readexactly(100)
    await asyncio.wait_for(app.finished.wait(), 5)
    assert app.disconnect_message == {"type": "http.disconnect"}
    resp.release()


async def test_client_timeout_disconnects_the_app() -> None:
    app = StreamingApp()

    async def slow_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/stream":
            await app(scope, receive, send)
            return
        message = await receive()
        assert message["type"] == "http.request"
        app.started.set()
        app.disconnect_message = await receive()  # blocks until the client leaves
        app.finished.set()

    timeout = aiohttp.ClientTimeout(total=0.2)
    async with make_session(slow_app) as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.get("/", timeout=timeout)
        await asyncio.wait_for(app.finished.wait(), 5)
    assert app.disconnect_message == {"type": "http.disconnect"}


async def test_app_ignoring_disconnect_is_cancelled_at_session_close() -> None:
    cancelled = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with make_session(app) as session:
        resp = await session.get("/")
        await resp.content.readexactly(1)
        resp.release()
    assert cancelled.is_set()  # and conftest checks no task outlived the test


async def test_background_work_after_response_is_cancelled_at_close() -> None:
    finished_normally = False

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal finished_normally
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        await asyncio.sleep(3600)  # e.g. a background task that runs on
        finished_normally = True

    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert await resp.read() == b"done"
    assert not finished_normally


async def test_disconnect_then_send_raises_each_time() -> None:
    errors: list[BaseException] = []
    done = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        message = await receive()
        while message["type"] != "http.disconnect":
            message = await receive()
        for _ in range(2):
            try:
                await send({"type": "http.response.body", "body": b"y", "more_body": True})
            except OSError as exc:
                errors.append(exc)
        done.set()

    async with make_session(app) as session:
        resp = await session.get("/")
        await resp.content.readexactly(1)
        resp.close()
        await asyncio.wait_for(done.wait(), 5)
    assert len(errors) == 2
    assert all(isinstance(e, ClientDisconnectedError) for e in errors)


async def test_disconnect_wakes_a_send_blocked_on_backpressure() -> None:
    blocked_error: list[BaseException] = []
    done = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"z" * 65536,
                            "more_body": True})
        except OSError as exc:
            blocked_error.append(exc)
        done.set()

    async with make_session(app) as session:
        resp = await session.get("/")
        await resp.content.readexactly(10)
        await asyncio.sleep(0.02)  # let the app fill the buffer and block
        assert not done.is_set()
        resp.close()
        await asyncio.wait_for(done.wait(), 5)
    assert isinstance(blocked_error[0], ClientDisconnectedError)


async def test_app_that_handles_cancellation_and_awaits_again_finishes_cleanup() -> None:
    # Cancellation is thrown into the app through the connector's step wrapper; an app
    # may await more (async cleanup) before it ends.
    cleaned_up = False

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal cleaned_up
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0)
            await asyncio.sleep(0.01)
            cleaned_up = True
            raise

    async with make_session(app) as session:
        resp = await asyncio.wait_for(session.get("/"), 5)
        await asyncio.wait_for(resp.content.readexactly(1), 5)
        resp.release()
    assert cleaned_up


async def test_starlette_client_disconnect_after_an_early_release_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Starlette turns send()'s ClientDisconnectedError into its own ClientDisconnect
    (raised while handling it): the client left, which is no app error to log."""
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def endless() -> Any:
        while True:
            yield b"data: tick\n\n"
            await asyncio.sleep(0.001)

    async def stream(request: Any) -> StreamingResponse:
        return StreamingResponse(endless(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/stream", stream)])
    async with make_session(app) as session:
        response = await session.get("/stream")
        assert await response.content.readline() == b"data: tick\n"
        response.release()
        connector = session.connector
        assert connector is not None
        for _ in range(200):  # the app call ends once it hears of the disconnect
            if not connector.running_app_calls:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.005)
        assert not connector.running_app_calls  # type: ignore[attr-defined]
    errors = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert errors == [], [r.getMessage() for r in errors]
