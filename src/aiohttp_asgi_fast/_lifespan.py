"""The ASGI lifespan protocol (lifespan spec 2.0) for ``ASGIApplicationConnector``.

One ``LifespanRunner`` per connector runs the app once with a ``lifespan`` scope:
``startup()`` delivers ``lifespan.startup`` and waits for the app's answer,
``shutdown()`` delivers ``lifespan.shutdown`` at connector close. Failures and
timeouts raise ``LifespanError``.

A message out of order (a second ``startup.complete``, ``shutdown.*`` before
``lifespan.shutdown`` was received, an unknown type, a malformed message) raises
``ASGIProtocolError`` from the app's ``send()`` at once, and is reported as what it is
where it happened: while startup (or shutdown) has not concluded, it fails with a
``LifespanError`` naming the message, even when the app had already answered; between
startup and shutdown it is logged at ERROR when it happens. The lifespan task ending
with an exception between startup and shutdown is also logged then; ``shutdown()``
raises it as "shutdown not run", not as a shutdown failure.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Final

from .exceptions import ASGIProtocolError, LifespanError

if TYPE_CHECKING:
    from ._types import ASGIApp, Message

__all__ = ("LifespanRunner",)

logger: Final = logging.getLogger("aiohttp_asgi_fast")

# How long the app may take to return after its startup.failed / shutdown.* answer
# before it is cancelled, and how long a cancelled lifespan task is then awaited.
_GRACE: Final = 1.0
_CANCEL_TIMEOUT: Final = 5.0

_SEND_TYPES: Final = frozenset({
    "lifespan.startup.complete",
    "lifespan.startup.failed",
    "lifespan.shutdown.complete",
    "lifespan.shutdown.failed",
})

_Reply = tuple[bool, str]  # (complete, failure message)


class LifespanRunner:
    """Runs one ASGI app's lifespan: ``await startup()`` once, ``await shutdown()`` once.

    ``state`` is the lifespan scope's ``"state"`` dict once startup completed, else None
    (not started, failed, or the app does not support lifespan). ``ready`` is True once
    requests may be served: startup completed, or lifespan turned out unsupported.
    """

    def __init__(
        self,
        app: ASGIApp,
        loop: asyncio.AbstractEventLoop,
        *,
        startup_timeout: float | None,
        shutdown_timeout: float | None,
    ) -> None:
        self.state: dict[str, Any] | None = None
        self.ready = False
        self._app = app
        self._loop = loop
        self._startup_timeout = startup_timeout
        self._shutdown_timeout = shutdown_timeout
        self._scope_state: dict[str, Any] = {}
        self._startup: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._shutdown_begun = False
        self._received = 0  # receive() calls
        self._sent = False
        self._expecting: str | None = None  # phase whose answer send() accepts now
        self._answered: set[str] = set()
        # "startup" / "shutdown" while that phase waits for the app's answer: a protocol
        # error then fails the phase; None otherwise (it is logged instead).
        self._phase: str | None = None
        self._reported: list[BaseException] = []  # errors already logged at ERROR

    async def startup(self) -> None:
        """Run startup, or wait for the one already running; raise its LifespanError."""
        if self._startup is None:
            if self._closed:
                raise LifespanError("ASGI lifespan cannot start: the connector is closed")
            loop = self._loop
            self._startup_reply: asyncio.Future[_Reply] = loop.create_future()
            self._shutdown_reply: asyncio.Future[_Reply] = loop.create_future()
            self._shutdown_requested = asyncio.Event()
            self._abort: asyncio.Future[None] = loop.create_future()
            # The first protocol error while a phase waits (see _protocol_error).
            self._violated: asyncio.Future[ASGIProtocolError] = loop.create_future()
            self._startup = loop.create_task(self._run_startup())
        # Shielded: a cancelled first request does not cancel startup for the others.
        await asyncio.shield(self._startup)

    def close(self) -> bool:
        """Refuse any later startup; return True when ``shutdown()`` has work to do."""
        self._closed = True
        return self._startup is not None and not self._shutdown_begun

    async def shutdown(self) -> None:
        """Deliver ``lifespan.shutdown`` and wait for the answer; runs once.

        Interrupts a startup still in progress. Raises LifespanError (logged at
        ERROR, here or when it happened) when the app answers
        ``lifespan.shutdown.failed``, raises, returns without answering, breaks the
        protocol or exceeds the shutdown timeout, or when its lifespan task had already
        failed after startup ("shutdown not run"). The lifespan task is finished when
        this returns.
        """
        self.close()
        startup = self._startup
        if startup is None or self._shutdown_begun:
            return
        self._shutdown_begun = True
        if not startup.done():
            self._abort.set_result(None)
            await asyncio.wait((startup,))
        task = self._task
        if self.state is None or task is None:
            return  # startup failed, was interrupted, or lifespan is unsupported
        if task.done():  # the app ended after startup.complete, not waiting for shutdown
            exc = _exception(task)
            if exc is None:
                return
            # Not a shutdown failure: the app can no longer receive lifespan.shutdown.
            if isinstance(exc, ASGIProtocolError) and self._was_reported(exc):
                detail = f"the application broke the lifespan protocol after startup: {exc}"
            else:
                detail = f"the application raised {exc!r} after startup"
            error = _error("shutdown", detail, exc, prefix="shutdown not run")
        else:
            try:
                exc, detail = await self._await_shutdown(task)
            except asyncio.CancelledError:
                task.cancel()  # close() itself was cancelled: the task must not outlive it
                raise
            if not detail:
                return
            error = _error("shutdown", detail, exc)
        if exc is None or not self._was_reported(exc):
            logger.error("%s", error, exc_info=exc)
        raise error

    async def _await_shutdown(self, task: asyncio.Task[None]) -> tuple[BaseException | None, str]:
        """Deliver lifespan.shutdown; the app's exception and what failed ("" if nothing)."""
        self._phase = "shutdown"
        self._shutdown_requested.set()
        reply = self._shutdown_reply
        violated = self._violated
        await asyncio.wait(
            (task, reply, violated),
            timeout=self._shutdown_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        self._phase = None
        if violated.done():  # checked first: the app may also have answered
            error = violated.result()
            await self._finish_task(0)
            return error, f"the application broke the lifespan protocol: {error}"
        if reply.done():
            complete, message = reply.result()
            exc = await self._finish_task(_GRACE)
            if not complete:
                return exc, message or "lifespan.shutdown.failed with no message"
            if exc is not None:
                logger.warning("ASGI lifespan task raised after shutdown", exc_info=exc)
            return None, ""
        if task.done():
            exc = _exception(task)
            if exc is not None:
                return exc, f"the application raised {exc!r}"
            return None, "the application returned without sending 'lifespan.shutdown.complete'"
        await self._finish_task(0)
        return None, f"did not complete within {self._shutdown_timeout} s"

    async def _run_startup(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self._scope_state,
        }
        task = self._task = self._loop.create_task(self._run_app(scope))
        task.add_done_callback(self._task_done)
        reply = self._startup_reply
        violated = self._violated
        self._phase = "startup"
        await asyncio.wait(
            (task, reply, self._abort, violated),
            timeout=self._startup_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        self._phase = None  # startup concludes here, whatever follows
        if violated.done():  # checked first: the app may also have answered
            error = violated.result()
            await self._finish_task(0)
            raise _error("startup", f"the application broke the lifespan protocol: {error}", error)
        if reply.done():
            complete, message = reply.result()
            if complete:
                self.state = self._scope_state
                self.ready = True
                if task.done():  # failed right after answering: _task_done saw no state
                    self._task_done(task)
                return
            exc = await self._finish_task(_GRACE)
            raise _error("startup", message or "lifespan.startup.failed with no message", exc)
        if task.done():
            exc = _exception(task)
            if self._received == 0 and not self._sent:
                # Lifespan spec: an app that raises for a lifespan scope (here: or returns)
                # before receiving lifespan.startup does not support it; carry on without.
                logger.info(
                    "ASGI 'lifespan' protocol appears unsupported: the application %s",
                    "returned" if exc is None else f"raised {exc!r}",
                )
                self.ready = True
                return
            if exc is not None:
                raise _error("startup", f"the application raised {exc!r}", exc)
            raise _error(
                "startup", "the application returned without sending 'lifespan.startup.complete'"
            )
        await self._finish_task(0)
        if self._abort.done():
            raise LifespanError("ASGI lifespan startup interrupted: the connector was closed")
        raise _error("startup", f"did not complete within {self._startup_timeout} s")

    async def _run_app(self, scope: dict[str, Any]) -> None:
        await self._app(scope, self._receive, self._send)

    def _was_reported(self, exc: BaseException) -> bool:
        return any(exc is seen for seen in self._reported)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """Log the lifespan task failing between startup and shutdown when it happens."""
        exc = _exception(task)
        if (
            exc is not None
            and self.state is not None
            and not self._shutdown_begun
            and not self._was_reported(exc)
        ):
            self._reported.append(exc)
            logger.error(
                "ASGI lifespan task failed after startup: the application raised %r; "
                "'lifespan.shutdown' cannot be delivered", exc, exc_info=exc,
            )

    async def _finish_task(self, grace: float) -> BaseException | None:
        """Let the lifespan task end within ``grace`` s, else cancel it; its exception."""
        task = self._task
        assert task is not None
        if not task.done() and grace > 0:
            await asyncio.wait((task,), timeout=grace)
        if not task.done():
            task.cancel()
            await asyncio.wait((task,), timeout=_CANCEL_TIMEOUT)
            if not task.done():
                logger.warning(
                    "ASGI lifespan task %r ignored cancellation for %.0f s", task, _CANCEL_TIMEOUT
                )
                return None
        return _exception(task)

    async def _receive(self) -> Message:
        self._received += 1
        if self._received == 1:
            self._expecting = "startup"
            return {"type": "lifespan.startup"}
        if self._received == 2:
            await self._shutdown_requested.wait()
            self._expecting = "shutdown"
            return {"type": "lifespan.shutdown"}
        # Lifespan spec: nothing follows lifespan.shutdown; the task is cancelled later.
        await self._loop.create_future()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, message: Message) -> None:
        self._sent = True
        try:
            phase, complete, text = self._check(message)
        except ASGIProtocolError as error:
            self._protocol_error(error)
            raise
        self._expecting = None
        self._answered.add(phase)
        reply = self._startup_reply if phase == "startup" else self._shutdown_reply
        if not reply.done():
            reply.set_result((complete, text))


    def _check(self, message: Message) -> tuple[str, bool, str]:
        """The phase ``message`` answers, whether it is ``.complete``, its failure text."""
        try:
            mtype = message["type"]
        except (TypeError, KeyError):
            raise ASGIProtocolError(
                f"an ASGI message must be a dict with a 'type' key, got {message!r:.100}"
            ) from None
        # Lifespan spec 2.0: the app sends only these four message types ...
        if not isinstance(mtype, str) or mtype not in _SEND_TYPES:
            raise ASGIProtocolError(
                f"unexpected ASGI message type {mtype!r:.100} for a 'lifespan' scope; "
                "expected 'lifespan.startup.complete', 'lifespan.startup.failed', "
                "'lifespan.shutdown.complete' or 'lifespan.shutdown.failed'"
            )
        # ... and each exactly once, in answer to lifespan.startup / lifespan.shutdown.
        phase = "startup" if mtype.startswith("lifespan.startup.") else "shutdown"
        if self._expecting != phase:
            why = (
                f"'lifespan.{phase}' was already answered"
                if phase in self._answered
                else f"the application has not received 'lifespan.{phase}'"
            )
            raise ASGIProtocolError(f"{mtype!r} sent out of order: {why}")
        complete = mtype.endswith(".complete")
        text = "" if complete else message.get("message", "")
        if not isinstance(text, str):
            raise ASGIProtocolError(f"{mtype!r} 'message' must be a str, got {type(text).__name__}")
        return phase, complete, text

    def _protocol_error(self, error: ASGIProtocolError) -> None:
        """Report a message out of order where it happened (``send()`` then raises it)."""
        if self._phase is not None:
            # startup() / shutdown() waits for the app's answer: that phase fails, naming
            # this message, even if a valid answer came first in the same step.
            if not self._violated.done():
                self._violated.set_result(error)
            return
        self._reported.append(error)
        logger.error("ASGI lifespan protocol error: %s", error)


def _exception(task: asyncio.Task[None]) -> BaseException | None:
    return None if task.cancelled() else task.exception()


def _error(
    phase: str, detail: str, cause: BaseException | None = None, *, prefix: str = ""
) -> LifespanError:
    error = LifespanError(f"ASGI lifespan {prefix or phase + ' failed'}: {detail}")
    error.__cause__ = cause
    return error
