"""Running the load's coroutine on the chosen event loop (asyncio or uvloop)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from ._errors import UsageError

__all__ = ("check_loop", "run")

T = TypeVar("T")


def check_loop(name: str) -> None:
    if name == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            raise UsageError("--loop uvloop: uvloop is not installed; install it with: "
                             "pip install 'aiohttp-asgi-fast[bench]' uvloop") from None


def run(main: Coroutine[Any, Any, T], name: str) -> T:
    if name != "uvloop":
        return asyncio.run(main)
    import uvloop

    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    uvloop.install()  # pragma: no cover - Python 3.10
    return asyncio.run(main)  # pragma: no cover
