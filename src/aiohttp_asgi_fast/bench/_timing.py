"""Time spent inside the app, per request: what no external load tester can see.

``timed_app`` wraps the (ASGI 3) app. A virtual user puts an ``AppTimes`` in the
context variable before it sends; the connector creates the app task from the
sender's context, so the wrapper finds that slot and stamps it when the app is
called, when it sends ``http.response.start`` and when it sends the last body byte.
Requests without a slot (lifespan, WebSocket) pass straight through.
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextvars import ContextVar
from time import perf_counter_ns
from typing import Final

from .._types import ASGIApp, Message, Receive, Scope, Send

__all__ = ("APP_CALL_CODE", "AppSystemExit", "AppTimes", "current_times", "timed_app")


class AppTimes:
    """perf_counter_ns stamps of one request inside the app; -1 when not reached."""

    __slots__ = ("body_ns", "head_ns", "start_ns")

    def __init__(self) -> None:
        self.start_ns = self.head_ns = self.body_ns = -1

    def reset(self) -> None:
        self.start_ns = self.head_ns = self.body_ns = -1


current_times: Final[ContextVar[AppTimes | None]] = ContextVar(
    "aiohttp_asgi_fast_bench_app_times", default=None
)


class AppSystemExit(Exception):
    """The app raised SystemExit: carried as an ordinary exception (its ``__cause__``),
    since asyncio would let it end the whole run from the app's task."""


def timed_app(app: ASGIApp) -> ASGIApp:
    async def timed(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            times = current_times.get()
            if times is None or scope["type"] != "http":
                await app(scope, receive, send)
                return

            # A plain function returning send()'s awaitable: no coroutine of its own.
            def timed_send(message: Message) -> Awaitable[None]:
                kind = message["type"]
                if kind == "http.response.body":
                    if not message.get("more_body", False):
                        times.body_ns = perf_counter_ns()
                elif kind == "http.response.start":
                    times.head_ns = perf_counter_ns()
                elif kind == "http.response.pathsend":
                    times.body_ns = perf_counter_ns()
                return send(message)

            times.start_ns = perf_counter_ns()
            await app(scope, receive, timed_send)
        except SystemExit as exc:
            raise AppSystemExit(f"the app raised SystemExit({exc.code!r})") from exc

    return timed


#: the code of the wrapper's frame: an exception whose traceback has it came from the app
APP_CALL_CODE: Final = timed_app(None).__code__  # type: ignore[arg-type]
