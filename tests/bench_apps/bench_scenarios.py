"""Scenarios for ``--scenario`` against the demo app."""

from __future__ import annotations

from aiohttp_asgi_fast.bench import step


async def two_steps(session):
    with step("home"):
        async with session.get("/") as resp:
            assert resp.status == 200, resp.status
            await resp.read()
    with step("echo"):
        async with session.post("/echo", data=b"hi") as resp:
            assert await resp.read() == b"hi"


async def raises(session):
    async with session.get("/") as resp:
        await resp.read()
    raise ValueError("scenario gave up")


async def boom(session):
    """Against bench_checks:app, whose /boom raises."""
    async with session.get("/boom") as resp:
        await resp.read()
