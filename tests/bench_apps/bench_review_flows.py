"""Scenarios for the bench review's regression tests (tests/test_bench_review.py)."""

from __future__ import annotations

from aiohttp_asgi_fast.bench import step


async def home_then_missing(session):
    """Against the demo app: GET / (200), then GET /nope (404), no raise_for_status."""
    with step("home"):
        async with session.get("/") as resp:
            await resp.read()
    with step("missing"):
        async with session.get("/nope") as resp:
            await resp.read()


async def sixty_items(session):
    """60 distinct paths, no step(): each would be a step of its own."""
    for i in range(60):
        async with session.get(f"/items/{i}") as resp:
            await resp.read()


async def token(session):
    """Against bench_checks:app, whose /token answers 403 without ``X-Token: t``."""
    with step("token"):
        async with session.get("/token") as resp:
            await resp.read()
