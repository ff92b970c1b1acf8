"""Connection reuse around closing requests and late app failures (issue 10 #1-#3, #7).

Each test is followed by a request on the same session that must succeed: a defect
here shows up as the *next* request failing on a connection that should not have
been reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientSession, TraceConfig

from aiohttp_asgi_fast import ASGIAppError, ASGIApplicationConnector
from helpers import make_session

LOGGER = "aiohttp_asgi_fast"


def connection_counter() -> tuple[TraceConfig, dict[str, int]]:
    counts = {"created": 0, "reused": 0}
    trace = TraceConfig()

    async def created(session: Any, ctx: Any, params: Any) -> None:
        counts["created"] += 1

    async def reused(session: Any, ctx: Any, params: Any) -> None:
        counts["reused"] += 1

    trace.on_connection_create_end.append(created)
    trace.on_connection_reuseconn.append(reused)
    return trace, counts


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello " + scope["path"].encode()})


async def expect_hello(session: ClientSession, path: str = "/next") -> aiohttp.ClientResponse:
    async with session.get(path) as resp:
        assert resp.status == 200
        assert await asyncio.wait_for(resp.read(), 5) == b"hello " + path.encode()
        return resp


# -- #1 Connection: close (RFC 9112 §9.6) ------------------------------------------------


async def test_every_request_with_connection_close_succeeds() -> None:
    trace, counts = connection_counter()
    async with make_session(
        hello, session_options={"headers": {"Connection": "close"}, "trace_configs": [trace]}
    ) as session:
        for i in range(5):
            resp = await expect_hello(session, f"/{i}")
            assert resp.headers["Connection"] == "close"
    assert counts == {"created": 5, "reused": 0}


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
async def test_http10_request_without_keep_alive_closes_after_the_response(method: str) -> None:
    # (aiohttp sends HTTP/1.0 requests with "Connection: keep-alive" unless told to
    # close; a 1.0 request with no Connection field is covered by the parser tests.)
    trace, counts = connection_counter()
    async with make_session(hello, session_options={
        "trace_configs": [trace], "version": aiohttp.HttpVersion10
    }) as session:
        for _ in range(3):
            async with session.request(
                method, "/", data=b"x" * 10 if method == "POST" else None,
                headers={"Connection": "close"},
            ) as resp:
                assert resp.status == 200
                assert resp.headers["Connection"] == "close"
                assert await resp.read() == (b"" if method == "HEAD" else b"hello /")
        await expect_hello(session)
    assert counts["created"] == 4


async def test_http10_request_with_keep_alive_is_reused() -> None:
    trace, counts = connection_counter()
    async with make_session(hello, session_options={
        "trace_configs": [trace], "version": aiohttp.HttpVersion10
    }) as session:
        for _ in range(3):
            async with session.get("/", headers={"Connection": "keep-alive"}) as resp:
                assert "Connection" not in resp.headers
                assert await resp.read() == b"hello /"
    assert counts == {"created": 1, "reused": 2}


async def test_streamed_response_to_a_closing_request_says_close() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for piece in (b"a", b"b"):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})

    async with make_session(app, session_options={"headers": {"Connection": "close"}}) as s:
        for _ in range(3):
            async with s.get("/") as resp:
                assert resp.headers["Connection"] == "close"
                assert await resp.read() == b"ab"


async def test_expect_continue_request_answered_without_reading_closes_the_connection() -> None:
    # The app answered without asking for the body, so no 100 Continue was sent and the
    # client may never send it (RFC 9110 §10.1.1): the connection cannot be reused, and
    # says so. aiohttp 3.8 reused it and its next request waited for the unsent body.
    async with make_session(hello) as session:
        for _ in range(3):
            async with session.post("/", data=b"x" * 1000, expect100=True,
                                    timeout=aiohttp.ClientTimeout(total=5)) as resp:
                assert resp.status == 200
                assert resp.headers["Connection"] == "close"
                assert await resp.read() == b"hello /"
            await expect_hello(session)


# -- #2 an app failure after the whole response reached the client -------------------------


def late_failure_app(extra_byte: bool, steps: int) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] != "/late":
            await hello(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"12345", "more_body": True})
        for _ in range(steps):
            await asyncio.sleep(0)
        if extra_byte:  # raises ASGIProtocolError: longer than its Content-Length
            await send({"type": "http.response.body", "body": b"6"})
        raise RuntimeError("late failure")

    return app


@pytest.mark.parametrize("extra_byte", [False, True])
@pytest.mark.parametrize("steps", [1, 3, 10])
@pytest.mark.parametrize("propagate", [True, False])
async def test_failure_after_a_complete_content_length_body_is_logged_and_never_reused(
    extra_byte: bool, steps: int, propagate: bool, caplog: pytest.LogCaptureFixture
) -> None:
    trace, counts = connection_counter()
    caplog.set_level(logging.ERROR, LOGGER)
    async with make_session(
        late_failure_app(extra_byte, steps), propagate_exceptions=propagate,
        session_options={"trace_configs": [trace]},
    ) as session:
        async with session.get("/late") as resp:
            assert resp.status == 200
            assert await resp.read() == b"12345"
        for _ in range(3):  # however many loop steps pass before the failure
            await expect_hello(session)
        await asyncio.sleep(0.05)
        await expect_hello(session)
    records = [r for r in caplog.records if r.name == LOGGER]
    assert len(records) == 1, records
    assert "after the response completed" in records[0].getMessage()
    error = records[0].exc_info[1] if records[0].exc_info else None
    if extra_byte:
        assert "longer than its Content-Length" in str(error)
    else:
        assert isinstance(error, RuntimeError)
    # The failed app's connection was not used again after the failure.
    assert counts["created"] == 2


async def test_failure_in_the_step_that_completed_the_body_fails_the_read() -> None:
    # Still visible to the caller: the client cannot run before the app's step ends.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] != "/":
            await hello(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"5")]})
        await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"12345", "more_body": True})
        raise RuntimeError("same step")

    async with make_session(app) as session:
        async with session.get("/") as resp:
            with pytest.raises(aiohttp.ClientPayloadError) as info:
                await resp.read()
        assert isinstance(info.value.__cause__, RuntimeError)
        await expect_hello(session)


async def test_previous_apps_failure_closes_the_connection_after_the_request_in_flight(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The client reused the connection before the previous app failed: the request
    # in flight completes, says "connection: close", and the connection then closes.
    fail_now = asyncio.Event()
    second_started = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/first":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok", "more_body": True})
            await fail_now.wait()
            raise RuntimeError("first app failed late")
        if scope["path"] == "/second":
            second_started.set()
            await asyncio.sleep(0.01)  # the first app fails meanwhile
        await hello(scope, receive, send)

    trace, counts = connection_counter()
    caplog.set_level(logging.ERROR, LOGGER)
    async with make_session(app, session_options={"trace_configs": [trace]}) as session:
        async with session.get("/first") as resp:
            assert await resp.read() == b"ok"

        async def fail_when_second_runs() -> None:
            await second_started.wait()
            fail_now.set()

        failer = asyncio.ensure_future(fail_when_second_runs())
        resp = await expect_hello(session, "/second")
        await failer
        assert resp.headers["Connection"] == "close"
        await expect_hello(session)
    assert counts == {"created": 2, "reused": 1}
    assert [r.getMessage() for r in caplog.records if r.name == LOGGER] == [
        "Exception in ASGI application after the response completed"
    ]


# -- #3 the connector's own responses follow HEAD/1xx/204/304 rules ------------------------


@pytest.mark.parametrize("failure", ["raise", "return", "raise-after-start-same-step"])
async def test_canned_500_to_head_has_no_body(
    failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] != "/fail":
            await hello(scope, receive, send)
            return
        if failure == "raise-after-start-same-step":
            await send({"type": "http.response.start", "status": 200, "headers": []})
        if failure != "return":
            raise RuntimeError("failed")

    caplog.set_level(logging.ERROR, LOGGER)
    async with make_session(app, propagate_exceptions=False) as session:
        for _ in range(2):
            async with session.head("/fail") as resp:
                assert resp.status == 500
                assert resp.headers["Connection"] == "close"
                assert resp.headers["Content-Length"] == "21"
                assert await resp.read() == b""
            async with session.get("/fail") as resp:
                assert resp.status == 500
                assert await resp.read() == b"Internal Server Error"
            await expect_hello(session)
            await expect_hello(session)


# -- #7 an app's OSError / TimeoutError is never taken for aiohttp's own ----------------


@pytest.mark.parametrize(
    "error",
    [FileNotFoundError(2, "missing"), ConnectionResetError("reset"), TimeoutError("slow db"),
     asyncio.TimeoutError(), aiohttp.ServerDisconnectedError("upstream"),
     aiohttp.ClientOSError(104, "upstream reset")],
    ids=type,
)
async def test_app_oserror_reaches_the_caller_as_the_cause_of_asgi_app_error(
    error: BaseException,
) -> None:
    calls = 0

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal calls
        if scope["path"] != "/fail":
            await hello(scope, receive, send)
            return
        calls += 1
        raise error

    async with make_session(app) as session:
        await expect_hello(session)  # a reused connection: aiohttp would retry on it
        with pytest.raises(ASGIAppError) as info:
            await session.get("/fail")
        assert info.value.__cause__ is error
        assert type(error).__name__ in str(info.value)
        assert calls == 1  # aiohttp did not retry the request
        await expect_hello(session)


async def test_app_error_that_is_no_oserror_is_still_the_same_object() -> None:
    error = LookupError("kept as is")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise error

    async with make_session(app) as session:
        with pytest.raises(LookupError) as info:
            await session.get("/")
    assert info.value is error


# -- #12 an explicit port 0 -----------------------------------------------------------------


async def test_explicit_port_zero_is_kept_in_the_scope() -> None:
    scopes: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scopes.append(scope)
        await hello(scope, receive, send)

    connector = ASGIApplicationConnector(app)
    async with ClientSession(connector=connector) as session:
        for url in ("http://testserver:0/", "http://testserver/", "https://testserver/",
                    "http://testserver:8080/"):
            async with session.get(url) as resp:
                await resp.read()
    assert [s["server"] for s in scopes] == [
        ("testserver", 0), ("testserver", 80), ("testserver", 443), ("testserver", 8080)
    ]


# -- found in review: the response's end on the wire decides, not the last message ------


async def test_cancelled_final_send_fails_the_read_when_the_app_returns() -> None:
    # The final body waited for the client to read and was cancelled; the app then
    # returned normally. The client must not wait for a last chunk that never comes.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0)
        for _ in range(64):  # fill aiohttp's buffer: send() then waits
            try:
                await asyncio.wait_for(send({"type": "http.response.body",
                                             "body": b"x" * 65536, "more_body": True}), 0.05)
            except asyncio.TimeoutError:
                break
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(send({"type": "http.response.body", "body": b"END"}), 0.05)

    async with make_session(app) as session:
        async with session.get("/") as resp:
            await asyncio.sleep(0.3)
            with pytest.raises(aiohttp.ClientPayloadError) as info:
                await asyncio.wait_for(resp.read(), 5)
    assert isinstance(info.value.__cause__, ASGIAppError)


async def test_earlier_app_still_running_hears_the_connection_close() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/b":
            await hello(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello", "more_body": True})
        while (message := await receive())["type"] != "http.disconnect":
            seen.append(message["type"])
        seen.append("http.disconnect")
        await send({"type": "http.response.body", "body": b""})

    connector = ASGIApplicationConnector(app)
    async with ClientSession(base_url="http://testserver", connector=connector) as session:
        async with session.get("/a") as resp:
            assert await resp.read() == b"hello"
        await expect_hello(session, "/b")  # the same connection, /a's app still runs
        assert connector.running_app_calls == 1
    # Closing the session closed the connection: /a's app was told and returned.
    assert seen == ["http.request", "http.disconnect"]
    assert connector.running_app_calls == 0


@pytest.mark.parametrize("headers", [{}, {"Connection": "close"}])
async def test_return_after_a_complete_content_length_body_is_logged_either_way(
    headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello", "more_body": True})
        await asyncio.sleep(0.01)  # (with close, the connection is closed by now)

    caplog.set_level(logging.ERROR, LOGGER)
    async with make_session(app) as session:
        async with session.get("/", headers=headers) as resp:
            assert await resp.read() == b"hello"
        await asyncio.sleep(0.05)
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert messages == ["Exception in ASGI application after the response completed"]
