"""The pytest plugin's per-test bookkeeping: the sessions it made, the requests they
sent, and the checks at teardown (unreleased responses, app calls still running,
FastAPI ``dependency_overrides`` restored)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from aiohttp import ClientResponse, ClientSession, TraceConfig, TraceRequestEndParams

    from .connector import ASGIApplicationConnector

__all__ = ("SessionBooks", "restoring_dependency_overrides")

#: how long teardown lets app calls finish after the sessions are closed
APP_CALLS_GRACE: Final = 1.0
#: how long an app call whose client gave up may end on its own before it is
#: cancelled (as the connector's close() does)
ABANDONED_GRACE: Final = 0.1

_SHOWN: Final = 5
# How many responses are kept before the closed ones are dropped.
_PRUNE_AT: Final = 64


@contextmanager
def restoring_dependency_overrides(app: Any) -> Iterator[None]:
    """Put back FastAPI's ``app.dependency_overrides`` as it was, however the test
    changed it (items added, removed, or the dict replaced)."""
    overrides = getattr(app, "dependency_overrides", None)
    if not isinstance(overrides, dict):
        yield
        return
    original: dict[Any, Any] = overrides
    saved = dict(original)
    try:
        yield
    finally:
        if getattr(app, "dependency_overrides", None) is not original:
            app.dependency_overrides = original
        original.clear()
        original.update(saved)


def _listed(responses: list[ClientResponse]) -> str:
    shown = ", ".join(f"{_describe(r.method, r.url)} ({r.status})" for r in responses[:_SHOWN])
    return shown + (f" and {len(responses) - _SHOWN} more" if len(responses) > _SHOWN else "")


def _describe(method: str, url: Any) -> str:
    return f"{method} {getattr(url, 'path_qs', url)}"


class SessionBooks:
    """The ClientSessions one test made on one connector, and what they sent."""

    def __init__(self, connector: ASGIApplicationConnector) -> None:
        self._connector = connector
        self._sessions: list[ClientSession] = []
        # Responses that may still be open (closed ones are dropped as the test goes:
        # a test of many requests must not keep every response and body alive).
        self._responses: list[ClientResponse] = []
        #: the last requests, for messages; request_count of them in all
        self.requests: deque[str] = deque(maxlen=_SHOWN)
        self.request_count = 0

    def _trace_config(self) -> TraceConfig:
        from aiohttp import TraceConfig

        async def on_request_start(session: ClientSession, context: SimpleNamespace,
                                   params: Any) -> None:
            self.requests.append(_describe(params.method, params.url))
            self.request_count += 1

        async def on_request_end(session: ClientSession, context: SimpleNamespace,
                                 params: TraceRequestEndParams) -> None:
            responses = self._responses
            if len(responses) >= _PRUNE_AT:
                responses[:] = [r for r in responses if not r.closed]
            responses.append(params.response)

        trace = TraceConfig()
        trace.on_request_start.append(on_request_start)
        trace.on_request_end.append(on_request_end)
        return trace

    def session(self, kwargs: dict[str, Any]) -> ClientSession:
        """A ClientSession on the connector (``kwargs`` are ClientSession's)."""
        from aiohttp import ClientSession

        for reserved in ("connector", "connector_owner"):
            if reserved in kwargs:
                raise TypeError(f"asgi_client_factory: {reserved}= is set by the plugin (the "
                                "app's connector, shared by the test's sessions)")
        kwargs.setdefault("base_url", "http://testserver")
        kwargs["trace_configs"] = [*(kwargs.get("trace_configs") or ()), self._trace_config()]
        session = ClientSession(connector=self._connector, connector_owner=False, **kwargs)
        self._sessions.append(session)
        return session

    async def close(self) -> list[str]:
        """Close the sessions; the problems found, one line each."""
        problems = []
        unreleased = [r for r in self._responses if not r.closed]
        for response in unreleased:
            response.close()
        # A WebSocket's handshake response (101) stays open as long as the WebSocket.
        websockets = [r for r in unreleased if r.status == 101]
        responses = [r for r in unreleased if r.status != 101]
        if responses:
            problems.append(
                f"{len(responses)} response(s) never read or released: {_listed(responses)} "
                "(use `async with client.get(...) as resp:` or await resp.read()/release())"
            )
        if websockets:
            problems.append(
                f"{len(websockets)} WebSocket(s) left open: {_listed(websockets)} (use "
                "`async with client.ws_connect(...) as ws:` or await ws.close())"
            )
        for session in self._sessions:
            await session.close()
        return problems

    async def end_abandoned_app_calls(self) -> None:
        """End the app calls whose client gave up (timeout, cancellation, early release):
        they were told (``http.disconnect``); after ABANDONED_GRACE they are cancelled,
        and awaited (bounded). Not a failure of the test, which saw its client give up."""
        # connector-internal, inside this package: the calls with an abandoned cycle
        tasks = self._connector._abandoned_app_calls()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=ABANDONED_GRACE)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=APP_CALLS_GRACE)

    async def app_calls_running(self) -> int:
        """App calls still running once they had APP_CALLS_GRACE seconds to end."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + APP_CALLS_GRACE
        while self._connector.running_app_calls and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # the connector has no event to wait on
        return self._connector.running_app_calls

    def requests_text(self) -> str:
        if not self.requests:
            return "no request made through the plugin's sessions"
        shown = ", ".join(self.requests)
        more = "..., " if self.request_count > _SHOWN else ""
        return f"requests in this test: {more}{shown}"
