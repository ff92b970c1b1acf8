"""The ASGI HTTP scope the app sees (issue 2, HTTP behaviour 1)."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import Recorder, make_session


async def test_scope_fields_for_a_get() -> None:
    app = Recorder()
    async with make_session(app) as session:
        async with session.get("/items/caf%C3%A9?q=a%20b&x=1", headers={"X-Custom": "v"}) as resp:
            assert resp.status == 200
    (scope,) = app.scopes
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.5"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/items/café"
    assert scope["raw_path"] == b"/items/caf%C3%A9"
    assert scope["query_string"] == b"q=a%20b&x=1"
    assert scope["root_path"] == ""
    assert scope["client"] == ("127.0.0.1", 123)
    assert scope["server"] == ("testserver", 80)
    assert scope["extensions"] == {
        "http.response.trailers": {},
        "http.response.pathsend": {},
        "http.response.early_hint": {},
    }
    headers = scope["headers"]
    assert all(isinstance(n, bytes) and isinstance(v, bytes) for n, v in headers)
    assert all(n == n.lower() for n, _ in headers)
    assert (b"host", b"testserver") in [tuple(h) for h in headers]
    assert (b"x-custom", b"v") in [tuple(h) for h in headers]


async def test_https_scheme_and_default_port_without_tls() -> None:
    app = Recorder()
    async with make_session(app, base_url="https://example.org") as session:
        async with session.get("/") as resp:
            assert resp.status == 200
    assert app.scopes[0]["scheme"] == "https"
    assert app.scopes[0]["server"] == ("example.org", 443)


async def test_explicit_port_and_options() -> None:
    app = Recorder()
    async with make_session(
        app, base_url="http://localhost:8123", root_path="/api", client=("10.1.2.3", 5555)
    ) as session:
        async with session.get("/api/x") as resp:
            assert resp.status == 200
    scope = app.scopes[0]
    assert scope["server"] == ("localhost", 8123)
    assert scope["root_path"] == "/api"
    # As in aiohttp-asgi-connector: path is what the client sent.
    assert scope["path"] == "/api/x"
    assert scope["client"] == ("10.1.2.3", 5555)


async def test_client_none() -> None:
    app = Recorder()
    async with make_session(app, client=None) as session:
        async with session.get("/") as resp:
            await resp.read()
    assert app.scopes[0]["client"] is None


async def test_header_order_duplicates_and_exact_bytes() -> None:
    from multidict import CIMultiDict

    app = Recorder()
    headers = CIMultiDict([("X-Dup", "one"), ("X-Other", "mid"), ("X-Dup", "two")])
    async with make_session(app) as session:
        async with session.get("/", headers=headers) as resp:
            await resp.read()
    names = [n for n, _ in app.scopes[0]["headers"]]
    pairs = [(n, v) for n, v in app.scopes[0]["headers"] if n.startswith(b"x-")]
    assert pairs == [(b"x-dup", b"one"), (b"x-other", b"mid"), (b"x-dup", b"two")]
    assert names.count(b"host") == 1


async def test_non_ascii_header_value_bytes() -> None:
    app = Recorder()
    async with make_session(app) as session:
        async with session.get("/", headers={"X-Name": "José"}) as resp:
            await resp.read()
    values = dict(app.scopes[0]["headers"])
    assert values[b"x-name"] == "José".encode()


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
async def test_methods(method: str) -> None:
    app = Recorder()
    async with make_session(app) as session:
        async with session.request(method, "/m") as resp:
            assert resp.status == 200
    assert app.scopes[0]["method"] == method


async def test_fresh_scope_per_request() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Snapshot what arrived, then mutate it: the next request must not see this.
        seen.append({**scope, "asgi": dict(scope["asgi"]), "headers": list(scope["headers"]),
                     "extensions": dict(scope["extensions"])})
        scope["asgi"]["mutated"] = True
        scope["headers"].append((b"x-mutated", b"1"))
        scope["extensions"]["mutated"] = {}
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    async with make_session(app) as session:
        for _ in range(2):
            async with session.get("/") as resp:
                assert resp.status == 204
    _, second = seen
    assert "mutated" not in second["asgi"]
    assert (b"x-mutated", b"1") not in second["headers"]
    assert "mutated" not in second["extensions"]
