"""App exceptions and ASGI spec violations (issue 2, HTTP behaviour 5)."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import aiohttp
import pytest

from aiohttp_asgi_fast import ASGIAppError, ASGIProtocolError
from helpers import make_session


class Boom(Exception):
    pass


def raising_app(after_start: bool, content_length: bool = False) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if after_start:
            headers = [(b"content-length", b"100")] if content_length else []
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
            await asyncio.sleep(0)  # the step ends: the head and "partial" are delivered
        raise Boom("app failed")

    return app


async def test_exception_before_start_is_raised_as_the_same_object() -> None:
    raised: list[BaseException] = []
    inner = raising_app(after_start=False)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/fine":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body"})
            return
        try:
            await inner(scope, receive, send)
        except Boom as exc:
            raised.append(exc)
            raise

    async with make_session(app) as session:
        with pytest.raises(Boom) as info:
            await session.get("/")
        assert info.value is raised[0]
        async with session.get("/fine") as resp:  # the session is still usable
            assert resp.status == 204


async def test_exception_before_start_is_500_without_propagation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with make_session(raising_app(after_start=False), propagate_exceptions=False) as session:
        with caplog.at_level(logging.ERROR, logger="aiohttp_asgi_fast"):
            async with session.get("/") as resp:
                assert resp.status == 500
                assert await resp.text() == "Internal Server Error"
    assert any(r.exc_info and isinstance(r.exc_info[1], Boom) for r in caplog.records)


@pytest.mark.parametrize("propagate", [True, False])
@pytest.mark.parametrize("content_length", [True, False])
async def test_exception_after_start_fails_the_read(propagate: bool, content_length: bool) -> None:
    # aiohttp-asgi-connector fault 8: the read hung until the client timeout.
    app = raising_app(after_start=True, content_length=content_length)
    async with make_session(app, propagate_exceptions=propagate) as session:
        async with session.get("/") as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError) as info:
                await resp.read()
    assert isinstance(info.value.__cause__, Boom)


@pytest.mark.parametrize("content_length", [True, False])
async def test_exception_in_the_step_that_started_the_response_replaces_it(
    content_length: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # Body pieces sent in one step are coalesced and the head is held until the step
    # ends (ASGI allows holding it "to substitute an error response"): an exception in
    # that same step is what the client gets, not a half response.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"100")] if content_length else []
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise Boom("app failed")

    async with make_session(app) as session:
        with pytest.raises(Boom):
            await session.get("/")
    async with make_session(app, propagate_exceptions=False) as session:
        with caplog.at_level(logging.ERROR, logger="aiohttp_asgi_fast"):
            async with session.get("/") as resp:
                assert resp.status == 500
                assert await resp.text() == "Internal Server Error"
    assert any(r.exc_info and isinstance(r.exc_info[1], Boom) for r in caplog.records)


async def test_exception_after_start_while_reading_in_pieces() -> None:
    async with make_session(raising_app(after_start=True)) as session:
        async with session.get("/") as resp:
            with pytest.raises(aiohttp.ClientPayloadError) as info:
                async for _ in resp.content.iter_chunked(3):
                    pass
    assert isinstance(info.value.__cause__, Boom)


async def test_return_without_response_is_a_clear_error() -> None:
    # aiohttp-asgi-connector fault 9: the client hung forever.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        return None

    async with make_session(app) as session:
        with pytest.raises(ASGIAppError, match=r"without sending 'http\.response\.start'"):
            await session.get("/")
    async with make_session(app, propagate_exceptions=False) as session:
        async with session.get("/") as resp:
            assert resp.status == 500


async def test_return_after_start_without_body_is_a_clear_error() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async with make_session(app) as session:
        with pytest.raises(ASGIAppError, match="without completing the response"):
            await session.get("/")


async def test_return_mid_body_fails_the_read() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
        await asyncio.sleep(0)  # the head and b"half" reach the client

    async with make_session(app) as session:
        async with session.get("/") as resp:
            with pytest.raises(aiohttp.ClientPayloadError) as info:
                await resp.read()
    assert isinstance(info.value.__cause__, ASGIAppError)


async def test_return_mid_body_in_the_step_that_started_replaces_the_response() -> None:
    # Returning without completing is a failure like an exception: in the step that
    # started the response (nothing reached the client yet) it replaces the response.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"half", "more_body": True})

    async with make_session(app) as session:
        with pytest.raises(ASGIAppError, match="without completing the response body"):
            await session.get("/")
    async with make_session(app, propagate_exceptions=False) as session:
        async with session.get("/") as resp:
            assert resp.status == 500


class SpecBreaker:
    """Sends ``messages`` and records the error send() raised."""

    def __init__(self, *messages: Any) -> None:
        self.messages = messages
        self.error: BaseException | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            for message in self.messages:
                await send(message)
        except ASGIProtocolError as exc:
            self.error = exc
            raise


START = {"type": "http.response.start", "status": 200, "headers": []}


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([{"type": "http.response.body", "body": b"x"}], "before 'http.response.start'"),
        ([START, START], "sent twice"),
        ([{"type": "websocket.accept"}], "unexpected ASGI message type"),
        (["not a dict"], "must be a dict"),
        ([{"status": 200}], "must be a dict with a 'type'"),
        ([{"type": "http.response.start"}], "missing 'status'"),
        ([{"type": "http.response.start", "status": "200"}], "status"),
        ([{"type": "http.response.start", "status": 1000}], "status"),
        ([{"type": "http.response.start", "status": 99}], "status"),
        ([{"type": "http.response.start", "status": True}], "status"),
        ([{**START, "headers": [("x-str", "value")]}], "bytes"),
        ([{**START, "headers": [(b"bad name", b"v")]}], "bad name"),
        ([{**START, "headers": [(b"x-inject", b"a\r\nset-cookie: evil=1")]}], "x-inject"),
        ([{**START, "headers": [(b"x-nul", b"a\x00b")]}], "x-nul"),
        ([{**START, "headers": [(b"x-lf", b"a\nb")]}], "x-lf"),
        ([{**START, "headers": [(b"content-length", b"abc")]}], "ontent-length"),
        ([{**START, "headers": [(b"content-length", b"1"), (b"content-length", b"2")]}],
         "ontent-length"),
        ([{**START, "headers": [(b"content-length", b"2")]},
          {"type": "http.response.body", "body": b"toolong"}], "longer than its Content-Length"),
        ([{**START, "headers": [(b"content-length", b"20")]},
          {"type": "http.response.body", "body": b"short"}], "short of its Content-Length"),
        ([START, {"type": "http.response.body", "body": "text"}], "body must be bytes"),
        ([START, {"type": "http.response.body", "body": b"", "more_body": "yes"}],
         "more_body must be a bool"),
    ],
)
async def test_spec_violations_raise_from_send(messages: list[Any], match: str) -> None:
    app = SpecBreaker(*messages)
    async with make_session(app) as session:
        # Nothing malformed reaches the client: the request itself fails.
        with pytest.raises(ASGIProtocolError) as info:
            await session.get("/")
    assert info.value is app.error
    assert match in str(app.error)


async def test_message_after_completion_raises(caplog: pytest.LogCaptureFixture) -> None:
    messages = (START, {"type": "http.response.body", "body": b"x"},
                {"type": "http.response.body", "body": b"y"})
    # Raised in the same step as a whole response: propagated instead of the response.
    app = SpecBreaker(*messages)
    async with make_session(app) as session:
        with pytest.raises(ASGIProtocolError, match="after the response completed") as info:
            await session.get("/")
    assert info.value is app.error
    # Without propagation the client reads the response and the error is logged.
    app = SpecBreaker(*messages)
    with caplog.at_level(logging.ERROR, logger="aiohttp_asgi_fast"):
        async with make_session(app, propagate_exceptions=False) as session:
            async with session.get("/") as resp:
                assert await resp.read() == b"x"
            await asyncio.sleep(0.01)
    assert app.error is not None
    assert any(r.exc_info and r.exc_info[1] is app.error for r in caplog.records)


@pytest.mark.parametrize("yield_first", [False, True])
async def test_streamed_piece_after_the_final_one_raises(yield_first: bool) -> None:
    # send() takes middle pieces of a chunked body without a coroutine; once the body
    # ended, the same message must still be refused.
    errors: list[BaseException] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(3):
            await send({"type": "http.response.body", "body": b"ab", "more_body": True})
        if yield_first:
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"c"})
        try:
            await send({"type": "http.response.body", "body": b"d", "more_body": True})
        except ASGIProtocolError as exc:
            errors.append(exc)

    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert await resp.read() == b"abababc"
    assert len(errors) == 1
    assert "after the response completed" in str(errors[0])


async def test_error_page_then_raise_propagates_the_exception() -> None:
    # Starlette's ServerErrorMiddleware sends a whole 500 page, then re-raises.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b"error page"})
        raise Boom("original")

    async with make_session(app) as session:
        with pytest.raises(Boom, match="original"):
            await session.get("/")
    async with make_session(app, propagate_exceptions=False) as session:
        async with session.get("/") as resp:
            assert resp.status == 500
            assert await resp.read() == b"error page"


async def test_raise_in_a_later_step_after_a_whole_response_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"fine"})
        await asyncio.sleep(0.01)  # e.g. a background task
        raise Boom("in background")

    with caplog.at_level(logging.ERROR, logger="aiohttp_asgi_fast"):
        async with make_session(app) as session:
            async with session.get("/") as resp:
                assert await resp.read() == b"fine"
            await asyncio.sleep(0.05)
    assert any(r.exc_info and isinstance(r.exc_info[1], Boom) for r in caplog.records)


async def test_header_injection_never_reaches_the_client() -> None:
    app = SpecBreaker({**START, "headers": [(b"x", b"1\r\nset-cookie: evil=1")]},
                      {"type": "http.response.body", "body": b""})
    async with make_session(app) as session:
        with pytest.raises(ASGIProtocolError):
            await session.get("/")


async def test_exception_after_client_left_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass
        done.set()
        raise Boom("after disconnect")

    with caplog.at_level(logging.ERROR, logger="aiohttp_asgi_fast"):
        async with make_session(app) as session:
            resp = await session.get("/")
            await resp.content.readexactly(1)
            resp.close()
            await asyncio.wait_for(done.wait(), 5)
            await asyncio.sleep(0.01)
    assert any(r.exc_info and isinstance(r.exc_info[1], Boom) for r in caplog.records)


async def test_client_disconnected_error_escaping_the_app_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            while True:
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
                await asyncio.sleep(0.001)
        finally:
            done.set()

    with caplog.at_level(logging.DEBUG, logger="aiohttp_asgi_fast"):
        async with make_session(app) as session:
            resp = await session.get("/")
            await resp.content.readexactly(1)
            resp.close()
            await asyncio.wait_for(done.wait(), 5)
            await asyncio.sleep(0.01)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("propagate", [True, False])
async def test_app_returning_a_non_awaitable_is_a_clear_error(
    propagate: bool, caplog: pytest.LogCaptureFixture
) -> None:
    def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return {"not": "awaitable"}

    app._asgi_single_callable = True  # type: ignore[attr-defined]  # (else taken as ASGI 2)
    async with make_session(app, propagate_exceptions=propagate) as session:
        if propagate:
            wanted = re.escape("returned {'not': 'awaitable'}, not an awaitable")
            with pytest.raises(TypeError, match=wanted):
                await asyncio.wait_for(session.get("/"), 5)
        else:
            async with session.get("/") as resp:
                assert resp.status == 500
            assert "not an awaitable" in caplog.text


async def test_cancelled_after_a_whole_response_in_the_same_step_still_delivers_it() -> None:
    # Starlette sends the response, then awaits its BackgroundTask in the same step; a
    # cancellation there must not swallow the response held until the step ends.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})
        raise asyncio.CancelledError

    async with make_session(app) as session:
        async with await asyncio.wait_for(session.get("/"), 5) as resp:
            assert resp.status == 200
            assert await asyncio.wait_for(resp.read(), 5) == b"hello"


@pytest.mark.parametrize("propagate", [True, False])
async def test_cancelled_before_completing_the_response_fails_the_request(
    propagate: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise asyncio.CancelledError

    async with make_session(app, propagate_exceptions=propagate) as session:
        if propagate:
            with pytest.raises(ASGIAppError, match="cancelled before completing the response"):
                await asyncio.wait_for(session.get("/"), 5)
        else:
            async with await asyncio.wait_for(session.get("/"), 5) as resp:
                assert resp.status == 500
            assert "cancelled before completing the response" in caplog.text


async def test_app_cancelled_from_outside_can_still_answer() -> None:
    app_task: asyncio.Task[Any] | None = None
    started = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal app_task
        app_task = asyncio.current_task()
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"shutting down"})
            raise

    async with make_session(app) as session:
        request = asyncio.ensure_future(session.get("/"))
        await asyncio.wait_for(started.wait(), 5)
        assert app_task is not None
        app_task.cancel()
        async with await asyncio.wait_for(request, 5) as resp:
            assert resp.status == 503
            assert await asyncio.wait_for(resp.read(), 5) == b"shutting down"
