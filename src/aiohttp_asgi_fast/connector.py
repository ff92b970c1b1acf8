"""``ASGIApplicationConnector``: an aiohttp connector whose connections run an ASGI app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Final

from aiohttp import BaseConnector

from . import _aiohttp_compat
from ._framing import MAX_HEAD_SIZE, check_max_head_size
from ._interface import Interface, as_asgi3
from ._lifespan import LifespanRunner
from ._transport import InMemoryTransport

if TYPE_CHECKING:
    from aiohttp import ClientRequest, ClientTimeout
    from aiohttp.client_proto import ResponseHandler
    from aiohttp.tracing import Trace

    from ._cycle import RequestCycle
    from ._types import AppTimer, ASGIApp
    from ._websocket_cycle import WebSocketCycle
    from .types import ASGIApp as ASGIAppType

__all__ = ("ASGIApplicationConnector",)

logger: Final = logging.getLogger("aiohttp_asgi_fast")

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}

_UNSET: Final[Any] = object()

# How long closing the connector lets app tasks react to the disconnect before
# cancelling them.
_APP_DISCONNECT_GRACE: Final = 0.1

# How long closing the connector waits for cancelled app tasks to finish.
_APP_CANCEL_TIMEOUT: Final = 5.0


class ASGIApplicationConnector(BaseConnector):
    """Run an ASGI application in-process behind an aiohttp ``ClientSession``.

    ``ClientSession(base_url="http://testserver", connector=ASGIApplicationConnector(app))``
    sends every request to ``app`` with no socket and no thread. Connections are kept
    alive and reused like TCP connections; ``limit``, ``limit_per_host``,
    ``force_close`` and ``keepalive_timeout`` mean what they mean on ``TCPConnector``.

    :param app: an ASGI 3 application; an ASGI 2 double callable is adapted (see
        ``interface``). Typed as :data:`aiohttp_asgi_fast.types.ASGIApp`.
    :param root_path: ``scope["root_path"]``, the mount point; ``scope["path"]`` is the
        request path as the client sent it (as in aiohttp-asgi-connector).
    :param propagate_exceptions: when True (default) an exception the app raises before
        its response starts is raised, as the same object, from the client call;
        when False the client gets a 500 response and the exception is logged.
    :param client: ``scope["client"]``, a ``(host, port)`` pair, or None.
    :param lifespan: run the app's ASGI lifespan protocol (lifespan spec 2.0). Off by
        default, so an app already wrapped in asgi-lifespan's ``LifespanManager`` does
        not start twice. When True, startup runs once, before the first connection
        (concurrent first requests wait for the same startup), or earlier through
        ``await connector.startup()``; the lifespan scope's ``"state"`` dict is
        :attr:`state`, and each request scope gets a shallow copy of it. A failed
        startup raises :class:`~aiohttp_asgi_fast.LifespanError` from that request
        and every later one. ``close()`` (so ``ClientSession.close()``) sends
        ``lifespan.shutdown`` after the connections are closed and raises
        ``LifespanError`` if shutdown fails. An app that raises, or returns, before
        receiving ``lifespan.startup`` is taken not to support lifespan: requests are
        served without it (logged at INFO), as uvicorn's ``lifespan="auto"`` does.
    :param lifespan_startup_timeout: seconds the app may take to answer
        ``lifespan.startup``, or None for no limit; past it startup fails.
    :param lifespan_shutdown_timeout: seconds the app may take to answer
        ``lifespan.shutdown``, or None for no limit; past it shutdown fails.
    :param decompress_requests: when True, request bodies with a Content-Encoding of
        gzip, deflate (and br, zstd when their libraries are installed) reach the app
        decoded, without Content-Encoding and Content-Length; default False passes the
        bytes as written.
    :param interface: ``"auto"`` (default) tells ASGI 3 from ASGI 2 by asgiref's
        markers, awaitable classes, coroutine functions, then the signature
        (``(scope, receive, send)`` or ``(scope)``), taking an undecidable callable
        (``*args``) for ASGI 2 as uvicorn does; ``"asgi3"`` uses ``app`` as it is and
        ``"asgi2"`` always adapts it. See ``_interface.py`` for the rules.
    :param max_request_head_size: the largest request head (request line and header
        fields, RFC 9112 §2.1) and chunked trailer section parsed, in bytes; a larger one
        fails that request with :class:`~aiohttp_asgi_fast.RequestParseError` naming the
        limit and the size.
    :param enable_cleanup_closed: passed to ``BaseConnector`` (aiohttp 3.8-3.14).
    :param timeout_ceil_threshold: passed to ``BaseConnector`` (aiohttp >= 3.9; a
        ``TypeError`` on 3.8).
    """

    def __init__(
        self,
        app: ASGIAppType,
        root_path: str = "",
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        propagate_exceptions: bool = True,
        client: tuple[str, int] | None = ("127.0.0.1", 123),
        limit: int = 100,
        limit_per_host: int = 0,
        force_close: bool = False,
        keepalive_timeout: float | None = _UNSET,
        lifespan: bool = False,
        lifespan_startup_timeout: float | None = 10.0,
        lifespan_shutdown_timeout: float | None = 10.0,
        decompress_requests: bool = False,
        interface: Interface = "auto",
        max_request_head_size: int = MAX_HEAD_SIZE,
        enable_cleanup_closed: bool = False,
        timeout_ceil_threshold: float = _UNSET,
    ) -> None:
        self._app: ASGIApp = as_asgi3(app, interface)
        max_request_head_size = check_max_head_size(
            max_request_head_size, "max_request_head_size"
        )
        for name, value in (
            ("lifespan_startup_timeout", lifespan_startup_timeout),
            ("lifespan_shutdown_timeout", lifespan_shutdown_timeout),
        ):
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be a positive number or None, got {value!r}")
        if not isinstance(root_path, str):
            raise TypeError(f"root_path must be a str, got {type(root_path).__name__}")
        if root_path and (not root_path.startswith("/") or root_path.endswith("/")):
            raise ValueError(
                f"root_path must be empty or start with '/' and not end with '/', "
                f"got {root_path!r}"
            )
        if client is not None and not (
            isinstance(client, tuple)
            and len(client) == 2
            and isinstance(client[0], str)
            and isinstance(client[1], int)
        ):
            raise TypeError(
                f"client must be a (host: str, port: int) tuple or None, got {client!r}"
            )
        # Every BaseConnector option is named above, so a misspelt one is a type error
        # (and a TypeError) here; only what the caller set is forwarded.
        connector_options: dict[str, Any] = {}
        if keepalive_timeout is not _UNSET:
            connector_options["keepalive_timeout"] = keepalive_timeout
        if enable_cleanup_closed:
            connector_options["enable_cleanup_closed"] = enable_cleanup_closed
        if timeout_ceil_threshold is not _UNSET:
            if not _aiohttp_compat.HAS_TIMEOUT_CEIL_THRESHOLD:  # aiohttp 3.8
                raise TypeError("timeout_ceil_threshold needs aiohttp >= 3.9")
            connector_options["timeout_ceil_threshold"] = timeout_ceil_threshold
        super().__init__(
            loop=loop,
            limit=limit,
            limit_per_host=limit_per_host,
            force_close=force_close,
            **connector_options,
        )
        self._root_path = root_path
        self._propagate_exceptions = bool(propagate_exceptions)
        self._decompress_requests = bool(decompress_requests)
        self._max_request_head_size = max_request_head_size
        self._client = client
        self._app_tasks: dict[RequestCycle | WebSocketCycle, asyncio.Task[None]] = {}
        #: Internal (the load tester's): when set, called once per HTTP response as its
        #: last byte reaches the client, with (status, microseconds from the app call to
        #: http.response.start, and to now). It must not raise (a list's append).
        self._app_timer: AppTimer | None = None
        self._lifespan = (
            LifespanRunner(
                self._app,
                self._loop,
                startup_timeout=lifespan_startup_timeout,
                shutdown_timeout=lifespan_shutdown_timeout,
            )
            if lifespan
            else None
        )

    @property
    def app(self) -> ASGIApp:
        """The ASGI 3 application requests are sent to."""
        return self._app

    @property
    def root_path(self) -> str:
        return self._root_path

    @property
    def propagate_exceptions(self) -> bool:
        return self._propagate_exceptions

    @property
    def decompress_requests(self) -> bool:
        return self._decompress_requests

    @property
    def running_app_calls(self) -> int:
        """How many app calls (HTTP requests and WebSockets) are running now.

        ``limit`` caps the connections the client holds, i.e. requests in flight, as
        on ``TCPConnector``. A call whose client went away (timeout, response released
        early, session closed) frees its connection at once; it has been told
        (``http.disconnect``, ``ClientDisconnectedError`` from ``send()``) and runs on
        until it returns, uncounted by ``limit`` but counted here. Closing the
        connector cancels whatever is still running.
        """
        return sum(not task.done() for task in self._app_tasks.values())

    @property
    def state(self) -> dict[str, Any] | None:
        """The ASGI lifespan scope's ``"state"`` dict, as the app filled it at startup.

        None when ``lifespan`` is off, before startup completed, or when the app does
        not support lifespan. Each request scope gets ``state.copy()`` (lifespan spec).
        """
        lifespan = self._lifespan
        return None if lifespan is None else lifespan.state

    async def startup(self) -> None:
        """Run the app's lifespan startup now instead of before the first connection.

        Idempotent: later calls wait for, or return, the same outcome; a failed startup
        raises the same :class:`~aiohttp_asgi_fast.LifespanError` again. Does nothing
        when the connector was made with ``lifespan=False``.
        """
        if self._lifespan is not None:
            await self._lifespan.startup()

    async def _create_connection(
        self, req: ClientRequest, traces: list[Trace], timeout: ClientTimeout
    ) -> ResponseHandler:
        lifespan = self._lifespan
        if lifespan is not None and not lifespan.ready:
            await lifespan.startup()  # raises LifespanError: the app is not served
        # Same contract as UnixConnector._create_connection: return a connected protocol.
        url = req.url
        scheme = url.scheme
        port = url.port  # yarl: the explicit port (0 too), else the scheme's default
        protocol = _aiohttp_compat.new_response_protocol(self)
        transport = InMemoryTransport(
            self,
            protocol,
            scheme=scheme,
            server=(url.raw_host or "", _DEFAULT_PORTS.get(scheme) if port is None else port),
            client=self._client,
            root_path=self._root_path,
            max_head_size=self._max_request_head_size,
        )
        protocol.connection_made(transport)
        return protocol

    # -- app tasks ----------------------------------------------------------------------

    def _start_app(self, cycle: RequestCycle | WebSocketCycle) -> None:
        task = self._loop.create_task(cycle.run(self._app, self._propagate_exceptions))
        self._app_tasks[cycle] = task

    def _app_finished(self, cycle: RequestCycle | WebSocketCycle) -> None:
        self._app_tasks.pop(cycle, None)

    def _abandoned_app_calls(self) -> list[asyncio.Task[None]]:
        """The running HTTP app calls whose client gave up (its connection closed before
        the response was complete: timeout, cancellation, early release). For the
        pytest plugin's teardown, which ends them as close() does."""
        from ._cycle import RequestCycle

        return [task for cycle, task in self._app_tasks.items()
                if not task.done() and isinstance(cycle, RequestCycle)
                and cycle.disconnected and not cycle._wire_done]

    def close(self, *args: Any, **kwargs: Any) -> Awaitable[None]:
        """Close every connection, cancel and await app tasks still running, then run
        the lifespan shutdown if startup ran (raising LifespanError if it fails)."""
        closing = super().close(*args, **kwargs)
        tasks = [task for task in self._app_tasks.values() if not task.done()]
        self._app_tasks.clear()
        lifespan = self._lifespan
        if lifespan is not None and not lifespan.close():
            lifespan = None
        if (not tasks and lifespan is None) or self._loop.is_closed():
            for task in tasks:
                task.cancel()
            return closing
        waiter = self._loop.create_task(self._wait_closed(closing, tasks, lifespan))
        # A close() nobody awaits (allowed on aiohttp 3.8) must not log "Task exception
        # was never retrieved": a lifespan shutdown failure is logged at ERROR anyway.
        waiter.add_done_callback(_retrieve_exception)
        return waiter

    async def _wait_closed(
        self,
        closing: Awaitable[None],
        tasks: list[asyncio.Task[None]],
        lifespan: LifespanRunner | None,
    ) -> None:
        await closing
        if tasks:
            # Closing the connections told each app its client left (http.disconnect,
            # websocket.disconnect): give it a moment to finish on its own, then cancel.
            _, pending = await asyncio.wait(tasks, timeout=_APP_DISCONNECT_GRACE)
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(tasks, timeout=_APP_CANCEL_TIMEOUT)
            for task in pending:
                logger.warning(
                    "ASGI application task %r ignored cancellation for %.0f s at connector "
                    "close",
                    task,
                    _APP_CANCEL_TIMEOUT,
                )
        if lifespan is not None:
            await lifespan.shutdown()


def _retrieve_exception(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
