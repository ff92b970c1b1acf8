"""Apps exercising the ASGI lifespan protocol under the bench CLI."""

from __future__ import annotations


async def startup_fails(scope, receive, send):
    if scope["type"] == "lifespan":
        message = await receive()
        assert message["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def needs_startup(scope, receive, send):
    """200 only when the lifespan startup ran and put its mark in the state."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["ready"] = "yes"
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    ready = scope.get("state", {}).get("ready") == "yes"
    await send({"type": "http.response.start", "status": 200 if ready else 503,
                "headers": []})
    await send({"type": "http.response.body", "body": b"ready" if ready else b"no startup"})


async def shutdown_fails(scope, receive, send):
    """Starts, serves 200 ``x``, then answers lifespan.shutdown.failed."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.failed", "message": "cannot close db"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"x"})
