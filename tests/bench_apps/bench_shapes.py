"""Things an APP string may name, right and wrong, for the bench CLI tests."""

from __future__ import annotations

x = 3


async def app(scope, receive, send):
    """A minimal ASGI app without lifespan support: 200 'shape' for every request."""
    if scope["type"] != "http":
        raise RuntimeError(f"unsupported scope type {scope['type']!r}")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"shape"})


def wsgi_app(environ, start_response):  # a WSGI app by mistake
    start_response("200 OK", [])
    return [b"wsgi"]


def make_app():
    """A zero-argument app factory."""
    return app


async def async_factory():
    return app


def broken_factory():
    raise LookupError("factory cannot build the app")


class Namespace:
    inner = app
