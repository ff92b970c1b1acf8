"""Responses: status, headers, framing, streaming, backpressure (issue 2, HTTP behaviour 3)."""

from __future__ import annotations

import asyncio
import tracemalloc
import types
from typing import Any

import pytest

from helpers import make_session


def start_body_app(status: int, headers: list[tuple[bytes, bytes]], *bodies: bytes) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for i, body in enumerate(bodies):
            await send({"type": "http.response.body", "body": body,
                        "more_body": i < len(bodies) - 1})
        if not bodies:
            await send({"type": "http.response.body"})

    return app


@pytest.mark.parametrize("status", [200, 201, 299, 400, 404, 418, 500, 599, 999])
async def test_any_status(status: int) -> None:
    async with make_session(start_body_app(status, [], b"body")) as session:
        async with session.get("/") as resp:
            assert resp.status == status
            assert await resp.read() == b"body"


async def test_header_bytes_pass_through_untouched() -> None:
    # aiohttp-asgi-connector fault 6: UnicodeDecodeError on non-UTF-8 bytes.
    headers = [(b"x-latin", b"caf\xe9"), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2"),
               (b"X-Mixed-Case", b"Value With  Spaces\tand tab")]
    async with make_session(start_body_app(200, headers, b"")) as session:
        async with session.get("/") as resp:
            raw = list(resp.raw_headers)
    assert (b"x-latin", b"caf\xe9") in raw
    assert [v for n, v in raw if n == b"set-cookie"] == [b"a=1", b"b=2"]
    assert (b"X-Mixed-Case", b"Value With  Spaces\tand tab") in raw


async def test_single_body_gets_content_length() -> None:
    async with make_session(start_body_app(200, [], b"hello")) as session:
        async with session.get("/") as resp:
            assert resp.headers["Content-Length"] == "5"
            assert "Transfer-Encoding" not in resp.headers
            assert await resp.read() == b"hello"


async def test_streamed_body_is_chunked_and_complete() -> None:
    parts = [b"a" * 10, b"", b"b" * 1000, b"\r\n0\r\n\r\n", b"end"]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i, body in enumerate(parts):
            await asyncio.sleep(0)  # each piece in its own step: truly streamed
            await send({"type": "http.response.body", "body": body,
                        "more_body": i < len(parts) - 1})

    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert resp.headers["Transfer-Encoding"] == "chunked"
            assert await resp.read() == b"".join(parts)


async def test_whole_body_sent_in_one_step_gets_a_content_length() -> None:
    # Pieces sent without the app yielding are coalesced; when the last one comes in
    # the same step the length is known (the head is held until the step ends).
    parts = [b"a" * 10, b"", b"b" * 1000, b"\r\n0\r\n\r\n", b"end"]
    async with make_session(start_body_app(200, [], *parts)) as session:
        async with session.get("/") as resp:
            assert "Transfer-Encoding" not in resp.headers
            assert resp.headers["Content-Length"] == str(len(b"".join(parts)))
            assert await resp.read() == b"".join(parts)


async def test_pieces_sent_in_one_step_reach_the_client_together() -> None:
    # Coalescing: 1000 small sends in one step, then a pause; the client sees them
    # as soon as the app yields, in one piece, before the stream ends.
    release = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(1000):
            await send({"type": "http.response.body", "body": b"x" * 12, "more_body": True})
        await release.wait()
        await send({"type": "http.response.body", "body": b"end"})

    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert resp.headers["Transfer-Encoding"] == "chunked"
            first = await asyncio.wait_for(resp.content.readany(), 5)
            assert first == b"x" * 12000
            release.set()
            assert await asyncio.wait_for(resp.read(), 5) == b"end"


async def test_app_content_length_is_kept_and_streamed() -> None:
    headers = [(b"content-length", b"6")]
    async with make_session(start_body_app(200, headers, b"abc", b"def")) as session:
        async with session.get("/") as resp:
            assert resp.headers["Content-Length"] == "6"
            assert await resp.read() == b"abcdef"


async def test_x_content_length_is_not_content_length() -> None:
    # aiohttp-asgi-connector fault 7: a name merely containing content-length hung.
    headers = [(b"x-content-length", b"3")]
    async with make_session(start_body_app(200, headers, b"ab", b"cd")) as session:
        async with session.get("/") as resp:
            assert await resp.read() == b"abcd"


async def test_app_transfer_encoding_is_ignored() -> None:
    headers = [(b"transfer-encoding", b"chunked")]
    async with make_session(start_body_app(200, headers, b"plain")) as session:
        async with session.get("/") as resp:
            assert await resp.read() == b"plain"


@pytest.mark.parametrize("status", [204, 304])
async def test_no_body_statuses_get_no_framing(status: int) -> None:
    # aiohttp-asgi-connector fault 11: chunked framing on 204/304.
    async with make_session(start_body_app(status, [], b"")) as session:
        for _ in range(2):  # the connection stays usable afterwards
            async with session.get("/") as resp:
                assert resp.status == status
                assert "Transfer-Encoding" not in resp.headers
                assert await resp.read() == b""


async def test_head_response_has_no_body_but_keeps_content_length() -> None:
    headers = [(b"content-length", b"5")]
    async with make_session(start_body_app(200, headers, b"hello")) as session:
        async with session.head("/") as resp:
            assert resp.headers["Content-Length"] == "5"
            assert await resp.read() == b""
        async with session.get("/") as resp:  # the next response parses cleanly
            assert await resp.read() == b"hello"


@pytest.mark.parametrize("content_length", [True, False])
async def test_first_chunk_reaches_client_before_app_sends_second(content_length: bool) -> None:
    # aiohttp-asgi-connector fault 12: Content-Length responses were buffered.
    second = asyncio.Event()
    headers = [(b"content-length", b"10")] if content_length else []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await second.wait()
        await send({"type": "http.response.body", "body": b"secnd"})

    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert resp.status == 200
            assert await resp.content.readexactly(5) == b"first"
            second.set()
            assert await resp.read() == b"secnd"


async def test_headers_arrive_before_the_first_body() -> None:
    body_sent = asyncio.Event()
    release = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await release.wait()
        await send({"type": "http.response.body", "body": b"late"})
        body_sent.set()

    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert resp.status == 200
            assert not body_sent.is_set()
            release.set()
            assert await resp.read() == b"late"


async def test_endless_stream_can_be_read_and_left() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        n = 0
        while True:
            await send({"type": "http.response.body", "body": b"data: %d\n\n" % n,
                        "more_body": True})
            n += 1
            await asyncio.sleep(0)

    async with make_session(app) as session:
        async with session.get("/events") as resp:
            lines = []
            async for line in resp.content:
                if line.startswith(b"data:"):
                    lines.append(line)
                if len(lines) == 3:
                    break
    assert lines == [b"data: 0\n", b"data: 1\n", b"data: 2\n"]


@pytest.mark.parametrize("piece", [1024, 16 << 10])
@pytest.mark.parametrize("chunked", [True, False])
async def test_small_pieces_with_pauses_still_get_backpressure(piece: int, chunked: bool) -> None:
    # Pieces below the coalescing limit, the app yielding between them (a streaming
    # generator awaiting I/O): send() must still wait while the client is not reading.
    total = 2000
    sent = 0

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal sent
        headers = [] if chunked else [(b"content-length", b"%d" % (piece * total))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        body = b"p" * piece
        for i in range(total):
            await send({"type": "http.response.body", "body": body,
                        "more_body": i < total - 1})
            sent += 1
            await asyncio.sleep(0)

    async with make_session(app) as session:
        async with session.get("/") as resp:
            await asyncio.sleep(0.2)  # the client does not read
            assert sent * piece < 4 << 20, f"app sent {sent * piece} bytes unread"
            assert len(await asyncio.wait_for(resp.read(), 10)) == piece * total
    assert sent == total


async def test_send_returns_a_coroutine() -> None:
    # ASGI send is awaitable; frameworks may also schedule it as a task (anyio's
    # start_soon needs a coroutine): nothing happens before it runs.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        start = send({"type": "http.response.start", "status": 200, "headers": []})
        assert asyncio.iscoroutine(start)
        await asyncio.create_task(start)
        await asyncio.create_task(send({"type": "http.response.body", "body": b"ok"}))

    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert await resp.read() == b"ok"


async def test_slow_reader_gets_backpressure_and_bounded_memory() -> None:
    chunk = b"d" * (64 << 10)
    total_chunks = 1600  # 100 MiB
    sent = 0

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal sent
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"%d" % (len(chunk) * total_chunks))]})
        for i in range(total_chunks):
            await send({"type": "http.response.body", "body": chunk,
                        "more_body": i < total_chunks - 1})
            sent += 1

    tracemalloc.start()
    try:
        async with make_session(app) as session:
            async with session.get("/") as resp:
                await resp.content.readexactly(len(chunk))
                await asyncio.sleep(0.05)  # the client stops reading for a while
                assert sent < 100, "send() kept going while the client was not reading"
                received = len(chunk)
                while True:
                    data = await resp.content.read(64 << 10)
                    if not data:
                        break
                    received += len(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == len(chunk) * total_chunks
    assert peak < 16 << 20, f"peak traced memory {peak / 2**20:.1f} MiB"


async def test_pieces_from_a_child_task_reach_the_client_when_it_pauses() -> None:
    # Frameworks may stream from a task of their own (Starlette's StreamingResponse in an
    # anyio task group): what it sends is delivered when its step ends, not the app's.
    release = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def stream() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"first", "more_body": True})
            await release.wait()
            await send({"type": "http.response.body", "body": b"-last"})

        await asyncio.create_task(stream())

    async with make_session(app) as session:
        resp = await asyncio.wait_for(session.get("/"), 5)
        assert await asyncio.wait_for(resp.content.readexactly(5), 5) == b"first"
        release.set()
        assert await asyncio.wait_for(resp.read(), 5) == b"-last"
        resp.release()


async def test_held_head_reaches_the_client_when_the_app_pauses() -> None:
    release = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await release.wait()  # the step ends here: the head goes out
        await send({"type": "http.response.body", "body": b"later"})

    async with make_session(app) as session:
        resp = await asyncio.wait_for(session.get("/"), 5)
        assert resp.status == 201
        release.set()
        assert await asyncio.wait_for(resp.read(), 5) == b"later"
        resp.release()


async def test_app_returning_another_awaitable_is_awaited() -> None:
    # An ASGI app is any callable returning an awaitable, not only a coroutine function.
    inner = start_body_app(200, [], b"from a future")

    def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return asyncio.ensure_future(inner(scope, receive, send))

    app._asgi_single_callable = True  # type: ignore[attr-defined]  # (else taken as ASGI 2)
    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert await asyncio.wait_for(resp.read(), 5) == b"from a future"


class _OnlyNext:
    """An __await__ iterator with __next__ alone: await accepts it (PEP 492)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner.__await__()

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        return next(self._inner)


class _AwaitableApp:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __await__(self) -> Any:
        return _OnlyNext(self._inner)


async def test_app_returning_an_awaitable_whose_iterator_has_no_send() -> None:
    inner = start_body_app(200, [], b"next only")

    def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        async def paused() -> None:
            await asyncio.sleep(0)  # one yield through the iterator
            await inner(scope, receive, send)

        return _AwaitableApp(paused())

    app._asgi_single_callable = True  # type: ignore[attr-defined]  # (else taken as ASGI 2)
    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert await asyncio.wait_for(resp.read(), 5) == b"next only"


async def test_app_returning_a_generator_based_coroutine() -> None:
    inner = start_body_app(200, [], b"generator")

    @types.coroutine
    def steps(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        yield from asyncio.sleep(0).__await__()
        yield from inner(scope, receive, send).__await__()

    def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return steps(scope, receive, send)

    app._asgi_single_callable = True  # type: ignore[attr-defined]  # (else taken as ASGI 2)
    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert await asyncio.wait_for(resp.read(), 5) == b"generator"
