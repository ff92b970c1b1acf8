"""WebSockets through ``session.ws_connect`` against raw ASGI apps (both hot-path modes)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, WSServerHandshakeError

from aiohttp_asgi_fast import ASGIAppError, ASGIProtocolError, ClientDisconnectedError
from helpers import make_session

Scope = dict[str, Any]


class EchoApp:
    """Accepts (with optional subprotocol/headers), echoes until the client leaves."""

    def __init__(self, **accept: Any) -> None:
        self.accept = accept
        self.scopes: list[Scope] = []
        self.received: list[dict[str, Any]] = []
        self.done = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        try:
            assert (await receive()) == {"type": "websocket.connect"}
            await send({"type": "websocket.accept", **self.accept})
            while True:
                message = await receive()
                self.received.append(message)
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") is not None:
                    await send({"type": "websocket.send", "text": message["text"]})
                else:
                    await send({"type": "websocket.send", "bytes": message["bytes"]})
        finally:
            self.done.set()


async def test_scope(request: pytest.FixtureRequest) -> None:
    app = EchoApp()
    async with make_session(app, base_url="https://example.com:8443", root_path="/api") as session:
        async with session.ws_connect(
            "/chat/caf%C3%A9?room=1", protocols=("v2", "v1"), headers={"X-Token": "t"}
        ) as ws:
            await ws.send_str("hi")
            assert (await ws.receive(timeout=5)).data == "hi"
    scope = app.scopes[0]
    assert scope["type"] == "websocket" and "method" not in scope
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.5"}
    assert scope["scheme"] == "wss"
    assert scope["path"] == "/chat/café" and scope["raw_path"] == b"/chat/caf%C3%A9"
    assert scope["query_string"] == b"room=1" and scope["root_path"] == "/api"
    assert scope["server"] == ("example.com", 8443) and scope["client"] == ("127.0.0.1", 123)
    assert scope["subprotocols"] == ["v2", "v1"]
    assert scope["extensions"] == {"websocket.http.response": {}}
    headers = dict(scope["headers"])
    assert headers[b"x-token"] == b"t" and headers[b"upgrade"] == b"websocket"
    assert headers[b"host"] == b"example.com:8443"
    assert b"sec-websocket-key" in headers


async def test_ws_scheme_url_and_fresh_scope_per_connection() -> None:
    app = EchoApp()
    async with make_session(app, base_url="ws://testserver") as session:
        for _ in range(2):
            async with session.ws_connect("/ws") as ws:
                await ws.send_bytes(b"\x00\xff")
                assert (await ws.receive(timeout=5)).data == b"\x00\xff"
    assert [s["scheme"] for s in app.scopes] == ["ws", "ws"]
    assert app.scopes[0] is not app.scopes[1]


async def test_text_and_bytes_both_ways() -> None:
    app = EchoApp()
    async with make_session(app) as session:
        async with session.ws_connect("/ws") as ws:
            await ws.send_str("héllo")
            message = await ws.receive(timeout=5)
            assert (message.type, message.data) == (WSMsgType.TEXT, "héllo")
            await ws.send_bytes(b"\x00\x01\r\n\r\n")
            message = await ws.receive(timeout=5)
            assert (message.type, message.data) == (WSMsgType.BINARY, b"\x00\x01\r\n\r\n")
            await ws.send_str("")
            assert (await ws.receive(timeout=5)).data == ""
    assert app.received[:3] == [
        {"type": "websocket.receive", "text": "héllo"},
        {"type": "websocket.receive", "bytes": b"\x00\x01\r\n\r\n"},
        {"type": "websocket.receive", "text": ""},
    ]


@pytest.mark.parametrize("size", [125, 126, 65535, 65536, 10 * 1024 * 1024])
async def test_message_sizes(size: int) -> None:
    app = EchoApp()
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    async with make_session(app) as session:
        async with session.ws_connect("/ws", max_msg_size=0) as ws:
            await ws.send_bytes(payload)
            message = await ws.receive(timeout=10)
            assert message.type == WSMsgType.BINARY and message.data == payload
            text = "é" * (size // 2)
            await ws.send_str(text)
            assert (await ws.receive(timeout=10)).data == text


async def test_accept_subprotocol_and_headers() -> None:
    app = EchoApp(subprotocol="v1", headers=[(b"x-server", b"yes"), (b"set-cookie", b"a=1")])
    seen: list[Any] = []

    async def on_request_end(session: Any, ctx: Any, params: Any) -> None:
        seen.append(params.response)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    async with make_session(app, session_options={"trace_configs": [trace]}) as session:
        async with session.ws_connect("/ws", protocols=("v2", "v1")) as ws:
            assert ws.protocol == "v1"
    response = seen[0]
    assert response.status == 101
    assert response.headers["X-Server"] == "yes" and response.headers["Set-Cookie"] == "a=1"
    assert response.headers["Sec-WebSocket-Protocol"] == "v1"
    # permessage-deflate (offered by aiohttp by default) is declined in the handshake.
    assert "Sec-WebSocket-Extensions" not in response.headers


async def test_permessage_deflate_declined_not_garbled() -> None:
    app = EchoApp()
    async with make_session(app) as session:
        async with session.ws_connect("/ws", compress=15) as ws:
            assert ws.compress == 0
            text = "compressible " * 10_000
            await ws.send_str(text)
            assert (await ws.receive(timeout=5)).data == text


async def test_ping_pong_and_heartbeat() -> None:
    app = EchoApp()
    async with make_session(app) as session:
        async with session.ws_connect("/ws", autoping=False) as ws:
            await ws.ping(b"are you there")
            message = await ws.receive(timeout=5)
            assert (message.type, message.data) == (WSMsgType.PONG, b"are you there")

    async def slow(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        await asyncio.sleep(0.4)  # several client heartbeats, each needs our pong in time
        await send({"type": "websocket.send", "text": "still here"})
        await receive()

    async with make_session(slow) as session:
        async with session.ws_connect("/ws", heartbeat=0.05) as ws:
            await ws.send_str("wait")
            # aiohttp 3.8 consumes pongs inside receive(): wait there.
            assert (await ws.receive(timeout=5)).data == "still here"
            assert not ws.closed


async def test_client_close_code_and_reason() -> None:
    app = EchoApp()
    async with make_session(app) as session:
        ws = await session.ws_connect("/ws")
        await ws.close(code=4001, message=b"bye now")
        assert ws.close_code == 4001
        await asyncio.wait_for(app.done.wait(), 5)
    assert app.received[-1] == {"type": "websocket.disconnect", "code": 4001, "reason": "bye now"}


async def test_app_close_code_and_reason_then_send_raises() -> None:
    errors: list[BaseException] = []
    after_close: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4000, "reason": "go away"})
        try:
            await send({"type": "websocket.send", "text": "late"})
        except OSError as exc:
            errors.append(exc)
        after_close.append(await receive())

    async with make_session(app) as session:
        async with session.ws_connect("/ws") as ws:
            message = await ws.receive(timeout=5)
            assert (message.type, message.data, message.extra) == (WSMsgType.CLOSE, 4000, "go away")
        assert ws.close_code == 4000
        await asyncio.sleep(0.05)
    assert isinstance(errors[0], ClientDisconnectedError)
    # The disconnect carries the client's close reply (aiohttp answers with 1000).
    assert after_close == [{"type": "websocket.disconnect", "code": 1000, "reason": ""}]


async def test_app_returns_without_close_closes_normally() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "bye"})

    async with make_session(app) as session:
        async with session.ws_connect("/ws") as ws:
            assert (await ws.receive(timeout=5)).data == "bye"
            message = await ws.receive(timeout=5)
            assert (message.type, message.data) == (WSMsgType.CLOSE, 1000)
        assert ws.exception() is None


async def test_close_before_accept_is_403() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 1008})
        assert (await receive())["type"] == "websocket.disconnect"

    async with make_session(app) as session:
        with pytest.raises(WSServerHandshakeError) as info:
            await session.ws_connect("/ws")
        assert info.value.status == 403
        # The connection pool still serves HTTP afterwards.
        with pytest.raises(WSServerHandshakeError):
            await session.ws_connect("/ws")


@pytest.mark.parametrize(
    "close",
    [
        {"code": 1006},  # never sendable in a close frame
        {"code": 1005},
        {"code": "1008"},
        {"code": 1008, "reason": [{"loc": ["query", "token"], "msg": "Field required"}]},
        {"reason": "r" * 200},  # longer than a close frame holds
        {"reason": b"bytes"},
        {"code": None, "reason": None},
    ],
)
async def test_close_before_accept_is_403_whatever_code_and_reason(
    close: dict[str, Any],
) -> None:
    # ASGI: a close before accept becomes a 403; code and reason never reach the client,
    # so nothing about them can be wrong (uvicorn's wsproto and websockets impls agree).
    after: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.close", **close})
        after.append(await receive())

    async with make_session(app) as session:
        with pytest.raises(WSServerHandshakeError) as info:
            await session.ws_connect("/ws")
        assert info.value.status == 403
        await asyncio.sleep(0.01)
    assert after == [{"type": "websocket.disconnect", "code": 1006, "reason": ""}]


async def test_denial_response_extension() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert "websocket.http.response" in scope["extensions"]
        await receive()
        await send({"type": "websocket.http.response.start", "status": 401,
                    "headers": [(b"www-authenticate", b"Bearer")]})
        await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"token"})

    async with make_session(app) as session:
        with pytest.raises(WSServerHandshakeError) as info:
            await session.ws_connect("/ws")
    assert info.value.status == 401
    assert info.value.headers is not None and info.value.headers["WWW-Authenticate"] == "Bearer"


async def test_client_leaving_without_close_gives_1006_and_ends_app() -> None:
    app = EchoApp()
    async with make_session(app) as session:
        ws = await session.ws_connect("/ws")
        await ws.send_str("x")
        assert (await ws.receive(timeout=5)).data == "x"
    # Session closed with the socket open: no close frame, the connection dropped.
    await asyncio.wait_for(app.done.wait(), 5)
    assert app.received[-1] == {"type": "websocket.disconnect", "code": 1006, "reason": ""}


async def test_app_exception_after_accept_propagates(caplog: pytest.LogCaptureFixture) -> None:
    boom = ValueError("boom")

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise boom

    async with make_session(app) as session:
        async with session.ws_connect("/ws") as ws:
            await ws.send_str("go")
            message = await ws.receive(timeout=5)
            assert (message.type, message.data) == (WSMsgType.CLOSE, 1011)
            assert message.extra == "ValueError: boom"
            # aiohttp answered the close frame: that write raised the app's exception.
            assert ws.exception() is boom
    assert "Exception in ASGI WebSocket application" in caplog.text


async def test_app_exception_after_accept_raised_from_next_send() -> None:
    boom = KeyError("k")

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise boom

    async with make_session(app) as session:
        async with session.ws_connect("/ws", autoclose=False) as ws:
            await ws.send_str("go")
            await asyncio.sleep(0.05)
            with pytest.raises(KeyError) as info:
                await ws.send_str("again")
            assert info.value is boom


async def test_app_exception_after_accept_not_propagated(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        raise RuntimeError("hidden")

    async with make_session(app, propagate_exceptions=False) as session:
        async with session.ws_connect("/ws") as ws:
            message = await ws.receive(timeout=5)
            assert (message.type, message.data) == (WSMsgType.CLOSE, 1011)
        assert ws.exception() is None and ws.close_code == 1011
    assert "RuntimeError: hidden" in caplog.text


async def test_app_exception_before_accept() -> None:
    boom = LookupError("no route")

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        raise boom

    async with make_session(app) as session:
        with pytest.raises(LookupError) as info:
            await session.ws_connect("/ws")
        assert info.value is boom
    with_500 = make_session(app, propagate_exceptions=False)
    logging.getLogger("aiohttp_asgi_fast").disabled = True
    try:
        async with with_500 as session:
            with pytest.raises(WSServerHandshakeError) as handshake:
                await session.ws_connect("/ws")
            assert handshake.value.status == 500
    finally:
        logging.getLogger("aiohttp_asgi_fast").disabled = False


async def test_app_returning_without_accept() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()

    async with make_session(app) as session:
        with pytest.raises(ASGIAppError, match="without accepting or closing"):
            await session.ws_connect("/ws")


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([{"type": "websocket.send", "text": "x"}], "'websocket.send' before the handshake"),
        ([{"type": "websocket.accept", "subprotocol": "v9"}], "was not offered"),
        ([{"type": "websocket.accept", "headers": [(b"sec-websocket-protocol", b"v1")]}],
         "must not set"),
        ([{"type": "websocket.accept", "headers": [(b"x", b"a\r\nb")]}], "x"),
        ([{"type": "websocket.accept"}, {"type": "websocket.send"}], "exactly one"),
        ([{"type": "websocket.accept"}, {"type": "websocket.send", "text": "a", "bytes": b"b"}],
         "exactly one"),
        ([{"type": "websocket.accept"}, {"type": "websocket.send", "text": b"a"}], "must be a str"),
        ([{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1005}], "code must be"),
        ([{"type": "websocket.accept"}, {"type": "websocket.close", "reason": "r" * 124}],
         "at most 123"),
        # After accept code and reason go into the close frame: still validated.
        ([{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1006}],
         "code must be"),
        ([{"type": "websocket.accept"}, {"type": "websocket.close", "reason": ["x"]}],
         "reason must be a str"),
        ([{"type": "websocket.accept"}, {"type": "websocket.accept"}], "after 'websocket.accept'"),
        ([{"type": "http.response.start", "status": 200}], "websocket scope"),
        ([{"type": "websocket.http.response.start", "status": 101}], "200 or more"),
        ([{"nope": 1}], "'type' key"),
    ],
)
async def test_protocol_errors(messages: list[dict[str, Any]], match: str) -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        try:
            for message in messages:
                await send(message)
        except ASGIProtocolError as exc:
            errors.append(exc)
            raise

    async with make_session(app, propagate_exceptions=False) as session:
        logging.getLogger("aiohttp_asgi_fast").disabled = True
        try:
            try:
                ws = await session.ws_connect("/ws")
            except WSServerHandshakeError as exc:
                assert exc.status == 500  # noqa: PT017
            else:
                message = await ws.receive(timeout=5)
                assert (message.type, message.data) == (WSMsgType.CLOSE, 1011)
                await ws.close()
        finally:
            logging.getLogger("aiohttp_asgi_fast").disabled = False
    assert len(errors) == 1
    assert match in str(errors[0])


_DENY = {"type": "websocket.http.response.start", "status": 403}


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([{"type": "websocket.accept", "headers": [("x-str", "value")]}],
         "'websocket.accept' header names and values must be bytes"),
        ([{"type": "websocket.accept", "headers": [(b"x-one",)]}],
         "'websocket.accept' header must be a [name, value] pair"),
        ([{"type": "websocket.accept", "headers": 5}],
         "'websocket.accept' headers must be an iterable"),
        ([{"type": "websocket.accept", "headers": "x: y"}],
         "'websocket.accept' headers must be an iterable"),
        ([{"type": "websocket.accept", "headers": [(b"bad name", b"v")]}],
         "'websocket.accept': invalid response header name"),
        ([{"type": "websocket.accept", "headers": [(b"x", b"a\r\nb")]}],
         "'websocket.accept': invalid value for response header"),
        ([{**_DENY, "headers": [("x-str", "value")]}],
         "'websocket.http.response.start' header names and values must be bytes"),
        ([{**_DENY, "headers": [[b"x", b"1", b"2"]]}],
         "'websocket.http.response.start' header must be a [name, value] pair"),
        ([{**_DENY, "headers": None}],
         "'websocket.http.response.start' headers must be an iterable"),
        ([{**_DENY, "headers": [(b"x", b"\x00")]}],
         "'websocket.http.response.start': invalid value for response header"),
        ([{**_DENY, "headers": [(b"content-length", b"abc")]}],
         "'websocket.http.response.start': invalid content-length"),
        ([{**_DENY, "status": "403"}], "'websocket.http.response.start' status must be an int"),
        ([{**_DENY, "status": True}], "'websocket.http.response.start' status must be an int"),
        ([{**_DENY, "status": 1000}], "'websocket.http.response.start' status must be an int"),
        ([{**_DENY, "headers": [(b"content-length", b"5")]},
          {"type": "websocket.http.response.body", "body": b"abc"}],
         "'websocket.http.response.body' messages carried 3 bytes but "
         "'websocket.http.response.start' gave Content-Length 5"),
    ],
)
async def test_errors_name_the_websocket_message(
    messages: list[dict[str, Any]], match: str
) -> None:
    # The head encoder is shared with HTTP; its errors must not say http.response.start.
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        try:
            for message in messages:
                await send(message)
        except ASGIProtocolError as exc:
            errors.append(exc)
            raise

    async with make_session(app) as session:
        with pytest.raises(ASGIProtocolError) as info:
            await session.ws_connect("/ws")
    assert errors == [info.value]
    text = str(info.value)
    assert match in text
    assert "http.response.start" not in text.replace("websocket.http.response.start", "")


async def test_app_send_backpressure_bounds_memory() -> None:
    sent = 0

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        nonlocal sent
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            await send({"type": "websocket.send", "bytes": b"x" * 65536})
            sent += 1

    async with make_session(app) as session:
        async with session.ws_connect("/ws") as ws:
            await asyncio.sleep(0.3)
            stalled = sent
            assert stalled < 64, f"{stalled} x 64 KiB sent to a client that reads nothing"
            for _ in range(200):
                assert len((await ws.receive(timeout=5)).data) == 65536
            assert sent >= 200


async def test_client_send_backpressure() -> None:
    started = asyncio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        started.set()
        await asyncio.sleep(3600)  # never receives

    count = 0

    async def flood(ws: aiohttp.ClientWebSocketResponse) -> None:
        nonlocal count
        while True:
            await ws.send_bytes(b"y" * 65536)
            count += 1

    async with make_session(app) as session:
        async with session.ws_connect("/ws") as ws:
            await started.wait()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(flood(ws), 0.5)
    assert 0 < count < 64, count


async def test_disconnect_wakes_a_pending_receive_and_send_raises() -> None:
    outcome: list[Any] = []
    waiting = asyncio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        waiting.set()
        outcome.append(await receive())
        try:
            await send({"type": "websocket.send", "text": "late"})
        except OSError as exc:
            outcome.append(exc)

    async with make_session(app) as session:
        ws = await session.ws_connect("/ws")
        await waiting.wait()
        await ws.close()
        await asyncio.sleep(0.05)
    assert outcome[0] == {"type": "websocket.disconnect", "code": 1000, "reason": ""}
    assert isinstance(outcome[1], ClientDisconnectedError)


@pytest.mark.parametrize(
    ("headers", "status"),
    [({"Sec-WebSocket-Version": "13"}, 400), ({"Sec-WebSocket-Key": "a2V5a2V5a2V5a2V5a2V5a2==",
                                               "Sec-WebSocket-Version": "8"}, 426)],
)
async def test_malformed_handshake_refused_without_running_app(
    headers: dict[str, str], status: int
) -> None:
    calls: list[Scope] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        calls.append(scope)

    async with make_session(app) as session:
        async with session.get(
            "/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade", **headers}
        ) as resp:
            assert resp.status == status
            assert await resp.read()
    assert calls == []


async def test_other_upgrade_answered_over_http_then_connection_closes() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    async with make_session(app) as session:
        async with session.get("/h2c", headers={"Upgrade": "h2c", "Connection": "Upgrade"}) as r:
            assert await r.read() == b"/h2c"
        async with session.get("/next") as r:  # a new connection, not a hang
            assert await r.read() == b"/next"
