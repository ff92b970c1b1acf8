"""The in-memory connection: an asyncio transport between aiohttp's client and the app.

aiohttp writes HTTP/1.1 request bytes into ``write()``; the hot-path ``RequestParser``
turns them into an ASGI scope and body pieces (this object is its sink) and a
``RequestCycle`` runs the app for each request. Response bytes go straight into
aiohttp's ``ResponseHandler.data_received()``, as a socket transport would deliver them.
One transport serves many requests in sequence (keep-alive), like a TCP connection.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from . import _aiohttp_compat
from ._cycle import RequestCycle
from ._hang import report_abandoned_app
from ._hotpath import RequestParser
from ._websocket_cycle import WebSocketCycle
from .exceptions import ASGIAppError, ClientDisconnectedError, RequestParseError

if TYPE_CHECKING:
    from aiohttp.client_proto import ResponseHandler

    from ._types import Scope
    from .connector import ASGIApplicationConnector

__all__ = ("InMemoryTransport",)

logger: Final = logging.getLogger("aiohttp_asgi_fast")

# An app's exception of these types is never raised to the caller as is (see
# fail_pending_response): aiohttp would take it for one of its own.
_MISTAKABLE: Final = (OSError, asyncio.TimeoutError, aiohttp.ClientError)


class InMemoryTransport(asyncio.Transport):
    """One in-memory HTTP/1.1 connection to the ASGI app."""

    def __init__(
        self,
        connector: ASGIApplicationConnector,
        protocol: ResponseHandler,
        *,
        scheme: str,
        server: tuple[str, int | None],
        client: tuple[str, int] | None,
        root_path: str,
        max_head_size: int,
    ) -> None:
        super().__init__()
        self.loop = connector._loop
        self._connector = connector
        self._protocol = protocol
        self._parser = RequestParser(
            self, scheme=scheme, server=server, client=client, root_path=root_path,
            max_head_size=max_head_size,
        )
        self._extra: dict[str, Any] = {"peername": client, "sockname": server, "socket": None}
        self._cycle: RequestCycle | WebSocketCycle | None = None
        self._closing = False
        self._upgraded = False  # the parser switched protocols: no keep-alive
        # Whether the connection persists after the current response: the request lets
        # it (RFC 9112 §9.3) and nothing ended it (an app that failed after its
        # response reached the client, a 100-continue body never asked for). If not,
        # the response says connection: close (RFC 9112 §9.6).
        self.keep_alive = True
        self._close_after_response = False  # sticks for the later requests
        self._request_in_progress = False  # the parser is inside a request's body
        self._said_close = False  # the current response's head says connection: close
        # Earlier requests' cycles whose apps still run after their response reached the
        # client: they too hear when the connection closes.
        self._earlier: list[RequestCycle] = []
        self._close_when_request_done = False  # ... and the connection closes after it
        self.decompress_requests = connector.decompress_requests
        self._client_writing_paused = False
        self.reading_paused = False
        self._resume_waiter: asyncio.Future[None] | None = None

    # -- asyncio.Transport: client -> app -------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        try:
            self._parser.feed_data(data)
        except RequestParseError as exc:
            self.fail_pending_response(exc, linger=False)  # nothing more can be parsed

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("an in-memory ASGI connection cannot half-close")

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        return None

    # -- asyncio.Transport: app -> client flow control ---------------------------------

    def pause_reading(self) -> None:
        # aiohttp's StreamReader buffer is full: the app's next send() waits.
        self.reading_paused = True
        cycle = self._cycle
        if isinstance(cycle, RequestCycle):
            cycle.client_paused_reading()

    def resume_reading(self) -> None:
        self.reading_paused = False
        waiter = self._resume_waiter
        if waiter is not None:
            self._resume_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def is_reading(self) -> bool:
        return not self.reading_paused and not self._closing

    async def wait_reading_resumed(self) -> None:
        if self._closing:
            raise ClientDisconnectedError("the client disconnected")
        waiter = self._resume_waiter
        if waiter is None:
            waiter = self._resume_waiter = self.loop.create_future()
        await asyncio.shield(waiter)

    # -- asyncio.BaseTransport ----------------------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """The client closed the connection: tell the app, then the protocol."""
        if self._closing:
            return
        failure = sys.exc_info()[1]
        if failure is not None:  # aiohttp closes from an except block: see _hang.py
            self._report_abandoned_app(failure)
        self._shutdown()
        self.loop.call_soon(self._protocol.connection_lost, None)

    def _report_abandoned_app(self, failure: BaseException) -> None:
        """A timeout or cancellation closes the connection while the app still works
        on the current request: say where the app is stuck."""
        cycle = self._cycle
        if cycle is None or not isinstance(failure, (asyncio.CancelledError, asyncio.TimeoutError)):
            return
        if isinstance(cycle, RequestCycle) and cycle._wire_done:
            return  # the client had the whole response: it was not waiting on the app
        task = self._connector._app_tasks.get(cycle)
        if task is not None and not task.done():
            try:
                report_abandoned_app(failure, cycle, task)
            except Exception:  # never replace the caller's error with our own
                logger.exception("Could not tell where the ASGI application is stuck")

    def abort(self) -> None:
        self.close()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def _shutdown(self) -> None:
        self._closing = True
        cycle = self._cycle
        self._cycle = None
        if cycle is not None:
            cycle.client_disconnected()
        for earlier in self._earlier:
            earlier.client_disconnected()
        self._earlier.clear()
        self.resume_reading()  # wakes a send() blocked on backpressure
        if self._client_writing_paused:
            self.resume_client_writing()

    # -- RequestParser sink -----------------------------------------------------------

    def on_request(self, scope: Scope, expect_continue: bool, keep_alive: bool = True) -> None:
        self.keep_alive = keep_alive and not self._close_after_response
        self._request_in_progress = True
        self._said_close = False
        previous = self._cycle
        if isinstance(previous, RequestCycle) and not previous.app_done:
            self._earlier.append(previous)
        state = self._connector.state
        if state is not None:  # ASGI lifespan: each scope gets a shallow copy
            scope["state"] = state.copy()
        cycle: RequestCycle | WebSocketCycle
        if scope["type"] == "http":
            cycle = RequestCycle(self, scope, expect_continue)
        else:
            cycle = WebSocketCycle(self, scope)
        self._cycle = cycle
        self._connector._start_app(cycle)

    def on_body(self, body: bytes | memoryview) -> None:
        cycle = self._cycle
        if cycle is not None:
            cycle.feed_body(body)

    def on_request_complete(self) -> None:
        self._request_in_progress = False
        cycle = self._cycle
        if cycle is not None:
            cycle.body_complete()
        if self._close_when_request_done:
            self._close_from_server()

    def on_upgrade(self, data: bytes) -> None:
        self._upgraded = True
        cycle = self._cycle
        if isinstance(cycle, WebSocketCycle):
            cycle.feed_frames(data)
        # Any other upgrade (h2c, CONNECT) is answered over HTTP/1.1 and the
        # connection then closes; bytes in the other protocol are dropped.

    # -- called by RequestCycle ---------------------------------------------------------

    def deliver(self, data: bytes) -> None:
        """Hand response bytes to aiohttp's response parser."""
        if not self._closing:
            self._protocol.data_received(data)

    def pause_client_writing(self) -> None:
        # The app is not reading the request body fast enough: pause aiohttp's
        # writer (its drain() waits), as a full socket send buffer would.
        if not self._client_writing_paused and not self._closing:
            self._client_writing_paused = True
            self._protocol.pause_writing()

    def resume_client_writing(self) -> None:
        if self._client_writing_paused:
            self._client_writing_paused = False
            self._protocol.resume_writing()

    def response_complete(self, cycle: RequestCycle, close: bool = False) -> None:
        """The last byte of ``cycle``'s response reached the client."""
        if self._closing:
            return
        if close or not self.keep_alive or cycle.interim or self._upgraded:
            # RFC 9112 §9.6: after a request or response with "close" the server
            # closes; a 1xx "final" response leaves aiohttp waiting for another; after
            # an upgrade request no further HTTP/1.1 can be parsed.
            self._close_after_request(self._said_close)

    def close_after_response(self) -> None:
        """The connection ends with the current response (which says so)."""
        self._close_after_response = True
        self.keep_alive = False

    def response_says_close(self) -> None:
        """The current response's head carries ``connection: close``."""
        self._said_close = True

    def app_failed_after_response(self, cycle: RequestCycle) -> None:
        """``cycle``'s app failed after its whole response reached the client: the
        connection is not reused. The client may already have sent its next request
        on it: that one completes (its response says ``connection: close``) first."""
        if self._closing:
            return
        current = self._cycle
        if isinstance(current, WebSocketCycle):
            return  # the connection switched protocols: it is never reused
        if current is cycle or current is None or current._wire_done:
            self._close_after_request(self._said_close)
        else:
            self.close_after_response()

    def _close_after_request(self, linger: bool) -> None:
        """Close now, or with ``linger`` (aiohttp will not send another request on the
        connection: the response said ``connection: close``, or the request failed)
        once aiohttp has written the rest of the request body (a lingering close, RFC
        9112 §9.6): a write to a closed connection would fail the request whose
        response the client already has."""
        if linger and self._request_in_progress and not self._upgraded:
            self._close_when_request_done = True
        else:
            self._close_from_server()

    def app_finished(self, cycle: RequestCycle | WebSocketCycle) -> None:
        if self._earlier and cycle in self._earlier:
            self._earlier.remove(cycle)
        self._connector._app_finished(cycle)

    def fail_pending_response(self, exc: BaseException, linger: bool = True) -> None:
        """The response cannot start: the client's pending request raises ``exc``, or
        ASGIAppError caused by it where aiohttp would take ``exc`` for its own error."""
        if self._closing:
            return
        if isinstance(exc, _MISTAKABLE):
            # aiohttp turns an OSError into ClientOSError, takes a TimeoutError for its
            # own timeout and retries an idempotent request after ClientOSError or
            # ServerDisconnectedError (calling the app twice): wrap it instead.
            error = ASGIAppError(f"ASGI application raised {exc!r:.300}")
            error.__cause__ = exc
            exc = error
        _aiohttp_compat.fail_pending_response(self._protocol, exc)
        self._close_after_request(linger)  # (aiohttp closes a failed request's connection)

    def fail_response_body(self, exc: BaseException, message: str) -> None:
        """The response started but cannot finish: the client's body read fails."""
        if self._closing:
            return
        self._shutdown()
        _aiohttp_compat.fail_response_body(self._protocol, exc, message)

    def close_from_server(self) -> None:
        """The server side ends the connection, as a server closing its socket."""
        if self._closing:
            return
        self._shutdown()
        self.loop.call_soon(self._protocol.connection_lost, None)

    _close_from_server = close_from_server
