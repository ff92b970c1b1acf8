"""``aiohttp-asgi-fast bench``: an in-process load tester for ASGI apps.

For ``--scenario`` functions: ``step("name")`` names the requests made inside it, so
each step gets its own row in the report::

    from aiohttp_asgi_fast.bench import step

    async def scenario(session):
        with step("log in"):
            async with session.post("/login", json={"user": "u"}) as resp:
                resp.raise_for_status()
        with step("profile"):
            async with session.get("/me") as resp:
                await resp.read()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

__all__ = ("step",)

step_name: Final[ContextVar[str | None]] = ContextVar("aiohttp_asgi_fast_bench_step",
                                                      default=None)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Name the requests a scenario makes inside this block (one report row per name)."""
    token = step_name.set(name)
    try:
        yield
    finally:
        step_name.reset(token)
