"""Where a cycle's ``receive()`` waits: futures woken when the connection has news
(request body, the response completing, the client leaving)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

__all__ = ("Waiters",)


class Waiters:
    """``_wait()`` parks the caller until ``_wake()`` (the slots are the cycle's)."""

    if not TYPE_CHECKING:
        __slots__ = ()
    else:
        _loop: asyncio.AbstractEventLoop
        _waiters: list[asyncio.Future[None]]

    async def _wait(self) -> None:
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if not waiter.done():  # cancelled: forget it
                waiter.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def _wake(self) -> None:
        waiters = self._waiters
        if waiters:
            self._waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
