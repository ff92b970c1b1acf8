"""ASGI lifespan (spec 2.0) through the connector: startup, state, shutdown, failures."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import ClientSession
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from aiohttp_asgi_fast import ASGIApplicationConnector, ASGIProtocolError, LifespanError
from helpers import Message, Scope, make_session, read_body

BASE = "http://testserver"


class LifespanApp:
    """A raw ASGI app whose lifespan answers as told; its HTTP side reports scope state.

    ``startup`` / ``shutdown``: "complete", "failed" (message "db down"), "raise"
    (``RuntimeError("boom")``) or "hang" (never answers).
    """

    def __init__(
        self, startup: str = "complete", shutdown: str = "complete", startup_delay: float = 0
    ) -> None:
        self.startup = startup
        self.shutdown = shutdown
        self.startup_delay = startup_delay
        self.events: list[str] = []
        self.lifespan_scopes: list[Scope] = []
        self.cancelled = False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(scope, receive, send)
            return
        assert scope["type"] == "http"
        self.events.append("request")
        await read_body(receive)
        state = scope.get("state")
        body = json.dumps(None if state is None else sorted(state))
        if state is not None:
            state["leaked"] = True  # must not reach the next request's scope
            state["items"].append(len(state["items"]))  # shared: the copy is shallow
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body.encode()})

    async def lifespan(self, scope: Scope, receive: Any, send: Any) -> None:
        self.lifespan_scopes.append(scope)
        try:
            message = await receive()
            self.events.append(message["type"])
            await asyncio.sleep(self.startup_delay)
            scope["state"].update({"db": "connected", "items": []})
            await self.answer("startup", self.startup, send)
            if self.startup == "failed":
                return  # lifespan spec: the server will exit
            message = await receive()
            self.events.append(message["type"])
            await self.answer("shutdown", self.shutdown, send)
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    async def answer(self, phase: str, how: str, send: Any) -> None:
        if how == "complete":
            await send({"type": f"lifespan.{phase}.complete"})
        elif how == "failed":
            await send({"type": f"lifespan.{phase}.failed", "message": "db down"})
        elif how == "raise":
            raise RuntimeError("boom")
        else:
            await asyncio.sleep(3600)


@asynccontextmanager
async def lifespan_session(app: Any, **options: Any) -> AsyncIterator[ClientSession]:
    connector = ASGIApplicationConnector(app, lifespan=True, **options)
    async with ClientSession(base_url=BASE, connector=connector) as session:
        yield session


async def get_json(session: ClientSession, path: str = "/") -> Any:
    async with session.get(path) as resp:
        assert resp.status == 200
        return json.loads(await resp.read())


# -- startup ------------------------------------------------------------------------------


async def test_startup_runs_once_before_concurrent_first_requests() -> None:
    app = LifespanApp(startup_delay=0.05)
    async with lifespan_session(app) as session:
        results = await asyncio.gather(*(get_json(session) for _ in range(5)))
        assert results == [["db", "items"]] * 5
        assert app.events == ["lifespan.startup"] + ["request"] * 5
    assert app.events[-1] == "lifespan.shutdown"
    assert len(app.lifespan_scopes) == 1
    scope = app.lifespan_scopes[0]
    assert scope["type"] == "lifespan"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.0"}


async def test_explicit_startup_is_idempotent() -> None:
    app = LifespanApp()
    connector = ASGIApplicationConnector(app, lifespan=True)
    async with ClientSession(base_url=BASE, connector=connector) as session:
        assert connector.state is None
        await connector.startup()
        assert app.events == ["lifespan.startup"]
        assert connector.state == {"db": "connected", "items": []}
        await connector.startup()
        await asyncio.gather(connector.startup(), connector.startup())
        assert await get_json(session) == ["db", "items"]
        assert app.events == ["lifespan.startup", "request"]
    assert app.events == ["lifespan.startup", "request", "lifespan.shutdown"]


async def test_state_is_shallow_copied_per_request() -> None:
    app = LifespanApp()
    connector = ASGIApplicationConnector(app, lifespan=True, force_close=True)
    async with ClientSession(base_url=BASE, connector=connector) as session:
        for _ in range(3):
            # The previous request's state["leaked"] = True is not visible.
            assert await get_json(session) == ["db", "items"]
        state = connector.state
        assert state is app.lifespan_scopes[0]["state"]  # the very dict the app filled
        assert state == {"db": "connected", "items": [0, 1, 2]}  # shallow: items shared
        assert "leaked" not in state


async def test_request_cancelled_while_waiting_does_not_cancel_startup() -> None:
    app = LifespanApp(startup_delay=0.2)
    async with lifespan_session(app) as session:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(session.get("/"), 0.05)
        assert await get_json(session) == ["db", "items"]
        assert app.events == ["lifespan.startup", "request"]
        assert not app.cancelled


async def test_fastapi_lifespan_state_and_shutdown() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        yield {"db": {"name": "primary"}}
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/db")
    async def db(request: Request) -> dict[str, Any]:
        events.append("request")
        return {"db": request.state.db}

    connector = ASGIApplicationConnector(app, lifespan=True)
    async with ClientSession(base_url=BASE, connector=connector) as session:
        for _ in range(2):
            assert await get_json(session, "/db") == {"db": {"name": "primary"}}
        assert connector.state == {"db": {"name": "primary"}}
        assert events == ["startup", "request", "request"]
    assert events == ["startup", "request", "request", "shutdown"]


async def test_starlette_startup_and_shutdown_hooks() -> None:
    # Starlette 1.x dropped on_startup/on_shutdown: the same hooks in a lifespan
    # context that yields no state.
    events: list[str] = []

    async def on_startup() -> None:
        events.append("startup")

    async def on_shutdown() -> None:
        events.append("shutdown")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await on_startup()
        yield
        await on_shutdown()

    async def home(request: Any) -> JSONResponse:
        return JSONResponse({"events": list(events)})

    app = Starlette(routes=[Route("/", home)], lifespan=lifespan)
    connector = ASGIApplicationConnector(app, lifespan=True)
    async with ClientSession(base_url=BASE, connector=connector) as session:
        assert await get_json(session) == {"events": ["startup"]}
        assert connector.state == {}
    assert events == ["startup", "shutdown"]


async def test_startup_failed_message_raised_from_every_request() -> None:
    app = LifespanApp(startup="failed")
    connector = ASGIApplicationConnector(app, lifespan=True)
    expected = r"^ASGI lifespan startup failed: db down$"
    async with ClientSession(base_url=BASE, connector=connector) as session:
        with pytest.raises(LifespanError, match=expected) as first:
            await session.get("/")
        with pytest.raises(LifespanError) as second:
            await session.get("/")
        assert second.value is first.value
        with pytest.raises(LifespanError) as third:
            await connector.startup()
        assert third.value is first.value
        assert first.value.__cause__ is None
        assert connector.state is None
    assert app.events == ["lifespan.startup"]  # no request served, no shutdown sent
    assert isinstance(first.value, RuntimeError)


async def test_startup_exception_is_the_cause() -> None:
    app = LifespanApp(startup="raise")
    async with lifespan_session(app) as session:
        with pytest.raises(LifespanError, match=r"startup failed: .*boom") as info:
            await session.get("/")
        with pytest.raises(LifespanError):
            await session.get("/")
    cause = info.value.__cause__
    assert isinstance(cause, RuntimeError)
    assert str(cause) == "boom"
    assert app.events == ["lifespan.startup"]


async def test_fastapi_startup_exception_is_the_cause() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        raise ConnectionRefusedError("database unreachable")
        yield  # pragma: no cover

    app = FastAPI(lifespan=lifespan)
    async with lifespan_session(app) as session:
        with pytest.raises(LifespanError, match="database unreachable") as info:
            await session.get("/")
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


async def test_startup_timeout_cancels_the_lifespan_task() -> None:
    app = LifespanApp(startup="hang")
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with lifespan_session(app, lifespan_startup_timeout=0.2) as session:
        with pytest.raises(LifespanError, match=r"did not complete within 0\.2 s"):
            await session.get("/")
        assert loop.time() - started < 5
        assert app.cancelled
        with pytest.raises(LifespanError, match="did not complete"):
            await session.get("/")
    assert app.events == ["lifespan.startup"]


@pytest.mark.parametrize("behaviour", ["raise", "return"])
async def test_app_without_lifespan_support_is_served(
    behaviour: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    http_app = LifespanApp()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        calls.append(scope["type"])
        if behaviour == "return" and scope["type"] == "lifespan":
            return
        assert scope["type"] == "http"
        await http_app(scope, receive, send)

    caplog.set_level(logging.INFO, logger="aiohttp_asgi_fast")
    connector = ASGIApplicationConnector(app, lifespan=True)
    async with ClientSession(base_url=BASE, connector=connector) as session:
        assert await get_json(session) is None  # no "state" in the request scope
        assert await get_json(session) is None
        await connector.startup()
        assert connector.state is None
    assert calls == ["lifespan", "http", "http"]  # and no shutdown
    assert "ASGI 'lifespan' protocol appears unsupported" in caplog.text


async def test_close_during_startup_interrupts_it() -> None:
    app = LifespanApp(startup="hang")
    connector = ASGIApplicationConnector(app, lifespan=True)
    session = ClientSession(base_url=BASE, connector=connector)
    request = asyncio.ensure_future(session.get("/"))
    await asyncio.sleep(0.05)
    await session.close()
    with pytest.raises(LifespanError, match="interrupted"):
        await request
    assert app.cancelled


async def test_startup_after_close_is_refused() -> None:
    app = LifespanApp()
    connector = ASGIApplicationConnector(app, lifespan=True)
    await connector.close()
    with pytest.raises(LifespanError, match="the connector is closed"):
        await connector.startup()
    assert app.lifespan_scopes == []


# -- shutdown -----------------------------------------------------------------------------


async def test_shutdown_runs_on_session_close_after_requests() -> None:
    app = LifespanApp()
    async with lifespan_session(app) as session:
        await get_json(session)
        assert app.events == ["lifespan.startup", "request"]
    assert app.events == ["lifespan.startup", "request", "lifespan.shutdown"]
    assert not app.cancelled


async def test_no_shutdown_when_startup_never_ran() -> None:
    app = LifespanApp()
    async with lifespan_session(app):
        pass
    assert app.events == []
    assert app.lifespan_scopes == []


async def test_shutdown_failed_raised_from_session_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = LifespanApp(shutdown="failed")
    with pytest.raises(LifespanError, match=r"^ASGI lifespan shutdown failed: db down$"):
        async with lifespan_session(app) as session:
            await get_json(session)
    assert app.events[-1] == "lifespan.shutdown"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["ASGI lifespan shutdown failed: db down"]


async def test_shutdown_exception_is_the_cause() -> None:
    app = LifespanApp(shutdown="raise")
    session = ClientSession(base_url=BASE, connector=ASGIApplicationConnector(app, lifespan=True))
    await get_json(session)
    with pytest.raises(LifespanError, match=r"shutdown failed: .*boom") as info:
        await session.close()
    assert isinstance(info.value.__cause__, RuntimeError)


async def test_starlette_shutdown_exception_is_the_cause() -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        raise OSError("flush failed")

    app = Starlette(routes=[], lifespan=lifespan)
    session = ClientSession(base_url=BASE, connector=ASGIApplicationConnector(app, lifespan=True))
    async with session.get("/") as resp:
        assert resp.status == 404
    with pytest.raises(LifespanError, match="flush failed") as info:
        await session.close()
    assert isinstance(info.value.__cause__, OSError)


async def test_shutdown_timeout_cancels_the_lifespan_task() -> None:
    app = LifespanApp(shutdown="hang")
    session = ClientSession(
        base_url=BASE,
        connector=ASGIApplicationConnector(app, lifespan=True, lifespan_shutdown_timeout=0.2),
    )
    await get_json(session)
    with pytest.raises(LifespanError, match=r"shutdown failed: did not complete within 0\.2 s"):
        await session.close()
    assert app.cancelled


@pytest.mark.parametrize("delay", [False, True])
async def test_app_crash_after_startup_is_logged_then_raised_at_close(
    delay: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        if delay:
            await asyncio.sleep(0.01)
        raise ValueError("crashed")

    connector = ASGIApplicationConnector(app, lifespan=True)
    await connector.startup()
    await asyncio.sleep(0.05)
    # Reported when it happened, not first at close ...
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "ASGI lifespan task failed after startup: the application raised "
        "ValueError('crashed'); 'lifespan.shutdown' cannot be delivered"
    ]
    # ... and at close as what it is: shutdown could not run, it did not fail.
    expected = (
        r"^ASGI lifespan shutdown not run: the application raised ValueError\('crashed'\) "
        r"after startup$"
    )
    with pytest.raises(LifespanError, match=expected) as info:
        await connector.close()
    assert isinstance(info.value.__cause__, ValueError)
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


async def test_cancelled_close_does_not_leak_the_lifespan_task() -> None:
    app = LifespanApp(shutdown="hang")
    connector = ASGIApplicationConnector(app, lifespan=True)
    await connector.startup()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(connector.close(), 0.1)
    await asyncio.sleep(0.01)
    assert app.cancelled  # and the harness sees no task left behind


async def test_lingering_task_after_shutdown_complete_is_cancelled() -> None:
    cancelled = asyncio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        try:
            await receive()  # nothing follows lifespan.shutdown
        finally:
            cancelled.set()

    connector = ASGIApplicationConnector(app, lifespan=True)
    await connector.startup()
    await connector.close()
    assert cancelled.is_set()


# -- lifespan off ------------------------------------------------------------------------


async def test_lifespan_off_by_default() -> None:
    app = LifespanApp()
    connector = ASGIApplicationConnector(app)
    async with ClientSession(base_url=BASE, connector=connector) as session:
        await connector.startup()  # no-op
        assert await get_json(session) is None
        assert connector.state is None
    assert app.events == ["request"]
    assert app.lifespan_scopes == []


async def test_lifespan_manager_wrapping_still_starts_once() -> None:
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
            assert await get_json(session, "/state") == {"db": "connected"}
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


@pytest.mark.parametrize("option", ["lifespan_startup_timeout", "lifespan_shutdown_timeout"])
@pytest.mark.parametrize("value", [0, -1, "1"])
async def test_invalid_timeouts(option: str, value: Any) -> None:
    with pytest.raises(ValueError, match=option):
        ASGIApplicationConnector(LifespanApp(), lifespan=True, **{option: value})


# -- protocol errors ---------------------------------------------------------------------

Step = Callable[[Any, Any], Awaitable[None]]


async def _receive(receive: Any, send: Any) -> None:
    await receive()


def _send(message: Any) -> Step:
    async def step(receive: Any, send: Any) -> None:
        await send(message)

    return step


_COMPLETE = _send({"type": "lifespan.startup.complete"})


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        pytest.param(
            [_receive, _send({"type": "http.response.start", "status": 200})],
            "unexpected ASGI message type 'http.response.start'",
            id="http-message",
        ),
        pytest.param(
            [_receive, _send({"type": "lifespan.shutdown.complete"})],
            "'lifespan.shutdown.complete' sent out of order: the application has not "
            "received 'lifespan.shutdown'",
            id="shutdown-during-startup",
        ),
        pytest.param(
            [_COMPLETE],
            "'lifespan.startup.complete' sent out of order: the application has not "
            "received 'lifespan.startup'",
            id="complete-before-receive",
        ),
        pytest.param(
            [_receive, _send({"type": "lifespan.startup.failed", "message": b"bytes"})],
            "'message' must be a str, got bytes",
            id="bytes-message",
        ),
        pytest.param(
            [_receive, _send({"message": "no type"})],
            "must be a dict with a 'type' key",
            id="no-type",
        ),
        pytest.param(
            [_receive, _send("lifespan.startup.complete")],
            "must be a dict with a 'type' key",
            id="not-a-dict",
        ),
        pytest.param(
            [_receive, _send({"type": ["lifespan.startup.complete"]})],
            "unexpected ASGI message type ['lifespan.startup.complete']",
            id="unhashable-type",
        ),
        pytest.param(
            [_receive, _send({"type": "lifespan.startup.completed"})],
            "unexpected ASGI message type 'lifespan.startup.completed'",
            id="unknown-type",
        ),
    ],
)
async def test_invalid_startup_messages_raise_protocol_error(
    steps: list[Step], error: str
) -> None:
    raised: list[BaseException] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        try:
            for step in steps:
                await step(receive, send)
        except ASGIProtocolError as exc:
            raised.append(exc)
            raise

    async with lifespan_session(app) as session:
        with pytest.raises(LifespanError, match="startup failed") as info:
            await session.get("/")
    assert len(raised) == 1
    assert error in str(raised[0])
    assert info.value.__cause__ is raised[0]
    assert str(info.value) == (
        f"ASGI lifespan startup failed: the application broke the lifespan protocol: "
        f"{raised[0]}"
    )


_TYPES = (
    " for a 'lifespan' scope; expected 'lifespan.startup.complete', 'lifespan.startup.failed', "
    "'lifespan.shutdown.complete' or 'lifespan.shutdown.failed'"
)


@pytest.mark.parametrize(
    ("second", "error"),
    [
        ({"type": "lifespan.startup.complete"},
         "'lifespan.startup.complete' sent out of order: 'lifespan.startup' was already "
         "answered"),
        ({"type": "lifespan.startup.failed", "message": "late"},
         "'lifespan.startup.failed' sent out of order: 'lifespan.startup' was already "
         "answered"),
        ({"type": "lifespan.shutdown.complete"},
         "'lifespan.shutdown.complete' sent out of order: the application has not received "
         "'lifespan.shutdown'"),
        ({"type": "lifespan.startup"}, "unexpected ASGI message type 'lifespan.startup'" + _TYPES),
    ],
)
@pytest.mark.parametrize("catch", [False, True])
async def test_message_after_startup_complete_fails_startup(
    second: Message, error: str, catch: bool
) -> None:
    # A second answer in the same step as startup.complete: startup has not concluded,
    # so it fails naming the message, instead of succeeding and the violation surfacing
    # at close as a "shutdown failure".
    raised: list[BaseException] = []
    received: list[Message] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        received.append(await receive())
        await send({"type": "lifespan.startup.complete"})
        try:
            await send(second)
        except ASGIProtocolError as exc:
            raised.append(exc)
            if not catch:
                raise
        received.append(await receive())  # cancelled: startup failed, no shutdown follows

    connector = ASGIApplicationConnector(app, lifespan=True)
    async with ClientSession(base_url=BASE, connector=connector) as session:
        with pytest.raises(LifespanError) as info:
            await session.get("/")
        with pytest.raises(LifespanError) as again:
            await connector.startup()
        assert again.value is info.value
        assert connector.state is None
    assert [str(exc) for exc in raised] == [error]
    assert str(info.value) == (
        f"ASGI lifespan startup failed: the application broke the lifespan protocol: {error}"
    )
    assert info.value.__cause__ is raised[0]
    assert received == [{"type": "lifespan.startup"}]  # and close raised nothing


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"type": "lifespan.startup.complete"},
         "'lifespan.startup.complete' sent out of order: 'lifespan.startup' was already "
         "answered"),
        ({"type": "lifespan.shutdown.failed", "message": "early"},
         "'lifespan.shutdown.failed' sent out of order: the application has not received "
         "'lifespan.shutdown'"),
        ({"type": "websocket.accept"}, "unexpected ASGI message type 'websocket.accept'" + _TYPES),
    ],
)
@pytest.mark.parametrize("catch", [False, True])
async def test_protocol_error_between_startup_and_shutdown_is_reported_when_it_happens(
    bad: Message, error: str, catch: bool, caplog: pytest.LogCaptureFixture
) -> None:
    raised: list[BaseException] = []
    go = asyncio.Event()
    app_http = LifespanApp()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await app_http(scope, receive, send)
            return
        await receive()
        scope["state"]["items"] = []
        await send({"type": "lifespan.startup.complete"})
        await go.wait()
        try:
            await send(bad)
        except ASGIProtocolError as exc:
            raised.append(exc)
            if not catch:
                raise
        assert await receive() == {"type": "lifespan.shutdown"}
        await send({"type": "lifespan.shutdown.complete"})

    def errors() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]

    connector = ASGIApplicationConnector(app, lifespan=True)
    session = ClientSession(base_url=BASE, connector=connector)
    try:
        assert await get_json(session) == ["items"]
        go.set()
        await asyncio.sleep(0.01)
        assert [str(exc) for exc in raised] == [error]
        # Logged when it happened, as a protocol error, once.
        assert errors() == [f"ASGI lifespan protocol error: {error}"]
        assert await get_json(session) == ["items"]  # startup stays complete
    finally:
        if catch:  # the app carried on: shutdown runs normally
            await session.close()
        else:  # the task died of it: shutdown could not run, which close() says
            expected = (
                "ASGI lifespan shutdown not run: the application broke the lifespan "
                f"protocol after startup: {error}"
            )
            with pytest.raises(LifespanError) as info:
                await session.close()
            assert str(info.value) == expected
            assert info.value.__cause__ is raised[0]
    assert errors() == [f"ASGI lifespan protocol error: {error}"]


@pytest.mark.parametrize(
    ("answers", "error"),
    [
        ([{"type": "lifespan.shutdown.complete"}, {"type": "lifespan.shutdown.complete"}],
         "'lifespan.shutdown.complete' sent out of order: 'lifespan.shutdown' was already "
         "answered"),
        ([{"type": "lifespan.startup.complete"}],
         "'lifespan.startup.complete' sent out of order: 'lifespan.startup' was already "
         "answered"),
        ([{"type": "lifespan.shutdown.complete"}, {"type": "lifespan.shutdown.failed"}],
         "'lifespan.shutdown.failed' sent out of order: 'lifespan.shutdown' was already "
         "answered"),
    ],
)
async def test_protocol_error_during_shutdown_fails_shutdown(
    answers: list[Message], error: str, caplog: pytest.LogCaptureFixture
) -> None:
    raised: list[BaseException] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        try:
            for answer in answers:
                await send(answer)
        except ASGIProtocolError as exc:
            raised.append(exc)
            raise

    connector = ASGIApplicationConnector(app, lifespan=True)
    await connector.startup()
    with pytest.raises(LifespanError) as info:
        await connector.close()
    expected = (
        f"ASGI lifespan shutdown failed: the application broke the lifespan protocol: {error}"
    )
    assert str(info.value) == expected
    assert info.value.__cause__ is raised[0]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [expected]


async def test_returning_without_answering_startup_fails() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        message: Message = await receive()
        assert message == {"type": "lifespan.startup"}

    async with lifespan_session(app) as session:
        with pytest.raises(
            LifespanError, match=r"returned without sending 'lifespan\.startup\.complete'"
        ):
            await session.get("/")
