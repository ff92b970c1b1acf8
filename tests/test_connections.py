"""Connection reuse, limits, sharing, tracing, timeouts (issue 2, HTTP behaviour 6)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientSession, TraceConfig

from aiohttp_asgi_fast import ASGIApplicationConnector, RequestParseError
from helpers import json_app, make_session


def counting_trace() -> tuple[TraceConfig, dict[str, int]]:
    counts: dict[str, int] = {}
    trace = TraceConfig()

    def counter(name: str) -> Any:
        async def on_signal(session: Any, ctx: SimpleNamespace, params: Any) -> None:
            counts[name] = counts.get(name, 0) + 1

        return on_signal

    for name in ("on_request_start", "on_request_end", "on_connection_create_start",
                 "on_connection_create_end", "on_connection_reuseconn",
                 "on_connection_queued_start", "on_request_headers_sent",
                 "on_response_chunk_received"):
        getattr(trace, name).append(counter(name))
    return trace, counts


async def test_keep_alive_reuses_one_connection() -> None:
    trace, counts = counting_trace()
    async with make_session(json_app(), session_options={"trace_configs": [trace]}) as session:
        for _ in range(5):
            async with session.get("/") as resp:
                assert await resp.json() == {"ok": True}
    assert counts["on_connection_create_end"] == 1
    assert counts["on_connection_reuseconn"] == 4
    assert counts["on_request_start"] == counts["on_request_end"] == 5
    assert counts["on_request_headers_sent"] == 5
    assert counts["on_response_chunk_received"] >= 5


async def test_force_close_makes_a_connection_per_request() -> None:
    trace, counts = counting_trace()
    async with make_session(json_app(), force_close=True,
                            session_options={"trace_configs": [trace]}) as session:
        for _ in range(3):
            async with session.get("/") as resp:
                assert await resp.json() == {"ok": True}
    assert counts["on_connection_create_end"] == 3
    assert "on_connection_reuseconn" not in counts


@pytest.mark.parametrize("option", ["limit", "limit_per_host"])
async def test_limits_cap_concurrent_app_calls(option: str) -> None:
    active = 0
    peak = 0

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async with make_session(app, **{option: 2}) as session:
        async def one() -> bytes:
            async with session.get("/") as resp:
                return await resp.read()

        results = await asyncio.gather(*(one() for _ in range(8)))
    assert results == [b"ok"] * 8
    assert peak == 2


async def test_limit_caps_requests_in_flight_not_calls_whose_client_left() -> None:
    # Issue 10 #5, as documented on running_app_calls: apps that ignore the
    # disconnect keep running after their client timed out, without holding a slot.
    active = 0
    peak_waiting = 0
    release = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal active, peak_waiting
        active += 1
        try:
            if scope["path"] == "/stubborn":
                await release.wait()  # ignores http.disconnect
            else:
                peak_waiting = max(peak_waiting, active)
                await asyncio.sleep(0.01)
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"ok"})
        finally:
            active -= 1

    connector = ASGIApplicationConnector(app, limit=5)
    async with ClientSession(base_url="http://testserver", connector=connector) as session:
        async def stubborn() -> None:
            with pytest.raises(asyncio.TimeoutError):
                await session.get("/stubborn", timeout=aiohttp.ClientTimeout(total=0.05))

        for _ in range(4):  # (a request queued for a slot would time out queued)
            await asyncio.gather(*(stubborn() for _ in range(5)))
        assert connector.running_app_calls == 20  # all of them outlived their client
        assert active == 20

        async def one() -> bytes:
            async with session.get("/") as resp:
                return await resp.read()

        # Requests whose clients wait are capped at 5 (plus the 20 that were left).
        assert await asyncio.gather(*(one() for _ in range(12))) == [b"ok"] * 12
        assert peak_waiting - 20 <= 5
        release.set()
        for _ in range(5):
            await asyncio.sleep(0)
        assert connector.running_app_calls == 0


async def test_shared_connector_survives_a_closed_session() -> None:
    connector = ASGIApplicationConnector(json_app())
    try:
        for _ in range(2):
            async with ClientSession(base_url="http://testserver", connector=connector,
                                     connector_owner=False) as session:
                async with session.get("/") as resp:
                    assert await resp.json() == {"ok": True}
        assert not connector.closed
    finally:
        await connector.close()


async def test_concurrent_requests_are_independent() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message["body"]
            if not message["more_body"]:
                break
        await asyncio.sleep(0.001 * (len(body) % 5))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body[::-1]})

    async with make_session(app) as session:
        async def one(i: int) -> None:
            payload = f"request-{i}".encode()
            async with session.post("/", data=payload) as resp:
                assert await resp.read() == payload[::-1]

        await asyncio.gather(*(one(i) for i in range(50)))


async def test_client_timeout_on_slow_app() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(10)

    async with make_session(app) as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.get("/", timeout=aiohttp.ClientTimeout(total=0.05))


async def test_sock_read_timeout_on_stalled_body() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await asyncio.sleep(10)

    async with make_session(app) as session:
        async with session.get("/", timeout=aiohttp.ClientTimeout(sock_read=0.05)) as resp:
            with pytest.raises(asyncio.TimeoutError):
                await resp.read()


async def test_asgi2_app_is_adapted() -> None:
    class ASGI2App:
        def __init__(self, scope: dict[str, Any]) -> None:
            self.scope = scope

        async def __call__(self, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": self.scope["path"].encode()})

    async with make_session(ASGI2App) as session:
        async with session.get("/legacy") as resp:
            assert await resp.read() == b"/legacy"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"app": "not callable"}, TypeError),
        ({"app": json_app(), "root_path": 1}, TypeError),
        ({"app": json_app(), "root_path": "api"}, ValueError),
        ({"app": json_app(), "root_path": "/api/"}, ValueError),
        ({"app": json_app(), "client": ("127.0.0.1", "80")}, TypeError),
        ({"app": json_app(), "max_request_head_size": 0}, ValueError),
        ({"app": json_app(), "max_request_head_size": 1.5}, TypeError),
        ({"app": json_app(), "max_request_head_size": True}, TypeError),
        ({"app": json_app(), "interface": "wsgi"}, ValueError),
    ],
)
async def test_bad_options_are_refused(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        ASGIApplicationConnector(**kwargs)


async def test_close_with_idle_connections_leaves_nothing_behind() -> None:
    connector = ASGIApplicationConnector(json_app())
    session = ClientSession(base_url="http://testserver", connector=connector)
    async with session.get("/") as resp:
        await resp.read()
    await session.close()
    assert connector.closed


async def test_max_request_head_size_is_the_limit_the_connections_parse_with() -> None:
    big = {"X-Token": "t" * (100 * 1024)}
    async with make_session(json_app(), max_request_head_size=128 * 1024) as session:
        async with session.get("/", headers=big) as resp:
            assert await resp.json() == {"ok": True}
    async with make_session(json_app()) as session:  # the 64 KiB default
        with pytest.raises(RequestParseError, match=r"max_request_head_size.*65536|65536.*max_req"):
            await session.get("/", headers=big)
        async with session.get("/") as resp:  # a fresh connection parses on
            assert await resp.json() == {"ok": True}
