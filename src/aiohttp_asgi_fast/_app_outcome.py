"""The app task of an HTTP request, and what the client gets when the app fails.

``RequestCycle.run`` awaits the app step by step (``_app_steps``). When the app raises,
returns early or is cancelled, the outcome depends on how much of its response reached
the client: nothing (the exception itself, or a canned 500), the head (a failed body
read), or all of it (logged; the connection is not reused). README, "Failures".
"""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter_ns
from typing import TYPE_CHECKING, Final, cast

from ._app_steps import run_steps
from ._extensions import AWAIT_TRAILERS, COMPLETE, NOT_STARTED, close_head
from ._framing import INTERNAL_ERROR_RESPONSE
from .exceptions import ASGIAppError, ClientDisconnectedError

if TYPE_CHECKING:
    from ._cycle import RequestCycle
    from ._transport import InMemoryTransport
    from ._types import AppTimer, ASGIApp, Message, Receive, Scope

__all__ = ("AppOutcome",)

logger: Final = logging.getLogger("aiohttp_asgi_fast")

# The 500 sent for an app that failed before its response started, with
# propagate_exceptions=False: the connection closes after it, and says so.
_INTERNAL_ERROR: Final = close_head(INTERNAL_ERROR_RESPONSE)
_INTERNAL_ERROR_HEAD: Final = _INTERNAL_ERROR[: _INTERNAL_ERROR.index(b"\r\n\r\n") + 4]


def _from_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised while handling, send()'s ClientDisconnectedError
    (Starlette turns it into its own ClientDisconnect): the client left, no app error."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 20:  # a chain, bounded (chains can loop)
        if isinstance(current, ClientDisconnectedError):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


class AppOutcome:
    """RequestCycle's app task (the state is RequestCycle's)."""

    if not TYPE_CHECKING:  # RequestCycle declares the slots these methods use
        __slots__ = ()
    else:
        scope: Scope
        receive: Receive
        disconnected: bool
        app_done: bool
        _transport: InMemoryTransport
        _state: int
        _head: bytes
        _pending: list[bytes]
        _pending_size: int
        _plain_chunks: bool
        _whole_response: bytes | None
        _wire_done: bool
        _stepping: bool
        _flush_scheduled: bool
        _timer: AppTimer | None
        _called_ns: int

        async def send(self, message: Message) -> None: ...

        def _flush_pending(self) -> None: ...

        def _deliver_pending(self) -> None: ...

        def _drop_body(self) -> None: ...

    async def run(self, app: ASGIApp, propagate_exceptions: bool) -> None:
        if self._timer is not None:
            self._called_ns = perf_counter_ns()
        try:
            await run_steps(app(self.scope, self.receive, self.send), self)
        except asyncio.CancelledError:
            self._finish()
            if self._state == COMPLETE and self._whole_response is not None:
                # Cancelled in the step that held a whole response (e.g. a background
                # task awaited after it): it goes out.
                if not self.disconnected:
                    self._flush_pending()
            elif not self._wire_done and not self.disconnected:
                # The client is not left waiting: an unfinished response fails.
                self._app_failed(
                    ASGIAppError("ASGI application was cancelled before completing the response"),
                    propagate_exceptions,
                )
            raise
        except BaseException as exc:
            self._finish()
            self._app_failed(exc, propagate_exceptions)
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt, SystemExit: not ours to swallow
        else:
            self._finish()
            state = self._state
            if state == COMPLETE and (self._whole_response is not None or self._pending):
                self._flush_pending()
            if (state == COMPLETE and self._wire_done) or (
                self.disconnected and not self._wire_done  # the client left: it was told
            ):
                return
            # Like an exception: what this last step held is replaced or failed.
            self._app_failed(
                ASGIAppError(
                    "ASGI application returned without sending 'http.response.start'"
                    if state == NOT_STARTED
                    else "ASGI application returned without completing the response: "
                    "'http.response.start' promised trailers and no final "
                    "'http.response.trailers' was sent"
                    if state == AWAIT_TRAILERS
                    else "ASGI application returned before its final body reached the "
                    "client (its last send() did not finish)"
                    if state == COMPLETE
                    else "ASGI application returned without completing the response body"
                ),
                propagate_exceptions,
            )

    def _finish(self) -> None:
        self.app_done = True
        self._drop_body()
        self._transport.app_finished(cast("RequestCycle", self))

    def _app_failed(self, exc: BaseException, propagate_exceptions: bool) -> None:
        """The app raised, or ended without completing its response: what the client
        gets depends on how much of the response reached it (README, "Failures")."""
        if self.disconnected and not self._wire_done:
            if not _from_disconnect(exc):
                logger.error("Exception in ASGI application after the client left", exc_info=exc)
            return
        whole = self._whole_response
        if whole is not None and propagate_exceptions:
            # The app sent a whole (error) response and raised in the same step: the
            # exception is what the client gets, as with httpx's ASGITransport.
            self._whole_response = None
            self._state = COMPLETE
            self._transport.fail_pending_response(exc)
            return
        if whole is not None:
            self._flush_pending()  # the app's own response, then as below
        if self._wire_done:
            # The client has the whole response and may be reusing the connection:
            # the error is logged (as uvicorn does) and the connection is not reused.
            logger.error("Exception in ASGI application after the response completed",
                         exc_info=exc)
            self._transport.app_failed_after_response(cast("RequestCycle", self))
            return
        state = self._state
        self._state = COMPLETE
        self._plain_chunks = False
        if state != NOT_STARTED and not self._head:  # the head reached the client
            self._deliver_pending()  # what the app sent before failing reaches the client
            if not propagate_exceptions:
                logger.error("Exception in ASGI application after the response started",
                             exc_info=exc)
            self._transport.fail_response_body(
                exc, f"ASGI application failed after the response started: {exc!r}"
            )
            return
        # Nothing reached the client yet: a held head and body are discarded.
        self._head = b""
        self._pending = []
        self._pending_size = 0
        if propagate_exceptions:
            self._transport.fail_pending_response(exc)
            return
        logger.error("Exception in ASGI application", exc_info=exc)
        # RFC 9110 §9.3.2: no content in a response to HEAD. The app failed, so the
        # connection closes after the 500 and says so (RFC 9112 §9.6).
        self._transport.deliver(
            _INTERNAL_ERROR_HEAD if self.scope["method"] == "HEAD" else _INTERNAL_ERROR
        )
        self._wire_done = True
        self._transport.response_says_close()
        self._transport.response_complete(cast("RequestCycle", self), close=True)
