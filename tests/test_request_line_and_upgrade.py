"""End to end through the connector: request parsing rules of issue 10.

Upgrade requests the connector does not switch protocols for are plain HTTP requests
(RFC 9110 §7.8), extension methods reach the app (RFC 9110 §9.1), and a request head over
the limit fails with a message saying so. The parser details are in test_hotpath.py,
test_parser_limits.py and test_parity.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aiohttp_asgi_fast import RequestParseError
from helpers import Recorder, make_session


async def test_h2c_upgrade_post_body_reaches_the_app() -> None:
    # Upgrade: h2c + Connection: upgrade used to switch protocols at the head, and the
    # body went to the other protocol: the app read 0 bytes.
    app = Recorder()
    async with make_session(app) as session:
        headers = {"Upgrade": "h2c", "Connection": "Upgrade, HTTP2-Settings",
                   "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA"}
        async with session.post("/h2c", data=b"payload", headers=headers) as resp:
            assert await resp.read() == b"payload"

        async def chunks() -> AsyncIterator[bytes]:
            yield b"chunked "
            yield b"payload"

        async with session.put("/h2c", data=chunks(), headers=headers) as resp:
            assert await resp.read() == b"chunked payload"
        async with session.get("/after") as resp:  # the connection goes on
            assert resp.status == 200
    assert [s["type"] for s in app.scopes] == ["http"] * 3
    assert app.scopes[0]["method"] == "POST"


async def test_extension_method_reaches_the_app() -> None:
    app = Recorder()
    async with make_session(app) as session:
        async with session.request("BREW", "/pot", data=b"coffee") as resp:
            assert await resp.read() == b"coffee"
        async with session.request("_DO_DELETE", "/x") as resp:
            assert resp.status == 200
    assert [s["method"] for s in app.scopes] == ["BREW", "_DO_DELETE"]


async def test_request_head_over_the_limit_says_so() -> None:
    app = Recorder()
    async with make_session(app) as session:
        with pytest.raises(RequestParseError, match="max_request_head_size") as info:
            await session.get("/", headers={"X-Big": "b" * (64 * 1024)})
        assert str(info.value).startswith("request head of ")
    assert app.scopes == []
